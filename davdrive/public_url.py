"""The drive's address as a client reaches it: scheme, host and port of a request.

``public_origin(environ, proxies)`` is what the browser used: ``wsgi.url_scheme``
and the ``Host`` header (SERVER_NAME/SERVER_PORT without one). From a peer in
``server.trusted_proxies`` only, ``X-Forwarded-Proto`` (http or https) and
``X-Forwarded-Host`` replace them; the right-most value of each is the one the
nearest proxy wrote. Anything else from other peers is ignored. A malformed host
or port raises ``BadRequest``. ``drive_url`` adds the ``dav.mount`` path.
Pure: no I/O.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from davdrive.errors import BadRequest
from davdrive.source_address import TrustedProxies

DEFAULT_PORTS = {"http": 80, "https": 443}
_NAME = re.compile(r"^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*\.?$")


@dataclass(frozen=True)
class PublicOrigin:
    """``scheme://host[:port]``; ``host`` is lower case, an IPv6 address without
    brackets. ``from_proxy``: a trusted proxy's X-Forwarded-Host named the host."""

    scheme: str
    host: str
    port: int
    from_proxy: bool = False

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if DEFAULT_PORTS[self.scheme] == self.port else f"{host}:{self.port}"

    @property
    def loopback(self) -> bool:
        """The host is ``localhost`` or a loopback address (this computer only)."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def url(self, path: str = "") -> str:
        """The origin followed by ``path`` (already percent-encoded)."""
        return f"{self.scheme}://{self.netloc}{path}"


def public_origin(environ: Mapping[str, Any], proxies: TrustedProxies) -> PublicOrigin:
    """The origin of the request in ``environ`` (see the module for the proxy rule)."""
    scheme = str(environ.get("wsgi.url_scheme") or "http").lower()
    if scheme not in DEFAULT_PORTS:
        scheme = "http"
    host_header = environ.get("HTTP_HOST")
    from_proxy = False
    if _from_trusted(environ, proxies):
        proto = _last(environ.get("HTTP_X_FORWARDED_PROTO")).lower()
        if proto in DEFAULT_PORTS:
            scheme = proto
        forwarded_host = _last(environ.get("HTTP_X_FORWARDED_HOST"))
        if forwarded_host:
            host_header, from_proxy = forwarded_host, True
    if host_header:
        host, port = split_host(str(host_header), DEFAULT_PORTS[scheme])
    else:
        host = _host(str(environ.get("SERVER_NAME") or ""))
        port = _port(str(environ.get("SERVER_PORT") or DEFAULT_PORTS[scheme]))
    return PublicOrigin(scheme, host, port, from_proxy)


def drive_path(mount: str) -> str:
    """The drive's URL path, percent-encoded (``mount`` is ``dav.mount``, e.g. ``/dav``)."""
    return quote(mount.rstrip("/") + "/", safe="/@+")


def drive_url(origin: PublicOrigin, mount: str) -> str:
    """The WebDAV URL of the drive."""
    return origin.url(drive_path(mount))


def split_host(value: str, default_port: int) -> tuple[str, int]:
    """'name', 'name:port', '1.2.3.4:port', '[v6]:port' -> (host, port); else BadRequest."""
    value = value.strip()
    if value.startswith("["):
        inside, closed, rest = value[1:].partition("]")
        if not closed or (rest and not rest.startswith(":")):
            raise BadRequest(f"Malformed host {value!r}.")
        return _host(inside, v6=True), _port(rest[1:]) if rest else default_port
    name, colon, port = value.rpartition(":") if ":" in value else (value, "", "")
    return _host(name), _port(port) if colon else default_port


def _host(text: str, *, v6: bool = False) -> str:
    text = text.lower()
    if v6:
        try:
            return str(ipaddress.IPv6Address(text))
        except ValueError:
            raise BadRequest(f"Malformed host address {text!r}.") from None
    if not _NAME.match(text):
        raise BadRequest(f"Malformed host name {text!r}.")
    return text.rstrip(".")


def _port(text: str) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= 5 and 0 < int(text) < 65536):
        raise BadRequest(f"Malformed port {text!r}.")
    return int(text)


def _last(value: Any) -> str:
    """The right-most entry of a comma-separated header ('' when absent)."""
    return str(value or "").rsplit(",", 1)[-1].strip()


def _from_trusted(environ: Mapping[str, Any], proxies: TrustedProxies) -> bool:
    if not proxies.networks:
        return False
    try:
        peer = ipaddress.ip_address(str(environ.get("REMOTE_ADDR") or ""))
    except ValueError:
        return False
    if isinstance(peer, ipaddress.IPv6Address) and peer.ipv4_mapped is not None:
        peer = peer.ipv4_mapped
    return peer in proxies
