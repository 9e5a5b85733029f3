"""specsim's exceptions: one base, :class:`SpecsimError`, and a subclass per kind of refusal.

Every refusal or failure of the library is raised as the subclass of its kind, with the command
line's message. ``kind`` is the class's name (also an attribute of every instance) and ``code``
the library's finer name for what was refused (``"bad_parent"``, ``"coin_out_of_range"``, ...).

- :class:`InvalidInput`: a round's or a batch's values or shapes (SPEC §2); a ``ValueError``.
- :class:`InvalidTree`: a parent array that is not a tree, or siblings a rule refuses (SPEC §7).
- :class:`InvalidFile`: a batch file or tree file that cannot be read as asked.
- :class:`InvalidOption`: an option, or a combination of options, refused.
- :class:`OutputError`: an output that cannot be written (an ``OSError``).
- :class:`EngineError`: no usable GPU adapter, or a device failure (a ``RuntimeError``, never a
  ``ValueError``).
"""

from __future__ import annotations

from typing import Dict, Optional, Type

__all__ = [
    "SpecsimError",
    "InvalidInput",
    "InvalidTree",
    "InvalidFile",
    "InvalidOption",
    "OutputError",
    "EngineError",
]


class SpecsimError(Exception):
    """Base of every specsim exception."""

    kind: str = "SpecsimError"

    def __init__(self, message: str, code: Optional[str] = None) -> None:
        super().__init__(message)
        self.code = code


class InvalidInput(SpecsimError, ValueError):
    """A refused value or shape of a round or a batch (SPEC §2)."""

    kind = "InvalidInput"


class InvalidTree(InvalidInput):
    """A parent array that is not a tree, or siblings the rule refuses (SPEC §7)."""

    kind = "InvalidTree"


class InvalidFile(SpecsimError, ValueError):
    """A file that cannot be read as a batch or a tree."""

    kind = "InvalidFile"


class InvalidOption(SpecsimError, ValueError):
    """A refused option or combination of options."""

    kind = "InvalidOption"


class OutputError(SpecsimError, OSError):
    """An output that cannot be written."""

    kind = "OutputError"


class EngineError(SpecsimError, RuntimeError):
    """No usable GPU adapter, or a failure on the device."""

    kind = "EngineError"


_BY_KIND: Dict[str, Type[SpecsimError]] = {
    c.kind: c
    for c in (SpecsimError, InvalidInput, InvalidTree, InvalidFile, InvalidOption, OutputError, EngineError)
}


def from_native(error: BaseException) -> SpecsimError:
    """The exception of a native ``(kind, code, message)`` error."""
    kind, code, message = error.args
    return _BY_KIND.get(kind, SpecsimError)(message, code)
