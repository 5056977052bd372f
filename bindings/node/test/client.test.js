'use strict';
// Connect, every command in its sync and Promise forms, error results as CairnError,
// raw calls, the daemon's info, and the clear errors of a bad socket path and of a
// protocol version mismatch.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('path');
const { spawn } = require('child_process');
const cairn = require('..');
const { Client, CairnError } = cairn;
const { Daemon, sleep } = require('../test-support/cairnd');

// Passable points of the daemon's embedded map (millimetres).
const A = [1500, 1500];
const B = [2500, 1500];
const FAR = [10500, 1500];

let d;
let c;
test.before(async () => {
	d = await new Daemon().start();
	c = new Client(d.socket, { name: 'node-test' });
});
test.after(async () => {
	if (c) c.close();
	if (d) await d.dispose();
});

function isCairnError(e, codeName) {
	assert.ok(e instanceof CairnError, `a CairnError: ${e}`);
	assert.ok(e instanceof Error);
	assert.equal(e.codeName, codeName);
	assert.equal(e.code, cairn[`E_${codeName}`] ?? require('os').constants.errno[codeName]);
	assert.equal(e.errno, -e.code);
	assert.equal(e.name, 'CairnError');
	return true;
}

test('connect and ping, both forms', async () => {
	c.pingSync();
	await c.ping();
	const info = c.daemonInfo();
	assert.equal(info.pid, d.proc.pid);
	assert.equal(info.state, cairn.DAEMON_RUNNING);
	assert.equal(typeof info.counters.commands, 'bigint');
	assert.equal(info.reconnects, 0);
	c.check();
});

test('echo and raw calls', async () => {
	const data = new Uint8Array([1, 2, 3, 250]);
	assert.deepEqual(c.echoSync(data), data);
	assert.deepEqual(await c.echo(data), data);
	const r = c.callSync(cairn.MSG_ECHO, new Uint8Array([9, 8]));
	assert.deepEqual(r, new Uint8Array([9, 8]));
	assert.throws(() => c.callSync(0x7777), (e) => isCairnError(e, 'UNKNOWN_TYPE'));
	await assert.rejects(c.call(0x7777), (e) => isCairnError(e, 'UNKNOWN_TYPE'));
});

