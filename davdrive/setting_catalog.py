"""Every setting davdrive reads, declared once: dotted name, type, default, help
and the check its value must pass (``Setting``; ``SETTINGS`` in reading order).

``davdrive.settings`` loads them (TOML, then ``DAVDRIVE_*`` environment, then
flags) and renders the README's reference table from these declarations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from davdrive import blob_settings
from davdrive.filetypes import ALL_TYPES
from davdrive.junk import DEFAULT_JUNK_NAMES
from davdrive.quota import parse_category_quotas
from davdrive.source_address import bad_proxy_entries


@dataclass(frozen=True)
class Setting:
    """Declaration of one setting."""

    name: str
    kind: type
    default: Any
    help: str
    check: Callable[[Any], str | None] | None = None

    @property
    def env(self) -> str:
        return "DAVDRIVE_" + self.name.replace(".", "_").upper()


def _positive(value: Any) -> str | None:
    return None if value > 0 else "must be greater than 0"


def _non_negative(value: Any) -> str | None:
    return None if value >= 0 else "must be 0 or more"


def _host_names(value: Any) -> str | None:
    bad = [v for v in value if not isinstance(v, str) or not v or any(c in v for c in " /@")
           or (":" in v and not v.startswith("["))]
    return f"must be host names without scheme or port, got {bad}" if bad else None


def _junk_patterns(value: Any) -> str | None:
    bad = [v for v in value if not isinstance(v, str) or not v.strip() or "/" in v]
    return f"must be file name patterns, got {bad}" if bad else None


def _proxies(value: Any) -> str | None:
    bad = bad_proxy_entries(value)
    return f"must be IP addresses or CIDR networks, got {bad}" if bad else None


def _port(value: Any) -> str | None:
    return None if 0 <= value <= 65535 else "must be between 0 and 65535"


# Top-level paths of the browser side (web/): the drive may not be mounted there.
RESERVED_MOUNTS = ("admin", "files")


def _mount(value: Any) -> str | None:
    if not value.startswith("/") or value.endswith("/") or value == "/":
        return "must start with '/' and not end with '/' (e.g. /dav)"
    if value.split("/")[1].lower() in RESERVED_MOUNTS:
        return f"may not be under {', '.join('/' + m for m in RESERVED_MOUNTS)} (the browser side)"
    return None


def _log_level(value: Any) -> str | None:
    ok = ("debug", "info", "warning", "error")
    return None if value.lower() in ok else "must be one of " + ", ".join(ok)


def _hour_or_off(value: Any) -> str | None:
    return None if -1 <= value <= 23 else "must be an hour from 0 to 23, or -1 (off)"


def _known_types(value: Any) -> str | None:
    unknown = [v for v in value if v not in ALL_TYPES]
    if unknown:
        return f"unknown types {unknown}; known: {', '.join(sorted(ALL_TYPES))}"
    return None


def _category_quotas(value: Any) -> str | None:
    _, bad = parse_category_quotas(value)
    return f"entries must read 'slug=bytes' with bytes > 0, got {bad}" if bad else None


MiB = 1024 * 1024
DB_FILE = "davdrive.sqlite3"  # the SQLite database's file in the data folder (and a snapshot)

SETTINGS: tuple[Setting, ...] = (
    Setting("data_dir", str, "./data", "Folder holding the database, blobs and backups."),
    Setting(
        "database.url",
        str,
        "",
        "SQLAlchemy URL of the metadata database; empty means SQLite in the data folder.",
    ),
    Setting("server.host", str, "127.0.0.1", "Address to listen on."),
    Setting("server.port", int, 8080, "TCP port to listen on (0 picks a free port).", _port),
    Setting("server.threads", int, 16, "Worker threads of the HTTP server.", _positive),
    # --- several server processes on one port ---
    Setting(
        "server.workers",
        int,
        1,
        "Server processes accepting on the one listening socket, each with "
        "server.threads threads; shared state lives in the database. A worker "
        "that dies is restarted.",
        _positive,
    ),
    Setting(
        "server.sendfile",
        bool,
        False,
        "Send file answers with sendfile() on plain HTTP (kernel copy, less CPU per "
        "byte) instead of 1 MiB blocks; on loopback blocks measured faster.",
    ),
    # --- reliability under load ---
    Setting(
        "server.listen_backlog",
        int,
        1024,
        "Connections the kernel queues before the server accepts them; clients "
        "connecting past it are dropped or reset. The kernel caps it at "
        "net.core.somaxconn.",
        _positive,
    ),
    # --- protection of the HTTP server against slow and malformed clients ---
    Setting(
        "server.header_timeout",
        int,
        10,
        "Seconds a client has to send a complete request head (request line and "
        "headers); slower ones get 408 and are closed.",
        _positive,
    ),
    Setting(
        "server.body_timeout",
        int,
        30,
        "Seconds a request body may pause between two reads before the request "
        "ends with 408.",
        _positive,
    ),
    Setting(
        "server.max_connections_per_ip",
        int,
        12,
        "Simultaneous connections accepted from one source address (0: no cap); "
        "more get 503. Behind a reverse proxy, cap in the proxy and set 0 here.",
        _non_negative,
    ),
    Setting(
        "server.allowed_hosts",
        list,
        [],
        "Host names the server answers for (Host header, without port); empty "
        "means any. Other names get 421.",
        _host_names,
    ),
    Setting(
        "server.trusted_proxies",
        list,
        [],
        "Addresses or CIDR networks of reverse proxies whose X-Forwarded-For names the "
        "client (the right-most hop that is not itself listed); from any other peer the "
        "header is ignored. Empty: the peer's address is the client's.",
        _proxies,
    ),
    Setting("server.tls_cert", str, "", "PEM certificate file; enables HTTPS with tls_key."),
    Setting("server.tls_key", str, "", "PEM private key file for tls_cert."),
    Setting("dav.mount", str, "/dav", "URL path where the drive is served.", _mount),
    Setting(
        "dav.allow_infinite_propfind",
        bool,
        False,
        "Answer PROPFIND with Depth: infinity (refused with 403 when false).",
    ),
    Setting(
        "dav.max_upload_bytes",
        int,
        2048 * MiB,
        "Largest accepted upload, in bytes (larger ones get 413).",
        _positive,
    ),
    Setting(
        "dav.max_xml_bytes", int, 1 * MiB, "Largest accepted XML request body.", _positive
    ),
    Setting(
        "dav.max_header_bytes", int, 64 * 1024, "Largest accepted request header block.", _positive
    ),
    # --- dead properties and PROPFIND answers (bounded work per request) ---
    Setting(
        "dav.max_dead_props",
        int,
        100,
        "Dead properties (set by clients with PROPPATCH) one item may hold; "
        "past it PROPPATCH answers 507 and stores nothing.",
        _positive,
    ),
    Setting(
        "dav.max_dead_props_bytes",
        int,
        64 * 1024,
        "Total bytes (UTF-8 names + XML values) of one item's dead properties; "
        "past it PROPPATCH answers 507 and stores nothing.",
        _positive,
    ),
    Setting(
        "dav.max_dead_prop_value_bytes",
        int,
        16 * 1024,
        "Largest value (serialised XML) of one dead property; "
        "a larger one gets 507 and nothing is stored.",
        _positive,
    ),
    Setting(
        "dav.stream_propfind",
        bool,
        True,
        "Stream PROPFIND Depth 0/1 answers of drive folders in batches, so memory stays "
        "flat whatever the folder size (false: WsgiDAV's built-in PROPFIND).",
    ),
    # --- read fast path ---
    Setting(
        "dav.fast_path",
        bool,
        True,
        "Answer what clients do most (GET/HEAD of a file, PROPFIND Depth 0/1 of live "
        "properties) on a short path with the same rules and the same answers; anything "
        "else, and everything when false, goes through WsgiDAV (see docs/fast-path.md).",
    ),
    Setting(
        "dav.fast_put",
        bool,
        True,
        "Answer plain PUTs (a Content-Length body, no If/lock/ownCloud headers, no lock "
        "on the path) without WsgiDAV's request machinery; same rights, checks and "
        "answers (false: every PUT goes through WsgiDAV).",
    ),
    Setting(
        "dav.windows_names",
        bool,
        True,
        "Refuse names Windows cannot store (\\ : * ? \" < > | and reserved names).",
    ),
    # --- desktop clients' junk files ---
    Setting(
        "dav.junk_names",
        list,
        list(DEFAULT_JUNK_NAMES),
        "Files accepted but never kept, listed or served (shell patterns, any case): "
        "macOS ._* and .DS_Store, Windows Thumbs.db and desktop.ini. Empty: keep all.",
        _junk_patterns,
    ),
    Setting(
        "dav.lock_owner_max_bytes", int, 4096,
        "Largest lock owner text (what Office shows as 'locked by'); larger LOCKs get 413.",
        _positive,
    ),
    Setting(
        "dav.locks_per_item", int, 20,
        "Most locks one file or folder may hold at once; more get 507.", _positive,
    ),
    Setting(
        "dav.locks_per_user", int, 1000,
        "Most locks one user may hold at once; more get 507.", _positive,
    ),
    Setting("auth.realm", str, "davdrive", "Realm shown in the login prompt."),
    Setting(
        "web.session_idle_minutes",
        int,
        60,
        "An admin view session ends after this many minutes without a request.",
        _positive,
    ),
    Setting(
        "web.session_max_hours",
        int,
        12,
        "An admin view session ends this many hours after sign-in, whatever its use.",
        _positive,
    ),
    Setting(
        "auth.cache_seconds",
        int,
        300,
        "How long a verified password is remembered in memory.",
        _positive,
    ),
    # Resource isolation of sign-in (docs/security.md).
    Setting(
        "auth.max_parallel_checks",
        int,
        0,
        "Password checks (argon2) run at once; 0 means one less than the CPU count "
        "(at least 1). Cached and app passwords never wait for one.",
        _non_negative,
    ),
    Setting(
        "auth.check_wait_ms",
        int,
        250,
        "How long a sign-in waits for a free password check before it is answered "
        "503 with Retry-After.",
        _non_negative,
    ),
    # Throttling of failed sign-ins (docs/security.md).
    Setting(
        "auth.throttle_per_login",
        int,
        10,
        "Failed sign-ins for one login from one source address within "
        "auth.throttle_window_minutes after which further attempts for it from there "
        "get 429, unchecked, until the window ends.",
        _positive,
    ),
    Setting(
        "auth.throttle_per_address",
        int,
        30,
        "Failed sign-ins from one source address (any logins; an IPv6 /64 counts as one "
        "address) within auth.throttle_window_minutes after which every account "
        "password from there gets 429, unchecked, until the window ends.",
        _positive,
    ),
    Setting(
        "auth.throttle_window_minutes",
        int,
        15,
        "Length of the window of failed sign-ins counted by the two limits above.",
        _positive,
    ),
    Setting("storage.versions", int, 10, "Previous versions kept per file.", _positive),
    Setting(
        "storage.trash_days", int, 30,
        "Days a deleted item stays in the trash, where document administrators may "
        "restore it; then it is purged and its content freed.", _positive,
    ),
    Setting(
        "storage.collect_minutes", int, 60,
        "Minutes between two clean-ups by `serve` (one process does them): purge the "
        "trash past storage.trash_days, then remove the blobs nothing refers to any "
        "more; 0: never (`davdrive trash purge` does it by hand).", _non_negative,
    ),
    Setting(
        "storage.inline_blob_bytes", int, 65536,
        "Uploads of at most this many bytes are kept in the database: the commit that "
        "stores the file makes its content durable too (one fsync instead of three or "
        "four); 0 keeps every upload as a file (docs/durable-writes.md).", _non_negative,
    ),
    # --- storage quotas (RFC 4331 figures, 507 past them; docs/decisions.md) ---
    Setting(
        "storage.quota_bytes", int, 0,
        "Most bytes of file content the whole drive may hold (current versions of live "
        "files); 0 means no limit but the free disk space.", _non_negative,
    ),
    Setting(
        "storage.category_quotas", list, [],
        "Per-user quotas by category, as 'slug=bytes' entries (e.g. member=5000000000): "
        "each user of that category may own at most that many bytes of file content. "
        "Categories not listed have no quota.", _category_quotas,
    ),
    # --- where contents are kept: the local folder or an S3 bucket (davdrive.blob_settings) ---
    *(Setting(*declared) for declared in blob_settings.DECLARED),
    # --- backups (README "Backups and restore") ---
    Setting(
        "backup.dir", str, "",
        "Folder of the snapshots `davdrive backup` takes; empty means <data_dir>/backups. "
        "On another file system, blob files are copied instead of hard-linked.",
    ),
    Setting(
        "backup.hour", int, -1,
        "Hour (0-23, the server's local time) at which `serve` takes a backup every night; "
        "-1 turns the nightly backup off. With several servers on one PostgreSQL "
        "database, one of them takes it.", _hour_or_off,
    ),
    Setting(
        "stats.flush_seconds", int, 5,
        "Connection statistics are counted in memory and added to the database this "
        "often (and when the server stops): a crash loses at most these last seconds "
        "of counters, never an event.", _positive,
    ),
    Setting("log.level", str, "info", "Log level: debug, info, warning or error.", _log_level),
    Setting(
        "attachments.allowed_types", list, sorted(ALL_TYPES),
        "Record attachment types accepted (checked on the content): "
        + ", ".join(sorted(ALL_TYPES)) + ".", _known_types,
    ),
)
