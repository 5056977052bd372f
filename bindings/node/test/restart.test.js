'use strict';
// A daemon restart: the client reattaches to the same socket with the same session and
// resubmits what the old daemon had not answered; pending promises and a blocked
// synchronous call get their results on the new lane.
const test = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('child_process');
const cairn = require('..');
const { Client } = cairn;
const { Daemon, sleep } = require('../test-support/cairnd');

test('pending promises survive a daemon restart', async () => {
	const d = await new Daemon().start();
	const c = new Client(d.socket, { reconnectMs: 20000, timeoutMs: 20000 });
	try {
		const h = c.huntCreateSync().huntId;
		const p = c.joinSync(h, 1500, 1500);
		const feed = c.openEvents();
		const before = c.daemonInfo();

		await d.stop('SIGTERM');
		// Pushed while no daemon runs: they wait for the next one.
		const moves = [];
		for (let i = 0; i < 50; i++) moves.push(c.move(h, p, 1500 + (i % 2) * 100, 1500));
		const ping = c.ping();
		await sleep(200);
		await d.start();

		const res = await Promise.all(moves);
		res.forEach((m, i) => assert.deepEqual([m.playerId, m.x], [p, 1500 + (i % 2) * 100]));
		await ping;
		const after = c.daemonInfo();
		assert.ok(after.reconnects >= 1);
		assert.notEqual(after.pid, before.pid);
		assert.equal(after.sessionId, before.sessionId);
		// The state came back from the data directory, moves applied once each.
		assert.equal(c.playerStateSync(h, p).x, 1500 + 100);
		// The old feed belongs to the old daemon's ring.
		await assert.rejects(feed.next({ timeoutMs: 1000 }), (e) => e.codeName === 'DISCONNECTED');
		const fresh = c.openEvents();
		c.cluePlaceSync(h, 2500, 1500, 5);
		assert.equal((await fresh.next())[0].type, cairn.EVENT_CLUE_PLACED);
	} finally {
		c.close();
		await d.dispose();
	}
});

test('a synchronous call blocked across a restart gets its result', async () => {
	const d = await new Daemon().start();
	const c = new Client(d.socket, { reconnectMs: 20000, timeoutMs: 20000 });
	try {
		const h = c.huntCreateSync().huntId;
		const p = c.joinSync(h, 1500, 1500);
		await d.stop('SIGKILL');
		// This thread blocks in the call: the next daemon is started by a shell meanwhile.
		const argv = d.argv().map((a) => `'${a}'`).join(' ');
		const next = spawn('sh', ['-c', `sleep 0.3; exec '${d.bin}' ${argv}`], { stdio: 'ignore' });
		d.proc = next;
		const t0 = Date.now();
		const m = c.moveSync(h, p, 2500, 1500);
		assert.deepEqual([m.playerId, m.x], [p, 2500]);
		assert.ok(Date.now() - t0 >= 250);
		assert.ok(c.daemonInfo().reconnects >= 1);
		c.pingSync();
	} finally {
		c.close();
		await d.dispose();
	}
});

test('without reconnecting, a dead daemon is DISCONNECTED', async () => {
	const d = await new Daemon().start();
	const c = new Client(d.socket, { reconnectMs: -1 });
	try {
		c.pingSync();
		await d.stop('SIGKILL');
		const p = c.ping();
		await assert.rejects(p, (e) => e.codeName === 'DISCONNECTED');
		assert.throws(() => c.pingSync(), (e) => e.codeName === 'DISCONNECTED');
		assert.throws(() => c.check(), (e) => e.codeName === 'DISCONNECTED');
	} finally {
		c.close();
		await d.dispose();
	}
});
