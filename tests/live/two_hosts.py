"""Several `davdrive serve` processes on one drive: PostgreSQL metadata, S3 contents.

``Shared`` is what the hosts of a scale-out drive have in common: the database
URL and the bucket (moto's S3 server), handed to each process through the
environment only (``DAVDRIVE_DATABASE_URL``, ``DAVDRIVE_BLOBS_*``). Each
process gets its own data folder, as a process on another machine would, which
does not exist before `serve` (nothing to ``init`` on a new host: the database
is there already).
``Shared.runtime`` opens the same drive inside the test process, to prepare
users and folders and to look at the database and the bucket afterwards.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from davdrive import node_admin, tree
from davdrive.blob_s3 import S3Store
from davdrive.blob_s3_client import make_client
from davdrive.categories import init_defaults
from davdrive.passwords import Passwords
from davdrive.runtime import Runtime, open_runtime
from davdrive.settings import load_settings
from tests.s3 import s3_overrides, s3_settings

DAVDRIVE = [sys.executable, "-m", "davdrive.cli"]
PART_BYTES = 5 * 1024 * 1024


def new_bucket(endpoint: str) -> str:
    """A new, empty bucket on the moto server at ``endpoint``."""
    name = f"t-{uuid.uuid4().hex[:20]}"
    make_client(s3_settings(endpoint, name)).create_bucket(Bucket=name)
    return name


@dataclass
class Host:
    """One `davdrive serve` process: its data folder, its DAV URL (ends with /dav/)."""

    name: str
    data: Path
    process: subprocess.Popen[bytes]
    output: Path  # <output>.out and <output>.err: what the process printed
    url: str = ""

    @property
    def root(self) -> str:
        """The server's root URL, without the DAV mount (e.g. for /admin/)."""
        return self.url.rsplit("/dav/", 1)[0]

    @property
    def port(self) -> int:
        return int(self.root.rsplit(":", 1)[1])

    def log(self) -> str:
        return "".join(
            path.read_text(errors="replace")[-3000:]
            for path in (self.output.with_suffix(".out"), self.output.with_suffix(".err"))
            if path.exists()
        )

    def wait_for_url(self, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.output.with_suffix(".out").read_text(errors="replace")
            found = re.search(r"Serving on (https?://\S+)", text)
            if found:
                self.url = found.group(1)
                return self.url
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"{self.name} did not report its URL: {self.log()}")

    def kill(self) -> None:
        """SIGKILL: nothing of the process runs any more (no clean-up)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()


@dataclass
class Shared:
    """The database and the bucket the hosts share; ``folder`` holds their data folders."""

    database_url: str
    endpoint: str
    bucket: str
    folder: Path
    hosts: list[Host] = field(default_factory=list)

    def env(self, **more: str) -> dict[str, str]:
        """The environment of a process of this drive (plus ``more``)."""
        values = {
            "database.url": self.database_url, **s3_overrides(self.endpoint, self.bucket),
            # Every client of the tests comes from 127.0.0.1 (as a proxy's would).
            "server.max_connections_per_ip": 0,
        }
        variables = {"DAVDRIVE_" + k.replace(".", "_").upper(): str(v) for k, v in values.items()}
        return {**os.environ, **variables, "PYTHONUNBUFFERED": "1", **more}

    def settings_overrides(self, data: Path) -> dict[str, object]:
        return {
            "data_dir": str(data), "server.port": 0, "database.url": self.database_url,
            **s3_overrides(self.endpoint, self.bucket),
        }

    def runtime(self, passwords: Passwords) -> Runtime:
        """The drive opened in this process (its own data folder ``tools``), with the
        defaults of ``init`` and the root."""
        settings = load_settings(None, {}, self.settings_overrides(self.folder / "tools"))
        runtime = open_runtime(settings, passwords)
        with runtime.sessions() as session:
            init_defaults(session)
            tree.get_root(session)
            session.commit()
        return runtime

    def cli(self, name: str, *args: str, stdin: str | None = None
            ) -> subprocess.CompletedProcess[str]:
        """``davdrive --data <folder>/<name> ARGS`` on this drive."""
        return subprocess.run(
            [*DAVDRIVE, "--data", str(self.folder / name), *args],
            capture_output=True, text=True, timeout=120, check=False, input=stdin,
            env=self.env(),
        )

    def launch(self, name: str, *extra: str) -> Host:
        """Start `davdrive serve` on a free port with data folder ``<folder>/<name>``
        (created by `serve`); ``wait_for_url`` (or ``start``) waits for it."""
        data, output = self.folder / name, self.folder / f"{name}-serve"
        with open(output.with_suffix(".out"), "wb") as out, \
                open(output.with_suffix(".err"), "wb") as err:
            process = subprocess.Popen(
                [*DAVDRIVE, "--data", str(data), "serve", "--host", "127.0.0.1", "--port", "0",
                 *extra],
                stdout=out, stderr=err, env=self.env(), stdin=subprocess.DEVNULL,
            )
        host = Host(name, data, process, output)
        self.hosts.append(host)
        return host

    def start(self, *names: str) -> list[Host]:
        """Start one host per name, all at once; return them serving."""
        hosts = [self.launch(name) for name in names]
        for host in hosts:
            host.wait_for_url()
        return hosts

    def stop_all(self) -> None:
        for host in self.hosts:
            host.stop()

    def store(self, runtime: Runtime) -> S3Store:
        store = runtime.blobs
        assert isinstance(store, S3Store)
        return store


def content_keys(store: S3Store, keys: list[str]) -> list[str]:
    """The keys of ``keys`` that are contents (not uploads in flight)."""
    return [k for k in keys if not k.startswith(store.keys.temp_prefix)]


def make_folder(runtime: Runtime, path: str, rights: dict[str, str] | None = None) -> None:
    """``mkdir -p path`` as the system, with per-category ``rights`` on it."""
    from davdrive.policy import SYSTEM
    from davdrive.services import Drive

    with runtime.sessions() as session:
        drive = Drive(session, runtime.blobs, SYSTEM, runtime.drive_options)
        folder, _ = node_admin.make_folders(session, drive, path)
        if rights:
            node_admin.set_folder_rights(session, folder, rights)
        session.commit()
