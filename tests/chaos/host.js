'use strict';
// The Node game host of the chaos soak (tools/soak-chaos): the same host as the C one
// (tests/chaos/host.c), through the Node binding (bindings/node, or the directory in
// $CAIRN_NODE_BINDING).
//
//   node host.js --socket PATH --journal FILE [--seed N] [--actors N] [--players N]
//                [--malformed PCT] [--map ID]
//
// It creates a hunt of its own on map ID (default 1: the soak's open map) and runs
// ACTORS async loops on it, each owning PLAYERS players and a few clues in a stripe of
// the map, each with one command in flight (the Promise API; PLAYER_STATE queries go
// through the sync one): PCT percent malformed commands that must be refused, the rest
// moves (some onto its own clues, to claim them), clue places and removes, a player
// leaving and another joining, and queries checked against what was acknowledged.
// Every command and result goes to the journal, a line per write, in the format
// chaos-check reads (the top of tests/chaos/check.c). The binding sends no header
// flags and takes the payload's length from the payload, so the malformed commands are
// those of the other hosts less the bad flags and the noise.
//
// It stops when its standard input reaches end of file: each loop finishes its
// command, "bye" is written, and it exits 0. It exits 3 after a "fail" line when
// something is wrong, 2 on bad usage. A daemon restart is not wrong: the binding
// reattaches and resubmits, and the calls wait for it.
const fs = require('fs');
const path = require('path');

const binding = process.env.CAIRN_NODE_BINDING ||
	path.join(__dirname, '..', '..', 'bindings', 'node');
const { Client, CairnError, ...P } = require(binding);

const TIMEOUT_MS = 120000; // longer than any restart the soak makes
const MAX_CLUES = 6;
const MARGIN_MM = 500; // keeps stripes apart, far beyond the claim radius
const STEP_MM = 3000; // the farthest a random move goes
const BAD_ID_MAX = 2 ** P.ID_SLOT_BITS; // ids below this are never given
const NOT_REFUSALS = new Set([P.E_DISCONNECTED, P.E_LANE_DROPPED, P.E_EVICTED, P.E_BAD_REPLY]);

let client;
let journalFd = -1;
let huntId = 0;
let mapW = 0;
let mapH = 0;
let nextN = 0;
let stopping = false;

// One journal line with one write(2): whole or not at all, whatever kills us.
function jw(line) {
	fs.writeSync(journalFd, line + '\n');
}

function die(msg) {
	msg = String(msg).replace(/\n/g, ' ');
	jw('fail ' + msg);
	process.stderr.write(`chaos host.js ${process.pid}: ${msg}\n`);
	process.exit(3);
}

// The code of a refusal by the daemon, or 0 for any other failure.
function refusal(e) {
	if (e instanceof CairnError && e.code in P.ERROR_NAMES && !NOT_REFUSALS.has(e.code)) {
		return e.code;
	}
	return 0;
}

function refused(n, what, e) {
	const code = refusal(e);
	if (!code) die(`${what}: ${e && e.stack ? e.stack : e}`);
	jw(`e ${n} ${code}`);
}

// xorshift32: small, seedable, enough for choosing.
function rng(seed) {
	let s = (seed >>> 0) || 1;
	const next = () => {
		s ^= s << 13; s >>>= 0;
		s ^= s >>> 17;
		s ^= s << 5; s >>>= 0;
		return s;
	};
	return {
		below: (n) => next() % n,
		range: (lo, hi) => lo + (next() % (hi - lo + 1)),
	};
}

const OPTS = { timeoutMs: TIMEOUT_MS };

class Actor {
	constructor(index, seed, x0, x1, y0, y1, players, malformed) {
		this.r = rng(seed * 7919 + index * 104729 + 1);
		Object.assign(this, { x0, x1, y0, y1, players, malformed });
		this.p = []; // {id, x, y, claims, score}
		this.c = []; // {id, x, y, value, claimed}
	}

	pos() {
		return [this.r.range(this.x0, this.x1), this.r.range(this.y0, this.y1)];
	}

	async join(x, y) {
		const n = ++nextN;
		jw(`s ${n} join ${huntId} ${x} ${y}`);
		let id;
		try {
			id = await client.join(huntId, x, y, OPTS);
		} catch (e) {
			refused(n, 'join', e);
			return 0;
		}
		jw(`a ${n} ${id}`);
		return id;
	}

	async move(p, x, y) {
		const n = ++nextN;
		jw(`s ${n} move ${huntId} ${p.id} ${x} ${y}`);
		let mv;
		try {
			mv = await client.move(huntId, p.id, x, y, OPTS);
		} catch (e) {
			refused(n, 'move', e);
			return;
		}
		jw(`a ${n} ${mv.outcome} ${mv.clueId} ${mv.score}`);
		if (mv.playerId !== p.id || mv.x !== x || mv.y !== y) {
			die(`MOVED says player ${mv.playerId} at ${mv.x},${mv.y} for a move of ${p.id} to ${x},${y}`);
		}
		Object.assign(p, { x, y, score: mv.score });
		if (mv.outcome === P.CLAIM_WON) {
			p.claims++;
			for (const c of this.c) if (c.id === mv.clueId) c.claimed = true;
		}
	}

