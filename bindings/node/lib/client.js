'use strict';
// The Client class: libcairn (inside the addon) behind typed methods.
//
// Every command comes in two forms:
//   fooSync(...)  the fast path: one Node-API call that pushes the command and waits for
//                 its result inside libcairn (it spins, then yields, then sleeps), on the
//                 JS thread. Use it where the wait is shorter than a trip through the
//                 event loop: it is, for a daemon on the same machine.
//   foo(...)      a Promise. Simple commands are pushed at once from the JS thread and
//                 their results taken by the client's waiter thread; queries, paths and
//                 event waits run on worker threads. The event loop never blocks.
// Both throw (or reject with) CairnError. Payloads are written straight into a scratch
// buffer shared with the addon, at offsets read from the generated STRUCTS tables.
const path = require('path');
const P = require('./protocol');
const { CairnError, setStrerror } = require('./errors');
const { decoder, decodeArray, offsets, view } = require('./codec');

const native = require(path.join(__dirname, '..', 'build', 'Release', 'cairn.node'));
native.setErrorClass(CairnError);
setStrerror(native.strerror);

// Operations of src/jobs.c (enum job_op).
const OP = {
	NEAREST_CLUES: 1, PLAYERS_NEAR: 2, LEADERBOARD: 3, NEXT_MOVES: 4, DISTANCES: 5,
	PATH: 6, PATH_TO_CLUE: 7, EVENTS_OPEN: 8, EVENTS_READ: 9, EVENTS_WAIT: 10,
	READ_MAP: 11, READ_HUNT: 12, READ_ENTITY: 13, READ_RECT: 14,
};

const PAYLOAD = P.STRUCTS.msg.fields.find((f) => f[0] === 'payload')[1];
const HDR = offsets('msg_hdr');
const O = {
	huntCreate: offsets('hunt_create'), huntRef: offsets('hunt_ref'), join: offsets('join'),
	playerRef: offsets('player_ref'), move: offsets('move'), cluePlace: offsets('clue_place'),
	clueRef: offsets('clue_ref'), rollback: offsets('rollback'), ping: offsets('ping'),
	pair: offsets('path_pair'), cursor: null,
};

const dec = {
	pong: decoder('pong'), huntCreated: decoder('hunt_created'),
	huntDestroyed: decoder('hunt_destroyed'), joined: decoder('joined'), left: decoder('left'),
	moved: decoder('moved'), cluePlaced: decoder('clue_placed'),
	clueRemoved: decoder('clue_removed'), playerInfo: decoder('player_info'),
	stateHash: decoder('state_hash_reply'), walStatus: decoder('wal_status'),
	snapshot: decoder('snapshot_reply'), rolledBack: decoder('rollback_reply'),
	errorInfo: decoder('error_info'), msgHdr: decoder('msg_hdr'),
	pathReply: decoder('path_reply'), batchReply: decoder('path_batch_reply'),
	mapInfo: decoder('map_info'), huntInfo: decoder('hunt_info'), entity: decoder('entity'),
	daemonCounters: decoder('daemon_counters'), engineCounters: decoder('engine_counters'),
};

