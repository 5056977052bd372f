"""Type stubs of the extension module cairn._cairn."""

from typing import List, NamedTuple, Optional, Sequence, Tuple, Union

_Timeout = Optional[float]
_Msg = Union[bytes, bytearray, memoryview]

MSG_SIZE: int
VERSION: str

class Pong(NamedTuple):
    client_stamp: int
    ingress_ns: int

class HuntCreated(NamedTuple):
    hunt_id: int
    map_id: int
    width: int
    height: int
    cell_mm: int
    claim_radius_mm: int
    speed_limit_mm_s: int

class HuntDestroyed(NamedTuple):
    hunt_id: int
    players: int
    clues: int

class Joined(NamedTuple):
    player_id: int
    hunt_id: int
    x: int
    y: int

class Left(NamedTuple):
    player_id: int
    claims: int
    score: int

class Moved(NamedTuple):
    player_id: int
    outcome: int
    x: int
    y: int
    clue_id: int
    holder_id: int
    value: int
    score: int

class CluePlaced(NamedTuple):
    clue_id: int
    hunt_id: int
    x: int
    y: int

class ClueRemoved(NamedTuple):
    clue_id: int
    claimed_by: int
    value: int

class PlayerInfo(NamedTuple):
    player_id: int
    hunt_id: int
    x: int
    y: int
    claims: int
    score: int
    stamp_ns: int

class StateHash(NamedTuple):
    hash: int
    applied: int
    hunts: int
    entities: int

class Hit(NamedTuple):
    id: int
    x: int
    y: int
    dist_mm: int
    value: int

class Event(NamedTuple):
    type: int
    hunt_id: int
    order: int
    stamp_ns: int
    player_id: int
    clue_id: int
    value: int
    x: int
    y: int

class Entity(NamedTuple):
    id: int
    hunt_id: int
    kind: int
    flags: int
    block: int
    x: int
    y: int
    claimed_by: int
    claims: int
    value: int
    stamp_ns: int
    order: int

class HuntInfo(NamedTuple):
    id: int
    map_id: int
    width: int
    height: int
    cell_mm: int
    claim_radius_mm: int
    speed_limit_mm_s: int
    blocks_x: int
    blocks_y: int
    shards: int
    players: int
    clues: int
    clues_claimed: int
    map_hash: int
    created_ns: int

class MapInfo(NamedTuple):
    width: int
    height: int
    passable: int
    hash: int
    name: str

class NextMove(NamedTuple):
    status: int
    dir: int
    x: int
    y: int

class Distance(NamedTuple):
    status: int
    straight: int
    diagonal: int
    length_mm: int

class PathBatchInfo(NamedTuple):
    count: int
    failed: int
    method: int
    expansions: int

class PathInfo(NamedTuple):
    count: int
    cells: int
    straight: int
    diagonal: int
    length_mm: int
    method: int
    expansions: int

class QueryReply(NamedTuple):
    count: int
    total: int

class Result(NamedTuple):
    type: int
    status: int
    request_id: int
    payload: bytes

_Any = Union[Pong, HuntCreated, HuntDestroyed, Joined, Left, Moved, CluePlaced, ClueRemoved,
             PlayerInfo, StateHash, Result]

class Events:
    next: int
    missed: int
    generation: int
    def wait(self, timeout: _Timeout = ...) -> bool: ...
    def read(self, max: int = ..., timeout: _Timeout = ...) -> List[Event]: ...

