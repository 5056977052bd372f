// TypeScript declarations of the cairn Node binding (index.js).
// 64-bit fields are bigint, except game quantities (score, value), which are numbers.

import * as protocolConstants from './lib/protocol';

export interface OpenOptions {
	/** Command ring slots, a power of two; 0 = 1024. */
	cmdCapacity?: number;
	/** Result ring slots, a power of two; 0 = 1024. */
	resCapacity?: number;
	/** Blob arena bytes; 0 = 1 MiB. */
	blobSize?: number;
	/** Busy-poll this long before yielding when waiting; 0 = 50. */
	spinUs?: number;
	/** Shown to operators. */
	name?: string;
	/** How long to try to reattach after the daemon went away; -1: never; 0 = 10000. */
	reconnectMs?: number;
	/** Default timeout of every call, ms (5000); -1 or Infinity: none. */
	timeoutMs?: number;
	/** The socket, when the options are the only argument. */
	socket?: string;
}

export interface CallOptions {
	/** Overrides the client's timeoutMs for this call. */
	timeoutMs?: number;
}

export interface HuntParams {
	mapId?: number;
	claimRadiusMm?: number;
	speedLimitMmS?: number;
	cellMm?: number;
}

export interface HuntCreated {
	huntId: number; mapId: number; width: number; height: number;
	cellMm: number; claimRadiusMm: number; speedLimitMmS: number;
}
export interface HuntDestroyed { huntId: number; players: number; clues: number; }
export interface Left { playerId: number; claims: number; score: number; }
export interface Moved {
	playerId: number;
	/** CLAIM_NONE, CLAIM_WON or CLAIM_LOST. */
	outcome: number;
	x: number; y: number; clueId: number; holderId: number; value: number; score: number;
}
export interface ClueRemoved { clueId: number; claimedBy: number; value: number; }
export interface PlayerInfo {
	playerId: number; huntId: number; x: number; y: number; claims: number; score: number; stampNs: bigint;
}
export interface StateHash { hash: bigint; applied: bigint; hunts: number; entities: number; }
export interface WalStatus {
	appendedLsn: bigint; durableLsn: bigint; snapshotLsn: bigint; error: number; backend: number; durability: number;
}
export interface SnapshotTaken { lsn: bigint; stateHash: bigint; bytes: bigint; durationNs: bigint; }
export interface RolledBack { huntId: number; players: number; targetLsn: bigint; lsn: bigint; clues: number; }
export interface Pong { clientStamp: bigint; ingressNs: bigint; }
export interface Hit { id: number; x: number; y: number; distMm: number; value: number; }
export interface PathPair { fromX: number; fromY: number; toX: number; toY: number; }
export interface NextMoveItem { status: number; dir: number; x: number; y: number; }
export interface DistanceItem { status: number; straight: number; diagonal: number; lengthMm: number; }
export interface PathBatchReply {
	count: number; failed: number; outOffset: number; outLength: number; method: number; expansions: number;
}
export interface PathPoint { x: number; y: number; }
export interface PathReply {
	count: number; cells: number; straight: number; diagonal: number; lengthMm: number;
	outOffset: number; outLength: number; method: number; expansions: number;
}
export interface PathOptions extends CallOptions {
	/** Only the turning points. */
	waypoints?: boolean;
	/** METHOD_AUTO (0), METHOD_ASTAR, METHOD_JPS or METHOD_TABLE. */
	method?: number;
	/** Most points accepted (4096); a longer path throws BLOB_TOO_SMALL with .needed. */
	cap?: number;
}
export interface BatchOptions extends CallOptions { method?: number; }
export interface MapInfo { width: number; height: number; passable: number; tableState: number; hash: bigint; name: string; }
export interface HuntInfo {
	seq: bigint; id: number; mapId: number; width: number; height: number; cellMm: number;
	claimRadiusMm: number; speedLimitMmS: number; blocksX: number; blocksY: number; shards: number;
	shardsOffset: bigint; blocksOffset: bigint; players: number; clues: number; cluesClaimed: number;
	[field: string]: number | bigint;
}
export interface Entity {
	id: number; huntId: number; kind: number; flags: number; block: number; next: number;
	x: number; y: number; claimedBy: number; claims: number; value: number; stampNs: bigint; order: bigint;
}
export interface CairnEvent {
	/** An EVENT_* value. */
	type: number;
	huntId: number; order: bigint; stampNs: bigint; playerId: number; clueId: number;
	value: number; x: number; y: number;
}
export interface DaemonInfo {
	pid: number; state: number; maxLanes: number; applyCpu: number; numaNode: number; laneId: number;
	clientId: bigint; bootEpochNs: bigint; heartbeatAgeNs: bigint; sessionId: bigint;
	dedupWindow: number; resumed: number; durableLsn: bigint; reconnects: number; resubmitted: number;
	counters: Record<string, bigint>;
	engine: Record<string, bigint | bigint[]>;
}
export interface RawReply { type: number; status: number; payload: Uint8Array; }

