"""``VerifyGate``: at most ``slots`` password checks at once; the rest are turned away fast."""

from __future__ import annotations

import threading
import time

import pytest

from auth.verify_gate import VerifierBusy, VerifyGate, default_slots
from davdrive.errors import ConfigError
from davdrive.settings import load_settings


def test_a_full_gate_turns_a_request_away_after_the_wait() -> None:
    gate = VerifyGate(slots=1, wait_seconds=0.05)
    inside = threading.Event()
    leave = threading.Event()

    def hold() -> None:
        with gate.slot():
            inside.set()
            leave.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    assert inside.wait(5)
    began = time.monotonic()
    with pytest.raises(VerifierBusy), gate.slot():
        pass
    assert time.monotonic() - began < 1.0
    leave.set()
    holder.join()
    with gate.slot():  # the slot came back
        pass


def test_a_failing_check_gives_its_slot_back() -> None:
    gate = VerifyGate(slots=1, wait_seconds=0)
    with pytest.raises(RuntimeError), gate.slot():
        raise RuntimeError("argon2 failed")
    with gate.slot():
        pass


def test_default_slots_leave_a_core_for_serving() -> None:
    assert default_slots(1) == 1
    assert default_slots(2) == 1
    assert default_slots(8) == 7


def test_negative_gate_settings_are_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, {}, {"auth.max_parallel_checks": -1, "auth.check_wait_ms": -5})
    text = str(caught.value)
    assert "auth.max_parallel_checks" in text and "auth.check_wait_ms" in text
