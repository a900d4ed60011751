"""Talking to an S3-compatible service: the client, the key layout, the errors.

boto3 is imported only here and only when a store is opened: the local backend
needs none of it. The client is built from ``[blobs.s3]`` (``S3Settings``)
with no global session. It asks for checksums only where the API requires
them (``when_required``): several S3-compatible services refuse the newer
default ones, and the writer sends a Content-MD5 with every body instead
(``davdrive.blob_s3_writer``).

Errors: a missing object raises FileNotFoundError; anything else the service
or the network does wrong raises ``StoreUnavailable`` (an OSError), so the
callers' handling of a failed disk applies.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from davdrive.blob_backend import check_digest
from davdrive.blob_settings import S3Settings
from davdrive.errors import ConfigError, StoreUnavailable

MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchUpload"})
TEMP_FOLDER = "tmp/"
TEMP_PREFIX = "up-"
_BLOB_KEY = re.compile(r"([0-9a-f]{2})/([0-9a-f]{2})/([0-9a-f]{64})")


class NotVerified(StoreUnavailable):
    """What the object store holds is not what was sent."""


def make_client(cfg: S3Settings, max_connections: int = 50) -> Any:
    """A boto3 S3 client for ``cfg`` (thread-safe; one per store); ``ConfigError`` when
    boto3 is not installed."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError as exc:
        raise ConfigError([f"blobs.backend = s3 needs boto3 ({exc}): pip install "
                           "'davdrive[s3]' (or boto3)"]) from exc

    config = Config(
        max_pool_connections=max_connections,
        retries={"mode": "standard", "max_attempts": 5},
        connect_timeout=10,
        read_timeout=60,
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        s3={"addressing_style": "path" if cfg.endpoint_url else "auto"},
    )
    kwargs: dict[str, Any] = {}
    if cfg.endpoint_url:
        kwargs["endpoint_url"] = cfg.endpoint_url
    if cfg.region:
        kwargs["region_name"] = cfg.region
    if cfg.access_key_id:
        kwargs["aws_access_key_id"] = cfg.access_key_id
        kwargs["aws_secret_access_key"] = cfg.secret_access_key
    return boto3.session.Session().client("s3", config=config, **kwargs)


def is_missing(exc: BaseException) -> bool:
    """True when ``exc`` is the service saying the object (or upload) does not exist."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return False
    code = str(response.get("Error", {}).get("Code", ""))
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code in MISSING_CODES or status == 404


@contextmanager
def s3_errors(what: str) -> Iterator[None]:
    """Turn boto errors into FileNotFoundError (missing) or ``StoreUnavailable``."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        if is_missing(exc):
            raise FileNotFoundError(f"{what}: not in the bucket") from exc
        raise StoreUnavailable(f"{what}: the object store refused: {exc}") from exc
    except BotoCoreError as exc:
        raise StoreUnavailable(f"{what}: the object store is unreachable: {exc}") from exc


class Keys:
    """Where things live in the bucket, under ``prefix``: a blob at
    ``<prefix>aa/bb/<sha256>`` (the local store's layout: a blobs folder copied
    into the bucket is a valid store), uploads in flight under ``<prefix>tmp/``."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.temp_prefix = prefix + TEMP_FOLDER

    def blob(self, sha256: str) -> str:
        check_digest(sha256)
        return f"{self.prefix}{sha256[:2]}/{sha256[2:4]}/{sha256}"

    def new_temp(self) -> str:
        return f"{self.temp_prefix}{TEMP_PREFIX}{uuid.uuid4().hex}"

    def digest_of(self, key: str) -> str | None:
        """The digest a key holds, or None for any other key (temp items...)."""
        if not key.startswith(self.prefix):
            return None
        found = _BLOB_KEY.fullmatch(key[len(self.prefix):])
        if found is None or not found[3].startswith(found[1] + found[2]):
            return None
        return found[3]
