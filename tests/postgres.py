"""A throw-away PostgreSQL server for the test session (``--database=postgresql``).

``PostgresServer.start`` runs Debian's initdb and pg_ctl (as the ``postgres``
user when the tests run as root: initdb refuses root) on a free loopback port,
with fsync off, a linguistic default collation and a time zone other than UTC
(what davdrive must not depend on); ``stop`` shuts it down and removes its folder. ``template``
migrates a database once; ``fresh`` copies it into a new database per test and
``drop`` removes that copy. ``pause`` and ``resume`` stop and start it again
with its data (a database outage).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

BIN_GLOB = "/usr/lib/postgresql/*/bin"
TEMPLATE = "davdrive_template"
_FAST = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
# Not UTC (a zone 13:45 ahead): davdrive must read and write its times in UTC anyway.
_ZONE = "-c timezone=Pacific/Chatham"


def find_bin() -> Path | None:
    """The newest installed PostgreSQL's bin folder (Debian's layout), or None."""
    found = [Path(p) for p in glob.glob(BIN_GLOB) if (Path(p) / "initdb").is_file()]
    if not found:
        return None
    return max(found, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    """One server: ``bin`` its binaries; ``folder`` its data, log and socket."""

    bin: Path
    folder: Path = field(init=False)
    port: int = field(init=False, default=0)
    _count: int = field(init=False, default=0)

    def start(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="davdrive-pg-"))
        as_root = os.geteuid() == 0
        if as_root:  # initdb refuses root: the folder is the postgres user's
            shutil.chown(self.folder, "postgres", "postgres")
        self.port = _free_port()
        data = self.folder / "data"
        # A linguistic default collation (ICU's en-US), as most servers have, rather
        # than "C": text compares, sorts and matches as on SQLite all the same.
        self._run("initdb", "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync",
                  "-E", "UTF8", "--locale=C.UTF-8", "--locale-provider=icu",
                  "--icu-locale=en-US")
        self.resume()

    def resume(self) -> None:
        """Start the server on its data folder and port (after ``start`` or ``pause``)."""
        self._run("pg_ctl", "-D", str(self.folder / "data"), "-l", str(self.folder / "log"),
                  "-w", "-o", f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} "
                  f"{_FAST} {_ZONE}", "start")

    def pause(self) -> None:
        """Shut the server down, keeping its data (``resume`` starts it again); its
        clients' connections are cut, as in a database restart or failover."""
        self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", "fast", "-w", "stop")

    def stop(self) -> None:
        """Stop the server (immediate shutdown: nothing in it is kept) and remove its
        folder; safe to call twice."""
        if self.port and (self.folder / "data" / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", "immediate", "-w",
                      "stop", check=False)
        shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str) -> str:
        """SQLAlchemy URL of ``database`` on this server."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def admin(self, *statements: str) -> None:
        """Run ``statements`` outside a transaction (CREATE/DROP DATABASE)."""
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement.encode())

    def fresh(self) -> str:
        """A new database copied from ``TEMPLATE``; returns its name."""
        self._count += 1
        name = f"test_{self._count}"
        self.admin(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}" STRATEGY FILE_COPY')
        return name

    def drop(self, name: str) -> None:
        self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _run(self, tool: str, *args: str, check: bool = True) -> None:
        command = [str(self.bin / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, cwd="/", capture_output=True, text=True, timeout=120,
                              check=False)
        if check and done.returncode:
            log = self.folder / "log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{tool} failed: {done.stdout}{done.stderr}{tail}")


@contextmanager
def running_server() -> Iterator[PostgresServer]:
    """A new server, started for the block and removed after it (``unavailable``, from
    tests.conftest, without Debian's binaries)."""
    from tests.conftest import unavailable

    binaries = find_bin()
    if binaries is None:
        unavailable("PostgreSQL is not installed (apt-get install postgresql)")
    server = PostgresServer(binaries)
    try:
        server.start()
        yield server
    finally:
        server.stop()
