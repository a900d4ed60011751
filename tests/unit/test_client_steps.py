"""Each client's settings on the connect page (``davdrive.client_steps``).

Rules: every step uses the drive's URL as computed; Windows' own WebDAV client
(``net use``) is offered only over HTTPS; gio uses davs:// over HTTPS and dav://
otherwise; WinSCP's encryption follows the scheme; the app password, when given,
fills davfs2's secrets line (quoted when davfs2 needs it) and the rclone section,
else placeholders.
"""

from __future__ import annotations

from davdrive.client_steps import PASSWORD_PLACEHOLDER, WinScp, client_steps
from davdrive.public_url import PublicOrigin
from davdrive.rclone_config import PLACEHOLDER

HTTPS = PublicOrigin("https", "drive.example.org", 443)
HTTP = PublicOrigin("http", "127.0.0.1", 8080)


def test_over_https_every_client_uses_the_https_url() -> None:
    steps = client_steps(HTTPS, "/dav", "mary", "tok-en_123")
    assert steps.url == "https://drive.example.org/dav/"
    assert steps.secure
    assert steps.net_use == "net use Z: https://drive.example.org/dav/ /user:mary *"
    assert steps.gio_url == "davs://drive.example.org/dav/"
    assert steps.winscp == WinScp("WebDAV", "TLS/SSL Implicit encryption", "drive.example.org",
                                  443, "mary", "/dav/")
    assert steps.davfs2_fstab.startswith("https://drive.example.org/dav/ /mnt/davdrive davfs ")
    assert steps.davfs2_secret == "https://drive.example.org/dav/ mary tok-en_123"
    assert "url = https://drive.example.org/dav/files/mary\n" in steps.rclone_conf
    assert PLACEHOLDER not in steps.rclone_conf


def test_over_plain_http_windows_own_client_is_not_offered() -> None:
    steps = client_steps(HTTP, "/webdav", "mary", None)
    assert steps.url == "http://127.0.0.1:8080/webdav/"
    assert not steps.secure and steps.net_use is None
    assert steps.gio_url == "dav://127.0.0.1:8080/webdav/"
    assert steps.winscp.encryption == "No encryption"
    assert (steps.winscp.port, steps.winscp.remote_directory) == (8080, "/webdav/")
    assert steps.remote.vendor == "owncloud"


def test_without_a_password_the_steps_show_placeholders() -> None:
    steps = client_steps(HTTP, "/dav", "mary", None)
    assert steps.davfs2_secret.endswith(f" mary {PASSWORD_PLACEHOLDER}")
    assert steps.rclone_conf.endswith(f"pass = {PLACEHOLDER}\n")


def test_davfs2_secrets_quote_what_davfs2_would_split() -> None:
    steps = client_steps(HTTP, "/dav", "mary", 'with space "and" \\ #')
    assert steps.davfs2_secret.endswith(' mary "with space \\"and\\" \\\\ #"')
