"""An ordered registry of named definitions (metrics, render steps, plans).

Each concept has one registry, filled by one line per entry in the module that owns it.
Readers iterate it in order; tests add an entry for their own duration with `extended`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from operator import attrgetter
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Entries by name, in the order they were added (or placed with `before`)."""

    def __init__(self, kind: str, *, key: Callable[[T], str] = attrgetter("name"),
                 check: Callable[[T], None] | None = None) -> None:
        """Args:
            kind: What the entries are, in words (for error messages), e.g. "metric".
            key: An entry's unique name (default: its `name` attribute).
            check: Called with each entry before it is added; raises ValueError to refuse it.
        """
        self.kind = kind
        self._key = key
        self._check = check
        self._entries: dict[str, T] = {}
        self._names: tuple[str, ...] = ()
        self.version = 0  # bumped on every change, so readers can cache what they derive

    def add(self, entry: T, *, before: str | None = None) -> T:
        """Add an entry at the end, or just before the entry named `before`.

        Raises:
            ValueError: The name is taken, `before` is unknown, or `check` refused the entry.
        """
        name = self._key(entry)
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        if before is not None and before not in self._entries:
            raise ValueError(f"no {self.kind} named {before!r} to insert {name!r} before")
        if self._check is not None:
            self._check(entry)
        items = list(self._entries.items())
        at = len(items) if before is None else [key for key, _ in items].index(before)
        items.insert(at, (name, entry))
        self._set(dict(items))
        return entry

    def remove(self, name: str) -> None:
        """Drop an entry (tests use `extended`, which restores the registry afterwards)."""
        self._set({k: v for k, v in self._entries.items() if k != name})

    @contextmanager
    def extended(self, *entries: T, before: str | None = None) -> Iterator[None]:
        """Add entries for the duration of a `with` block, then restore the registry exactly."""
        saved = dict(self._entries)
        try:
            for entry in entries:
                self.add(entry, before=before)
            yield
        finally:
            self._set(saved)

    def _set(self, entries: dict[str, T]) -> None:
        self._entries = entries
        self._names = tuple(entries)
        self.version += 1

    def get(self, name: str) -> T:
        """The entry named `name`.

        Raises:
            KeyError: None is registered under that name.
        """
        try:
            return self._entries[name]
        except KeyError:
            raise KeyError(f"no {self.kind} named {name!r}") from None

    def find(self, name: str | None) -> T | None:
        """The entry named `name`, or None."""
        return self._entries.get(name or "")

    def names(self) -> tuple[str, ...]:
        """Every name, in order."""
        return self._names

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[T]:
        return iter(tuple(self._entries.values()))

    def __len__(self) -> int:
        return len(self._entries)
