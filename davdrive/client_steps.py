"""What a user types into each client to connect to the drive (the "Connect your
computer" page): the rclone.conf section, davfs2's fstab and secrets lines, the
GNOME/gio address, WinSCP's fields and Windows' ``net use`` line.

``client_steps(origin, mount, login, password)`` fills them in for one user;
``password`` is an app password in clear (shown once, never stored) or None for
placeholders. Windows' own WebDAV client (``net use``) is only offered over
HTTPS: it refuses Basic authentication over plain HTTP. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from davdrive import rclone_config
from davdrive.public_url import PublicOrigin, drive_path

PASSWORD_PLACEHOLDER = "APP-PASSWORD"  # noqa: S105  (shown where none was created)
MOUNT_POINT = "/mnt/davdrive"


@dataclass(frozen=True)
class WinScp:
    """The fields of WinSCP's Login dialog."""

    protocol: str
    encryption: str
    host: str
    port: int
    user: str
    remote_directory: str


@dataclass(frozen=True)
class ClientSteps:
    url: str
    login: str
    secure: bool
    remote: rclone_config.Remote
    rclone_conf: str
    davfs2_fstab: str
    davfs2_secret: str
    gio_url: str
    winscp: WinScp
    net_use: str | None


def client_steps(origin: PublicOrigin, mount: str, login: str,
                 password: str | None) -> ClientSteps:
    """Every client's settings for ``login`` on the drive at ``origin`` + ``mount``."""
    path = drive_path(mount)
    url = origin.url(path)
    secure = origin.scheme == "https"
    remote = rclone_config.remote_for(url, mount, login)
    return ClientSteps(
        url=url,
        login=login,
        secure=secure,
        remote=remote,
        rclone_conf=remote.section(password),
        davfs2_fstab=f"{url} {MOUNT_POINT} davfs rw,noauto,_netdev,uid=YOUR-LOCAL-USER 0 0",
        davfs2_secret=" ".join(
            _davfs2_field(f) for f in (url, login, password or PASSWORD_PLACEHOLDER)
        ),
        gio_url=f"{'davs' if secure else 'dav'}://{origin.netloc}{path}",
        winscp=WinScp(
            protocol="WebDAV",
            encryption="TLS/SSL Implicit encryption" if secure else "No encryption",
            host=origin.host,
            port=origin.port,
            user=login,
            remote_directory=path,
        ),
        net_use=f"net use Z: {url} /user:{login} *" if secure else None,
    )


def _davfs2_field(value: str) -> str:
    """A field of davfs2's secrets file: quoted when it holds a space, quote, '#' or
    backslash (which are then escaped)."""
    if not any(c in value for c in ' \t"#\\'):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
