"""One shape for every registry of the package (objectives, backbones, data sets,
scorers): a name -> record mapping that is read like a dict, plus ``register`` to add a
record (the way to extend mscad without editing its modules) and ``require`` to look one
up with the one-sentence error that lists the known names."""
from __future__ import annotations

from collections.abc import Mapping

from .errors import unknown_name

__all__ = ["Registry", "FieldView"]


class Registry(dict):
    """Records by name, in registration order. ``kind`` names the records in messages
    ("objective", "backbone", ...)."""

    def __init__(self, kind: str, records=()):
        super().__init__()
        self.kind = kind
        items = records.items() if isinstance(records, dict) else ((r.name, r) for r in records)
        for name, record in items:
            self.register(record, name)

    def register(self, record, name: str | None = None):
        """Add ``record`` under ``name`` (default: its ``.name``); returns it, so it also
        works as a decorator. A name is registered once."""
        name = name or record.name
        if name in self:
            raise ValueError(f"{self.kind} {name!r} is registered already.")
        self[name] = record
        return record

    def require(self, name: str):
        """The record of ``name``, or the MscadError that names the known ones."""
        if name not in self:
            raise unknown_name(self.kind, name, self)
        return self[name]

    def names(self) -> tuple:
        return tuple(self)

    def view(self, attribute: str) -> "FieldView":
        """A live read-only mapping name -> ``record.<attribute>``: records registered later
        appear in it (a copy made at import time would go stale)."""
        return FieldView(self, attribute)


class FieldView(Mapping):
    """One attribute of every record of a :class:`Registry`, read when asked for."""

    def __init__(self, registry: Registry, attribute: str):
        self._registry, self._attribute = registry, attribute

    def __getitem__(self, name):
        return getattr(self._registry[name], self._attribute)

    def __iter__(self):
        return iter(self._registry)

    def __len__(self):
        return len(self._registry)

    def __repr__(self):
        return f"{self._registry.kind} {self._attribute}s {dict(self)!r}"
