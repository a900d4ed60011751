"""The read fast path's per-process cache keeps answers of one tree version only,
within its bounds (davdrive/readable_files.py)."""

from __future__ import annotations

from collections import namedtuple

from davdrive.readable_files import ReadableFiles

Row = namedtuple("Row", "name inline_data")
ACTOR = object()
STAMP = (1, 1)


def key(version: int, name: str) -> tuple[int, object, object, tuple[str, ...]]:
    return (version, STAMP, ACTOR, (name,))


def test_an_answer_is_kept_for_its_version_only() -> None:
    files = ReadableFiles()
    files.put(key(3, "a"), Row("a", None), "facts")
    assert files.get(key(3, "a")) == (Row("a", None), "facts")
    assert files.get(key(4, "a")) is None  # the tree changed: not this answer
    assert files.get((3, (1, 2), ACTOR, ("a",))) is None  # the rights changed
    assert files.get((3, STAMP, object(), ("a",))) is None  # another actor


def test_a_newer_version_drops_the_older_answers_and_an_older_one_is_not_kept() -> None:
    files = ReadableFiles()
    files.put(key(3, "a"), Row("a", None), "facts")
    files.put(key(4, "b"), Row("b", None), "facts")
    assert files.get(key(3, "a")) is None
    files.put(key(3, "c"), Row("c", None), "facts")  # read before a change already seen
    assert files.get(key(3, "c")) is None
    assert files.get(key(4, "b")) is not None


def test_memory_is_bounded_by_entries_and_kept_bytes() -> None:
    files = ReadableFiles(size=3, inline_limit=10)
    files.put(key(1, "big"), Row("big", b"x" * 11), "facts")
    assert files.get(key(1, "big")) is None
    files.put(key(1, "small"), Row("small", b"x" * 10), "facts")
    assert files.get(key(1, "small")) is not None
    for name in ("a", "b", "c", "d"):
        files.put(key(1, name), Row(name, None), "facts")
    kept = [n for n in ("small", "a", "b", "c", "d") if files.get(key(1, n)) is not None]
    assert 1 <= len(kept) <= 3 and "d" in kept
