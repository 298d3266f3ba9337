"""The ordered registry behind metrics, steps and plans: one entry per name, order kept, tests restore it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from saas_app.services.core.registry import Registry


@dataclass(frozen=True)
class Thing:
    name: str
    size: int = 1


def _registry() -> Registry[Thing]:
    def check(thing: Thing) -> None:
        if thing.size < 0:
            raise ValueError("size must not be negative")

    things: Registry[Thing] = Registry("thing", check=check)
    for name in ("a", "b", "c"):
        things.add(Thing(name))
    return things


def test_entries_keep_their_order_and_can_be_placed_before_another() -> None:
    things = _registry()
    things.add(Thing("x"), before="c")
    assert things.names() == ("a", "b", "x", "c")
    assert [t.name for t in things] == ["a", "b", "x", "c"] and len(things) == 4
    assert things.get("x") == Thing("x") and things.find("nope") is None and "b" in things


def test_a_name_is_taken_once_and_checks_run_before_adding() -> None:
    things = _registry()
    version = things.version
    with pytest.raises(ValueError, match="already registered"):
        things.add(Thing("a"))
    with pytest.raises(ValueError, match="negative"):
        things.add(Thing("d", size=-1))
    with pytest.raises(ValueError, match="no thing named 'zzz'"):
        things.add(Thing("d"), before="zzz")
    with pytest.raises(KeyError, match="no thing named 'd'"):
        things.get("d")
    assert things.names() == ("a", "b", "c") and things.version == version


def test_extended_adds_for_a_block_and_restores_exactly_even_on_error() -> None:
    things = _registry()
    with things.extended(Thing("d"), Thing("e"), before="b"):
        assert things.names() == ("a", "d", "e", "b", "c")
    assert things.names() == ("a", "b", "c")
    with pytest.raises(RuntimeError), things.extended(Thing("d")):
        raise RuntimeError("the test failed")
    assert things.names() == ("a", "b", "c")


def test_every_change_bumps_the_version_so_derived_values_are_rebuilt() -> None:
    things = _registry()
    seen = {things.version}
    with things.extended(Thing("d")):
        seen.add(things.version)
    seen.add(things.version)
    assert len(seen) == 3


def test_entries_can_be_keyed_by_another_attribute() -> None:
    @dataclass(frozen=True)
    class Plan:
        id: str
        name: str

    plans: Registry[Plan] = Registry("plan", key=lambda p: p.id)
    plans.add(Plan("free", "Free"))
    assert plans.names() == ("free",) and plans.get("free").name == "Free"