// Reply type, shortest acceptable length and decoder of each command.
const REPLY = {};
function reply(cmd, rep, fn) {
	REPLY[P[`MSG_${cmd}`]] = { type: P[`MSG_${rep}`], min: P[`MSG_${rep}_LEN_MIN`], fn };
}
reply('PING', 'PONG', (dv, o) => dec.pong(dv, o));
reply('ECHO', 'ECHO_REPLY', (dv, o, len) => new Uint8Array(dv.buffer.slice(dv.byteOffset + o, dv.byteOffset + o + len)));
reply('HUNT_CREATE', 'HUNT_CREATED', (dv, o) => dec.huntCreated(dv, o));
reply('HUNT_DESTROY', 'HUNT_DESTROYED', (dv, o) => dec.huntDestroyed(dv, o));
reply('JOIN', 'JOINED', (dv, o) => dec.joined(dv, o));
reply('LEAVE', 'LEFT', (dv, o) => dec.left(dv, o));
reply('MOVE', 'MOVED', (dv, o) => dec.moved(dv, o));
reply('CLUE_PLACE', 'CLUE_PLACED', (dv, o) => dec.cluePlaced(dv, o));
reply('CLUE_REMOVE', 'CLUE_REMOVED', (dv, o) => dec.clueRemoved(dv, o));
reply('PLAYER_STATE', 'PLAYER_INFO', (dv, o) => dec.playerInfo(dv, o));
reply('STATE_HASH', 'STATE_HASH_REPLY', (dv, o) => dec.stateHash(dv, o));
reply('WAL_STATUS', 'WAL_STATUS_REPLY', (dv, o) => dec.walStatus(dv, o));
reply('SNAPSHOT', 'SNAPSHOT_TAKEN', (dv, o) => dec.snapshot(dv, o));
reply('ROLLBACK', 'ROLLED_BACK', (dv, o) => dec.rolledBack(dv, o));

const MS = 1e6;

function timeoutNs(opts, dflt) {
	const ms = opts && opts.timeoutMs !== undefined ? opts.timeoutMs : dflt;
	if (ms === Infinity || ms < 0) return -1;
	return Math.round(ms * MS);
}

// The result message at dv (scratch, or a Buffer from the waiter) for command type:
// its decoded payload, or a CairnError (an ERROR answer, a local failure, a bad reply).
function decodeResult(dv, type, rc) {
	const rtype = dv.getUint16(HDR.type, true);
	if (rtype === P.MSG_ERROR) {
		const status = dv.getInt32(HDR.status, true);
		const info = dec.errorInfo(dv, PAYLOAD);
		throw new CairnError(status > 0 ? status : P.E_BAD_REPLY, { detail: info.detail, requestType: info.requestType });
	}
	if (rc < 0) throw new CairnError(rc);
	const r = REPLY[type];
	const len = dv.getUint8(HDR.length);
	if (!r) return { type: rtype, status: dv.getInt32(HDR.status, true), payload: new Uint8Array(dv.buffer.slice(dv.byteOffset + PAYLOAD, dv.byteOffset + PAYLOAD + len)) };
	if (rtype !== r.type || len < r.min) throw new CairnError(P.E_BAD_REPLY);
	return r.fn(dv, PAYLOAD, len);
}

function hits(res) {
	return decodeArray('hit', res[0], res[1]);
}

function pairsBytes(pairs) {
	if (!Array.isArray(pairs) || pairs.length === 0 || pairs.length > P.MAX_PATH_BATCH) {
		throw new CairnError(22 /* EINVAL */);
	}
	const size = P.STRUCTS.path_pair.size;
	const bytes = new Uint8Array(pairs.length * size);
	const dv = view(bytes);
	pairs.forEach((p, i) => {
		dv.setInt32(i * size + O.pair.from_x, p.fromX, true);
		dv.setInt32(i * size + O.pair.from_y, p.fromY, true);
		dv.setInt32(i * size + O.pair.to_x, p.toX, true);
		dv.setInt32(i * size + O.pair.to_y, p.toY, true);
	});
	return bytes;
}

function rectMask(opts) {
	const players = !opts || opts.players !== false;
	const clues = !opts || opts.clues !== false;
	return (players ? 1 : 0) | (clues ? 2 : 0);
}

// The event feed: a cursor on the daemon's broadcast ring (see cairn.h, Events).
class EventFeed {
	constructor(client) {
		this._client = client;
		this._cursor = new Uint8Array(native.run(client._h, OP.EVENTS_OPEN, false, [], null, 0)[3]);
		this._busy = false;
	}

	// Events overwritten before this feed got to them, so far.
	get missed() {
		return view(this._cursor).getBigUint64(8, true);
	}