class Client:
    closed: bool
    socket_path: Optional[str]
    def __init__(self, socket_path: Optional[str] = ..., *, name: Optional[str] = ...,
                 cmd_capacity: int = ..., res_capacity: int = ..., blob_size: int = ...,
                 spin_us: int = ..., reconnect_ms: int = ...) -> None: ...
    def __enter__(self) -> "Client": ...
    def __exit__(self, *exc: object) -> None: ...
    def close(self) -> None: ...
    def ping(self, timeout: _Timeout = ...) -> Pong: ...
    def hunt_create(self, map_id: int = ..., claim_radius_mm: int = ..., speed_limit_mm_s: int = ...,
                    cell_mm: int = ..., timeout: _Timeout = ...) -> HuntCreated: ...
    def hunt_destroy(self, hunt_id: int, timeout: _Timeout = ...) -> HuntDestroyed: ...
    def join(self, hunt_id: int, x: int, y: int, timeout: _Timeout = ...) -> int: ...
    def leave(self, hunt_id: int, player_id: int, timeout: _Timeout = ...) -> Left: ...
    def move(self, hunt_id: int, player_id: int, x: int, y: int, timeout: _Timeout = ...) -> Moved: ...
    def clue_place(self, hunt_id: int, x: int, y: int, value: int, timeout: _Timeout = ...) -> int: ...
    def clue_remove(self, hunt_id: int, clue_id: int, timeout: _Timeout = ...) -> ClueRemoved: ...
    def player_state(self, hunt_id: int, player_id: int, timeout: _Timeout = ...) -> PlayerInfo: ...
    def state_hash(self, timeout: _Timeout = ...) -> StateHash: ...
    def call(self, msg: _Msg, timeout: _Timeout = ...) -> _Any: ...
    def call_many(self, msgs: Sequence[_Msg], timeout: _Timeout = ...) -> List[Union[_Any, Exception]]: ...
    def move_many(self, hunt_id: int, moves: Sequence[Tuple[int, int, int]],
                  timeout: _Timeout = ...) -> List[Union[Moved, Exception]]: ...
    def submit(self, msg: _Msg) -> Optional[int]: ...
    def submit_many(self, msgs: Sequence[_Msg]) -> List[int]: ...
    def poll(self, max: int = ...) -> List[Tuple[int, Union[_Any, Exception]]]: ...
    def wait(self, max: int = ..., timeout: _Timeout = ...) -> List[Tuple[int, Union[_Any, Exception]]]: ...
    def nearest_clues(self, hunt_id: int, x: int, y: int, k: int, include_claimed: bool = ...,
                      timeout: _Timeout = ...) -> List[Hit]: ...
    def players_near(self, hunt_id: int, x: int, y: int, radius_mm: int, max: int = ...,
                     timeout: _Timeout = ...) -> Tuple[List[Hit], int]: ...
    def leaderboard(self, hunt_id: int, k: int, timeout: _Timeout = ...) -> List[Hit]: ...
    def next_moves(self, hunt_id: int, pairs: Sequence[Tuple[int, int, int, int]], method: int = ...,
                   timeout: _Timeout = ...) -> List[NextMove]: ...
    def distances(self, hunt_id: int, pairs: Sequence[Tuple[int, int, int, int]], method: int = ...,
                  timeout: _Timeout = ...) -> List[Distance]: ...
    def path(self, hunt_id: int, from_x: int, from_y: int, to_x: int, to_y: int, waypoints: bool = ...,
             method: int = ..., timeout: _Timeout = ...) -> Tuple[List[Tuple[int, int]], PathInfo]: ...
    def path_to_clue(self, hunt_id: int, player_id: int, clue_id: int, waypoints: bool = ...,
                     method: int = ..., timeout: _Timeout = ...) -> Tuple[List[Tuple[int, int]], PathInfo]: ...
    def read_map(self, map_id: int) -> MapInfo: ...
    def read_hunt(self, hunt_id: int) -> HuntInfo: ...
    def read_entity(self, hunt_id: int, id: int) -> Entity: ...
    def read_rect(self, hunt_id: int, x0: int, y0: int, x1: int, y1: int, players: bool = ...,
                  clues: bool = ..., cap: int = ...) -> List[Entity]: ...
    def daemon_info(self) -> dict: ...
    def check(self) -> None: ...
    def events(self) -> Events: ...

def strerror(code: int) -> str: ...
def decode(msg: _Msg) -> Union[_Any, Exception]: ...
def default_socket_path() -> str: ...
def msg(type: int, payload: bytes = ...) -> bytes: ...
def msg_move(hunt_id: int, player_id: int, x: int, y: int) -> bytes: ...
def msg_join(hunt_id: int, x: int, y: int) -> bytes: ...
def msg_leave(hunt_id: int, player_id: int) -> bytes: ...
def msg_hunt_create(map_id: int = ..., claim_radius_mm: int = ..., speed_limit_mm_s: int = ...,
                    cell_mm: int = ...) -> bytes: ...
def msg_hunt_destroy(hunt_id: int) -> bytes: ...
def msg_clue_place(hunt_id: int, x: int, y: int, value: int) -> bytes: ...
def msg_clue_remove(hunt_id: int, clue_id: int) -> bytes: ...
def _set_error_factory(f: object) -> None: ...
