"""The connect page's self-test: does the drive's URL work, seen from the server?

``run(target, login, password)`` returns one ``Check`` per step, in this order,
each ok / warning / failed / skipped with a plain sentence; after a failure the
later steps are skipped.

1. Name lookup: the host resolves (an address needs none).
2. This server: only the server's own URL is ever probed, never one the user
   chooses. The host must be in ``server.allowed_hosts`` or resolve only to this
   machine's addresses, and the port must be the one the request arrived on, the
   scheme's default, or one a trusted proxy named. Otherwise nothing connects.
3. Connection: TCP to the resolved addresses in turn.
4. Encryption: for https a TLS handshake with a certificate valid for the host
   (the system's trust store); for http a warning that passwords travel in
   clear, except on loopback.
5. Drive answers: PROPFIND Depth 0 on the drive without credentials asks for
   Basic sign-in (401).
6. Sign-in: the same PROPFIND with the login and the app password answers 207
   (skipped without a password, or over plain HTTP to another machine).

Redirects are reported, never followed. Every network step has a short timeout.
No Flask here: the view passes the target in.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NoReturn

from davdrive.public_url import DEFAULT_PORTS, PublicOrigin

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
TIMEOUT = 4.0
NAMES = ("Name lookup", "This server", "Connection", "Encryption", "Drive answers", "Sign-in")
USER_AGENT = "davdrive-self-test"


@dataclass(frozen=True)
class Check:
    name: str
    outcome: str  # "ok" | "warning" | "failed" | "skipped"
    reason: str


@dataclass(frozen=True)
class Target:
    """The drive's URL as the page shows it (``origin`` + ``path``), the port the
    request arrived on, and ``server.allowed_hosts``."""

    origin: PublicOrigin
    path: str
    request_port: int
    allowed_hosts: frozenset[str]


class _Stop(Exception):
    """A step failed: the later ones are skipped."""


@dataclass
class _Report:
    """The checks so far; each call names the next step of ``NAMES``."""

    checks: list[Check] = field(default_factory=list)

    def note(self, outcome: str, reason: str) -> None:
        self.checks.append(Check(NAMES[len(self.checks)], outcome, reason))

    def fail(self, reason: str) -> NoReturn:
        self.note("failed", reason)
        raise _Stop


def run(target: Target, login: str, password: str | None, timeout: float = TIMEOUT,
        trust: ssl.SSLContext | None = None) -> list[Check]:
    """The checks of the module's list, for ``login`` (``password``: an app password).
    ``trust``: the TLS context that judges certificates (default: the system's)."""
    report = _Report()
    with contextlib.suppress(_Stop):
        _steps(target, login, password, timeout, trust or ssl.create_default_context(),
               report)
    for name in NAMES[len(report.checks):]:
        report.checks.append(Check(name, "skipped", "Not run: an earlier check failed."))
    return report.checks


def _steps(target: Target, login: str, password: str | None, timeout: float,
           trust: ssl.SSLContext, report: _Report) -> None:
    note, fail = report.note, report.fail
    origin = target.origin
    addresses = _lookup(origin.host, timeout, report)
    _own_server(target, addresses, report)
    address = _connectable(origin, addresses, timeout, report)
    loopback = all(a.is_loopback for a in addresses)
    local = all(is_own_address(a) for a in addresses)
    connect = _encryption(origin, address, loopback, timeout, trust, report)
    asked = _request(connect, origin, target.path, None, timeout)
    if asked.status == 401 and "basic" in asked.authenticate.lower():
        note("ok", f"The drive at {origin.url(target.path)} answers and asks for a login.")
    else:
        fail(_unexpected(asked, origin.url(target.path), 401))
    if not password:
        note("skipped", "No app password was given: create one above, then run the "
                        "self-test from the page that shows it.")
    elif origin.scheme == "http" and not local:
        note("skipped", "Not sent: over plain HTTP to another machine the password "
                        "would cross the network in clear.")
    else:
        signed = _request(connect, origin, target.path, (login, password), timeout)
        if signed.status == 207:
            note("ok", f"Signed in as {login} with the app password: the drive answered "
                       "207 Multi-Status.")
        elif signed.status == 401:
            fail(f"The drive refused {login} with this app password (wrong or "
                 "revoked, or the account may not sign in at this time).")
        elif signed.status == 429:
            fail("Too many failed sign-ins from this server's address; the drive asks to "
                 f"wait {signed.retry_after or 'a while'} seconds.")
        else:
            fail(_unexpected(signed, origin.url(target.path), 207))


def _lookup(host: str, timeout: float, report: _Report) -> list[Address]:
    literal = _address(host)
    if literal is not None:
        report.note("ok", f"{host} is an address: no lookup needed.")
        return [literal]
    answers: list[tuple[str, ...]] = []  # one append, from the resolving thread
    errors: list[str] = []

    def resolve() -> None:
        try:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except OSError as exc:
            errors.append(exc.strerror or str(exc))
        else:
            answers.append(tuple(str(info[4][0]) for info in infos))

    worker = threading.Thread(target=resolve, daemon=True)  # getaddrinfo has no timeout
    worker.start()
    worker.join(timeout)
    if not answers:
        why = errors[0] if errors else "no answer in time"
        report.fail(f"The name {host} does not resolve here ({why}): check its DNS entry.")
    addresses: list[Address] = []
    for text in answers[0]:
        address = _address(text)
        if address is not None and address not in addresses:
            addresses.append(address)
    if not addresses:
        report.fail(f"The name {host} resolves to no usable address.")
    report.note("ok", f"{host} resolves to {', '.join(map(str, addresses))}.")
    return addresses


def _own_server(target: Target, addresses: list[Address], report: _Report) -> None:
    origin = target.origin
    named = origin.host in target.allowed_hosts
    if not named and not all(is_own_address(a) for a in addresses):
        report.fail(f"{origin.host} is not one of this server's own addresses, nor in "
                    "server.allowed_hosts; the self-test only checks this server, so "
                    "nothing was sent there.")
    ports = {target.request_port, DEFAULT_PORTS[origin.scheme]}
    if origin.port not in ports and not origin.from_proxy:
        report.fail(f"Port {origin.port} is not the port this server received your "
                    f"request on ({target.request_port}); the self-test only checks this "
                    "server, so nothing was sent there.")
    why = "is in server.allowed_hosts" if named else "is this machine"
    report.note("ok", f"{origin.host} {why}: the self-test may check it.")


def _connectable(origin: PublicOrigin, addresses: list[Address], timeout: float,
                 report: _Report) -> Address:
    failures = []
    for address in addresses:
        try:
            _open(address, origin.port, timeout).close()
        except TimeoutError:
            failures.append(f"{address}: no answer within {timeout:g} s (a firewall?)")
        except ConnectionRefusedError:
            failures.append(f"{address}: connection refused (nothing listens on port "
                            f"{origin.port})")
        except OSError as exc:
            failures.append(f"{address}: {exc.strerror or exc}")
        else:
            report.note("ok", f"Connected to {address} port {origin.port}.")
            return address
    report.fail("Could not connect: " + "; ".join(failures) + ".")


def _encryption(origin: PublicOrigin, address: Address, loopback: bool, timeout: float,
                context: ssl.SSLContext, report: _Report) -> Callable[[], socket.socket]:
    """Report on TLS; return what opens a (TLS) connection for the requests."""
    if origin.scheme == "http":
        if loopback:
            report.note("ok", "Plain HTTP, but only within this computer (loopback).")
        else:
            report.note("warning", "Plain HTTP: your password and your files travel unencrypted. "
                                   "Put the drive behind HTTPS before using it over a "
                                   "network.")
        return lambda: _open(address, origin.port, timeout)

    def connect() -> ssl.SSLSocket:
        raw = _open(address, origin.port, timeout)
        try:
            return context.wrap_socket(raw, server_hostname=origin.host)
        except BaseException:
            raw.close()
            raise

    try:
        with connect() as tls:
            cert = tls.getpeercert() or {}
    except ssl.SSLCertVerificationError as exc:
        report.fail(f"The certificate is not valid for {origin.host}: "
                    f"{exc.verify_message or exc.reason}. Clients will refuse it.")
    except ssl.SSLError as exc:
        report.fail(f"The TLS handshake failed ({exc.reason or exc}): does this port "
                    "speak HTTPS?")
    except TimeoutError:
        report.fail(f"No TLS handshake within {timeout:g} s: does this port speak HTTPS?")
    except OSError as exc:
        report.fail(f"The TLS handshake failed: {exc.strerror or exc}.")
    until = cert.get("notAfter", "")
    report.note("ok", f"HTTPS with a certificate valid for {origin.host}"
                + (f" until {until}." if until else "."))
    return connect


@dataclass(frozen=True)
class _Answer:
    status: int
    reason: str
    location: str
    authenticate: str
    retry_after: str


def _request(connect: Callable[[], socket.socket], origin: PublicOrigin, path: str,
             credentials: tuple[str, str] | None, timeout: float) -> _Answer:
    conn = http.client.HTTPConnection(origin.host, origin.port, timeout=timeout)
    try:
        conn.sock = connect()
        conn.putrequest("PROPFIND", path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", origin.netloc)
        conn.putheader("Depth", "0")
        conn.putheader("Content-Length", "0")
        conn.putheader("User-Agent", USER_AGENT)
        if credentials is not None:
            pair = f"{credentials[0]}:{credentials[1]}".encode()
            conn.putheader("Authorization", "Basic " + base64.b64encode(pair).decode())
        conn.endheaders()
        answer = conn.getresponse()
        answer.read(65536)
        return _Answer(answer.status, answer.reason, answer.getheader("Location") or "",
                       answer.getheader("WWW-Authenticate") or "",
                       answer.getheader("Retry-After") or "")
    except (OSError, http.client.HTTPException) as exc:
        return _Answer(0, str(exc) or exc.__class__.__name__, "", "", "")
    finally:
        conn.close()


def _unexpected(answer: _Answer, url: str, wanted: int) -> str:
    if answer.status == 0:
        return f"No HTTP answer from {url}: {answer.reason}."
    if 300 <= answer.status < 400:
        return (f"The server redirects {url} to {answer.location or 'elsewhere'} (not "
                "followed): use the address it redirects to, e.g. https.")
    expected = {401: "401 (a request for a login)", 207: "207 Multi-Status"}[wanted]
    return (f"The server answered {answer.status} {answer.reason} instead of {expected}: "
            f"is {url} the drive's address?")


def _open(address: Address, port: int, timeout: float) -> socket.socket:
    return socket.create_connection((str(address), port), timeout=timeout)


def _address(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


def is_own_address(address: Address) -> bool:
    """True when ``address`` is this machine's: loopback, or an address the kernel
    would use itself as the source to reach it (no packet is sent)."""
    if address.is_loopback:
        return True
    if address.is_unspecified or address.is_multicast:
        return False
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect((str(address), 9))
            return _address(str(probe.getsockname()[0])) == address
        except OSError:
            return False