	// Number of the next event to read.
	get position() {
		return view(this._cursor).getBigUint64(0, true);
	}

	_take(res) {
		this._cursor = new Uint8Array(res[3]);
		return decodeArray('event', res[0], res[1]);
	}

	_enter() {
		if (this._busy) throw new Error('cairn: one wait at a time on an event feed');
		this._busy = true;
	}

	// Up to max events published since the last read, never waiting.
	read(max = 256) {
		this._enter();
		try {
			return this._take(native.run(this._client._h, OP.EVENTS_READ, false, [max], this._cursor, 0));
		} finally {
			this._busy = false;
		}
	}

	// Waits on the JS thread up to timeoutMs (default 0: only look) for events.
	nextSync(opts = {}) {
		this._enter();
		try {
			const t = timeoutNs(opts, 0);
			return this._take(native.run(this._client._h, OP.EVENTS_WAIT, false, [opts.max || 256], this._cursor, t));
		} finally {
			this._busy = false;
		}
	}

	// Resolves with the next events (up to max), or [] after timeoutMs (default: wait
	// for ever). The wait runs on a worker thread and does not keep the process alive.
	async next(opts = {}) {
		this._enter();
		try {
			const t = timeoutNs(opts, -1);
			return this._take(await native.run(this._client._h, OP.EVENTS_WAIT, true, [opts.max || 256], this._cursor, t));
		} finally {
			this._busy = false;
		}
	}

	async *[Symbol.asyncIterator]() {
		for (;;) {
			for (const e of await this.next()) yield e;
		}
	}
}

class Client {
	// Attaches to cairnd at socketPath (default: $CAIRN_SOCKET, then cairnd's default).
	// options: cmdCapacity, resCapacity, blobSize, spinUs, name, reconnectMs (see
	// struct cairn_open_options), timeoutMs (default for every call, 5000).
	constructor(socketPath, options = {}) {
		if (socketPath && typeof socketPath === 'object') {
			options = socketPath;
			socketPath = options.socket;
		}
		this._scratch = new ArrayBuffer(64);
		this._dv = new DataView(this._scratch);
		this._u8 = new Uint8Array(this._scratch);
		this._h = native.open(socketPath || null, options, this._scratch);
		this.timeoutMs = options.timeoutMs !== undefined ? options.timeoutMs : 5000;
		this._t = timeoutNs(null, this.timeoutMs);
		const blob = options.blobSize || P.BLOB_DEFAULT_SIZE;
		this._slicesFree = Math.max(1, Math.min(8, Math.floor(blob / native.QUERY_SLICE_SIZE)));
		this._sliceWaiters = [];
	}

	static open(socketPath, options) {
		return new Client(socketPath, options);
	}

	static defaultSocketPath() {
		return native.defaultSocketPath();
	}

	// Settles every pending promise (answers that arrived are delivered, the rest are
	// rejected with ECANCELED), stops the client's threads and detaches. Idempotent.
	close() {
		native.close(this._h);
	}

	_timeout(opts) {
		return opts && opts.timeoutMs !== undefined ? timeoutNs(opts) : this._t;
	}

	// Clears the payload and returns the scratch view to write it into.
	_payload() {
		this._u8.fill(0, PAYLOAD, PAYLOAD + P.PAYLOAD_SIZE);
		return this._dv;
	}

	_sync(type, length, opts) {
		const rc = native.callSync(this._h, type, length, this._timeout(opts));
		return decodeResult(this._dv, type, rc);
	}

	async _async(type, length, opts) {
		const buf = await native.callAsync(this._h, type, length, this._timeout(opts));
		return decodeResult(view(buf), type, 0);
	}

	// ---- commands, each as fooSync and foo ----

	pingSync(opts) {
		const rc = native.pingSync(this._h, this._timeout(opts));
		if (rc < 0) throw new CairnError(rc);
	}

