"""One shape for every registry of the package (objectives, backbones, data sets,
scorers): a name -> record mapping that is read like a dict, plus ``register`` to add a
record (the way to extend mscad without editing its modules) and ``require`` to look one
up with the one-sentence error that lists the known names."""
from __future__ import annotations

from .errors import unknown_name

__all__ = ["Registry"]


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
