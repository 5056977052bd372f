#!/usr/bin/env node
'use strict';
// Round trips from Node, one caller, for cairn-bench bindings (tools/bench/bindings_bench.c):
//   ping        pingSync()                        (the sync fast path)
//   move        moveSync(), the player alternating between two points of its cell
//   ping_async  await ping()                      (the Promise path: waiter thread + TSFN)
//   socket      a 56-byte write and its 'data' on a net.Socket to a Unix echo server
// then MOVE throughput: W calls of move() (the Promise API) outstanding at all times, for
// a fixed time. Prints one JSON line on stdout, nanoseconds (process.hrtime.bigint):
//   {"lang":"node","ping":{"n":..,"p50":..,"p90":..,"p99":..,"p999":..,"max":..,"mean":..},
//    "move":{..},"ping_async":{..},"socket":{..},"throughput_per_s":..,"parallelism":W,
//    "throughput_moves":..}
// progress on stderr. With --raw, every timed round trip of each series is written, once
// all timing is done, to PREFIX.ping, PREFIX.move, PREFIX.ping_async and PREFIX.socket
// as little-endian uint64 nanoseconds, in the order they were taken.
//
//   cairn-bench-node.js --socket PATH --echo PATH --hunt ID --player ID
//                       [--samples N (100000)] [--warmup N (samples / 10)]
//                       [--raw PREFIX] [--throughput-ms N (2000; 0: skip)] [--window W (256)]
const fs = require('fs');
const net = require('net');
const path = require('path');
const { Client } = require(path.join(__dirname, '..'));

function args() {
	const a = { samples: 100000, warmup: -1, raw: null, throughputMs: 2000, window: 256 };
	const argv = process.argv.slice(2);
	for (let i = 0; i < argv.length; i++) {
		const k = argv[i];
		const v = argv[i + 1];
		switch (k) {
		case '--socket': a.socket = v; i++; break;
		case '--echo': a.echo = v; i++; break;
		case '--hunt': a.hunt = Number(v); i++; break;
		case '--player': a.player = Number(v); i++; break;
		case '--samples': a.samples = Number(v); i++; break;
		case '--warmup': a.warmup = Number(v); i++; break;
		case '--raw': a.raw = v; i++; break;
		case '--throughput-ms': a.throughputMs = Number(v); i++; break;
		case '--window': a.window = Number(v); i++; break;
		case '-h': case '--help':
			process.stdout.write('usage: cairn-bench-node.js --socket PATH --echo PATH --hunt ID --player ID [--samples N] [--warmup N]\n' +
				'                           [--raw PREFIX] [--throughput-ms N] [--window W]\n');
			process.exit(0);
			break;
		default:
			process.stderr.write(`cairn-bench-node: unknown argument ${k}\n`);
			process.exit(2);
		}
	}
	if (!a.socket) {
		process.stderr.write('cairn-bench-node: --socket PATH is required\n');
		process.exit(2);
	}
	if (a.raw === undefined) {
		process.stderr.write('cairn-bench-node: --raw PREFIX: the prefix is missing\n');
		process.exit(2);
	}
	for (const [k, min] of [['samples', 1], ['throughputMs', 0], ['window', 1]]) {
		if (!Number.isInteger(a[k]) || a[k] < min) {
			process.stderr.write(`cairn-bench-node: ${k}: ${a[k]} is not a whole number >= ${min}\n`);
			process.exit(2);
		}
	}
	if (a.warmup < 0) a.warmup = Math.floor(a.samples / 10);
	return a;
}

function stats(ns) {
	const s = Float64Array.from(ns).sort();
	const n = s.length;
	const at = (q) => s[Math.min(n - 1, Math.floor(q * n))];
	let sum = 0;
	for (const x of s) sum += x;
	return {
		n, p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999), max: s[n - 1], mean: Math.round(sum / n),
	};
}

// Writes the samples (ns) to file as little-endian uint64s, in one write.
function writeRaw(file, ns) {
	const b = Buffer.alloc(8 * ns.length);
	for (let i = 0; i < ns.length; i++) b.writeBigUInt64LE(BigInt(ns[i]), 8 * i);
	fs.writeFileSync(file, b);
}

// Keeps w move() Promises outstanding for ms milliseconds, the player alternating
// between pts: resolves to { moves, ns }, the moves answered and the time they took.
async function throughput(c, hunt, player, pts, w, ms) {
	const t0 = process.hrtime.bigint();
	const end = t0 + BigInt(ms) * 1000000n;
	let moves = 0;
	const worker = async (k) => {
		for (let i = k; process.hrtime.bigint() < end; i++) {
			await c.move(hunt, player, pts[i & 1][0], pts[i & 1][1]);
			moves++;
		}
	};
	const workers = [];
	for (let k = 0; k < w; k++) workers.push(worker(k));
	await Promise.all(workers);
	return { moves, ns: Number(process.hrtime.bigint() - t0) };
}

