'use strict';
// The bench program (bench/cairn-bench-node.js), as cairn-bench bindings runs it: its JSON
// line, its --raw files (every timed sample, little-endian uint64 ns) and its MOVE
// throughput, against a real daemon and an echo server of this process.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const net = require('net');
const path = require('path');
const { execFile } = require('child_process');
const { Client } = require('..');
const { Daemon } = require('../test-support/cairnd');

const BENCH = path.join(__dirname, '..', 'bench', 'cairn-bench-node.js');

let d;
let echo;
test.before(async () => {
	d = await new Daemon().start();
	// A 56-byte echo, one connection after another.
	echo = net.createServer((s) => s.on('data', (b) => s.write(b)));
	await new Promise((resolve) => echo.listen(path.join(d.dir, 'echo'), resolve));
});
test.after(async () => {
	if (echo) echo.close();
	if (d) await d.dispose();
});

function run(args) {
	return new Promise((resolve) => {
		execFile(process.execPath, [BENCH, ...args], { timeout: 60000 }, (err, stdout, stderr) => {
			resolve({ code: err ? err.code : 0, stdout, stderr });
		});
	});
}

test('the JSON line, the raw samples and the throughput', async () => {
	const c = new Client(d.socket, { name: 'node-test' });
	const hunt = c.huntCreateSync().huntId;
	const player = c.joinSync(hunt, 1500, 1500);
	c.close();
	const rawDir = fs.mkdtempSync(path.join(d.dir, 'raw-'));
	const raw = path.join(rawDir, 'node');
	const n = 2000;
	const r = await run(['--socket', d.socket, '--echo', path.join(d.dir, 'echo'),
		'--hunt', String(hunt), '--player', String(player), '--samples', String(n), '--warmup', '100',
		'--raw', raw, '--throughput-ms', '200', '--window', '32']);
	assert.equal(r.code, 0, r.stderr);
	const lines = r.stdout.trim().split('\n');
	assert.equal(lines.length, 1);
	const res = JSON.parse(lines[0]);
	assert.equal(res.lang, 'node');
	for (const k of ['ping', 'move', 'ping_async', 'socket']) {
		const s = res[k];
		assert.equal(s.n, n, k);
		assert.ok(s.p50 > 0 && s.p50 <= s.p90 && s.p90 <= s.p99 && s.p99 <= s.p999 && s.p999 <= s.max, k);
		// Every timed sample, 8 bytes each, nonzero and below a second: the very samples
		// the summary was computed from.
		const b = fs.readFileSync(`${raw}.${k}`);
		assert.equal(b.length, 8 * n, k);
		const v = [];
		for (let i = 0; i < n; i++) v.push(Number(b.readBigUInt64LE(8 * i)));
		assert.ok(v.every((x) => x > 0 && x < 1e9), `${k}: ${Math.min(...v)} .. ${Math.max(...v)}`);
		v.sort((x, y) => x - y);
		assert.equal(v[n - 1], s.max, k);
		assert.equal(v[n / 2], s.p50, k);
		assert.equal(v[Math.floor(0.999 * n)], s.p999, k);
		assert.equal(Math.round(v.reduce((x, y) => x + y, 0) / n), s.mean, k);
	}
	assert.deepEqual(fs.readdirSync(rawDir).sort(), ['node.move', 'node.ping', 'node.ping_async', 'node.socket']);
	assert.equal(res.parallelism, 32);
	assert.ok(res.throughput_moves > 0);
	assert.ok(res.throughput_per_s > 0 && res.throughput_per_s <= res.throughput_moves / 0.2);
});

test('bad options are a usage error', async () => {
	for (const bad of [['--raw'], ['--window', '0'], ['--throughput-ms', 'x']]) {
		const r = await run(['--socket', d.socket, ...bad]);
		assert.equal(r.code, 2, `${bad}: ${r.stderr}`);
	}
});
