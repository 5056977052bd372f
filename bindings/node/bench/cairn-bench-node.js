#!/usr/bin/env node
'use strict';
// Round trips from Node, one caller, for cairn-bench bindings (tools/bench/bindings_bench.c):
//   ping        pingSync()                        (the sync fast path)
//   move        moveSync(), the player alternating between two points of its cell
//   ping_async  await ping()                      (the Promise path: waiter thread + TSFN)
//   socket      a 56-byte write and its 'data' on a net.Socket to a Unix echo server
// Prints one JSON line on stdout, nanoseconds (process.hrtime.bigint); progress on stderr.
//
//   cairn-bench-node.js --socket PATH --echo PATH --hunt ID --player ID
//                       [--samples N (100000)] [--warmup N (samples / 10)]
const net = require('net');
const path = require('path');
const { Client } = require(path.join(__dirname, '..'));

function args() {
	const a = { samples: 100000, warmup: -1 };
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
		case '-h': case '--help':
			process.stdout.write('usage: cairn-bench-node.js --socket PATH --echo PATH --hunt ID --player ID [--samples N] [--warmup N]\n');
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
	if (a.warmup < 0) a.warmup = Math.floor(a.samples / 10);
	return a;
}

function stats(ns) {
	const s = Float64Array.from(ns).sort();
	const n = s.length;
	const at = (q) => s[Math.min(n - 1, Math.floor(q * n))];
	let sum = 0;
	for (const x of s) sum += x;
	return { n, p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999), mean: Math.round(sum / n) };
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
	const c = new Client(a.socket, { name: 'cairn-bench-node' });
	const log = (m) => process.stderr.write(`cairn-bench-node: ${m}\n`);

	log(`ping: ${a.warmup} warm-up, ${a.samples} samples`);
	timeSync(a.warmup, () => c.pingSync());
	res.ping = stats(timeSync(a.samples, () => c.pingSync()));

	if (a.hunt && a.player) {
		const pts = movePoints(c, a.hunt, a.player);
		log(`move: player ${a.player} of hunt ${a.hunt} between ${JSON.stringify(pts)}`);
		const mv = (i) => c.moveSync(a.hunt, a.player, pts[i & 1][0], pts[i & 1][1]);
		timeSync(a.warmup, mv);
		res.move = stats(timeSync(a.samples, mv));
	} else {
		log('move: skipped (no --hunt and --player)');
	}

	const nAsync = Math.min(a.samples, 20000);
	log(`ping_async: ${nAsync} samples`);
	await timeAsync(Math.min(a.warmup, 2000), () => c.ping());
	res.ping_async = stats(await timeAsync(nAsync, () => c.ping()));

	if (a.echo) {
		const nSock = Math.min(a.samples, 20000);
		log(`socket: ${nSock} samples against ${a.echo}`);
		await echoBench(a.echo, Math.min(a.warmup, 2000) || 1);
		res.socket = stats(await echoBench(a.echo, nSock));
	} else {
		log('socket: skipped (no --echo)');
	}
	c.close();
	process.stdout.write(`${JSON.stringify(res)}\n`);
}

main().catch((e) => {
	process.stderr.write(`cairn-bench-node: ${e.stack || e}\n`);
	process.exit(1);
});