	async ping(opts) {
		this._payload();
		await this._async(P.MSG_PING, P.MSG_PING_LEN_MIN, opts);
	}

	_echo(data) {
		if (data.length > P.PAYLOAD_SIZE) throw new CairnError(22);
		this._payload();
		this._u8.set(data, PAYLOAD);
		return data.length;
	}

	echoSync(data, opts) {
		return this._sync(P.MSG_ECHO, this._echo(data), opts);
	}

	echo(data, opts) {
		return this._async(P.MSG_ECHO, this._echo(data), opts);
	}

	_huntCreate(params = {}) {
		const dv = this._payload();
		dv.setUint32(PAYLOAD + O.huntCreate.map_id, params.mapId || 0, true);
		dv.setUint32(PAYLOAD + O.huntCreate.claim_radius_mm, params.claimRadiusMm || 0, true);
		dv.setUint32(PAYLOAD + O.huntCreate.speed_limit_mm_s, params.speedLimitMmS || 0, true);
		dv.setUint32(PAYLOAD + O.huntCreate.cell_mm, params.cellMm || 0, true);
		return P.MSG_HUNT_CREATE_LEN_MIN;
	}

	huntCreateSync(params, opts) {
		return this._sync(P.MSG_HUNT_CREATE, this._huntCreate(params), opts);
	}

	huntCreate(params, opts) {
		return this._async(P.MSG_HUNT_CREATE, this._huntCreate(params), opts);
	}

	_huntRef(huntId) {
		this._payload().setUint32(PAYLOAD + O.huntRef.hunt_id, huntId, true);
		return P.MSG_HUNT_DESTROY_LEN_MIN;
	}

	huntDestroySync(huntId, opts) {
		return this._sync(P.MSG_HUNT_DESTROY, this._huntRef(huntId), opts);
	}

	huntDestroy(huntId, opts) {
		return this._async(P.MSG_HUNT_DESTROY, this._huntRef(huntId), opts);
	}

	_join(huntId, x, y) {
		const dv = this._payload();
		dv.setUint32(PAYLOAD + O.join.hunt_id, huntId, true);
		dv.setInt32(PAYLOAD + O.join.x, x, true);
		dv.setInt32(PAYLOAD + O.join.y, y, true);
		return P.MSG_JOIN_LEN_MIN;
	}

	// Returns the new player's id.
	joinSync(huntId, x, y, opts) {
		return this._sync(P.MSG_JOIN, this._join(huntId, x, y), opts).playerId;
	}

	async join(huntId, x, y, opts) {
		return (await this._async(P.MSG_JOIN, this._join(huntId, x, y), opts)).playerId;
	}

	_playerRef(huntId, playerId, len) {
		const dv = this._payload();
		dv.setUint32(PAYLOAD + O.playerRef.hunt_id, huntId, true);
		dv.setUint32(PAYLOAD + O.playerRef.player_id, playerId, true);
		return len;
	}

	leaveSync(huntId, playerId, opts) {
		return this._sync(P.MSG_LEAVE, this._playerRef(huntId, playerId, P.MSG_LEAVE_LEN_MIN), opts);
	}

	leave(huntId, playerId, opts) {
		return this._async(P.MSG_LEAVE, this._playerRef(huntId, playerId, P.MSG_LEAVE_LEN_MIN), opts);
	}

	playerStateSync(huntId, playerId, opts) {
		return this._sync(P.MSG_PLAYER_STATE, this._playerRef(huntId, playerId, P.MSG_PLAYER_STATE_LEN_MIN), opts);
	}

	playerState(huntId, playerId, opts) {
		return this._async(P.MSG_PLAYER_STATE, this._playerRef(huntId, playerId, P.MSG_PLAYER_STATE_LEN_MIN), opts);
	}

