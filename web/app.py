"""The Flask app factory of the browser side.

``create_web_app(settings, runtime)`` returns a WSGI app answering under
``/admin/`` (the admin view) and ``/files/`` (the members' web drive). Per
request (``web.request_state``): one database session, the signed-in user
from the session cookie, the Origin and CSRF checks of every POST. Errors
become a page with one clear sentence and the status of the domain error
(``davdrive.errors.status_of``); never a stack trace.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

from flask import Flask, render_template
from werkzeug.exceptions import HTTPException

from davdrive.errors import DriveError, Throttled, Unavailable, failure_of, status_of
from davdrive.runtime import Runtime
from davdrive.settings import Settings
from davdrive.web_sessions import Lifetimes
from web import request_state
from web.admin import admin
from web.files import files

_log = logging.getLogger("davdrive.web")
_HERE = Path(__file__).parent


def create_web_app(settings: Settings, runtime: Runtime) -> Flask:
    """The browser side over ``runtime``; nothing global, build as many as wanted."""
    app = Flask(
        "web", template_folder=str(_HERE / "templates"), static_folder=str(_HERE / "static"),
        static_url_path="/admin/static",
    )
    app.config.update(
        # Uploads of attachments: the drive's upload limit for the whole submit.
        MAX_CONTENT_LENGTH=settings["dav.max_upload_bytes"],
        MAX_FORM_MEMORY_SIZE=1024 * 1024,
        MAX_FORM_PARTS=1000,
        TRAP_HTTP_EXCEPTIONS=False,
    )
    app.extensions["davdrive"] = request_state.WebState(
        settings=settings,
        runtime=runtime,
        lifetimes=Lifetimes(
            idle=dt.timedelta(minutes=settings["web.session_idle_minutes"]),
            maximum=dt.timedelta(hours=settings["web.session_max_hours"]),
        ),
    )
    request_state.install(app)
    app.register_blueprint(admin)
    app.register_blueprint(files)
    _install_error_pages(app)
    return app


def _install_error_pages(app: Flask) -> None:
    @app.errorhandler(DriveError)
    def _domain_error(exc: DriveError) -> Any:
        status = status_of(exc)
        page = render_template("admin/error.html", status=status, message=exc.message)
        if isinstance(exc, (Throttled, Unavailable)):
            return page, status, {"Retry-After": str(exc.retry_after)}
        return page, status

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        status = exc.code or 500
        message = {
            404: "There is no such page.",
            405: "This page does not accept that method.",
            413: "The submitted data is larger than allowed; nothing was stored.",
        }.get(status, exc.description or "The request was refused.")
        return render_template("admin/error.html", status=status, message=message), status

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        failure = failure_of(exc)
        if failure is not None:
            _log.warning("%s in the web view: %s", type(failure).__name__, exc)
            return _domain_error(failure)
        _log.exception("unexpected error in the admin view")
        message = "Internal error; it has been logged. Nothing was changed."
        return render_template("admin/error.html", status=500, message=message), 500
