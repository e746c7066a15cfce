"""One exception type for every mistake a user can make.

The command line turns an :class:`MscadError` into a one-sentence message and exit
status 2; library callers can catch it as a ``ValueError``.
"""


class MscadError(ValueError):
    """A problem with the user's input or environment, with the fix in its message."""


def unknown_name(kind: str, name: str, known) -> MscadError:
    """The error for a name that is not in a registry, listing the names that are."""
    return MscadError(f"unknown {kind} {name!r}; known {kind}s: {', '.join(sorted(known))}.")
