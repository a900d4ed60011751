"""The web drive's blueprint. Every page needs a signed-in user (the admin view's
sign-in, sessions and CSRF checks); what each page shows and changes is decided by
the drive's own use cases for that user, exactly as over WebDAV."""

from __future__ import annotations

from flask import Blueprint

files = Blueprint("files", __name__, url_prefix="/files")
