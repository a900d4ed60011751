"""The client's source address: the peer's, or what trusted proxies say it was.

``source_address(peer, forwarded_for, proxies)`` is the peer's address
(REMOTE_ADDR) unless the peer is one of the trusted proxies
(``server.trusted_proxies``: addresses or CIDR networks). From a trusted
proxy, X-Forwarded-For is read from the right: a hop that is itself a trusted
proxy is skipped, the first one that is not is the source. Only what a trusted
proxy wrote is believed: the left part of the header is whatever the client
sent. A malformed hop ends the walk, and the last hop a trusted proxy vouched
for is the source; nothing here raises. Both adapters (WebDAV and the browser
side) call ``source_of`` on their WSGI environ, so they agree.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_HOP_CHARS = 64  # an IPv6 address with brackets, zone and port fits easily


@dataclass(frozen=True)
class TrustedProxies:
    """The networks whose X-Forwarded-For is believed (none by default)."""

    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[Any]) -> TrustedProxies:
        """From ``server.trusted_proxies``; raises ValueError naming the bad entries."""
        entries = list(entries)
        bad = bad_proxy_entries(entries)
        if bad:
            raise ValueError(f"not addresses or CIDR networks: {bad}")
        return cls(tuple(ipaddress.ip_network(e, strict=False) for e in entries))

    def __contains__(self, address: Address) -> bool:
        return any(address in network for network in self.networks)


def bad_proxy_entries(entries: Iterable[Any]) -> list[Any]:
    """The entries that are neither an address nor a CIDR network."""
    bad = []
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except (TypeError, ValueError):
            bad.append(entry)
        else:
            if not isinstance(entry, str):
                bad.append(entry)
    return bad


def source_address(peer: str, forwarded_for: str | None, proxies: TrustedProxies) -> str:
    """The client's address (see the module): ``peer`` as given when it is not a
    trusted proxy, else an address from ``forwarded_for`` in its usual spelling."""
    if not proxies.networks:
        return peer
    current = _address(peer)
    if current is None or current not in proxies:
        return peer
    hops = (forwarded_for or "").split(",") if forwarded_for else []
    for hop in reversed(hops):
        found = _address(_strip_port(hop.strip()))
        if found is None:
            break
        current = found
        if current not in proxies:
            break
    return str(current)


def source_of(environ: Mapping[str, Any], proxies: TrustedProxies) -> str:
    """``source_address`` of a WSGI request."""
    return source_address(
        str(environ.get("REMOTE_ADDR") or ""), environ.get("HTTP_X_FORWARDED_FOR"), proxies
    )


def _address(text: str) -> Address | None:
    """``text`` as an address (IPv4-mapped IPv6 as IPv4), or None."""
    if not text or len(text) > MAX_HOP_CHARS:
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _strip_port(hop: str) -> str:
    """'[v6]:port' and '[v6]' -> 'v6'; 'v4:port' -> 'v4'; anything else as it is
    (a bare IPv6 address has several colons and no port)."""
    if hop.startswith("["):
        inside, closed, rest = hop[1:].partition("]")
        if not closed or (rest and not _is_port(rest)) or "." in inside and ":" not in inside:
            return ""
        return inside
    host, colon, port = hop.partition(":")
    if colon and ":" not in port:
        return host if _is_port(":" + port) else ""
    return hop


def _is_port(text: str) -> bool:
    """':1' to ':65535'."""
    digits = text[1:]
    return text[:1] == ":" and digits.isascii() and digits.isdigit() and 0 < int(digits) < 65536