	async place() {
		const [x, y] = this.pos();
		const value = 1 + this.r.below(100);
		const n = ++nextN;
		jw(`s ${n} place ${huntId} ${x} ${y} ${value}`);
		let id;
		try {
			id = await client.cluePlace(huntId, x, y, value, OPTS);
		} catch (e) {
			refused(n, 'clue place', e);
			return;
		}
		jw(`a ${n} ${id}`);
		this.c.push({ id, x, y, value, claimed: false });
	}

	async remove(i) {
		const n = ++nextN;
		jw(`s ${n} remove ${huntId} ${this.c[i].id}`);
		try {
			await client.clueRemove(huntId, this.c[i].id, OPTS);
		} catch (e) {
			refused(n, 'clue remove', e);
			return;
		}
		jw(`a ${n}`);
		this.c.splice(i, 1);
	}

	// Player i leaves and a new one takes its place.
	async rejoin(i) {
		const p = this.p[i];
		const n = ++nextN;
		jw(`s ${n} leave ${huntId} ${p.id}`);
		let left;
		try {
			left = await client.leave(huntId, p.id, OPTS);
		} catch (e) {
			refused(n, 'leave', e);
			return;
		}
		jw(`a ${n}`);
		if (left.claims !== p.claims || left.score !== p.score) {
			die(`LEFT says ${left.claims} claims, score ${left.score} for player ${p.id}; ` +
				`acknowledged ${p.claims}, ${p.score}`);
		}
		const [x, y] = this.pos();
		const id = await this.join(x, y);
		if (id) this.p[i] = { id, x, y, claims: 0, score: 0 };
		else this.p.splice(i, 1);
	}

	// PLAYER_STATE must say what the acknowledgements said, across restarts.
	query(p) {
		const n = ++nextN;
		let pi;
		try {
			pi = client.playerStateSync(huntId, p.id, OPTS);
		} catch (e) {
			die(`PLAYER_STATE of player ${p.id}: ${e && e.stack ? e.stack : e}`);
		}
		jw(`q ${n} ${p.id} ${pi.x} ${pi.y} ${pi.claims} ${pi.score}`);
		if (pi.x !== p.x || pi.y !== p.y || pi.claims !== p.claims || pi.score !== p.score) {
			die(`PLAYER_STATE of player ${p.id}: ${pi.x},${pi.y}, ${pi.claims} claims, ` +
				`score ${pi.score}; acknowledged ${p.x},${p.y}, ${p.claims}, ${p.score}`);
		}
	}

	// One command that must be refused.
	async malformedOne() {
		const kinds = ['unknown_hunt', 'unknown_player', 'off_map_move', 'off_map_join',
			'unknown_clue', 'unknown_map', 'destroy_unknown', 'bad_length', 'unknown_type'];
		const k = this.r.below(kinds.length);
		const p = this.p[this.r.below(this.p.length)];
		const bad = this.r.below(BAD_ID_MAX);
		let [x, y] = this.pos();
		const n = ++nextN;
		jw(`m ${n} ${kinds[k]}`);
		let type = 0;
		try {
			switch (kinds[k]) {
			case 'unknown_hunt': await client.move(bad, p.id, x, y, OPTS); break;
			case 'unknown_player': await client.move(huntId, bad, x, y, OPTS); break;
			case 'off_map_move': {
				const off = 1 + this.r.below(3); // off the left edge, the bottom one, or both
				if (off & 1) x = -1 - bad;
				if (off & 2) y = mapH + (bad & 0xffff);
				await client.move(huntId, p.id, x, y, OPTS);
				break;
			}
			case 'off_map_join': await client.join(huntId, mapW + (bad & 0xffff), y, OPTS); break;
			case 'unknown_clue': await client.clueRemove(huntId, bad, OPTS); break;
			case 'unknown_map': await client.huntCreate({ mapId: 1000 + bad }, OPTS); break;
			case 'destroy_unknown': await client.huntDestroy(bad, OPTS); break;
			case 'bad_length': {
				// A move of our own player to a valid place, one length off or more.
				const len = this.r.below(2) ? this.r.below(16) : 17 + this.r.below(24);
				const b = new Uint8Array(len);
				const dv = new DataView(b.buffer);
				const put = (off, v, signed) => {
					if (off + 4 <= len) signed ? dv.setInt32(off, v, true) : dv.setUint32(off, v, true);
				};
				put(0, huntId, false);
				put(4, p.id, false);
				put(8, x, true);
				put(12, y, true);
				type = P.MSG_MOVE;
				await client.call(type, b, OPTS);
				break;
			}
			default:
				type = 0x0100 + this.r.below(0x7f00);
				await client.call(type, new Uint8Array(this.r.below(P.PAYLOAD_SIZE + 1)), OPTS);
				break;
			}
		} catch (e) {
			const code = refusal(e);
			if (!code) die(`malformed ${kinds[k]}: ${e && e.stack ? e.stack : e}`);
			jw(`r ${n} ${code}`);
			return;
		}
		jw(`v ${n} ${kinds[k]} type 0x${type.toString(16)}`);
	}