	_move(huntId, playerId, x, y) {
		const dv = this._payload();
		dv.setUint32(PAYLOAD + O.move.hunt_id, huntId, true);
		dv.setUint32(PAYLOAD + O.move.player_id, playerId, true);
		dv.setInt32(PAYLOAD + O.move.x, x, true);
		dv.setInt32(PAYLOAD + O.move.y, y, true);
		return P.MSG_MOVE_LEN_MIN;
	}

	// {playerId, outcome (CLAIM_NONE/WON/LOST), x, y, clueId, holderId, value, score}
	moveSync(huntId, playerId, x, y, opts) {
		return this._sync(P.MSG_MOVE, this._move(huntId, playerId, x, y), opts);
	}

	move(huntId, playerId, x, y, opts) {
		return this._async(P.MSG_MOVE, this._move(huntId, playerId, x, y), opts);
	}

	_cluePlace(huntId, x, y, value) {
		const dv = this._payload();
		dv.setUint32(PAYLOAD + O.cluePlace.hunt_id, huntId, true);
		dv.setInt32(PAYLOAD + O.cluePlace.x, x, true);
		dv.setInt32(PAYLOAD + O.cluePlace.y, y, true);
		dv.setBigInt64(PAYLOAD + O.cluePlace.value, BigInt(value), true);
		return P.MSG_CLUE_PLACE_LEN_MIN;
	}

	// Returns the new clue's id.
	cluePlaceSync(huntId, x, y, value, opts) {
		return this._sync(P.MSG_CLUE_PLACE, this._cluePlace(huntId, x, y, value), opts).clueId;
	}

	async cluePlace(huntId, x, y, value, opts) {
		return (await this._async(P.MSG_CLUE_PLACE, this._cluePlace(huntId, x, y, value), opts)).clueId;
	}

	_clueRef(huntId, clueId) {
		const dv = this._payload();
		dv.setUint32(PAYLOAD + O.clueRef.hunt_id, huntId, true);
		dv.setUint32(PAYLOAD + O.clueRef.clue_id, clueId, true);
		return P.MSG_CLUE_REMOVE_LEN_MIN;
	}

	clueRemoveSync(huntId, clueId, opts) {
		return this._sync(P.MSG_CLUE_REMOVE, this._clueRef(huntId, clueId), opts);
	}

	clueRemove(huntId, clueId, opts) {
		return this._async(P.MSG_CLUE_REMOVE, this._clueRef(huntId, clueId), opts);
	}

	stateHashSync(opts) {
		this._payload();
		return this._sync(P.MSG_STATE_HASH, P.MSG_STATE_HASH_LEN_MIN, opts);
	}

	stateHash(opts) {
		this._payload();
		return this._async(P.MSG_STATE_HASH, P.MSG_STATE_HASH_LEN_MIN, opts);
	}

	walStatusSync(opts) {
		this._payload();
		return this._sync(P.MSG_WAL_STATUS, P.MSG_WAL_STATUS_LEN_MIN, opts);
	}

	walStatus(opts) {
		this._payload();
		return this._async(P.MSG_WAL_STATUS, P.MSG_WAL_STATUS_LEN_MIN, opts);
	}

	snapshot(opts) {
		this._payload();
		return this._async(P.MSG_SNAPSHOT, P.MSG_SNAPSHOT_LEN_MIN, opts);
	}

	_rollback(huntId, lsn) {
		const dv = this._payload();
		dv.setUint32(PAYLOAD + O.rollback.hunt_id, huntId, true);
		dv.setBigUint64(PAYLOAD + O.rollback.lsn, BigInt(lsn), true);
		return P.MSG_ROLLBACK_LEN_MIN;
	}

	rollback(huntId, lsn, opts) {
		return this._async(P.MSG_ROLLBACK, this._rollback(huntId, lsn), opts);
	}

