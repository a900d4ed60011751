"""SQLAlchemy 2.0 typed models: the whole data model of the drive.

Levels are stored as short strings and compared through ``LEVELS`` and
``FOLDER_LEVELS`` (see policy.py). Times are UTC, timezone-aware.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

LEVELS = ("none", "read", "write", "admin")
FOLDER_LEVELS = ("none", "read", "write", "manage")
VISIBILITIES = ("shared", "private")
RECORD_KINDS = ("member", "product", "activity")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dt.datetime: DateTime(timezone=True), dict[str, Any]: JSON}


class DocType(Base):
    __tablename__ = "doc_type"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(200), default="")


class Category(Base):
    __tablename__ = "category"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    login: Mapped[bool] = mapped_column(Boolean, default=True)
    documents: Mapped[str] = mapped_column(String(8), default="read")
    members: Mapped[str] = mapped_column(String(8), default="none")
    config: Mapped[bool] = mapped_column(Boolean, default=False)
    may_delete: Mapped[bool] = mapped_column(Boolean, default=True)
    excluded_doc_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    # Bumped whenever anything that affects signed-in users of this category changes.
    version: Mapped[int] = mapped_column(Integer, default=1)


class User(Base):
    __tablename__ = "user_account"
    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(150))
    login_key: Mapped[str] = mapped_column(String(150), unique=True)  # casefolded login
    display_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id"))
    degree: Mapped[int] = mapped_column(Integer, default=1)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    expires_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    login_hours: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(200), default="")
    # Bumped on password, category or account change: drops cached credentials.
    auth_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    category: Mapped[Category] = relationship(lazy="joined", innerjoin=True)


class AppPassword(Base):
    __tablename__ = "app_password"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(200), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class Blob(Base):
    """One stored content, addressed by its sha256."""

    __tablename__ = "blob"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    # ownCloud checksums: None until computed (davdrive.checksums)
    sha1: Mapped[str | None] = mapped_column(String(40))
    md5: Mapped[str | None] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class BlobInline(Base):
    """The bytes of a small blob, kept in the database (``storage.inline_blob_bytes``):
    the commit that stores its row makes it durable, with no file to fsync."""

    __tablename__ = "blob_inline"
    sha256: Mapped[str] = mapped_column(ForeignKey("blob.sha256"), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Node(Base):
    """A folder or file of the drive tree. The root has no parent and an empty name."""

    __tablename__ = "node"
    __table_args__ = (
        Index(
            "uq_node_live_name",
            "parent_id",
            "name_key",
            unique=True,
            sqlite_where=text("deleted_at IS NULL"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("node.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    name_key: Mapped[str] = mapped_column(String(255))  # casefolded NFC name
    kind: Mapped[str] = mapped_column(String(8))  # folder | file
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), default=None
    )
    protected: Mapped[bool] = mapped_column(Boolean, default=False)
    min_degree: Mapped[int] = mapped_column(Integer, default=0)
    doc_type: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    visibility: Mapped[str] = mapped_column(String(8), default="shared")
    new_files_private: Mapped[bool] = mapped_column(Boolean, default=False)
    blob_sha256: Mapped[str | None] = mapped_column(
        ForeignKey("blob.sha256"), default=None, index=True
    )
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    content_type: Mapped[str] = mapped_column(String(200), default="")
    mtime: Mapped[float] = mapped_column(Float)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(default=None, index=True)
    deleted_by: Mapped[int | None] = mapped_column(Integer, default=None)

    @property
    def is_folder(self) -> bool:
        return self.kind == "folder"

    @property
    def etag(self) -> str | None:
        """Strong ETag: the content hash (files only)."""
        return self.blob_sha256


class TreeState(Base):
    """One row: ``version``, which the database itself adds one to whenever a row of
    ``node`` is inserted, changed or deleted (triggers of migration 0006), by
    anyone: a server process, the command line, SQL typed by hand. A per-process
    cache of what the tree looks like (``davdrive.readable_files``) holds only
    while it reads the version it was filled under."""

    __tablename__ = "tree_state"
    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(default=0)


class NodeVersion(Base):
    """A previous content of a file, kept when it is overwritten."""

    __tablename__ = "node_version"
    id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("node.id", ondelete="CASCADE"), index=True)
    blob_sha256: Mapped[str] = mapped_column(ForeignKey("blob.sha256"), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(200), default="")
    mtime: Mapped[float] = mapped_column(Float)
    replaced_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    replaced_by: Mapped[int | None] = mapped_column(Integer, default=None)


class FolderRight(Base):
    __tablename__ = "folder_right"
    folder_id: Mapped[int] = mapped_column(
        ForeignKey("node.id", ondelete="CASCADE"), primary_key=True
    )
    category_id: Mapped[int] = mapped_column(
        ForeignKey("category.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    level: Mapped[str] = mapped_column(String(8))


class Record(Base):
    __tablename__ = "record"
    __table_args__ = (UniqueConstraint("kind", "folder_name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(255))
    folder_name: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Attachment(Base):
    __tablename__ = "attachment"
    __table_args__ = (UniqueConstraint("record_id", "file_name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("record.id", ondelete="CASCADE"))
    file_name: Mapped[str] = mapped_column(String(255))
    blob_sha256: Mapped[str] = mapped_column(ForeignKey("blob.sha256"), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    visibility: Mapped[str] = mapped_column(String(8), default="private")
    uploaded_by: Mapped[int | None] = mapped_column(Integer, default=None)
    content_type: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Lock(Base):
    """A WebDAV lock, shared by every server process."""

    __tablename__ = "dav_lock"
    token: Mapped[str] = mapped_column(String(100), primary_key=True)
    root: Mapped[str] = mapped_column(Text, index=True)
    principal: Mapped[str] = mapped_column(String(150), index=True)
    owner: Mapped[str] = mapped_column(Text, default="")
    scope: Mapped[str] = mapped_column(String(16))
    type: Mapped[str] = mapped_column(String(16))
    depth: Mapped[str] = mapped_column(String(16))
    timeout: Mapped[float] = mapped_column(Float)
    expire: Mapped[float] = mapped_column(Float)


class DeadProperty(Base):
    __tablename__ = "dead_property"
    node_id: Mapped[int] = mapped_column(
        ForeignKey("node.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(500), primary_key=True)  # Clark notation
    value: Mapped[str] = mapped_column(Text)  # serialised XML element


class AuditEvent(Base):
    __tablename__ = "audit_event"
    # The history's "under this folder" filter (davdrive.history) searches these; only
    # events with a path (a target: moves and copies) are indexed, so the others cost
    # no index write.
    __table_args__ = (
        Index("ix_audit_event_path", "path", sqlite_where=text("path != ''"),
              postgresql_where=text("path != ''")),
        Index("ix_audit_event_target_path", "target_path",
              sqlite_where=text("target_path != ''"),
              postgresql_where=text("target_path != ''")),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    time: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    user_login: Mapped[str] = mapped_column(String(150), default="", index=True)
    ip: Mapped[str] = mapped_column(String(64), default="")
    action: Mapped[str] = mapped_column(String(64), index=True)
    path: Mapped[str] = mapped_column(Text, default="")
    target_path: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str] = mapped_column(String(16), default="ok")
    detail: Mapped[str] = mapped_column(Text, default="")
    prev_hash: Mapped[str] = mapped_column(String(64), default="")
    hash: Mapped[str] = mapped_column(String(64), default="")


class LoginStat(Base):
    """Daily connection counters of one login on one interface (davdrive.connection_stats):
    ``successes`` sign-ins, ``failures`` refused sign-ins, ``requests`` answered, request
    body bytes read (``bytes_in``) and response body bytes sent (``bytes_out``). Login
    "" counts what no signed-in user did. Days are the server's local days."""

    __tablename__ = "login_stat"
    __table_args__ = (UniqueConstraint("login", "day", "interface"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(150))
    day: Mapped[dt.date] = mapped_column(Date, index=True)
    interface: Mapped[str] = mapped_column(String(8))  # dav | admin
    successes: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    bytes_in: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    bytes_out: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))


