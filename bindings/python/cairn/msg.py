"""Commands as 56-byte ``bytes``, for :meth:`cairn.Client.call`, ``call_many``, ``submit``.

The typed builders are libcairn's own (``cairn_msg_*``); :func:`player_state`,
:func:`state_hash` and :func:`ping` are built here from the schema's layout.
"""

import struct as _struct

from . import _protocol as _p
from ._cairn import (msg, msg_clue_place as clue_place, msg_clue_remove as clue_remove,
                     msg_hunt_create as hunt_create, msg_hunt_destroy as hunt_destroy,
                     msg_join as join, msg_leave as leave, msg_move as move)


def ping(client_stamp=0):
    """A PING with a stamp the PONG returns."""
    return msg(_p.MSG_PING, _struct.pack("<Q", client_stamp))


def player_state(hunt_id, player_id):
    """A PLAYER_STATE query."""
    return msg(_p.MSG_PLAYER_STATE, _struct.pack("<II", hunt_id, player_id))


def state_hash():
    """A STATE_HASH query."""
    return msg(_p.MSG_STATE_HASH)


def echo(data):
    """An ECHO of up to 40 bytes."""
    return msg(_p.MSG_ECHO, bytes(data))


__all__ = ["msg", "ping", "echo", "hunt_create", "hunt_destroy", "join", "leave", "move",
           "clue_place", "clue_remove", "player_state", "state_hash"]
