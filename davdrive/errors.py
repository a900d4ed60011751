"""Domain exception tree.

The core raises these. ``STATUS_OF`` below is the one table of the HTTP status
each answers with, for every adapter (the WebDAV side adds its per-method
exceptions in ``provider/errors.py``; the browser side uses ``status_of``).
Messages are safe to show to the user: they never name a node the user may
not see.
"""

from __future__ import annotations


class DriveError(Exception):
    """Base of every error the core raises on purpose."""

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message or self.__class__.__doc__ or ""


class BadRequest(DriveError):
    """The request is malformed."""


class NotFound(DriveError):
    """No such item (or the user may not know it exists)."""


class Forbidden(DriveError):
    """The user may not do this."""


class ReadOnlyProperty(Forbidden):
    """This property is computed by the drive and cannot be changed."""


class Conflict(DriveError):
    """The operation clashes with the current state (e.g. a missing parent)."""


class NameNotAvailable(Conflict):
    """This name is not available in this folder."""


class CreatedMeanwhile(NameNotAvailable):
    """Another request created an item of this name at the same time; nothing was changed."""


class ChangedMeanwhile(Conflict):
    """Another request changed this item at the same time; nothing was changed."""


class GoneMeanwhile(NotFound):
    """Another request moved or deleted this item at the same time; nothing was changed."""


class ParentGone(Conflict):
    """The folder receiving the item was moved or deleted meanwhile; nothing was changed."""


class Locked(DriveError):
    """The item is locked."""


class PreconditionFailed(DriveError):
    """A condition of the request does not hold (If-Match, Overwrite: F...)."""


class TooLarge(DriveError):
    """The request or upload is larger than allowed."""


class InsufficientStorage(DriveError):
    """The item cannot hold more (e.g. dead properties past their limits)."""


class QuotaExceeded(InsufficientStorage):
    """Storing this would pass a storage quota; nothing was stored."""


class DiskFull(InsufficientStorage):
    """The server has not enough free space; nothing was stored."""


class Throttled(DriveError):
    """Too many attempts; retry later."""

    def __init__(self, message: str = "", retry_after: int = 60) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(DriveError):
    """A service the drive depends on (the object store, the database server) cannot
    be used right now;
    nothing was changed. Clients may try again after ``retry_after`` seconds."""

    def __init__(self, message: str = "", retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StoreUnavailable(OSError):
    """The object store failed or could not be reached; nothing was changed by it
    (raised by ``davdrive.blob_s3_client``, answered as ``Unavailable``)."""


class IncompleteUpload(BadRequest):
    """The upload ended before all announced bytes arrived; nothing was stored."""


class AttachmentsRefused(BadRequest):
    """Some files may not be attached; nothing was attached.

    ``refusals`` holds (file name, reason) for every refused file, in the order
    given; each reason is a sentence that names its file. The message names them all.
    """

    def __init__(self, refusals: list[tuple[str, str]], total: int) -> None:
        names = ", ".join(repr(name) for name, _ in refusals)
        super().__init__(
            f"Nothing was attached: {len(refusals)} of {total} file(s) refused ({names}). "
            + " ".join(reason for _, reason in refusals)
        )
        self.refusals = list(refusals)


class FilesRefused(DriveError):
    """Some files of an upload may not be stored; nothing was stored.

    ``refused`` holds (file name, error) for every refused file, in the order
    given. ``status`` is the HTTP status they share, else 400. The message names
    every refused file with its reason.
    """

    def __init__(self, refused: list[tuple[str, DriveError]], total: int) -> None:
        reasons = " ".join(f"{name!r}: {error.message}" for name, error in refused)
        super().__init__(
            f"Nothing was stored: {len(refused)} of {total} file(s) refused. {reasons}"
        )
        self.refused = list(refused)

    @property
    def refusals(self) -> list[tuple[str, str]]:
        """(file name, reason) of every refused file."""
        return [(name, error.message) for name, error in self.refused]

    @property
    def status(self) -> int:
        statuses = {status_of(error) for _, error in self.refused}
        return statuses.pop() if len(statuses) == 1 else 400


class ConfigError(DriveError):
    """The configuration is invalid; ``errors`` lists every problem found."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


_FULL_ERRNOS = frozenset({28, 122})  # ENOSPC, EDQUOT (Linux)
_SQLITE_FULL = 13


def disk_full_of(exc: BaseException) -> DiskFull | None:
    """``DiskFull`` when ``exc`` is a full disk: an OSError ENOSPC/EDQUOT, or SQLite's
    "database or disk is full" (SQLITE_FULL, also as SQLAlchemy's wrapper); else None."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DiskFull):
            return current
        if isinstance(current, OSError) and current.errno in _FULL_ERRNOS:
            break
        code = getattr(current, "sqlite_errorcode", None)
        if code == _SQLITE_FULL or "database or disk is full" in str(current):
            break
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    else:
        return None
    return DiskFull("The server has not enough free disk space; nothing was stored.")


def failure_of(exc: BaseException) -> DiskFull | Unavailable | None:
    """The domain error for ``exc`` when it is a known failure of the machine rather
    than a bug: a full disk (``disk_full_of``), or, anywhere in its chain, the
    object store failing or out of reach (``StoreUnavailable``) or the database
    server out of reach (psycopg's ``OperationalError``: connection refused or
    cut, server shutting down or failing over): ``Unavailable``, 503; else None."""
    full = disk_full_of(exc)
    if full is not None:
        return full
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, StoreUnavailable):
            return Unavailable("The file storage did not answer as it should; nothing was "
                               "changed. Try again in a moment.")
        if _database_out_of_reach(current):
            return Unavailable("The database cannot be reached; nothing was changed. "
                               "Try again in a moment.")
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return None


def _database_out_of_reach(exc: BaseException) -> bool:
    """psycopg's OperationalError (PostgreSQL), told by module and name: this module
    imports no driver."""
    return any(cls.__module__.startswith("psycopg") and cls.__name__ == "OperationalError"
               for cls in type(exc).__mro__)


# The HTTP status each error answers with, nearest class first (``status_of``).
STATUS_OF: dict[type[DriveError], int] = {
    BadRequest: 400,
    NotFound: 404,
    Forbidden: 403,
    Conflict: 409,
    Locked: 423,
    PreconditionFailed: 412,
    TooLarge: 413,
    InsufficientStorage: 507,
    Throttled: 429,
    Unavailable: 503,
}


def status_of(exc: DriveError) -> int:
    """The HTTP status for ``exc``: its nearest class in ``STATUS_OF``, else 500
    (``FilesRefused``: the status of its refusals)."""
    if isinstance(exc, FilesRefused):
        return exc.status
    for cls in type(exc).__mro__:
        if cls in STATUS_OF:
            return STATUS_OF[cls]  # type: ignore[index]
    return 500