	// Any command by type with a raw payload (Uint8Array, up to 40 bytes): resolves
	// with the decoded reply for known types, else {type, status, payload}.
	_raw(type, payload = new Uint8Array(0)) {
		if (payload.length > P.PAYLOAD_SIZE) throw new CairnError(22);
		this._payload();
		this._u8.set(payload, PAYLOAD);
		return payload.length;
	}

	callSync(type, payload, opts) {
		return this._sync(type, this._raw(type, payload), opts);
	}

	call(type, payload, opts) {
		return this._async(type, this._raw(type, payload), opts);
	}

	// ---- queries (through the blob arena: libcairn's typed calls) ----

	_run(op, async, args, input, opts) {
		if (async && op <= OP.PATH_TO_CLUE) return this._runSliced(op, args, input, opts);
		return native.run(this._h, op, async, args, input || null, this._timeout(opts));
	}

	// Queries and paths each hold one of the arena's query slices while they run, and
	// libcairn answers EBUSY when none is free: the Promise forms queue for a slice here
	// instead, so that any number of them may be pending.
	async _runSliced(op, args, input, opts) {
		if (this._slicesFree === 0) {
			await new Promise((resolve) => this._sliceWaiters.push(resolve));
		} else {
			this._slicesFree--;
		}
		try {
			return await native.run(this._h, op, true, args, input || null, this._timeout(opts));
		} finally {
			const next = this._sliceWaiters.shift();
			if (next) next();
			else this._slicesFree++;
		}
	}

	// The k clues nearest (x, y): [{id, x, y, distMm, value}], nearest first.
	nearestCluesSync(huntId, x, y, k, opts = {}) {
		return hits(this._run(OP.NEAREST_CLUES, false, [huntId, x, y, opts.includeClaimed ? 1 : 0, k], null, opts));
	}

	async nearestClues(huntId, x, y, k, opts = {}) {
		return hits(await this._run(OP.NEAREST_CLUES, true, [huntId, x, y, opts.includeClaimed ? 1 : 0, k], null, opts));
	}

	// The players within radiusMm of (x, y), at most max: {hits, total}.
	playersNearSync(huntId, x, y, radiusMm, max, opts) {
		const r = this._run(OP.PLAYERS_NEAR, false, [huntId, x, y, radiusMm, max], null, opts);
		return { hits: hits(r), total: r[2] };
	}

	async playersNear(huntId, x, y, radiusMm, max, opts) {
		const r = await this._run(OP.PLAYERS_NEAR, true, [huntId, x, y, radiusMm, max], null, opts);
		return { hits: hits(r), total: r[2] };
	}

	// The k best players: [{id, x, y, distMm: 0, value: score}].
	leaderboardSync(huntId, k, opts) {
		return hits(this._run(OP.LEADERBOARD, false, [huntId, k], null, opts));
	}

	async leaderboard(huntId, k, opts) {
		return hits(await this._run(OP.LEADERBOARD, true, [huntId, k], null, opts));
	}

	// ---- paths ----

	_batch(op, name, r) {
		return { items: decodeArray(name, r[0], r[1]), info: dec.batchReply(view(r[3]), 0) };
	}

	// pairs: [{fromX, fromY, toX, toY}]; {items: [{status, dir, x, y}], info}
	nextMovesSync(huntId, pairs, opts = {}) {
		return this._batch(OP.NEXT_MOVES, 'next_move_item', this._run(OP.NEXT_MOVES, false, [huntId, pairs.length, opts.method || 0], pairsBytes(pairs), opts));
	}

	async nextMoves(huntId, pairs, opts = {}) {
		return this._batch(OP.NEXT_MOVES, 'next_move_item', await this._run(OP.NEXT_MOVES, true, [huntId, pairs.length, opts.method || 0], pairsBytes(pairs), opts));
	}

	// {items: [{status, straight, diagonal, lengthMm}], info}
	distancesSync(huntId, pairs, opts = {}) {
		return this._batch(OP.DISTANCES, 'distance_item', this._run(OP.DISTANCES, false, [huntId, pairs.length, opts.method || 0], pairsBytes(pairs), opts));
	}