	async step() {
		const r = this.r;
		if (this.p.length && r.below(100) < this.malformed) {
			await this.malformedOne();
			return;
		}
		const w = this.p.length ? r.below(100) : 99;
		const i = this.p.length ? r.below(this.p.length) : 0;
		const clamp = (v, lo, hi) => Math.min(Math.max(v, lo), hi);
		if (w < 66) {
			const p = this.p[i];
			await this.move(p, clamp(p.x + r.range(-STEP_MM, STEP_MM), this.x0, this.x1),
				clamp(p.y + r.range(-STEP_MM, STEP_MM), this.y0, this.y1));
		} else if (w < 76) {
			const free = this.c.filter((c) => !c.claimed);
			if (free.length) {
				const c = free[r.below(free.length)];
				await this.move(this.p[i], c.x, c.y);
			} else if (this.c.length < MAX_CLUES) {
				await this.place();
			}
		} else if (w < 84) {
			if (this.c.length < MAX_CLUES) await this.place();
			else await this.remove(r.below(this.c.length));
		} else if (w < 89) {
			if (this.c.length) await this.remove(r.below(this.c.length));
		} else if (w < 93) {
			await this.rejoin(i);
		} else if (w < 99) {
			this.query(this.p[i]);
		} else if (this.p.length < this.players) {
			const [x, y] = this.pos();
			const id = await this.join(x, y);
			if (id) this.p.push({ id, x, y, claims: 0, score: 0 });
		}
	}

	async run() {
		while (this.p.length < this.players && !stopping) {
			const [x, y] = this.pos();
			const id = await this.join(x, y);
			if (!id) break;
			this.p.push({ id, x, y, claims: 0, score: 0 });
		}
		while (!stopping) await this.step();
	}
}

function parseArgs(argv) {
	const a = { socket: null, journal: null, seed: 1, actors: 4, players: 4, malformed: 20, map: 1 };
	for (let i = 0; i < argv.length; i += 2) {
		const k = argv[i].replace(/^--/, '');
		if (!(k in a) || i + 1 >= argv.length) {
			process.stderr.write('usage: node host.js --socket PATH --journal FILE [--seed N] ' +
				'[--actors N] [--players N] [--malformed PCT] [--map ID]\n');
			process.exit(2);
		}
		a[k] = k === 'socket' || k === 'journal' ? argv[i + 1] : Number(argv[i + 1]);
	}
	if (!a.socket || !a.journal || !(a.actors >= 1 && a.actors <= 64) || !(a.players >= 1) ||
		!(a.malformed >= 0 && a.malformed <= 100)) {
		process.stderr.write('host.js: --socket and --journal are needed; --actors 1..64, ' +
			'--players >= 1, --malformed 0..100\n');
		process.exit(2);
	}
	return a;
}

async function main() {
	const args = parseArgs(process.argv.slice(2));
	journalFd = fs.openSync(args.journal, 'a', 0o644);
	jw(`hello node ${process.pid}`);
	// The first attach is retried: the daemon may be down, or killed in the middle of
	// the handshake. Only an attached connection reattaches by itself.
	const deadline = Date.now() + TIMEOUT_MS;
	while (!client) {
		try {
			client = new Client(args.socket, { name: 'chaos-host-node', reconnectMs: TIMEOUT_MS,
				timeoutMs: TIMEOUT_MS });
		} catch (e) {
			if (Date.now() > deadline) die(`attach: ${e && e.stack ? e.stack : e}`);
			await new Promise((resolve) => setTimeout(resolve, 50));
		}
	}
	const n = ++nextN;
	jw(`s ${n} create ${args.map}`);
	let h;
	try {
		h = await client.huntCreate({ mapId: args.map }, OPTS);
	} catch (e) {
		const code = refusal(e);
		if (code) jw(`e ${n} ${code}`);
		die(`HUNT_CREATE: ${e && e.stack ? e.stack : e}`);
	}
	jw(`a ${n} ${h.huntId}`);
	huntId = h.huntId;
	mapW = h.width * h.cellMm;
	mapH = h.height * h.cellMm;
	const stripe = Math.floor(mapW / args.actors);
	if (stripe < 2 * MARGIN_MM + 1000 || mapH < 2 * MARGIN_MM + 1000) {
		die(`map ${args.map} is too small for ${args.actors} actors`);
	}

	process.stdin.on('end', () => { stopping = true; });
	process.stdin.on('error', () => { stopping = true; });
	process.stdin.resume();
	const actors = [];
	for (let i = 0; i < args.actors; i++) {
		actors.push(new Actor(i, args.seed, i * stripe + MARGIN_MM, (i + 1) * stripe - MARGIN_MM,
			MARGIN_MM, mapH - MARGIN_MM, args.players, args.malformed));
	}
	const stack = (e) => (e && e.stack ? e.stack : e);
	await Promise.all(actors.map((a) => a.run().catch((e) => die(`actor: ${stack(e)}`))));
	jw('bye');
	client.close();
	process.exit(0);
}

main().catch((e) => die(`main: ${e && e.stack ? e.stack : e}`));
