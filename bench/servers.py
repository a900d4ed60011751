"""The two servers of the benchmark, started as real processes on loopback.

- bare WsgiDAV (the venv's ``wsgidav``: filesystem provider, no auth, logging off);
- ``davdrive serve``: auth and rights on, one normal user of category ``office`` with
  write right on ``/Bench``, TLS off, WsgiDAV's request log off, log level warning.

Also: the memory of a server and its worker processes (PSS and VmRSS from /proc)
and one line describing the machine.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import platform
import socket
import subprocess
import sys
import time
from contextlib import redirect_stdout, suppress
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import IO

USER = "writer1"
PASSWORD = "bench-password-0"  # noqa: S105  (a throwaway drive on loopback)
FOLDER = "Bench"


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    url: str
    log: IO[bytes]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.log.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(proc: subprocess.Popen[bytes], port: int, what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with status {proc.returncode}")
        with suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{what} did not listen on port {port} within 30 s")


def start_wsgidav(root: Path, logs: Path, durable: bool = False) -> Server:
    """Bare WsgiDAV on ``root``: filesystem provider, anonymous, quiet; ``durable``:
    the same command with each written file flushed to the disk before the answer
    (bench/durable_wsgidav.py)."""
    root.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    name = "wsgidav-durable" if durable else "wsgidav"
    command = ([sys.executable, str(Path(__file__).with_name("durable_wsgidav.py"))] if durable
               else [str(Path(sys.executable).with_name("wsgidav"))])
    log = open(logs / f"{name}.log", "wb")  # noqa: SIM115  (closed by Server.stop)
    proc = subprocess.Popen(
        [*command, "--no-config", "-H", "127.0.0.1", "-p", str(port), "-r", str(root),
         "--auth", "anonymous", "-q", "-q", "-q"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    _wait_listening(proc, port, name)
    return Server(name, proc, f"http://127.0.0.1:{port}/", log)


def start_ceiling(path: Path) -> Server:
    """bench/ceiling.py sending ``path`` (which may not exist yet) to every request."""
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("ceiling.py")), str(path)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline() or b"0")
    _wait_listening(proc, port, "ceiling.py")
    return Server("ceiling", proc, f"http://127.0.0.1:{port}/", io.BytesIO())


def davdrive(data: Path, *args: str, stdin: str | None = None) -> None:
    """Run one ``davdrive`` command on the drive in ``data``, in this process (saves a
    Python start per command); ``stdin`` is what the command reads; raises if it fails."""
    from davdrive.cli import main

    saved = sys.stdin
    sys.stdin = io.StringIO(stdin or "")
    try:
        with redirect_stdout(io.StringIO()):
            status = main(["--data", str(data), *args])
    finally:
        sys.stdin = saved
    if status:
        raise RuntimeError(f"davdrive {' '.join(args[:2])} failed with status {status}")


def init_drive(data: Path) -> None:
    """A new drive with user ``writer1`` (category office) and write right on /Bench."""
    davdrive(data, "init")
    davdrive(data, "user", "add", USER, "--category", "office", "--password-stdin",
             stdin=PASSWORD + "\n")
    davdrive(data, "folder", "add", f"/{FOLDER}")
    davdrive(data, "folder", "rights", f"/{FOLDER}", "office=write")


def start_davdrive(data: Path, logs: Path, label: str = "davdrive", workers: int = 1) -> Server:
    """``davdrive serve`` on a free loopback port with ``workers`` processes; the URL is
    that of /Bench."""
    env = {**os.environ, "DAVDRIVE_LOG_LEVEL": "warning"}
    log = open(logs / f"{label}.log", "wb")  # noqa: SIM115  (closed by Server.stop)
    proc = subprocess.Popen(
        [sys.executable, "-m", "davdrive.cli", "--data", str(data), "serve", "--port", "0",
         "--workers", str(workers)],
        stdout=subprocess.PIPE, stderr=log, env=env,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    if "Serving on" not in line:
        proc.kill()
        raise RuntimeError(f"davdrive serve did not start: {line!r} (see {label}.log)")
    base = line.split("Serving on", 1)[1].split()[0]  # then maybe "(N worker processes)"
    return Server(label, proc, f"{base.rstrip('/')}/{FOLDER}/", log)


def memory(pid: int) -> dict[str, int]:
    """The memory of a server: a process and all its descendants (worker processes),
    in bytes. ``Pss``: the sum of their proportional set sizes (a page shared by n of
    them counts 1/n in each: the memory the server holds, each page once);
    ``VmRSS``/``VmHWM``: sums of their resident sets now and at their peaks (shared
    pages counted in every process); ``processes``: how many."""
    out = {"Pss": 0, "VmRSS": 0, "VmHWM": 0, "processes": 0}
    for member in _tree(pid):
        with suppress(OSError):  # a process may end meanwhile
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    out[key] += int(value.split()[0]) * 1024
            for line in Path(f"/proc/{member}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    out["Pss"] += int(line.split()[1]) * 1024
            out["processes"] += 1
    return out


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (from each process's parent in /proc/N/stat)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError, ValueError, IndexError):
                stat = (entry / "stat").read_text()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        member = todo.pop()
        found.append(member)
        todo.extend(parents.get(member, []))
    return found


def machine() -> str:
    """CPU model, cores, memory, Python, kernel, library versions and the UTC date."""
    model = "unknown CPU"
    with suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = ""
    with suppress(OSError, ValueError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    load = ", load " + " ".join(f"{x:.2f}" for x in os.getloadavg())
    versions = ", ".join(f"{p} {metadata.version(p)}" for p in ("wsgidav", "cheroot"))
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (f"{model}, {os.cpu_count()} cores{mem}; Python {platform.python_version()}, "
            f"Linux {platform.release()}; {versions}; {now}{load}")
