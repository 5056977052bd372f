'use strict';
// The Promise forms: many concurrent callers on one client (through a ring small
// enough that most of them wait in the backlog), queries beyond the arena's slices,
// timeouts, and an event loop that keeps running while waits are pending.
const test = require('node:test');
const assert = require('node:assert/strict');
const cairn = require('..');
const { Client, CairnError } = cairn;
const { Daemon, sleep } = require('../test-support/cairnd');

let d;
test.before(async () => { d = await new Daemon().start(); });
test.after(async () => { if (d) await d.dispose(); });

// Two passable points per player, in a row of the embedded map.
const pos = (i, k) => [1500 + (i % 8) * 1000 + (k ? 100 : 0), 1500];

for (const [label, opts] of [['default rings', {}], ['rings of 16 slots', { cmdCapacity: 16, resCapacity: 16 }]]) {
	test(`many concurrent async callers on one client (${label})`, async () => {
		const c = new Client(d.socket, opts);
		try {
			const h = c.huntCreateSync().huntId;
			const players = [];
			for (let i = 0; i < 32; i++) players.push(c.joinSync(h, ...pos(i, 0)));
			const calls = [];
			const expect = [];
			for (let n = 0; n < 6000; n++) {
				const i = n % players.length;
				const k = Math.floor(n / players.length) % 2 ? 0 : 1;
				if (n % 10 === 9) {
					calls.push(c.ping());
					expect.push(undefined);
				} else if (n % 50 === 25) {
					calls.push(c.move(0xdead, players[i], ...pos(i, k)).catch((e) => e));
					expect.push('UNKNOWN_HUNT');
				} else {
					calls.push(c.move(h, players[i], ...pos(i, k)));
					expect.push([players[i], pos(i, k)[0]]);
				}
				// Synchronous calls interleave with the pending ones on the same lane.
				if (n % 1000 === 500) assert.equal(c.playerStateSync(h, players[0]).playerId, players[0]);
			}
			const results = await Promise.all(calls);
			results.forEach((r, n) => {
				if (expect[n] === undefined) assert.equal(r, undefined);
				else if (typeof expect[n] === 'string') {
					assert.ok(r instanceof CairnError);
					assert.equal(r.codeName, expect[n]);
				} else assert.deepEqual([r.playerId, r.x], expect[n], `call ${n}`);
			});
			// Each player ended where its last move put it.
			for (let i = 0; i < players.length; i++) {
				let last = null;
				for (let n = results.length - 1; n >= 0 && last === null; n--) {
					if (Array.isArray(expect[n]) && expect[n][0] === players[i]) last = expect[n][1];
				}
				assert.equal(c.readEntity(h, players[i]).x, last);
			}
		} finally {
			c.close();
		}
	});
}

test('more concurrent queries than the arena has slices', async () => {
	const c = new Client(d.socket);
	try {
		const h = c.huntCreateSync().huntId;
		const p = c.joinSync(h, 1500, 1500);
		c.cluePlaceSync(h, 3500, 1500, 4);
		const qs = [];
		for (let i = 0; i < 100; i++) {
			qs.push(c.leaderboard(h, 4), c.nearestClues(h, 1500, 1500, 3),
				c.path(h, 1500, 1500, 10500, 1500, { waypoints: true }));
		}
		const rs = await Promise.all(qs);
		for (let i = 0; i < rs.length; i += 3) {
			assert.equal(rs[i][0].id, p);
			assert.equal(rs[i + 1][0].value, 4);
			assert.equal(rs[i + 2].info.lengthMm, 9000);
		}
	} finally {
		c.close();
	}
});

test('timeouts: a stopped daemon gives ETIMEDOUT, sync and async', async () => {
	const c = new Client(d.socket, { timeoutMs: 150 });
	try {
		c.pingSync();
		process.kill(d.proc.pid, 'SIGSTOP');
		// The signal lands asynchronously: wait until the daemon shows as stopped.
		const stat = () => require('fs').readFileSync(`/proc/${d.proc.pid}/stat`, 'utf8').split(') ')[1][0];
		while (stat() !== 'T') await sleep(1);
		try {
			const t0 = Date.now();
			await assert.rejects(c.ping(), (e) => e instanceof CairnError && e.codeName === 'ETIMEDOUT');
			await assert.rejects(c.leaderboard(1, 1, { timeoutMs: 50 }), (e) => e.codeName === 'ETIMEDOUT');
			assert.throws(() => c.pingSync({ timeoutMs: 50 }), (e) => e.codeName === 'ETIMEDOUT');
			assert.ok(Date.now() - t0 < 3000);
		} finally {
			process.kill(d.proc.pid, 'SIGCONT');
		}
		// The late answers are dropped; the connection goes on.
		await c.ping();
		c.pingSync();
	} finally {
		c.close();
	}
});

test('timers keep running while waits and calls are pending', async () => {
	const c = new Client(d.socket);
	try {
		const h = c.huntCreateSync().huntId;
		const feeds = [c.openEvents(), c.openEvents(), c.openEvents()];
		const waits = feeds.map((f) => f.next());
		let settled = 0;
		waits.forEach((w) => w.then(() => settled++));
		let ticks = 0;
		const iv = setInterval(() => ticks++, 5);
		const t0 = Date.now();
		while (Date.now() - t0 < 250) {
			await c.ping();
			await sleep(20);
		}
		clearInterval(iv);
		assert.ok(ticks >= 15, `${ticks} ticks in 250 ms`);
		assert.equal(settled, 0);
		// Then an event ends every wait.
		c.joinSync(h, 1500, 1500);
		const got = await Promise.all(waits);
		for (const evs of got) assert.equal(evs[0].type, cairn.EVENT_PLAYER_JOINED);
	} finally {
		c.close();
	}
});

test('close settles what is pending', async () => {
	const c = new Client(d.socket);
	const f = c.openEvents();
	const w = f.next();
	const pings = [c.ping(), c.ping()];
	c.close();
	await assert.rejects(w, (e) => e.codeName === 'ECANCELED');
	for (const p of pings) {
		// Each was either answered before close or cancelled by it.
		await p.catch((e) => assert.equal(e.codeName, 'ECANCELED'));
	}
});