for (const mode of ['sync', 'async']) {
	const call = (name, ...args) => (mode === 'sync' ? c[`${name}Sync`](...args) : c[name](...args));

	test(`every game command (${mode})`, async () => {
		const hunt = await call('huntCreate', { claimRadiusMm: 30 });
		assert.equal(hunt.width, 128);
		assert.equal(hunt.height, 96);
		assert.equal(hunt.cellMm, cairn.DEFAULT_CELL_MM);
		assert.equal(hunt.claimRadiusMm, 30);
		const h = hunt.huntId;

		const p = await call('join', h, ...A);
		const q = await call('join', h, ...FAR);
		assert.ok(p > 0 && q > 0 && p !== q);
		const clue = await call('cluePlace', h, ...B, 25);
		const clue2 = await call('cluePlace', h, B[0] + 1000, B[1], 7);

		let m = await call('move', h, p, B[0] - 10, B[1]);
		assert.equal(m.outcome, cairn.CLAIM_WON);
		assert.equal(m.clueId, clue);
		assert.equal(m.holderId, p);
		assert.equal(m.value, 25);
		assert.equal(m.score, 25);
		m = await call('move', h, q, B[0] + 10, B[1]);
		assert.equal(m.outcome, cairn.CLAIM_LOST);
		assert.equal(m.holderId, p);
		m = await call('move', h, q, ...FAR);
		assert.equal(m.outcome, cairn.CLAIM_NONE);

		const st = await call('playerState', h, p);
		assert.deepEqual([st.playerId, st.huntId, st.x, st.y, st.claims, st.score], [p, h, B[0] - 10, B[1], 1, 25]);
		assert.equal(typeof st.stampNs, 'bigint');

		const near = await call('nearestClues', h, ...A, 2, { includeClaimed: true });
		assert.deepEqual(near.map((x) => x.id), [clue, clue2]);
		assert.deepEqual((await call('nearestClues', h, ...A, 2)).map((x) => x.id), [clue2]);
		const pn = await call('playersNear', h, ...A, 2000, 10);
		assert.equal(pn.total, 1);
		assert.equal(pn.hits[0].id, p);
		const lb = await call('leaderboard', h, 5);
		assert.deepEqual(lb.map((x) => [x.id, x.value]), [[p, 25], [q, 0]]);

		const pairs = [{ fromX: A[0], fromY: A[1], toX: FAR[0], toY: FAR[1] },
			{ fromX: A[0], fromY: A[1], toX: -5, toY: 0 }];
		const nm = await call('nextMoves', h, pairs, { method: cairn.METHOD_ASTAR });
		assert.equal(nm.items.length, 2);
		assert.equal(nm.items[0].status, 0);
		assert.equal(nm.items[0].dir, cairn.DIR_E);
		assert.equal(nm.items[1].status, cairn.E_OFF_MAP);
		assert.equal(nm.info.failed, 1);
		const ds = await call('distances', h, pairs.slice(0, 1));
		assert.equal(ds.items[0].lengthMm, 9000);
		const pa = await call('path', h, ...A, ...FAR, { waypoints: true });
		assert.deepEqual(pa.points, [{ x: 1500, y: 1500 }, { x: 10500, y: 1500 }]);
		assert.equal(pa.info.lengthMm, 9000);
		const full = await call('path', h, ...A, ...FAR);
		assert.equal(full.points.length, 10);
		await assert.rejects(async () => call('path', h, ...A, ...FAR, { cap: 3 }),
			(e) => isCairnError(e, 'BLOB_TOO_SMALL') && e.needed === 10);
		const pc = await call('pathToClue', h, q, clue2, { waypoints: true });
		assert.equal(pc.points[0].x, FAR[0]);
		assert.equal(pc.points.at(-1).x, B[0] + 1000);

		const hash = await call('stateHash');
		assert.equal(typeof hash.hash, 'bigint');
		assert.ok(hash.hunts >= 1);
		const ws = await call('walStatus');
		assert.equal(typeof ws.durableLsn, 'bigint');

		const cr = await call('clueRemove', h, clue);
		assert.deepEqual([cr.clueId, cr.claimedBy, cr.value], [clue, p, 25]);
		const left = await call('leave', h, p);
		assert.deepEqual([left.playerId, left.claims, left.score], [p, 1, 25]);
		const gone = await call('huntDestroy', h);
		assert.deepEqual([gone.huntId, gone.players, gone.clues], [h, 1, 1]);
	});

	test(`error results are CairnErrors (${mode})`, async () => {
		const h = (await call('huntCreate', { speedLimitMmS: 1000 })).huntId;
		const p = await call('join', h, ...A);
		const rejects = async (fn, name) => {
			if (mode === 'sync') assert.throws(fn, (e) => isCairnError(e, name));
			else await assert.rejects(fn(), (e) => isCairnError(e, name));
		};
		await rejects(() => call('move', 0xdead, p, ...B), 'UNKNOWN_HUNT');
		await rejects(() => call('move', h, 0xbeef, ...B), 'UNKNOWN_PLAYER');
		await rejects(() => call('move', h, p, -1, 5), 'OFF_MAP');
		await rejects(() => call('move', h, p, 500, 500), 'BLOCKED');
		await rejects(() => call('move', h, p, ...FAR), 'TOO_FAST');
		await rejects(() => call('join', h, 500, 500), 'BLOCKED');
		await rejects(() => call('clueRemove', h, 0xabc), 'UNKNOWN_CLUE');
		await rejects(() => call('huntCreate', { mapId: 77 }), 'UNKNOWN_MAP');
		await rejects(() => call('leaderboard', 0xdead, 3), 'UNKNOWN_HUNT');
		await rejects(() => call('nearestClues', h, -10, 0, 3), 'OFF_MAP');
		await rejects(() => call('leaderboard', h, 0), 'EINVAL');
		await rejects(() => call('path', h, ...A, 500, 500), 'BLOCKED');
		await rejects(() => call('pathToClue', h, p, 0x123), 'UNKNOWN_CLUE');
		try {
			await call('move', h, p, -1, 5);
			assert.fail('no error');
		} catch (e) {
			assert.equal(e.requestType, cairn.MSG_MOVE);
			assert.match(e.message, /OFF_MAP/);
		}
		await call('huntDestroy', h);
	});
}

