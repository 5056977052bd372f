'use strict';
// The event feed: what the daemon publishes, in order, sync and async; a wait that ends
// on a later event or on its timeout; and a reader lapped by a ring of 64 events.
const test = require('node:test');
const assert = require('node:assert/strict');
const cairn = require('..');
const { Client } = cairn;
const { Daemon, sleep } = require('../test-support/cairnd');

let d;
let c;
test.before(async () => {
	d = await new Daemon(['--event-capacity', '64']).start();
	c = new Client(d.socket);
});
test.after(async () => {
	if (c) c.close();
	if (d) await d.dispose();
});

test('a feed sees the game in order', async () => {
	const feed = c.openEvents();
	assert.deepEqual(feed.read(), []);
	const hunt = c.huntCreateSync().huntId;
	const p = c.joinSync(hunt, 1500, 1500);
	const k = c.cluePlaceSync(hunt, 2500, 1500, 40);
	c.moveSync(hunt, p, 2490, 1500);
	c.leaveSync(hunt, p);
	const evs = feed.read();
	assert.deepEqual(evs.map((e) => e.type), [cairn.EVENT_HUNT_CREATED, cairn.EVENT_PLAYER_JOINED,
		cairn.EVENT_CLUE_PLACED, cairn.EVENT_CLUE_CLAIMED, cairn.EVENT_PLAYER_LEFT]);
	const claim = evs[3];
	assert.deepEqual([claim.huntId, claim.playerId, claim.clueId, claim.value, claim.x], [hunt, p, k, 40, 2500]);
	for (let i = 1; i < evs.length; i++) assert.ok(evs[i].order > evs[i - 1].order);
	assert.equal(feed.missed, 0n);
	assert.deepEqual(feed.read(), []);
	assert.deepEqual(feed.nextSync({ timeoutMs: 5 }), []);
});

test('an async wait ends on a later event, or on its timeout', async () => {
	const feed = c.openEvents();
	const hunt = c.huntCreateSync().huntId;
	feed.read();
	const t0 = Date.now();
	assert.deepEqual(await feed.next({ timeoutMs: 60 }), []);
	assert.ok(Date.now() - t0 >= 50);
	const w = c.nextEvents(feed, { max: 1 });
	await sleep(30);
	c.cluePlaceSync(hunt, 3500, 1500, 1);
	c.cluePlaceSync(hunt, 4500, 1500, 2);
	const [e] = await w;
	assert.equal(e.type, cairn.EVENT_CLUE_PLACED);
	assert.equal(e.x, 3500);
	assert.equal((await feed.next())[0].x, 4500);
	const other = c.openEvents();
	other.next().catch(() => {}); /* cancelled by close */
	assert.throws(() => other.read(), /one wait at a time/);
	c.cluePlaceSync(hunt, 5500, 1500, 3);
	const it = feed[Symbol.asyncIterator]();
	assert.equal((await it.next()).value.x, 5500);
});

test('a reader lapped by a ring of 64 is told what it missed', async () => {
	const feed = c.openEvents();
	const hunt = c.huntCreateSync().huntId;
	const placed = [];
	for (let i = 0; i < 200; i++) placed.push(await c.cluePlace(hunt, 1500 + (i % 8) * 1000, 1500, i));
	const evs = feed.read(1000);
	assert.ok(evs.length <= 64, `${evs.length} events`);
	assert.ok(feed.missed > 0n);
	assert.equal(BigInt(evs.length) + feed.missed, 201n);
	assert.equal(evs.at(-1).clueId, placed.at(-1));
	// The survivors are the newest ones, in order.
	for (let i = 1; i < evs.length; i++) assert.equal(evs[i].value, evs[i - 1].value + 1);
	const missedAsync = c.openEvents();
	for (let i = 0; i < 100; i++) c.cluePlaceSync(hunt, 2500, 1500, i);
	const got = await missedAsync.next({ max: 1000 });
	assert.ok(got.length <= 64 && missedAsync.missed > 0n);
});
