"""The nginx examples of config/ run with the real nginx (Debian 12's 1.22 or later).

Each example is rewritten only where it must be to run here, by explicit text
substitutions that fail when their text is missing (an edit of the example the
test no longer covers breaks the test): certificate paths (a throw-away CA's),
``listen 443`` and ``listen 80`` (free loopback ports), the upstream addresses
(the test's `davdrive serve` processes). nginx runs as the current user with a
private prefix; the test's own http {} block adds ``X-Upstream: $upstream_addr``
to every answer, which says which process answered. Rules:

- ``nginx -t`` accepts both examples;
- one host: a file PUT through nginx over HTTPS is read back byte for byte; a
  PROPFIND is 207 with hrefs under /dav/; port 80 redirects to https; the
  connect page shows the https address; a failed sign-in through nginx is
  recorded with the client's address, not a forged X-Forwarded-For; a client
  connecting directly (not a trusted proxy) is believed neither its
  X-Forwarded-For nor its X-Forwarded-Proto;
- several hosts (PostgreSQL, S3): plain requests are spread over both hosts;
  Nextcloud chunked uploads through nginx complete, every request of one
  transfer on one host; the same transfers sent to the hosts alternately,
  bypassing nginx, fail.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import socket
import sqlite3
import ssl
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from davdrive.passwords import Passwords
from davdrive.runtime import open_runtime
from davdrive.settings import load_settings
from tests.certs import LocalCA
from tests.conftest import add_user, basic, unavailable
from tests.live.two_hosts import DAVDRIVE, Host, Shared, new_bucket
from tests.postgres import PostgresServer
from tests.web_forms import signed_in

pytestmark = pytest.mark.live

CONFIG = Path(__file__).resolve().parents[2] / "config"
SINGLE, SEVERAL = "nginx.example.conf", "nginx.several-hosts.example.conf"
LOGIN, PASSWORD = "tester", "tester-pass-1"
Answer = tuple[int, dict[str, str], bytes]


def nginx_binary() -> str:
    found = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.access(found, os.X_OK):
        unavailable("nginx is not installed (Debian package nginx)")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def substitute(text: str, old: str, new: str, count: int = 1) -> str:
    assert text.count(old) == count, f"the example no longer has {count} x {old!r}"
    return text.replace(old, new)


@dataclass
class Nginx:
    folder: Path
    port: int  # the example's listen 443
    plain_port: int  # the example's listen 80
    process: subprocess.Popen[bytes] | None = None

    @property
    def conf(self) -> Path:
        return self.folder / "nginx.conf"

    def command(self, *args: str) -> list[str]:
        return [nginx_binary(), "-p", str(self.folder), "-c", str(self.conf),
                "-e", str(self.folder / "error.log"), *args]

    def log(self) -> str:
        path = self.folder / "error.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""


def prepare(example: str, folder: Path, ca: LocalCA, upstreams: list[int]) -> Nginx:
    """nginx.conf in ``folder`` including ``example`` rewritten for this machine."""
    folder.mkdir(parents=True, exist_ok=True)
    nginx = Nginx(folder, free_port(), free_port())
    cert, key = ca.issue("nginx", "127.0.0.1")
    text = (CONFIG / example).read_text(encoding="utf-8")
    text = substitute(text, "listen 443 ssl http2;", f"listen 127.0.0.1:{nginx.port} ssl http2;")
    text = substitute(text, "listen 80;", f"listen 127.0.0.1:{nginx.plain_port};")
    text = substitute(text, "/etc/ssl/certs/drive.example.org.pem", str(cert))
    text = substitute(text, "/etc/ssl/private/drive.example.org.key", str(key))
    if example == SEVERAL:
        lines = re.findall(r"\n *server 10\.0\.0\.\d+:8080( [^;\n]*);", text)
        assert len(lines) == 3, "the example no longer has three upstream servers 10.0.0.x:8080"
        text, found = re.subn(r"(\n *server 10\.0\.0\.\d+:8080[^;\n]*;)+", "".join(
            f"\n    server 127.0.0.1:{port}{lines[0]};" for port in upstreams), text)
        assert found == 1, "the upstream servers are no longer one block"
        assert "proxy_pass http://davdrive;" in text, "the example no longer uses the upstream"
    else:
        text = substitute(text, "proxy_pass http://127.0.0.1:8080;",
                          f"proxy_pass http://127.0.0.1:{upstreams[0]};")
    (folder / "site.conf").write_text(text, encoding="utf-8")
    temp = "\n".join(f"    {kind}_temp_path {folder / kind};"
                     for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    # As root, nginx's workers would become nobody, who cannot use the test's folders.
    user = "user root root;\n" if os.geteuid() == 0 else ""
    nginx.conf.write_text(
        f"{user}daemon off;\npid {folder / 'nginx.pid'};\nerror_log {folder / 'error.log'} warn;\n"
        "worker_processes 1;\nevents { worker_connections 256; }\n"
        f"http {{\n{temp}\n    access_log off;\n"
        "    add_header X-Upstream $upstream_addr always;  # which host answered\n"
        f"    include {folder / 'site.conf'};\n}}\n", encoding="utf-8")
    return nginx


@contextmanager
def running(nginx: Nginx) -> Iterator[Nginx]:
    """nginx serving for the block (its listening port answers), then stopped."""
    nginx.process = subprocess.Popen(nginx.command(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while True:
            assert nginx.process.poll() is None, f"nginx ended: {nginx.log()}"
            assert time.monotonic() < deadline, f"nginx does not listen: {nginx.log()}"
            try:
                socket.create_connection(("127.0.0.1", nginx.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield nginx
    finally:
        nginx.process.terminate()
        try:
            nginx.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            nginx.process.kill()
            nginx.process.wait(timeout=10)


def call(port: int, method: str, path: str, body: bytes = b"", *, tls: ssl.SSLContext | None,
         source: str = "127.0.0.1", password: str | None = PASSWORD, **headers: str) -> Answer:
    """One request on a new connection from ``source`` (a loopback address) to ``port``,
    over TLS when ``tls``: (status, headers with lower-case names, body)."""
    conn: http.client.HTTPConnection
    if tls is None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30,
                                          source_address=(source, 0))
    else:
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=30,
                                           source_address=(source, 0), context=tls)
    try:
        sent = {k.replace("_", "-"): v for k, v in headers.items()}
        if password is not None:
            sent["Authorization"] = basic(LOGIN, password)
        conn.request(method, path, body=body, headers=sent)
        answer = conn.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    finally:
        conn.close()


def hrefs(body: bytes) -> list[str]:
    return [urlsplit(unquote(h)).path
            for h in re.findall(r"<(?:\w+:)?href>([^<]+)</", body.decode("utf-8"))]


@pytest.mark.parametrize("example", [SINGLE, SEVERAL])
def test_nginx_accepts_the_example(example: str, tmp_path: Path) -> None:
    nginx = prepare(example, tmp_path / "nginx", LocalCA(tmp_path / "ca"),
                    [free_port(), free_port()])
    checked = subprocess.run(nginx.command("-t"), capture_output=True, text=True, timeout=30,
                             check=False)
    assert checked.returncode == 0 and "test is successful" in checked.stderr, checked.stderr


@pytest.fixture
def one_host(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Host]:
    """`davdrive serve` on SQLite, trusting 127.0.0.1 (nginx) only, with user tester."""
    nginx_binary()
    data, output = tmp_path / "data", tmp_path / "serve"
    runtime = open_runtime(load_settings(None, {}, {"data_dir": str(data)}),
                           Passwords(time_cost=1, memory_cost=8, parallelism=1))
    try:
        add_user(runtime, LOGIN, PASSWORD)
    finally:
        runtime.close()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "DAVDRIVE_SERVER_TRUSTED_PROXIES": "127.0.0.1",
           "DAVDRIVE_SERVER_MAX_CONNECTIONS_PER_IP": "0"}
    with open(output.with_suffix(".out"), "wb") as out, \
            open(output.with_suffix(".err"), "wb") as err:
        process = subprocess.Popen(
            [*DAVDRIVE, "--data", str(data), "serve", "--host", "127.0.0.1", "--port", "0"],
            stdout=out, stderr=err, env=env, stdin=subprocess.DEVNULL)
    host = Host("one", data, process, output)
    try:
        host.wait_for_url()
        yield host
    finally:
        host.stop()


def failed_signins(data: Path) -> set[str]:
    """The source addresses of the failed sign-ins in the drive's history."""
    db = sqlite3.connect(f"file:{data / 'davdrive.sqlite3'}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT ip FROM audit_event WHERE action = 'login' AND outcome != 'ok'")
        return {ip for (ip,) in rows}
    finally:
        db.close()


