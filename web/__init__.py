"""The browser side: one Flask app with the admin view (``/admin/``).

It imports the core (``davdrive``) and nothing of the WebDAV adapter; the
core never imports it. ``davdrive.server`` mounts it beside the drive.
"""

from web.app import create_web_app

__all__ = ["create_web_app"]
