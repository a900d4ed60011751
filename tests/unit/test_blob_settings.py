"""The [blobs] settings: checked together, every problem reported at once, and the
environment names scripts use (docs/s3-storage.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from davdrive.blob_settings import S3Settings
from davdrive.blob_stores import open_blob_store
from davdrive.blobs import BlobStore
from davdrive.errors import ConfigError
from davdrive.settings import load_settings


def test_the_local_folder_is_the_default(tmp_path: Path) -> None:
    settings = load_settings(None, {}, {"data_dir": str(tmp_path)})
    assert settings["blobs.backend"] == "local"
    assert isinstance(open_blob_store(settings), BlobStore)


def test_s3_without_a_bucket_and_with_half_a_key_pair_is_refused_at_once() -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(None, {"DAVDRIVE_BLOBS_BACKEND": "s3",
                             "DAVDRIVE_BLOBS_S3_ACCESS_KEY_ID": "AKIA1"}, {})
    text = str(refused.value)
    assert "blobs.s3.bucket must name a bucket" in text
    assert "access_key_id and blobs.s3.secret_access_key must be given together" in text


@pytest.mark.parametrize("name, value, expected", [
    ("DAVDRIVE_BLOBS_BACKEND", "ftp", "must be one of local, s3"),
    ("DAVDRIVE_BLOBS_S3_PREFIX", "/blobs/", "must be empty or end with '/'"),
    ("DAVDRIVE_BLOBS_S3_PREFIX", "blobs", "must be empty or end with '/'"),
    ("DAVDRIVE_BLOBS_S3_PART_BYTES", "1048576", "between 5242880 (5 MiB)"),
])
def test_bad_values_are_named(name: str, value: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        load_settings(None, {name: value}, {})


def test_toml_tables_and_environment_give_the_s3_settings(tmp_path: Path) -> None:
    config = tmp_path / "davdrive.toml"
    config.write_text(
        '[blobs]\nbackend = "s3"\n[blobs.s3]\nbucket = "drive"\n'
        'endpoint_url = "http://127.0.0.1:9000"\npart_bytes = 16777216\n', encoding="utf-8")
    settings = load_settings(config, {"DAVDRIVE_BLOBS_S3_PREFIX": "club/"}, {})
    assert S3Settings.of(settings.values) == S3Settings(
        bucket="drive", prefix="club/", endpoint_url="http://127.0.0.1:9000",
        part_bytes=16 * 1024 * 1024,
    )