def test_one_host_behind_nginx_over_https(
    one_host: Host, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    ca = LocalCA(tmp_path / "ca")
    tls = ca.trust()
    with running(prepare(SINGLE, tmp_path / "nginx", ca, [one_host.port])) as nginx:
        data = os.urandom(3 * 1024 * 1024 + 5)  # past client_body_buffer_size: a temp file
        assert call(nginx.port, "PUT", "/dav/through-nginx.bin", data, tls=tls)[0] == 201
        status, _, body = call(nginx.port, "GET", "/dav/through-nginx.bin", tls=tls)
        assert status == 200 and body == data
        status, _, body = call(nginx.port, "PROPFIND", "/dav/", tls=tls, Depth="1")
        assert status == 207 and "/dav/through-nginx.bin" in hrefs(body)
        assert all(h.startswith("/dav/") for h in hrefs(body)), hrefs(body)
        # The port-80 server sends everybody to https (the example's port 443: no port).
        status, headers, _ = call(nginx.plain_port, "GET", "/dav/a?b=1", tls=None)
        assert (status, headers["location"]) == (301, "https://127.0.0.1/dav/a?b=1")
        status, headers, _ = call(nginx.port, "GET", "/", tls=tls, password=None,
                                  Accept="text/html")
        assert (status, headers["location"]) == (302, "/files/")
        # The connect page shows the drive's https address: X-Forwarded-Proto from
        # nginx is believed; its Host is $host (no port), right for the example's 443.
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca.pem))
        root = f"https://127.0.0.1:{nginx.port}"
        browser = signed_in(root, LOGIN, PASSWORD)
        page = browser.get(root + "/files/connect", timeout=30).text
        assert "https://127.0.0.1/dav/" in page and "http://127.0.0.1" not in page
        # nginx replaces the client's X-Forwarded-For with the client's address.
        status, _, _ = call(nginx.port, "PROPFIND", "/dav/", tls=tls, source="127.0.0.3",
                            password="wrong", Depth="0", X_Forwarded_For="203.0.113.7")
        assert status == 401
        # A client reaching davdrive directly is no trusted proxy: its headers are ignored.
        status, _, _ = call(one_host.port, "PROPFIND", "/dav/", tls=None, source="127.0.0.2",
                            password="wrong", Depth="0", X_Forwarded_For="203.0.113.9",
                            X_Forwarded_Proto="https")
        assert status == 401
        cookie = browser.cookies.get("davdrive_session")
        status, _, body = call(one_host.port, "GET", "/files/connect", tls=None,
                               source="127.0.0.2", password=None,
                               Cookie=f"davdrive_session={cookie}", X_Forwarded_Proto="https",
                               X_Forwarded_Host="drive.example.org")
        assert status == 200, body[:300]
        page = body.decode("utf-8")
        assert f"http://127.0.0.1:{one_host.port}/dav/" in page
        assert "https://127.0.0.1" not in page and "drive.example.org" not in page
    assert failed_signins(one_host.data) == {"127.0.0.3", "127.0.0.2"}


