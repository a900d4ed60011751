"""The ``[blobs]`` settings: which store keeps file contents, and the S3 bucket's.

Declared here and listed in ``davdrive.settings.SETTINGS`` like every other
setting (TOML ``[blobs] backend``, ``[blobs.s3] bucket``; environment
``DAVDRIVE_BLOBS_S3_BUCKET``...). ``problems`` checks them together.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

BACKENDS = ("local", "s3")
MIN_PART = 5 * 1024 * 1024  # S3's smallest part of a multipart upload (but the last)
MAX_PART = 5 * 1024 * 1024 * 1024


class Declared(NamedTuple):
    """What ``davdrive.settings.Setting`` takes: name, type, default, help, check."""

    name: str
    kind: type
    default: Any
    help: str
    check: Any = None


def _backend(value: Any) -> str | None:
    return None if value in BACKENDS else "must be one of " + ", ".join(BACKENDS)


def _part(value: Any) -> str | None:
    if MIN_PART <= value <= MAX_PART:
        return None
    return f"must be between {MIN_PART} (5 MiB) and {MAX_PART} (5 GiB)"


def _prefix(value: Any) -> str | None:
    if value.startswith("/") or (value and not value.endswith("/")):
        return "must be empty or end with '/' and not start with it (e.g. blobs/)"
    return None


DECLARED: tuple[Declared, ...] = (
    Declared(
        "blobs.backend", str, "local",
        "Where file contents are kept: local (the blobs folder of the data folder) or s3 "
        "(an S3-compatible bucket, [blobs.s3]; for several server processes or hosts, "
        "docs/s3-storage.md).", _backend,
    ),
    Declared("blobs.s3.bucket", str, "", "Bucket holding the contents (blobs.backend = s3)."),
    Declared(
        "blobs.s3.prefix", str, "blobs/",
        "Key prefix of the drive's objects in the bucket: contents at <prefix>aa/bb/<sha256>, "
        "uploads in flight under <prefix>tmp/.", _prefix,
    ),
    Declared(
        "blobs.s3.endpoint_url", str, "",
        "URL of an S3-compatible service (MinIO, Ceph, Garage...); empty means AWS S3.",
    ),
    Declared("blobs.s3.region", str, "", "Region of the bucket; empty: the SDK's default."),
    Declared(
        "blobs.s3.access_key_id", str, "",
        "Access key; empty: the SDK's usual sources (AWS_* variables, ~/.aws, an "
        "instance role).",
    ),
    Declared("blobs.s3.secret_access_key", str, "", "Secret key going with access_key_id."),
    Declared(
        "blobs.s3.part_bytes", int, 8 * 1024 * 1024,
        "Part size of multipart uploads: each upload holds at most one part in memory; "
        "larger files go up in parts of this size (S3 allows 10,000 parts per object).",
        _part,
    ),
)


def problems(values: Mapping[str, Any]) -> list[str]:
    """What is wrong with the blob settings taken together."""
    found = []
    if values["blobs.backend"] == "s3":
        bucket = values["blobs.s3.bucket"]
        if not 3 <= len(bucket) <= 63:
            found.append("blobs.s3.bucket must name a bucket (3 to 63 characters) when "
                         "blobs.backend is s3")
        if bool(values["blobs.s3.access_key_id"]) != bool(values["blobs.s3.secret_access_key"]):
            found.append("blobs.s3.access_key_id and blobs.s3.secret_access_key must be given "
                         "together")
    return found


@dataclass(frozen=True)
class S3Settings:
    """The ``[blobs.s3]`` values a store needs (``davdrive.blob_s3_client``)."""

    bucket: str
    prefix: str = "blobs/"
    endpoint_url: str = ""
    region: str = ""
    access_key_id: str = ""
    secret_access_key: str = ""
    part_bytes: int = 8 * 1024 * 1024

    @classmethod
    def of(cls, values: Mapping[str, Any]) -> S3Settings:
        return cls(**{name: values[f"blobs.s3.{name}"] for name in cls.__dataclass_fields__})
