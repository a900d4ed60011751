"""Run the real rclone against a live drive, with its log kept for inspection.

The remote is configured through ``RCLONE_CONFIG_DRIVE_*`` environment
variables (no config file), as the README shows for scripts; the password is
obscured by ``rclone obscure`` as rclone requires.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import require_tool


@dataclass
class Rclone:
    """rclone with one remote, ``drive:``, pointing at ``url``."""

    url: str
    user: str
    password: str
    vendor: str
    workdir: Path
    binary: str = ""

    def __post_init__(self) -> None:
        self.binary = self.binary or require_tool("rclone")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log = self.workdir / "rclone.log"
        self.config = self.workdir / "rclone.conf"
        self.config.write_text("", encoding="utf-8")
        obscured = subprocess.run(
            [self.binary, "obscure", "--", self.password],  # "--": it may start with "-"
            check=True, capture_output=True, text=True, timeout=30,
        ).stdout.strip()
        self.env = {
            **os.environ,
            "RCLONE_CONFIG_DRIVE_TYPE": "webdav",
            "RCLONE_CONFIG_DRIVE_URL": self.url,
            "RCLONE_CONFIG_DRIVE_VENDOR": self.vendor,
            "RCLONE_CONFIG_DRIVE_USER": self.user,
            "RCLONE_CONFIG_DRIVE_PASS": obscured,
            "HOME": str(self.workdir),
        }

    def run(self, *args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
        """Run ``rclone ARGS`` (``drive:`` is the remote); its log goes to ``self.log``."""
        command = [
            self.binary, "--config", str(self.config), "--log-file", str(self.log),
            "--log-level", "INFO", "--low-level-retries", "1", "--retries", "1", *args,
        ]
        return subprocess.run(
            command, env=self.env, capture_output=True, text=True, timeout=timeout,
            check=False,
        )

    def ok(self, *args: str, timeout: int = 300) -> str:
        """Run and require exit status 0; return stdout."""
        done = self.run(*args, timeout=timeout)
        assert done.returncode == 0, (args, done.stdout, done.stderr, self.log_text())
        return done.stdout

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8") if self.log.exists() else ""

    def errors(self) -> list[str]:
        """The ERROR lines of the log so far."""
        return [line for line in self.log_text().splitlines() if "ERROR" in line]