	async distances(huntId, pairs, opts = {}) {
		return this._batch(OP.DISTANCES, 'distance_item', await this._run(OP.DISTANCES, true, [huntId, pairs.length, opts.method || 0], pairsBytes(pairs), opts));
	}

	_path(r) {
		return { points: decodeArray('path_point', r[0], r[1]), info: dec.pathReply(view(r[3]), 0) };
	}

	_pathArgs(huntId, fromX, fromY, toX, toY, opts) {
		return [huntId, fromX, fromY, toX, toY, opts.waypoints ? P.PATH_WAYPOINTS : 0, opts.method || 0, opts.cap || 4096];
	}

	// A shortest path: {points: [{x, y}], info: {count, cells, straight, diagonal,
	// lengthMm, method, expansions, ...}}. opts: waypoints, method, cap (default 4096;
	// a longer path throws BLOB_TOO_SMALL with .needed).
	pathSync(huntId, fromX, fromY, toX, toY, opts = {}) {
		return this._path(this._run(OP.PATH, false, this._pathArgs(huntId, fromX, fromY, toX, toY, opts), null, opts));
	}

	async path(huntId, fromX, fromY, toX, toY, opts = {}) {
		return this._path(await this._run(OP.PATH, true, this._pathArgs(huntId, fromX, fromY, toX, toY, opts), null, opts));
	}

	pathToClueSync(huntId, playerId, clueId, opts = {}) {
		return this._path(this._run(OP.PATH_TO_CLUE, false, [huntId, playerId, clueId, opts.waypoints ? P.PATH_WAYPOINTS : 0, opts.method || 0, opts.cap || 4096], null, opts));
	}

	async pathToClue(huntId, playerId, clueId, opts = {}) {
		return this._path(await this._run(OP.PATH_TO_CLUE, true, [huntId, playerId, clueId, opts.waypoints ? P.PATH_WAYPOINTS : 0, opts.method || 0, opts.cap || 4096], null, opts));
	}

	// ---- the grid, read directly from shared memory (never blocks) ----

	readMap(mapId = 0) {
		const r = this._run(OP.READ_MAP, false, [mapId]);
		return dec.mapInfo(view(r[0]), 0);
	}

	readHunt(huntId) {
		const r = this._run(OP.READ_HUNT, false, [huntId]);
		return dec.huntInfo(view(r[0]), 0);
	}

	// A player or clue: {id, huntId, kind, flags, block, next, x, y, claimedBy, claims,
	// value, stampNs, order}.
	readEntity(huntId, id) {
		const r = this._run(OP.READ_ENTITY, false, [huntId, id]);
		return dec.entity(view(r[0]), 0);
	}

	// Entities with x0 <= x <= x1 and y0 <= y <= y1: {entities, matched}. opts: players,
	// clues (both default true), cap (default 4096).
	readRect(huntId, x0, y0, x1, y1, opts = {}) {
		const r = this._run(OP.READ_RECT, false, [huntId, x0, y0, x1, y1, rectMask(opts), opts.cap || 4096]);
		return { entities: decodeArray('entity', r[0], r[1]), matched: r[2] };
	}

	// ---- events ----

	openEvents() {
		return new EventFeed(this);
	}

	nextEvents(feed, opts) {
		return feed.next(opts);
	}

	// ---- the connection ----

	daemonInfo() {
		const d = native.daemonInfo(this._h);
		d.counters = dec.daemonCounters(view(d.counters), 0);
		d.engine = dec.engineCounters(view(d.engine), 0);
		return d;
	}

	// Throws unless the daemon still holds the connection (reattaching first if it
	// restarted and reattaching is on).
	check() {
		const rc = native.check(this._h);
		if (rc < 0) throw new CairnError(rc);
	}
}

module.exports = { Client, EventFeed, CairnError, native };
