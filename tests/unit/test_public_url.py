"""The drive's address as the browser reached the server (the connect page's URL).

Rules: scheme from the connection, host and port from the Host header (the
scheme's default port left out); X-Forwarded-Proto and X-Forwarded-Host count
only from a peer in ``server.trusted_proxies``, the right-most value being the
nearest proxy's; a malformed host or port is a BadRequest; the mount is added
percent-encoded.
"""

from __future__ import annotations

from typing import Any

import pytest

from davdrive.errors import BadRequest
from davdrive.public_url import PublicOrigin, drive_url, public_origin
from davdrive.source_address import TrustedProxies

PROXY = TrustedProxies.parse(["10.0.0.1"])


def environ(host: str | None = "drive.example.org", peer: str = "203.0.113.9",
            scheme: str = "http", **headers: str) -> dict[str, Any]:
    env: dict[str, Any] = {"wsgi.url_scheme": scheme, "REMOTE_ADDR": peer,
                           "SERVER_NAME": "server.local", "SERVER_PORT": "8080"}
    if host is not None:
        env["HTTP_HOST"] = host
    env.update({f"HTTP_{k.upper()}": v for k, v in headers.items()})
    return env


def url(env: dict[str, Any], proxies: TrustedProxies = PROXY, mount: str = "/dav") -> str:
    return drive_url(public_origin(env, proxies), mount)


def test_the_host_header_and_scheme_of_the_request_make_the_url() -> None:
    assert url(environ()) == "http://drive.example.org/dav/"
    assert url(environ("Drive.Example.org:8080")) == "http://drive.example.org:8080/dav/"
    assert url(environ("drive.example.org:443", scheme="https")) == "https://drive.example.org/dav/"
    assert url(environ("127.0.0.1:8080")) == "http://127.0.0.1:8080/dav/"
    assert url(environ("[::1]:8080")) == "http://[::1]:8080/dav/"


def test_without_a_host_header_the_server_name_and_port_are_used() -> None:
    assert url(environ(None)) == "http://server.local:8080/dav/"


def test_the_mount_is_added_percent_encoded() -> None:
    assert url(environ(), mount="/my drive") == "http://drive.example.org/my%20drive/"


def test_forwarded_headers_from_an_untrusted_peer_are_ignored() -> None:
    env = environ("127.0.0.1:8080", x_forwarded_proto="https", x_forwarded_host="evil.example")
    assert url(env) == "http://127.0.0.1:8080/dav/"
    assert url(env, TrustedProxies()) == "http://127.0.0.1:8080/dav/"


def test_a_trusted_proxy_names_scheme_and_host() -> None:
    env = environ("127.0.0.1:8080", peer="10.0.0.1", x_forwarded_proto="https",
                  x_forwarded_host="drive.example.org")
    origin = public_origin(env, PROXY)
    assert origin == PublicOrigin("https", "drive.example.org", 443, from_proxy=True)
    assert drive_url(origin, "/dav") == "https://drive.example.org/dav/"


def test_only_the_scheme_from_a_proxy_that_keeps_the_host_header() -> None:
    """nginx's example config: Host passed on, X-Forwarded-Proto set."""
    env = environ("drive.example.org", peer="10.0.0.1", x_forwarded_proto="https")
    assert public_origin(env, PROXY) == PublicOrigin("https", "drive.example.org", 443)


def test_the_right_most_forwarded_value_is_the_nearest_proxys() -> None:
    env = environ(peer="10.0.0.1", x_forwarded_proto="http, https",
                  x_forwarded_host="client-made.example, drive.example.org:8443")
    assert url(env) == "https://drive.example.org:8443/dav/"


def test_an_unknown_forwarded_scheme_is_ignored() -> None:
    env = environ(peer="10.0.0.1", x_forwarded_proto="gopher")
    assert url(env) == "http://drive.example.org/dav/"


@pytest.mark.parametrize("host", [
    "drive.example.org:0", "drive.example.org:99999", "drive.example.org:8o", "dri ve",
    "drive/x", "[::1", "[not-v6]:80", "::1", "-drive.example.org", "a" * 300, ":80",
])
def test_a_malformed_host_is_a_bad_request(host: str) -> None:
    with pytest.raises(BadRequest):
        url(environ(peer="10.0.0.1", x_forwarded_host=host))
    with pytest.raises(BadRequest):
        url(environ(host))


def test_loopback_hosts() -> None:
    assert PublicOrigin("http", "localhost", 80).loopback
    assert PublicOrigin("http", "127.0.0.2", 80).loopback
    assert PublicOrigin("http", "::1", 80).loopback
    assert not PublicOrigin("http", "drive.example.org", 80).loopback
    assert not PublicOrigin("http", "192.168.1.5", 80).loopback
