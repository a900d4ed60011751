"""moto's real S3 server on loopback, for the S3 blob store's tests.

``moto_endpoint`` (session) starts ``ThreadedMotoServer`` on 127.0.0.1, port
0, with dummy AWS credentials and region in the environment for the whole
session, so that botocore never looks for real ones (no instance-metadata
probe). ``s3_bucket`` creates a fresh bucket per test. Everything goes over
HTTP to that server: nothing of boto is mocked.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from davdrive.blob_s3 import S3Store
from davdrive.blob_settings import S3Settings

DUMMY_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """The URL of a moto S3 server running for the session."""
    from tests.conftest import unavailable

    with pytest.MonkeyPatch.context() as patch:
        for name, value in DUMMY_ENV.items():
            patch.setenv(name, value)
        try:
            from moto.server import ThreadedMotoServer
        except ImportError as exc:
            unavailable(f"moto's server is not installed ({exc}): pip install 'moto[s3]' "
                        "flask-cors")
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request else
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            yield f"http://{host}:{port}"
        finally:
            server.stop()


def s3_settings(endpoint: str, bucket: str, **changes: Any) -> S3Settings:
    return S3Settings(bucket=bucket, endpoint_url=endpoint, region="us-east-1",
                      access_key_id="testing", secret_access_key="testing", **changes)


@pytest.fixture
def s3_bucket(moto_endpoint: str) -> str:
    """A new, empty bucket on the session's moto server."""
    from davdrive.blob_s3_client import make_client

    name = f"t-{uuid.uuid4().hex[:20]}"
    make_client(s3_settings(moto_endpoint, name)).create_bucket(Bucket=name)
    return name


def make_store(endpoint: str, bucket: str, tmp: Path, **options: Any) -> S3Store:
    """An S3 store on ``bucket`` (options: ``part_bytes``, ``read_back``, ``temp_grace``...)."""
    from davdrive.blob_s3_client import make_client

    part = options.pop("part_bytes", 5 * 1024 * 1024)
    cfg = s3_settings(endpoint, bucket, part_bytes=part)
    return S3Store(make_client(cfg), cfg, lock_dir=tmp, **options)


def bucket_keys(store: S3Store) -> list[str]:
    """Every object key of the store's bucket (content, temporary or other)."""
    pages = store.client.get_paginator("list_objects_v2").paginate(Bucket=store.bucket)
    return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))


def multipart_uploads(store: S3Store) -> list[str]:
    """Keys of the multipart uploads begun and neither completed nor aborted."""
    found = store.client.list_multipart_uploads(Bucket=store.bucket)
    return [upload["Key"] for upload in found.get("Uploads", [])]


def s3_overrides(endpoint: str, bucket: str) -> dict[str, Any]:
    """The settings of a data folder whose blobs live in ``bucket`` (5 MiB parts)."""
    return {
        "blobs.backend": "s3", "blobs.s3.bucket": bucket, "blobs.s3.endpoint_url": endpoint,
        "blobs.s3.region": "us-east-1", "blobs.s3.access_key_id": "testing",
        "blobs.s3.secret_access_key": "testing", "blobs.s3.part_bytes": 5 * 1024 * 1024,
    }
