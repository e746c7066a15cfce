"""The exceptions of mscad: one base type for every mistake a user can make.

The command line turns an :class:`MscadError` into a one-sentence message and exit
status 2; library callers can catch it as a ``ValueError``. Subclasses exist only where
code has to tell errors apart (the training loop, the sweep).
"""


class MscadError(ValueError):
    """A problem with the user's input or environment, with the fix in its message."""


class NonFiniteError(MscadError):
    """Features or a loss became NaN or infinite (diverged weights, corrupt input).
    ``diverged``: training made them so (the fix is in the settings), not the input."""

    def __init__(self, message: str, diverged: bool = False):
        super().__init__(message)
        self.diverged = diverged


class CheckpointError(MscadError):
    """A checkpoint file cannot be read: truncated, empty, or not an mscad checkpoint."""


class CheckpointMismatchError(CheckpointError):
    """A readable checkpoint of another experiment (other settings, or more epochs)."""


class Interrupted(MscadError):
    """Ctrl-C: the command line exits 130, whenever it comes."""


class CorruptResultError(MscadError):
    """A result file cannot be read as a RESULT.json."""


def unknown_name(kind: str, name: str, known) -> MscadError:
    """The error for a name that is not in a registry, listing the names that are."""
    return MscadError(f"unknown {kind} {name!r}; known {kind}s: {', '.join(sorted(known))}.")