test('grid reads agree with the commands', () => {
	const h = c.huntCreateSync().huntId;
	const p = c.joinSync(h, ...A);
	const k = c.cluePlaceSync(h, ...FAR, 3);
	assert.equal(c.readMap(0).name, 'cairn-default');
	assert.equal(c.readMap(0).width, 128);
	assert.throws(() => c.readMap(9), (e) => isCairnError(e, 'UNKNOWN_MAP'));
	const hi = c.readHunt(h);
	assert.deepEqual([hi.id, hi.players, hi.clues], [h, 1, 1]);
	const e = c.readEntity(h, p);
	assert.deepEqual([e.id, e.kind, e.x, e.y], [p, cairn.ENTITY_PLAYER, ...A]);
	assert.equal(c.readEntity(h, k).kind, cairn.ENTITY_CLUE);
	assert.throws(() => c.readEntity(h, 0x999), (x) => isCairnError(x, 'UNKNOWN_PLAYER'));
	c.moveSync(h, p, B[0], B[1]);
	assert.equal(c.readEntity(h, p).x, B[0]);
	const all = c.readRect(h, 0, 0, 200000, 200000);
	assert.equal(all.matched, 2);
	assert.deepEqual(all.entities.map((x) => x.id).sort(), [p, k].sort());
	assert.deepEqual(c.readRect(h, 0, 0, 200000, 200000, { clues: false }).entities.map((x) => x.id), [p]);
	assert.equal(c.readRect(h, 0, 0, 200000, 200000, { cap: 1 }).entities.length, 1);
	assert.equal(c.readRect(h, 0, 0, 200000, 200000, { cap: 1 }).matched, 2);
	assert.equal(c.readRect(h, 5000, 5000, 6000, 6000).matched, 0);
	assert.throws(() => c.readRect(h, 10, 0, 0, 0), (x) => isCairnError(x, 'EINVAL'));
	c.huntDestroySync(h);
	assert.throws(() => c.readHunt(h), (x) => isCairnError(x, 'UNKNOWN_HUNT'));
});

test('a bad socket path is a clear error', () => {
	const bad = path.join(d.dir, 'no-such-socket');
	assert.throws(() => new Client(bad), (e) => isCairnError(e, 'ENOENT') && /No such file/.test(e.message));
	assert.throws(() => new Client(`/tmp/${'x'.repeat(200)}`), (e) => isCairnError(e, 'ENAMETOOLONG'));
});

test('a daemon of another protocol version is refused with VERSION', async () => {
	// A fake daemon in another process (open blocks this thread): it answers any hello
	// with a welcome of the next major version.
	const sock = path.join(d.dir, 'fake');
	const { encodeRaw } = cairn.codec;
	const welcome = Buffer.from(encodeRaw('welcome', {
		magic: cairn.WELCOME_MAGIC, version_major: cairn.PROTO_MAJOR + 1, version_minor: 0,
	})).toString('hex');
	const child = spawn(process.execPath, ['-e', `
		const net = require('net');
		net.createServer((s) => s.once('data', () => s.write(Buffer.from('${welcome}', 'hex'))))
			.listen(${JSON.stringify(sock)}, () => console.log('ready'));`], { stdio: ['ignore', 'pipe', 'inherit'] });
	await new Promise((r) => child.stdout.once('data', r));
	try {
		assert.throws(() => new Client(sock), (e) => isCairnError(e, 'VERSION') && /version/.test(e.message));
	} finally {
		child.kill();
	}
});

test('a closed client says so', async () => {
	const c2 = new Client(d.socket);
	c2.pingSync();
	c2.close();
	c2.close();
	assert.throws(() => c2.pingSync(), (e) => isCairnError(e, 'DISCONNECTED'));
	await assert.rejects(c2.ping(), (e) => isCairnError(e, 'DISCONNECTED'));
	await sleep(1);
});