export class CairnError extends Error {
	constructor(code: number, extra?: object);
	/** The positive code: a protocol code of the schema (e.g. 1017) or an errno value. */
	readonly code: number;
	/** The negative code, as libcairn returns it. */
	readonly errno: number;
	/** The schema's name ("UNKNOWN_HUNT") or the errno name ("ETIMEDOUT"). */
	readonly codeName: string;
	readonly name: 'CairnError';
	/** ERROR answers: the failed command's type and the daemon's detail value. */
	readonly requestType?: number;
	readonly detail?: number;
	/** BLOB_TOO_SMALL from a path call: the points needed. */
	readonly needed?: number;
}

export class EventFeed {
	/** Events overwritten before this feed read them, so far. */
	readonly missed: bigint;
	/** Number of the next event to read. */
	readonly position: bigint;
	/** Up to max (256) events, never waiting. */
	read(max?: number): CairnEvent[];
	/** Waits on the JS thread up to timeoutMs (default 0). */
	nextSync(opts?: { max?: number; timeoutMs?: number }): CairnEvent[];
	/** The next events, or [] after timeoutMs (default: no limit). Does not keep the process alive. */
	next(opts?: { max?: number; timeoutMs?: number }): Promise<CairnEvent[]>;
	[Symbol.asyncIterator](): AsyncGenerator<CairnEvent, never, void>;
}

export class Client {
	constructor(socketPath?: string | null, options?: OpenOptions);
	constructor(options: OpenOptions);
	static open(socketPath?: string | null, options?: OpenOptions): Client;
	static defaultSocketPath(): string;
	timeoutMs: number;
	close(): void;

	pingSync(opts?: CallOptions): void;
	ping(opts?: CallOptions): Promise<void>;
	echoSync(data: Uint8Array, opts?: CallOptions): Uint8Array;
	echo(data: Uint8Array, opts?: CallOptions): Promise<Uint8Array>;
	huntCreateSync(params?: HuntParams, opts?: CallOptions): HuntCreated;
	huntCreate(params?: HuntParams, opts?: CallOptions): Promise<HuntCreated>;
	huntDestroySync(huntId: number, opts?: CallOptions): HuntDestroyed;
	huntDestroy(huntId: number, opts?: CallOptions): Promise<HuntDestroyed>;
	/** Returns the new player's id. */
	joinSync(huntId: number, x: number, y: number, opts?: CallOptions): number;
	join(huntId: number, x: number, y: number, opts?: CallOptions): Promise<number>;
	leaveSync(huntId: number, playerId: number, opts?: CallOptions): Left;
	leave(huntId: number, playerId: number, opts?: CallOptions): Promise<Left>;
	moveSync(huntId: number, playerId: number, x: number, y: number, opts?: CallOptions): Moved;
	move(huntId: number, playerId: number, x: number, y: number, opts?: CallOptions): Promise<Moved>;
	/** Returns the new clue's id. */
	cluePlaceSync(huntId: number, x: number, y: number, value: number | bigint, opts?: CallOptions): number;
	cluePlace(huntId: number, x: number, y: number, value: number | bigint, opts?: CallOptions): Promise<number>;
	clueRemoveSync(huntId: number, clueId: number, opts?: CallOptions): ClueRemoved;
	clueRemove(huntId: number, clueId: number, opts?: CallOptions): Promise<ClueRemoved>;
	playerStateSync(huntId: number, playerId: number, opts?: CallOptions): PlayerInfo;
	playerState(huntId: number, playerId: number, opts?: CallOptions): Promise<PlayerInfo>;
	stateHashSync(opts?: CallOptions): StateHash;
	stateHash(opts?: CallOptions): Promise<StateHash>;
	walStatusSync(opts?: CallOptions): WalStatus;
	walStatus(opts?: CallOptions): Promise<WalStatus>;
	snapshot(opts?: CallOptions): Promise<SnapshotTaken>;
	rollback(huntId: number, lsn: bigint | number, opts?: CallOptions): Promise<RolledBack>;
	/** Any command by type: the decoded reply for known types, else RawReply. */
	callSync(type: number, payload?: Uint8Array, opts?: CallOptions): unknown;
	call(type: number, payload?: Uint8Array, opts?: CallOptions): Promise<unknown>;

