"""Dead-property limits, pure (``davdrive.deadprops.PropertyPlan``)."""

from __future__ import annotations

import pytest

from davdrive.deadprops import DeadPropLimits, PropertyPlan, prop_size
from davdrive.errors import InsufficientStorage

LIMITS = DeadPropLimits(max_count=3, max_bytes=100, max_value_bytes=40)


def plan(**props: str) -> PropertyPlan:
    return PropertyPlan(LIMITS, {name: prop_size(name, value) for name, value in props.items()})


def test_size_counts_utf8_bytes_of_name_and_value() -> None:
    assert prop_size("{urn:x}é", "<v>€</v>") == len("{urn:x}é".encode()) + len("<v>€</v>".encode())


def test_count_limit_refuses_the_property_past_it_and_does_not_count_it() -> None:
    p = plan()
    for name in ("a", "b", "c"):
        p.check(name, "v")
        p.accept(name, "v")
    with pytest.raises(InsufficientStorage, match="at most 3"):
        p.check("d", "v")
    p.check("a", "w")  # replacing an existing one adds nothing
    p.check("d", None)  # removing is always fine


def test_value_and_total_limits() -> None:
    with pytest.raises(InsufficientStorage, match="larger than 40"):
        plan().check("a", "x" * 41)
    p = plan(a="x" * 40, b="y" * 40)
    with pytest.raises(InsufficientStorage, match="limited to 100"):
        p.check("c", "z" * 30)
    p.accept("b", None)
    p.check("c", "z" * 30)


def test_an_item_over_the_limits_can_still_be_trimmed() -> None:
    """Stored before the limits (or before they were lowered): no change that makes it
    bigger, but replacing with smaller values and removing are accepted."""
    p = plan(a="x" * 40, b="x" * 40, c="x" * 40, d="x" * 40)
    p.check("a", "short")
    p.check("d", None)
    with pytest.raises(InsufficientStorage):
        p.check("e", "v")
    with pytest.raises(InsufficientStorage):
        p.check("a", "x" * 41)
