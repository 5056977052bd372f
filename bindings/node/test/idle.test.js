'use strict';
// A pending event wait does not keep an idle process alive; a command in flight does,
// until it is answered. Each case runs in a child process that must exit by itself.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('path');
const { Daemon, runNode } = require('../test-support/cairnd');

const index = JSON.stringify(path.resolve(__dirname, '..'));
let d;
test.before(async () => { d = await new Daemon().start(); });
test.after(async () => { if (d) await d.dispose(); });

test('a process whose only work is a pending event wait exits', () => {
	const t0 = Date.now();
	const r = runNode(`
		const { Client } = require(${index});
		const c = new Client(process.env.SOCK);
		const feeds = [c.openEvents(), c.openEvents()];
		feeds[0].next().then(() => console.log('event?'));
		feeds[1].next({ timeoutMs: 60000 }).then(() => console.log('event?'));
		console.log('waiting');
	`, { SOCK: d.socket }, 10000);
	assert.equal(r.signal, null, `killed after ${Date.now() - t0} ms: the wait kept the process alive`);
	assert.equal(r.status, 0, r.stderr);
	assert.equal(r.stdout, 'waiting\n');
	assert.ok(Date.now() - t0 < 5000);
});

test('a command in flight keeps the process alive until its answer', () => {
	const r = runNode(`
		const { Client } = require(${index});
		const c = new Client(process.env.SOCK);
		c.ping().then(() => c.huntCreate()).then((h) => console.log('hunt', h.width));
		c.openEvents().next().then(() => console.log('event'));
	`, { SOCK: d.socket }, 10000);
	assert.equal(r.signal, null);
	assert.equal(r.status, 0, r.stderr);
	// The hunt's creation is an event too: the wait may or may not see it before exit.
	assert.match(r.stdout, /(^|\n)hunt 128\n/);
});

test('exit while threads are busy is clean', () => {
	const r = runNode(`
		const { Client } = require(${index});
		const c = new Client(process.env.SOCK);
		for (let i = 0; i < 20; i++) c.openEvents().next();
		for (let i = 0; i < 1000; i++) c.ping();
		setTimeout(() => process.exit(3), 5);
	`, { SOCK: d.socket }, 10000);
	assert.equal(r.signal, null);
	assert.equal(r.status, 3, r.stderr);
});