class WebSession(Base):
    """A signed-in browser (the admin view): server-side, so that every process
    agrees and a sign-out, a password change or an account change ends it.

    Only the sha256 of the cookie's token is kept. ``auth_version`` is the
    user's at sign-in: when the account's changes (password, category, active,
    expiry, hours) the session no longer holds.
    """

    __tablename__ = "web_session"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    auth_version: Mapped[int] = mapped_column(Integer)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)


class SigninFailures(Base):
    """Failed sign-ins counted in a window (``davdrive.signin_throttle``).

    One row per source address and login (``login`` empty: every login from
    that address), in the database so that every server process agrees.
    ``window_start`` is the window's first failure; a failure after the window
    starts a new one. ``noted``: the window's first refused attempt is audited.
    """

    __tablename__ = "signin_failures"
    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    login: Mapped[str] = mapped_column(String(150), primary_key=True)
    window_start: Mapped[dt.datetime] = mapped_column(index=True)
    failures: Mapped[int] = mapped_column(Integer)
    noted: Mapped[bool] = mapped_column(Boolean, default=False)


class StorageMove(Base):
    """The marker of an unfinished ``davdrive migrate-storage`` in its target database
    (``davdrive.storage_move``): which source it copies (``source``: database and blob
    store, no secret) and how far it got. No row: no move under way. Never copied."""

    __tablename__ = "storage_move"
    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(Text)
    phase: Mapped[str] = mapped_column(String(16))  # blobs | rows | verify
    blobs_done: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


def _binary_text_on_postgresql(metadata: MetaData) -> None:
    """Every text column compares, sorts and matches byte by byte on PostgreSQL too
    (``COLLATE "C"``, SQLite's ``BINARY``), whatever the database's default collation:
    paths, names and keys then order alike on both (keyset pages, path ranges,
    sorted listings). Migration 0013 gives existing columns that collation."""
    for table in metadata.tables.values():
        for column in table.columns:
            kind = column.type
            if isinstance(kind, String) and not isinstance(kind, Enum) \
                    and kind.collation is None:
                binary = type(kind)(length=kind.length, collation="C")
                column.type = kind.with_variant(binary, "postgresql")


_binary_text_on_postgresql(Base.metadata)