function timeSync(n, fn) {
	const out = new Float64Array(n);
	for (let i = 0; i < n; i++) {
		const t0 = process.hrtime.bigint();
		fn(i);
		out[i] = Number(process.hrtime.bigint() - t0);
	}
	return out;
}

async function timeAsync(n, fn) {
	const out = new Float64Array(n);
	for (let i = 0; i < n; i++) {
		const t0 = process.hrtime.bigint();
		await fn(i);
		out[i] = Number(process.hrtime.bigint() - t0);
	}
	return out;
}

// Two points of the player's cell, a quarter cell apart, both accepted by a move.
function movePoints(c, hunt, player) {
	const st = c.playerStateSync(hunt, player);
	const cell = c.readHunt(hunt).cellMm;
	const q = Math.max(1, Math.floor(cell / 4));
	const x2 = (st.x % cell) < cell / 2 ? st.x + q : st.x - q;
	const pts = [[st.x, st.y], [x2, st.y]];
	for (const p of pts) c.moveSync(hunt, player, p[0], p[1]);
	return pts;
}

function echoBench(sockPath, n) {
	return new Promise((resolve, reject) => {
		const s = net.connect(sockPath);
		const msg = Buffer.alloc(56, 7);
		const out = new Float64Array(n);
		let i = 0;
		let got = 0;
		let t0 = 0n;
		s.setNoDelay?.(true);
		const send = () => {
			got = 0;
			t0 = process.hrtime.bigint();
			s.write(msg);
		};
		s.on('data', (d) => {
			got += d.length;
			if (got < 56) return;
			out[i++] = Number(process.hrtime.bigint() - t0);
			if (i === n) {
				s.destroy();
				resolve(out);
			} else send();
		});
		s.on('error', reject);
		s.on('connect', send);
	});
}

async function main() {
	const a = args();
	const res = { lang: 'node' };
	const raw = {};
	const c = new Client(a.socket, { name: 'cairn-bench-node' });
	const log = (m) => process.stderr.write(`cairn-bench-node: ${m}\n`);

	log(`ping: ${a.warmup} warm-up, ${a.samples} samples`);
	timeSync(a.warmup, () => c.pingSync());
	raw.ping = timeSync(a.samples, () => c.pingSync());
	res.ping = stats(raw.ping);

	let pts = null;
	if (a.hunt && a.player) {
		pts = movePoints(c, a.hunt, a.player);
		log(`move: player ${a.player} of hunt ${a.hunt} between ${JSON.stringify(pts)}`);
		const mv = (i) => c.moveSync(a.hunt, a.player, pts[i & 1][0], pts[i & 1][1]);
		timeSync(a.warmup, mv);
		raw.move = timeSync(a.samples, mv);
		res.move = stats(raw.move);
	} else {
		log('move: skipped (no --hunt and --player)');
	}

	const nAsync = Math.min(a.samples, 20000);
	log(`ping_async: ${nAsync} samples`);
	await timeAsync(Math.min(a.warmup, 2000), () => c.ping());
	raw.ping_async = await timeAsync(nAsync, () => c.ping());
	res.ping_async = stats(raw.ping_async);

	if (a.echo) {
		const nSock = Math.min(a.samples, 20000);
		log(`socket: ${nSock} samples against ${a.echo}`);
		await echoBench(a.echo, Math.min(a.warmup, 2000) || 1);
		raw.socket = await echoBench(a.echo, nSock);
		res.socket = stats(raw.socket);
	} else {
		log('socket: skipped (no --echo)');
	}

	if (pts && a.throughputMs > 0) {
		log(`throughput: ${a.window} move() Promises outstanding for ${a.throughputMs} ms`);
		const t = await throughput(c, a.hunt, a.player, pts, a.window, a.throughputMs);
		res.throughput_per_s = Math.round(t.moves * 1e9 / t.ns);
		res.parallelism = a.window;
		res.throughput_moves = t.moves;
		log(`throughput: ${t.moves} moves in ${(t.ns / 1e9).toFixed(3)} s: ${res.throughput_per_s}/s`);
	}
	c.close();

	if (a.raw) {
		for (const [k, v] of Object.entries(raw)) writeRaw(`${a.raw}.${k}`, v);
	}
	process.stdout.write(`${JSON.stringify(res)}\n`);
}

main().catch((e) => {
	process.stderr.write(`cairn-bench-node: ${e.stack || e}\n`);
	process.exit(1);
});
