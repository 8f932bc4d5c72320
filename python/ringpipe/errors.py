"""ringpipe's exceptions: one base class, one subclass per error code.

Every error ringpipe raises is a :class:`Error` whose ``code`` is the name of the C++
``ringpipe::Errc`` (``"Timeout"``, ``"PeerFailed"``, ...) and whose message is the C++ one: it
names the rank, the peer, the operation, the tag and the size. Catch :class:`Error` for all of
them, or a subclass for one cause. :class:`TimeoutError` is also Python's built-in
``TimeoutError`` and :class:`InvalidArgumentError` also a ``ValueError``, so code written
for those catches ringpipe's too.
"""

import builtins

__all__ = [
    "Error",
    "InvalidArgumentError",
    "TimeoutError",
    "PeerFailedError",
    "StalledError",
    "ClosedError",
    "TruncatedError",
    "AuthFailedError",
    "ProtocolMismatchError",
    "UnsupportedError",
    "InternalError",
    "class_for_code",
]


class Error(Exception):
    """Base class of ringpipe's errors; ``code`` names the cause."""

    code: str = "Internal"

    @property
    def message(self) -> str:
        """The message without the leading ``"<Code>: "``."""
        text = str(self)
        prefix = self.code + ": "
        return text[len(prefix):] if text.startswith(prefix) else text


class InvalidArgumentError(Error, ValueError):
    """A bad option, environment variable, buffer or call order."""

    code = "InvalidArgument"


class TimeoutError(Error, builtins.TimeoutError):  # noqa: A001 - mirrors the built-in on purpose
    """A deadline passed (the operation, edge, tag and size are in the message)."""

    code = "Timeout"


class PeerFailedError(Error):
    """A neighbour died, aborted the ring or its link broke (the message names the rank)."""

    code = "PeerFailed"


class StalledError(Error):
    """A neighbour stopped showing signs of life for the liveness timeout."""

    code = "Stalled"


class ClosedError(Error):
    """A neighbour, or this rank, closed the link in an orderly way."""

    code = "Closed"


class TruncatedError(Error):
    """A message was larger than the receive buffer (both sizes are in the message)."""

    code = "Truncated"


class AuthFailedError(Error):
    """Rendezvous authentication failed (the token differs, or one side has none)."""

    code = "AuthFailed"


class ProtocolMismatchError(Error):
    """A peer speaks another wire protocol or library version."""

    code = "ProtocolMismatch"


class UnsupportedError(Error):
    """The feature is not available in this build or on this machine."""

    code = "Unsupported"


class InternalError(Error):
    """A bug, or an unexpected failure of a system or transport call."""

    code = "Internal"


_BY_CODE = {cls.code: cls for cls in Error.__subclasses__()}


def class_for_code(code: str) -> type:
    """The exception class of an ``Errc`` name; KeyError for an unknown one."""
    return _BY_CODE[code]