@dataclass
class Balanced:
    nginx: Nginx
    tls: ssl.SSLContext
    hosts: list[Host]

    def upstream(self, answer: Answer) -> str:
        """The host (its port) that answered through nginx."""
        return {f"127.0.0.1:{h.port}": h.name for h in self.hosts}[answer[1]["x-upstream"]]


@pytest.fixture(scope="module")
def balanced(
    request: pytest.FixtureRequest, postgres_server: PostgresServer, moto_endpoint: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Balanced]:
    """Hosts a and b on a new database and bucket (user tester), trusting 127.0.0.1,
    behind nginx with the several-hosts example."""
    nginx_binary()
    name = postgres_server.fresh()
    folder = tmp_path_factory.mktemp("nginx-hosts")
    shared = Shared(postgres_server.url(name), moto_endpoint, new_bucket(moto_endpoint), folder)
    runtime = shared.runtime(Passwords(time_cost=1, memory_cost=8, parallelism=1))
    try:
        add_user(runtime, LOGIN, PASSWORD)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("DAVDRIVE_SERVER_TRUSTED_PROXIES", "127.0.0.1")
            hosts = shared.start("a", "b")
        ca = LocalCA(folder / "ca")
        nginx = prepare(SEVERAL, folder / "nginx", ca, [h.port for h in hosts])
        with running(nginx):
            yield Balanced(nginx, ca.trust(), hosts)
    finally:
        shared.stop_all()
        runtime.close()
        postgres_server.drop(name)


