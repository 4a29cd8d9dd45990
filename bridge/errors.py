"""The one exception family of bridge.

Every error bridge raises on purpose is a :class:`BridgeError`. Each subclass also inherits the
builtin exception that fits (``ValueError``, ``TypeError``, ``LookupError``, ``OSError``) so that
library callers can catch what they would catch from numpy or scipy.

An error carries:

* ``identifier``: MATLAB's error identifier where MATLAB raises the same error
  (``MATLAB:conv:AorBNotVector``), otherwise a ``bridge:*`` identifier. The CLI prints it and the
  MATLAB wrappers re-raise with it, so code that catches MATLAB's native errors keeps working.
* ``file``, ``variable`` and ``argument`` (1-based position in the MATLAB call): context that the
  job layer adds with :meth:`BridgeError.where` so the one-line message names what was wrong.
* ``exit_code``: what the CLI exits with (see the constants below).
* ``arguments``: the names of the arguments the message speaks of, written ``{name}`` in it
  (``{max_memory}``). ``str(error)`` names them as the Python arguments they are; the command
  line names them as its flags (``--max-memory``) through :meth:`BridgeError.text`.

Only the CLI turns these into exit statuses; library code never calls ``sys.exit``.
"""

from __future__ import annotations

from typing import TypeVar

# Exit statuses of the CLI, documented in the README. 1 is left to Python itself (an uncaught
# exception before bridge could handle it), so a bridge-made status is never confused with it.
EXIT_OK = 0
EXIT_USAGE = 2  # bad command line: unknown option, bad --op/--shape value, missing argument
EXIT_DATA = 3  # bad input: unreadable file, missing or non-numeric variable, MATLAB's own errors
EXIT_OUTPUT = 4  # the result could not be written (missing folder, permissions, disk full)
EXIT_ENVIRONMENT = 5  # numpy/scipy/h5py missing or broken in the interpreter that was started
EXIT_INTERNAL = 70  # a bug in bridge: an unexpected exception (EX_SOFTWARE of sysexits.h)
# Stopped by a signal: 128 + its number, as a shell reports it. Temporary files are removed first.
EXIT_SIGHUP = 129
EXIT_SIGINT = 130
EXIT_SIGTERM = 143

_E = TypeVar("_E", bound="BridgeError")  # where() returns the error it is called on


class BridgeError(Exception):
    """Base of every error bridge raises on purpose."""

    default_identifier = "bridge:error"
    exit_code = EXIT_DATA

    def __init__(
        self,
        message: str,
        *,
        identifier: str | None = None,
        file: str | None = None,
        variable: str | None = None,
        argument: int | None = None,
        arguments: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.identifier = identifier or self.default_identifier
        self.file = file
        self.variable = variable
        self.argument = argument
        self.arguments = arguments

    def where(self: _E, *, file: str | None = None, variable: str | None = None) -> _E:
        """Add context (keeping what is already known) and return self, for ``raise e.where()``."""
        if file is not None and self.file is None:
            self.file = str(file)
        if variable is not None and self.variable is None:
            self.variable = variable
        return self

    def text(self, names: dict[str, str] | None = None) -> str:
        """The one-line message, its arguments named by ``names`` (argument -> how to call it;
        default: the argument's own name)."""
        message = self.message
        for argument in self.arguments:
            message = message.replace("{" + argument + "}", (names or {}).get(argument, argument))
        parts = []
        if self.file:
            parts.append(f"{self.file}:")
        if self.variable:
            parts.append(f"variable '{self.variable}':")
        parts.append(message)
        text = " ".join(parts)
        return f"{text} ({self.identifier})" if self.identifier else text

    def __str__(self) -> str:
        return self.text()


class MatlabArgumentError(BridgeError, ValueError):
    """An argument MATLAB itself would reject (not a vector, bad SHAPE, N-D to conv2)."""


class ShapeParameterError(MatlabArgumentError):
    default_identifier = "MATLAB:conv2:unknownShapeParameter"


class NotVectorError(MatlabArgumentError):
    default_identifier = "MATLAB:conv:AorBNotVector"


class DimensionError(MatlabArgumentError):
    # MATLAB's identifier for an N-D argument to conv2 is not documented; this one is ours.
    default_identifier = "bridge:conv2:notMatrix"


class InputTypeError(BridgeError, TypeError):
    """An operand that is not numeric or logical (char, cell, struct, object, string)."""

    default_identifier = "MATLAB:conv2:inputType"


class FileFormatError(BridgeError, ValueError):
    """A file that cannot be read as any supported format, or is not what its extension says."""

    default_identifier = "bridge:fileFormat"


class VariableError(BridgeError, LookupError):
    """A variable missing from a job file, or one the request cannot use."""

    default_identifier = "bridge:variable"


class JobError(BridgeError, ValueError):
    """A job whose request is incomplete or contradictory (ambiguous operands, unknown op)."""

    default_identifier = "bridge:job"


class UsageError(BridgeError, ValueError):
    """A bad command line."""

    default_identifier = "bridge:usage"
    exit_code = EXIT_USAGE


class OutputError(BridgeError, OSError):
    """The result could not be written."""

    default_identifier = "bridge:output"
    exit_code = EXIT_OUTPUT


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised like Ctrl-C's KeyboardInterrupt so that every ``finally`` and
    cleanup (the temporary output file) runs before the CLI exits with 128 + the signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class FilterArgumentError(MatlabArgumentError):
    """A bad argument to the filtering family (filter2, xcorr2, imfilter, fspecial,
    imgaussfilt): an unknown or ambiguous option, a size or value out of range. Carries the
    identifier MATLAB's function raises (``images:fspecial:outOfRangeAlpha``,
    ``MATLAB:imfilter:unrecognizedStringChoice``, ...) or a ``bridge:*`` one where MATLAB's is
    not known."""

    default_identifier = "bridge:filtering:badArgument"


class FilterTypeError(BridgeError, TypeError):
    """An argument of the filtering family of a class MATLAB's function refuses (a single
    kernel for imfilter, a logical image for imgaussfilt, text where a number is expected)."""

    default_identifier = "bridge:filtering:invalidType"
