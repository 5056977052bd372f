"""The exceptions of the cairn binding.

Every error of libcairn or of the daemon is raised as a subclass of :class:`Error`,
carrying the code as a positive number (``code``) and its name (``name``): the schema's
name for protocol codes (``"BLOCKED"``, code 1022, class :class:`BlockedError`), the
errno name for system codes (``"ETIMEDOUT"``, class :class:`TimeoutError`).
"""

import errno as _errno

from . import _protocol


class Error(Exception):
    """An error of cairn: ``code`` (positive), ``name`` and ``message``."""

    def __init__(self, code, message=None, name=None):
        self.code = code
        self.name = name or _protocol.ERROR_NAMES.get(code) or _errno.errorcode.get(code, str(code))
        self.message = message or _protocol.ERROR_MESSAGES.get(code) or "error %d" % code
        super().__init__(code, self.message)

    def __str__(self):
        return "%s (%s, %d)" % (self.message, self.name, self.code)

    def __reduce__(self):
        return (type(self), (self.code, self.message, self.name))


class TimeoutError(Error, TimeoutError):  # noqa: A001 - also the builtin, on purpose
    """The timeout passed before the result came (ETIMEDOUT)."""


class ConnectError(Error, ConnectionError):
    """No daemon to attach to at the socket (ENOENT, ECONNREFUSED, ...)."""


class DisconnectedError(Error, ConnectionError):
    """The daemon went away and no daemon took the session back in time."""


class LaneDroppedError(DisconnectedError):
    """The daemon dropped this connection's lane for corruption."""


class VersionError(Error):
    """The daemon speaks another major version of the protocol."""


def _camel(name):
    return "".join(p[:1] + p[1:].lower() for p in name.split("_"))


#: Exception class by positive code.
CLASSES = {
    _errno.ETIMEDOUT: TimeoutError,
    _errno.ENOENT: ConnectError,
    _errno.ECONNREFUSED: ConnectError,
    _errno.ENOTSOCK: ConnectError,
    _protocol.E_DISCONNECTED: DisconnectedError,
    _protocol.E_LANE_DROPPED: LaneDroppedError,
    _protocol.E_VERSION: VersionError,
}

# One class per protocol error of the schema: BlockedError, TooFastError, ...
for _code, _name in _protocol.ERROR_NAMES.items():
    if _code not in CLASSES:
        _cls = type(_camel(_name) + "Error", (Error,), {
            "__doc__": _protocol.ERROR_MESSAGES[_code][:1].upper() + _protocol.ERROR_MESSAGES[_code][1:] + ".",
            "__module__": __name__.rsplit(".", 1)[0],
        })
        CLASSES[_code] = _cls
    globals()[CLASSES[_code].__name__] = CLASSES[_code]
del _code, _name

for _c in (Error, TimeoutError, ConnectError, DisconnectedError, LaneDroppedError, VersionError):
    _c.__module__ = __name__.rsplit(".", 1)[0]


def make(code, message=None):
    """The exception object for a positive code (what the C module raises)."""
    return CLASSES.get(code, Error)(code, message)


__all__ = ["Error", "make", "CLASSES"] + sorted({c.__name__ for c in CLASSES.values()})
