"""Helpers of the storage tests: the command line in a process of its own, settings
files for a target, and an independent reading of what a drive holds (plain
sqlite3, psycopg and boto3: none of davdrive's digest code)."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import make_url

from tests.live.test_serve_cli import served_url

DAVDRIVE = [sys.executable, "-m", "davdrive.cli"]


def cli_env() -> dict[str, str]:
    """The environment of a command line process: this one's, without the settings a
    test run may have set (the command's options and files name its storage)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("DAVDRIVE_") or k == "DAVDRIVE_STRICT"}
    return {**env, "PYTHONUNBUFFERED": "1"}


def run(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """``davdrive ARGS`` to its end."""
    return subprocess.run([*DAVDRIVE, *args], capture_output=True, text=True, timeout=timeout,
                          check=False, env=cli_env())


def start(*args: str) -> subprocess.Popen[str]:
    """``davdrive ARGS`` started, its stdout and stderr piped."""
    return subprocess.Popen([*DAVDRIVE, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=cli_env())


def serve(*options: str) -> tuple[subprocess.Popen[str], str]:
    """``davdrive OPTIONS serve`` on a free port: the process and its DAV URL."""
    server = start(*options, "serve", "--host", "127.0.0.1", "--port", "0")
    return server, served_url(server)


def write_config(path: Path, data: Path, *, database: str = "",
                 s3: dict[str, Any] | None = None, **sections: dict[str, Any]) -> Path:
    """A TOML settings file: ``data`` as data_dir, a database URL, an S3 bucket
    (``tests.s3.s3_overrides``) and other sections."""
    lines = [f'data_dir = "{data}"']
    if database:
        lines += ["[database]", f'url = "{database}"']
    if s3:
        lines += ["[blobs]", 'backend = "s3"', "[blobs.s3]"]
        lines += [f"{name.removeprefix('blobs.s3.')} = {_toml(value)}"
                  for name, value in s3.items() if name.startswith("blobs.s3.")]
    for section, values in sections.items():
        lines += [f"[{section}]", *(f"{k} = {_toml(v)}" for k, v in values.items())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _toml(value: Any) -> str:
    return str(value) if isinstance(value, int) else f'"{value}"'


# --- reading a drive without davdrive ----------------------------------------------------


def sqlite_rows(database: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table but Alembic's, sorted, as sqlite3 reads them."""
    with sqlite3.connect(database) as conn:
        tables = [name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name != 'alembic_version'"
            " AND name NOT LIKE 'sqlite_%'")]
        every = 'SELECT * FROM "{}"'
        return {table: sorted(conn.execute(every.format(table)).fetchall(), key=repr)
                for table in tables}


def pg_counts(url: str) -> dict[str, int]:
    """Rows of every table of a PostgreSQL database, as psycopg counts them."""
    with psycopg.connect(_libpq(url)) as conn:
        tables = [name for (name,) in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = "
            "current_schema() AND table_name != 'alembic_version'")]
        count = 'SELECT count(*) FROM "{}"'
        return {table: conn.execute(count.format(table).encode()).fetchone()[0]  # type: ignore[index]
                for table in tables}


def pg_scalar(url: str, query: str) -> Any:
    with psycopg.connect(_libpq(url)) as conn:
        row = conn.execute(query.encode()).fetchone()
        return None if row is None else row[0]


def _libpq(url: str) -> str:
    made = make_url(url)
    return (f"host={made.host} port={made.port} user={made.username} "
            f"dbname={made.database}")


def folder_blobs(blobs: Path) -> dict[str, str]:
    """name -> sha256 of the content of every blob file under ``blobs`` (tmp left out)."""
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest()
            for path in blobs.rglob("*")
            if path.is_file() and "tmp" not in path.relative_to(blobs).parts}


def bucket_blobs(client: Any, bucket: str, prefix: str = "blobs/") -> dict[str, str]:
    """key name -> sha256 of the content of every object of the bucket under ``prefix``."""
    found = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            if item["Key"].startswith(prefix + "tmp/"):
                continue
            body = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            found[item["Key"].rsplit("/", 1)[-1]] = hashlib.sha256(body).hexdigest()
    return found
