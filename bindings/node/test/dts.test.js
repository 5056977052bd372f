'use strict';
// index.d.ts declares every public method of Client and EventFeed, and every protocol
// constant (lib/protocol.d.ts, generated); tsc compiles it with a program that uses it,
// as npm run typecheck does. This keeps the declarations from falling behind the code.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const { Client, EventFeed } = require('..');

const dts = fs.readFileSync(path.join(__dirname, '..', 'index.d.ts'), 'utf8');

function declared(cls) {
	const body = new RegExp(`export class ${cls} [^{]*\\{([\\s\\S]*?)\\n\\}`).exec(dts)[1];
	return new Set([...body.matchAll(/^\t(?:static )?(?:readonly )?([a-zA-Z]\w*)[?(:]/gm)].map((m) => m[1]));
}

for (const [name, cls] of [['Client', Client], ['EventFeed', EventFeed]]) {
	test(`index.d.ts declares every public member of ${name}`, () => {
		const names = declared(name);
		for (const k of Object.getOwnPropertyNames(cls.prototype)) {
			if (k === 'constructor' || k.startsWith('_')) continue;
			assert.ok(names.has(k), `${name}.${k} is not in index.d.ts`);
		}
		for (const k of Object.getOwnPropertyNames(cls)) {
			if (['length', 'name', 'prototype'].includes(k)) continue;
			assert.ok(names.has(k), `static ${name}.${k} is not in index.d.ts`);
		}
	});
}

test('lib/protocol.d.ts declares every constant of lib/protocol.js, with its type', () => {
	const protocol = require('../lib/protocol');
	const pdts = fs.readFileSync(path.join(__dirname, '..', 'lib', 'protocol.d.ts'), 'utf8');
	const types = new Map([...pdts.matchAll(/^export declare const (\w+): (.+);$/gm)].map((m) => [m[1], m[2]]));
	for (const [k, v] of Object.entries(protocol)) {
		assert.ok(types.has(k), `${k} is not in lib/protocol.d.ts`);
		if (typeof v === 'number' || typeof v === 'bigint') assert.equal(types.get(k), typeof v, k);
	}
	assert.ok(types.has('E_TOO_MANY_LANES') && types.has('E_TOO_MANY_PLAYERS'));
	assert.match(dts, /^export \* from '\.\/lib\/protocol';$/m, 'index.d.ts re-exports lib/protocol');
});

test('index.d.ts and a program using it compile (npm run typecheck)', (t) => {
	const tsc = path.join(__dirname, '..', 'node_modules', '.bin', 'tsc');
	if (!fs.existsSync(tsc)) {
		t.skip('typescript is not installed (npm ci installs it)');
		return;
	}
	const { spawnSync } = require('child_process');
	const r = spawnSync(tsc, ['--noEmit', '--strict', '--target', 'es2020', '--module', 'commonjs',
		'index.d.ts', 'test-support/types-check.ts'], { cwd: path.join(__dirname, '..'), encoding: 'utf8' });
	assert.equal(r.status, 0, `tsc failed:\n${r.stdout}${r.stderr}`);
});