	nearestCluesSync(huntId: number, x: number, y: number, k: number, opts?: CallOptions & { includeClaimed?: boolean }): Hit[];
	nearestClues(huntId: number, x: number, y: number, k: number, opts?: CallOptions & { includeClaimed?: boolean }): Promise<Hit[]>;
	playersNearSync(huntId: number, x: number, y: number, radiusMm: number, max: number, opts?: CallOptions): { hits: Hit[]; total: number };
	playersNear(huntId: number, x: number, y: number, radiusMm: number, max: number, opts?: CallOptions): Promise<{ hits: Hit[]; total: number }>;
	leaderboardSync(huntId: number, k: number, opts?: CallOptions): Hit[];
	leaderboard(huntId: number, k: number, opts?: CallOptions): Promise<Hit[]>;

	nextMovesSync(huntId: number, pairs: PathPair[], opts?: BatchOptions): { items: NextMoveItem[]; info: PathBatchReply };
	nextMoves(huntId: number, pairs: PathPair[], opts?: BatchOptions): Promise<{ items: NextMoveItem[]; info: PathBatchReply }>;
	distancesSync(huntId: number, pairs: PathPair[], opts?: BatchOptions): { items: DistanceItem[]; info: PathBatchReply };
	distances(huntId: number, pairs: PathPair[], opts?: BatchOptions): Promise<{ items: DistanceItem[]; info: PathBatchReply }>;
	pathSync(huntId: number, fromX: number, fromY: number, toX: number, toY: number, opts?: PathOptions): { points: PathPoint[]; info: PathReply };
	path(huntId: number, fromX: number, fromY: number, toX: number, toY: number, opts?: PathOptions): Promise<{ points: PathPoint[]; info: PathReply }>;
	pathToClueSync(huntId: number, playerId: number, clueId: number, opts?: PathOptions): { points: PathPoint[]; info: PathReply };
	pathToClue(huntId: number, playerId: number, clueId: number, opts?: PathOptions): Promise<{ points: PathPoint[]; info: PathReply }>;

	readMap(mapId?: number): MapInfo;
	readHunt(huntId: number): HuntInfo;
	readEntity(huntId: number, id: number): Entity;
	readRect(huntId: number, x0: number, y0: number, x1: number, y1: number,
		opts?: { players?: boolean; clues?: boolean; cap?: number }): { entities: Entity[]; matched: number };

	openEvents(): EventFeed;
	nextEvents(feed: EventFeed, opts?: { max?: number; timeoutMs?: number }): Promise<CairnEvent[]>;
	daemonInfo(): DaemonInfo;
	check(): void;
}

export function connect(socketPath?: string | null, options?: OpenOptions): Client;

export namespace codec {
	function decodeRaw(name: string, bytes: Uint8Array): Record<string, number | bigint | Uint8Array | Array<number | bigint>>;
	function encodeRaw(name: string, values: Record<string, unknown>): Uint8Array;
}
/** The generated protocol constants (lib/protocol.js), also exported one by one below. */
export const protocol: typeof protocolConstants;

/** Every constant of the protocol (MSG_*, E_*, EVENT_*, CLAIM_*, DIR_*, ...), the error
 * tables and STRUCTS: generated from shm-protocol/schema.json with lib/protocol.js. */
export * from './lib/protocol';
