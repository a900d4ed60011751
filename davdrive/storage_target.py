"""Where ``davdrive migrate-storage`` copies to, and how a storage is named.

``load_target(given, source)`` reads the TARGET argument:

- a TOML settings file, in the format of davdrive's configuration
  (``[database] url``, ``[blobs] backend``, ``[blobs.s3] ...``, ``data_dir``
  for a SQLite database or a local blob folder): the configuration the servers
  will run with afterwards. It is read alone: no ``DAVDRIVE_*`` variable and no
  flag changes it (they describe the source).
- a bare database URL (``postgresql+psycopg://...``): that database, the blobs
  staying where the source keeps them (the source's settings otherwise).

A target is a database *and* a blob store, with credentials for each: one URL
cannot name both without putting secrets on the command line, hence the file.

``identity(settings)`` names a storage (database and blob store) without any
secret: the move's marker records its source's, to resume only the same move.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError

from davdrive.errors import BadRequest
from davdrive.settings import Settings, load_settings


def load_target(given: str, source: Settings) -> Settings:
    """The target's settings (see the module); ``BadRequest`` when ``given`` is neither."""
    path = Path(given)
    if "://" in given and not path.exists():
        try:
            make_url(given)
        except ArgumentError:
            raise BadRequest(f"--to {given!r} is neither a settings file nor a database "
                             "URL") from None
        return source.replace(**{"database.url": given})
    if not path.is_file():
        raise BadRequest(
            f"--to {given}: no such settings file. Give a TOML file with the target's "
            "[database] url and [blobs] (and data_dir for SQLite or local blobs), or a "
            "database URL (postgresql+psycopg://...)"
        )
    return load_settings(path, env={}, overrides=None)


def describe_database(settings: Settings) -> str:
    """The database's URL without its password."""
    return make_url(settings.database_url).render_as_string(hide_password=True)


def describe_blobs(settings: Settings) -> str:
    """The blob store: its local folder, or its bucket, prefix and endpoint."""
    if settings["blobs.backend"] == "s3":
        endpoint = settings["blobs.s3.endpoint_url"] or "AWS"
        return f"s3://{settings['blobs.s3.bucket']}/{settings['blobs.s3.prefix']} at {endpoint}"
    return str(settings.blob_dir)


def identity(settings: Settings) -> str:
    """Database and blob store, without secrets (see the module)."""
    return f"database {describe_database(settings)}; blobs {describe_blobs(settings)}"
