'use strict';
// index.d.ts declares every public method of Client and EventFeed (npm run typecheck
// compiles it; this keeps it from falling behind the code).
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
