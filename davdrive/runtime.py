"""The runtime: everything a process needs, built once from the settings.

``open_runtime`` creates the data folder layout, the engine (migrating the
schema to head) and the blob store. Nothing here is global: the CLI and the
app factory each open their own runtime, and tests open as many as they like.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from davdrive import db
from davdrive.blob_backend import BlobBackend
from davdrive.blob_stores import open_blob_store
from davdrive.connection_stats import ConnectionStats
from davdrive.deadprops import DeadPropLimits
from davdrive.passwords import Passwords
from davdrive.quota import QuotaLimits, parse_category_quotas
from davdrive.read_connections import ReadConnections
from davdrive.readable_files import ReadableFiles
from davdrive.rights_cache import RightsCache
from davdrive.services import DriveOptions
from davdrive.settings import Settings
from davdrive.signin_throttle import SigninThrottle, ThrottleLimits
from davdrive.source_address import TrustedProxies

_log = logging.getLogger("davdrive")


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    blobs: BlobBackend
    passwords: Passwords = field(default_factory=Passwords)
    # Per process: each category's folder rights, checked against category.version.
    rights_cache: RightsCache = field(default_factory=RightsCache)
    # Per process: files the read fast path found readable, checked against the tree's
    # version (davdrive/readable_files.py).
    readable_files: ReadableFiles = field(default_factory=ReadableFiles)
    # Per process: connection counters not stored yet (davdrive/connection_stats.py).
    connection_stats: ConnectionStats = field(default_factory=ConnectionStats)

    @cached_property
    def reads(self) -> ReadConnections:
        """Read connections kept per thread between requests (SQLite only)."""
        return ReadConnections(self.engine, keep=self.engine.dialect.name == "sqlite")

    @cached_property
    def drive_options(self) -> DriveOptions:
        """The drive's options from the settings, built once (every request uses them)."""
        s = self.settings
        return DriveOptions(
            windows_names=s["dav.windows_names"],
            junk_names=tuple(s["dav.junk_names"]),
            max_upload_bytes=s["dav.max_upload_bytes"],
            versions_kept=s["storage.versions"],
            inline_blob_bytes=s["storage.inline_blob_bytes"],
            dead_props=DeadPropLimits(
                max_count=s["dav.max_dead_props"],
                max_bytes=s["dav.max_dead_props_bytes"],
                max_value_bytes=s["dav.max_dead_prop_value_bytes"],
            ),
            quota=QuotaLimits(
                drive_bytes=s["storage.quota_bytes"],
                category_bytes=parse_category_quotas(s["storage.category_quotas"])[0],
            ),
        )

    @cached_property
    def trusted_proxies(self) -> TrustedProxies:
        """``server.trusted_proxies``, parsed once (``davdrive.source_address``)."""
        return TrustedProxies.parse(self.settings["server.trusted_proxies"])

    @cached_property
    def signin_throttle(self) -> SigninThrottle:
        """The process's throttle of failed sign-ins, shared by WebDAV and the admin view
        (its counters are in the database; davdrive/signin_throttle.py)."""
        s = self.settings
        return SigninThrottle(ThrottleLimits(
            per_login=s["auth.throttle_per_login"],
            per_address=s["auth.throttle_per_address"],
            window=dt.timedelta(minutes=s["auth.throttle_window_minutes"]),
        ))

    def close(self) -> None:
        """Store the connection counters not flushed yet, then release the database and
        the blob store's connections."""
        try:
            self.connection_stats.flush(self.sessions)
        except Exception:  # noqa: BLE001 - closing goes on; the counts are lost, said once
            _log.exception("connection statistics could not be stored at close")
        if "reads" in self.__dict__:
            self.reads.close()
        self.blobs.close()
        self.engine.dispose()


def open_runtime(settings: Settings, passwords: Passwords | None = None) -> Runtime:
    """Open (and upgrade if needed) the data folder described by ``settings``."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = db.make_engine(settings.database_url, settings["server.threads"])
    db.migrate(engine)
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=db.make_session_factory(engine),
        blobs=open_blob_store(settings),
        passwords=passwords or Passwords(),
    )
