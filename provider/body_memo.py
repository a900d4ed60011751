"""Answers of pure functions of a request body, remembered per app.

Clients send the same few XML bodies again and again (rclone, Finder and the
Windows redirector each have their PROPFIND body), and checking and reading
one costs three XML parses. A ``BodyMemo`` remembers what a pure function of
the body's bytes answered: bodies of at most ``max_body`` bytes, at most
``max_entries`` of them, all forgotten at once when full (a client sending
ever new bodies only costs the parses it would have cost anyway).
"""

from __future__ import annotations

from typing import Any

MISSING: Any = object()  # what ``get`` answers for a body not remembered


class BodyMemo:
    """Bounded ``{body: answer}``; safe to share between threads."""

    def __init__(self, max_entries: int = 256, max_body: int = 4096) -> None:
        self.max_entries = max_entries
        self.max_body = max_body
        self._answers: dict[bytes, Any] = {}

    def get(self, body: bytes) -> Any:
        return self._answers.get(body, MISSING)

    def put(self, body: bytes, answer: Any) -> None:
        if len(body) > self.max_body:
            return
        if len(self._answers) >= self.max_entries:
            self._answers = {}
        self._answers[body] = answer
