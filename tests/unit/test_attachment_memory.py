"""Finding 8 of issue 9, the cost side: "a 200 KB .docx took 470 MB RSS to check",
and a .docx declaring 1,000 bytes inflated to 1 GiB.

Rule (docs/attachments.md): checking an attachment takes bounded memory and
time whatever the file declares: ZIP entries are inflated as streams under
real-size, total and ratio caps, XML parts are held one at a time, and a
JPEG's scan data is searched, not looped over.
"""

from __future__ import annotations

import io
import os
import random
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from davdrive import demo_files
from davdrive.filetypes import FileTypeRefused, check_attachment
from tests.unit.bad_attachments import (
    declare_size,
    docx,
    docx_with_padded_types,
    docx_with_zeros,
    relationships,
)

JPEG = demo_files.JPEG_1X1
MIB = 1024 * 1024


def refusal(data: bytes, name: str) -> str:
    """The refusal message for ``data`` named ``name``; fails if it is accepted."""
    with pytest.raises(FileTypeRefused) as refused:
        check_attachment(io.BytesIO(data), name)
    return str(refused.value)


def test_a_jpeg_scan_full_of_stuffed_bytes_is_walked_quickly() -> None:
    """The scan data is searched for its end marker, not looped over byte by byte."""
    stuffed = JPEG[:-2] + b"\xff\x00" * (4 * MIB) + JPEG[-2:]
    start = time.monotonic()
    assert check_attachment(io.BytesIO(stuffed), "big.jpg").key == "jpeg"
    assert time.monotonic() - start < 2


@pytest.fixture(scope="module")
def gigabyte_of_zeros_docx() -> bytes:
    """A Word document with a part of 1 GiB of zeros: about 1 MB, built once."""
    return docx_with_zeros("word/document2.xml", 1024 * MIB)


def test_a_docx_declaring_1000_bytes_that_inflates_to_1_gib_is_refused(
    gigabyte_of_zeros_docx: bytes,
) -> None:
    """The zip bomb of the finding: sizes patched to 1,000 in both headers."""
    lying = declare_size(gigabyte_of_zeros_docx, "word/document2.xml", 1000)
    assert len(lying) < 2 * MIB
    message = refusal(lying, "bomb.docx")
    assert "inflates past its declared 1000 bytes" in message


def test_a_docx_declaring_its_1_gib_honestly_is_refused(gigabyte_of_zeros_docx: bytes) -> None:
    assert "inflates to more than 64 MiB" in refusal(gigabyte_of_zeros_docx, "bomb.docx")


def test_checking_a_200_kb_docx_that_inflates_to_190_mib_stays_under_64_mib(
    tmp_path: Path,
) -> None:
    """The finding's 200 KB .docx: its [Content_Types].xml is 190 MiB of spaces."""
    path = tmp_path / "padded.docx"
    path.write_bytes(docx_with_padded_types(190 * MIB))
    assert path.stat().st_size < 400 * 1024
    tracemalloc.start()
    try:
        with pytest.raises(FileTypeRefused) as refused:
            check_attachment(path, path.name)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "'[Content_Types].xml' inflates to more than" in str(refused.value)
    assert peak < 64 * MIB, f"checking took {peak // MIB} MiB"


RSS_PROBE = """
import resource, sys
from pathlib import Path
from davdrive.filetypes import FileTypeRefused, check_attachment
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    check_attachment(Path(sys.argv[1]), "padded.docx")
    print("accepted")
except FileTypeRefused:
    print("refused")
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""


def test_the_200_kb_docx_adds_under_64_mib_to_a_process_peak_rss(tmp_path: Path) -> None:
    """The finding measured RSS (470 MB): measured the same way, in a fresh process."""
    path = tmp_path / "padded.docx"
    path.write_bytes(docx_with_padded_types(190 * MIB))
    done = subprocess.run([sys.executable, "-c", RSS_PROBE, str(path)], capture_output=True,
                          text=True, check=True, timeout=120)
    verdict, growth = done.stdout.split()
    assert verdict == "refused"
    assert int(growth) < 64, f"the peak RSS grew by {growth} MiB"


def test_checking_a_large_incompressible_docx_streams_its_parts(tmp_path: Path) -> None:
    """A legitimate 24 MB photo inside a .docx is inflated in chunks, never held whole."""
    path = tmp_path / "album.docx"
    path.write_bytes(docx({"word/media/big.jpeg": b"\xff\xd8\xff\xe0" + os.urandom(24 * MIB)}))
    tracemalloc.start()
    try:
        found = check_attachment(path, path.name)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert found.key == "docx"
    assert peak < 8 * MIB, f"checking took {peak // MIB} MiB"


def test_the_xml_parts_of_a_docx_are_checked_one_at_a_time(tmp_path: Path) -> None:
    """Twelve 3 MiB relationship parts (36 MiB, under every cap) are never held together."""
    noise = random.Random(12)
    parts: dict[str, bytes | str] = {
        f"word/_rels/part{i}.xml.rels": relationships().replace(
            "</Relationships>", f"<!-- {noise.randbytes(3 * MIB // 2 - 64).hex()} -->"
                                "</Relationships>")
        for i in range(12)}
    path = tmp_path / "links.docx"
    path.write_bytes(docx(parts))
    tracemalloc.start()
    try:
        found = check_attachment(path, path.name)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert found.key == "docx"
    assert peak < 24 * MIB, f"checking took {peak // MIB} MiB"
