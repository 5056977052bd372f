'use strict';
// The golden vectors of shm-protocol/vectors: every .bin decodes (through STRUCTS) to
// the values of its .json, and those values encode back to identical bytes.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const { STRUCTS } = require('../lib/protocol');
const { decodeRaw, encodeRaw } = require('../lib/codec');

const dir = path.resolve(__dirname, '..', '..', '..', 'shm-protocol', 'vectors');

// JSON.parse turns 9007199254740993 into ...992: this parser keeps every number's text.
function parseExact(text) {
	let i = 0;
	const ws = () => { while (/\s/.test(text[i])) i++; };
	const value = () => {
		ws();
		const c = text[i];
		if (c === '{') {
			i++;
			const o = {};
			ws();
			if (text[i] === '}') { i++; return o; }
			for (;;) {
				ws();
				const k = value();
				ws();
				assert.equal(text[i++], ':');
				o[k] = value();
				ws();
				if (text[i] === ',') { i++; continue; }
				assert.equal(text[i++], '}');
				return o;
			}
		}
		if (c === '[') {
			i++;
			const a = [];
			ws();
			if (text[i] === ']') { i++; return a; }
			for (;;) {
				a.push(value());
				ws();
				if (text[i] === ',') { i++; continue; }
				assert.equal(text[i++], ']');
				return a;
			}
		}
		if (c === '"') {
			const m = /^"(?:[^"\\]|\\.)*"/.exec(text.slice(i));
			i += m[0].length;
			return JSON.parse(m[0]);
		}
		const m = /^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|^true|^false|^null/.exec(text.slice(i));
		assert.ok(m, `JSON at ${i}`);
		i += m[0].length;
		if (/^-?\d+$/.test(m[0])) return { num: m[0] };
		return JSON.parse(m[0]);
	};
	const v = value();
	ws();
	assert.equal(i, text.length);
	return v;
}

// A .json value as the decoder returns it for field [name, off, size, count, signed].
function expected(field, v) {
	const [, , size, count] = field;
	const int = (x) => {
		const s = typeof x === 'object' ? x.num : x;
		const b = BigInt(s); // decimal, "-..." or "0x..."
		return size === 8 ? b : Number(b);
	};
	if (count === 1) return int(v);
	if (size === 1) {
		const bytes = new Uint8Array(count);
		bytes.set(Buffer.from(v, 'hex'));
		return bytes;
	}
	const a = new Array(count).fill(size === 8 ? 0n : 0);
	v.forEach((x, j) => { a[j] = int(x); });
	return a;
}

const names = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

test('the vectors directory has vectors', () => {
	assert.ok(names.length >= 40, `${names.length} vectors in ${dir}`);
});

for (const name of names) {
	test(`vector ${name}`, () => {
		const spec = parseExact(fs.readFileSync(path.join(dir, name), 'utf8'));
		const bin = new Uint8Array(fs.readFileSync(path.join(dir, name.replace(/\.json$/, '.bin'))));
		const s = STRUCTS[spec.struct];
		assert.ok(s, `struct ${spec.struct}`);
		assert.equal(bin.length, s.size);

		const fields = new Map(s.fields.map((f) => [f[0], f]));
		for (const k of Object.keys(spec.fields)) assert.ok(fields.has(k), `${spec.struct} has ${k}`);

		// Decode: every field equals the .json value (or zero when not named).
		const got = decodeRaw(spec.struct, bin);
		const want = {};
		for (const f of s.fields) {
			const v = spec.fields[f[0]];
			want[f[0]] = v === undefined ? expected(f, f[3] > 1 && f[2] === 1 ? '' : f[3] > 1 ? [] : 0) : expected(f, v);
			assert.deepEqual(got[f[0]], want[f[0]], `${name}: ${f[0]}`);
		}

		// Encode the .json values: the same bytes; and the decoded values too.
		assert.deepEqual(encodeRaw(spec.struct, want), bin, `${name}: encoded from the .json`);
		assert.deepEqual(encodeRaw(spec.struct, got), bin, `${name}: re-encoded from the decode`);
	});
}