def test_plain_requests_are_spread_over_the_hosts(balanced: Balanced) -> None:
    port, tls, source = balanced.nginx.port, balanced.tls, "127.0.0.4"  # its own rate limit
    assert call(port, "PUT", "/dav/spread.txt", b"spread", tls=tls, source=source)[0] == 201
    answered: Counter[str] = Counter()
    for n in range(40):
        if n % 2:
            answer = call(port, "GET", "/dav/spread.txt", tls=tls, source=source)
            assert answer[0] == 200 and answer[2] == b"spread"
        else:
            answer = call(port, "PROPFIND", "/dav/", tls=tls, source=source, Depth="1")
            assert answer[0] == 207 and "/dav/spread.txt" in hrefs(answer[2])
        answered[balanced.upstream(answer)] += 1
    assert set(answered) == {"a", "b"}, answered


def chunked_upload(ports: list[int], tls: ssl.SSLContext | None, transfer: str,
                   chunks: list[bytes], destination: str) -> list[Answer]:
    """MKCOL, the chunk PUTs, then MOVE of .file (Nextcloud chunked upload v2), the
    n-th request to ``ports[n % len(ports)]``; stops at the first failure."""
    base = f"/dav/uploads/{LOGIN}/{transfer}"
    steps: list[tuple[str, str, bytes, dict[str, str]]] = [("MKCOL", base + "/", b"", {})]
    steps += [("PUT", f"{base}/{n}", chunk, {}) for n, chunk in enumerate(chunks, 1)]
    steps.append(("MOVE", base + "/.file", b"", {
        "Destination": destination, "OC-Total-Length": str(sum(map(len, chunks)))}))
    answers: list[Answer] = []
    for n, (method, path, body, headers) in enumerate(steps):
        answers.append(call(ports[n % len(ports)], method, path, body, tls=tls,
                            source="127.0.0.5", **headers))
        if answers[-1][0] >= 300:
            break
    return answers


def test_chunked_uploads_stay_on_one_host_and_fail_without_nginx(balanced: Balanced) -> None:
    port, tls = balanced.nginx.port, balanced.tls
    for n in range(6):
        chunks = [os.urandom(200_000 + n) for _ in range(4)]
        path = f"/dav/files/{LOGIN}/chunked-{n}.bin"
        answers = chunked_upload([port], tls, f"nginx-transfer-{n}", chunks,
                                 f"https://127.0.0.1:{port}{path}")
        assert [a[0] for a in answers] == [201] * 6, [(a[0], a[2][:200]) for a in answers]
        hosts = {balanced.upstream(a) for a in answers}
        assert len(hosts) == 1, f"transfer {n} was split: {hosts}"
        read = call(port, "GET", path, tls=tls, source="127.0.0.5")
        assert read[0] == 200 and read[2] == b"".join(chunks)
    # The same transfers sent to the hosts in turn, without nginx's sticky key, fail.
    direct = [h.port for h in balanced.hosts]
    for n in range(6):
        chunks = [os.urandom(1000) for _ in range(4)]
        path = f"/dav/files/{LOGIN}/direct-{n}.bin"
        answers = chunked_upload(direct, None, f"direct-transfer-{n}", chunks,
                                 f"http://127.0.0.1:{direct[0]}{path}")
        assert answers[-1][0] >= 400, [a[0] for a in answers]
        assert call(direct[n % 2], "GET", path, tls=None, source="127.0.0.5")[0] == 404
    # ... though one sent to one host directly completes.
    path = f"/dav/files/{LOGIN}/direct-one-host.bin"
    answers = chunked_upload(direct[:1], None, "direct-one-host", [b"x" * 1000] * 4,
                             f"http://127.0.0.1:{direct[0]}{path}")
    assert [a[0] for a in answers] == [201] * 6, [a[0] for a in answers]
