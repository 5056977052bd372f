"""cairn: the Python binding of cairnd, the shared-memory game-state coprocessor.

    import cairn
    with cairn.Client("/run/user/1000/cairn/cairnd.sock") as c:
        hunt = c.hunt_create()
        p = c.join(hunt.hunt_id, 1500, 1500)
        moved = c.move(hunt.hunt_id, p, 2500, 1500)

The connection, the rings, the reattach after a daemon restart, the grid reads and the
event feed are libcairn's, compiled into the extension module ``cairn._cairn``. Every
method is thread-safe; every blocking wait releases the GIL and lets Ctrl-C through.
See README.md for the whole API, and :mod:`cairn.aio` for asyncio.
"""

from . import _errors, _protocol, msg
from ._cairn import (Client, Distance, Entity, Event, Events, Hit, HuntCreated, HuntDestroyed,
                     HuntInfo, Joined, Left, MapInfo, Moved, NextMove, PathBatchInfo, PathInfo,
                     PlayerInfo, Pong, QueryReply, Result, StateHash, CluePlaced, ClueRemoved,
                     decode, default_socket_path, strerror)
from ._cairn import _set_error_factory
from ._errors import *  # noqa: F401,F403 - the exception classes
from ._errors import CLASSES as ERRORS, Error
from ._protocol import (CLAIM_LOST, CLAIM_NONE, CLAIM_WON, ENTITY_CLUE, ENTITY_PLAYER,
                        EVENT_CLUE_CLAIMED, EVENT_CLUE_PLACED, EVENT_CLUE_REMOVED,
                        EVENT_HUNT_CREATED, EVENT_HUNT_DESTROYED, EVENT_HUNT_ROLLED_BACK,
                        EVENT_PLAYER_JOINED, EVENT_PLAYER_LEFT, FLAG_CLAIMED, METHOD_ASTAR,
                        METHOD_AUTO, METHOD_JPS, METHOD_TABLE, PROTO_MAJOR, PROTO_MINOR)

_set_error_factory(_errors.make)

__version__ = "0.1.0"

#: Event type names by value.
EVENT_NAMES = {v: k[len("EVENT_"):] for k, v in vars(_protocol).items()
               if k.startswith("EVENT_") and isinstance(v, int)}
