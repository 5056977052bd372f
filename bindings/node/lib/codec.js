'use strict';
// Encoding and decoding of the protocol's structs, driven by the STRUCTS tables that
// shm-protocol/gen.py writes into protocol.js (offset, width, count, signedness of every
// field), so that no layout is written down twice.
//
// Two flavours:
//   decodeRaw / encodeRaw  every field under its schema name (dotted when nested),
//                          64-bit fields as BigInt, u8 arrays as Uint8Array, other
//                          arrays as arrays: exact, for the golden vectors and tools.
//   decoder(name)          a compiled function (DataView, offset) -> plain object for the
//                          API: camelCase keys, padding and reserved fields left out,
//                          ids and 32-bit values as numbers, game quantities (`score`,
//                          `value`) as numbers, other 64-bit fields (orders, stamps,
//                          hashes, LSNs) as BigInt.
const { STRUCTS } = require('./protocol');

function struct(name) {
	const s = STRUCTS[name];
	if (!s) throw new TypeError(`unknown struct ${name}`);
	return s;
}

function readInt(dv, at, size, signed) {
	switch (size) {
	case 1: return signed ? dv.getInt8(at) : dv.getUint8(at);
	case 2: return signed ? dv.getInt16(at, true) : dv.getUint16(at, true);
	case 4: return signed ? dv.getInt32(at, true) : dv.getUint32(at, true);
	case 8: return signed ? dv.getBigInt64(at, true) : dv.getBigUint64(at, true);
	default: throw new RangeError(`field width ${size}`);
	}
}

function writeInt(dv, at, size, signed, v) {
	switch (size) {
	case 1: return signed ? dv.setInt8(at, Number(v)) : dv.setUint8(at, Number(v));
	case 2: return signed ? dv.setInt16(at, Number(v), true) : dv.setUint16(at, Number(v), true);
	case 4: return signed ? dv.setInt32(at, Number(v), true) : dv.setUint32(at, Number(v), true);
	case 8: return signed ? dv.setBigInt64(at, BigInt(v), true) : dv.setBigUint64(at, BigInt(v), true);
	default: throw new RangeError(`field width ${size}`);
	}
}

function view(bytes) {
	return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

// bytes (Uint8Array, at least the struct's size) -> {field: value} for every field.
function decodeRaw(name, bytes) {
	const s = struct(name);
	if (bytes.byteLength < s.size) throw new RangeError(`${name}: ${bytes.byteLength} < ${s.size} bytes`);
	const dv = view(bytes);
	const out = {};
	for (const [fname, off, size, count, signed] of s.fields) {
		if (count === 1) {
			out[fname] = readInt(dv, off, size, signed);
		} else if (size === 1) {
			out[fname] = bytes.slice(off, off + count);
		} else {
			const a = [];
			for (let i = 0; i < count; i++) a.push(readInt(dv, off + i * size, size, signed));
			out[fname] = a;
		}
	}
	return out;
}

// {field: value} (missing fields are zero) -> a new Uint8Array of the struct's size.
// Integers may be numbers or BigInts; u8 arrays a Uint8Array, an array or a hex string.
function encodeRaw(name, values) {
	const s = struct(name);
	const bytes = new Uint8Array(s.size);
	const dv = view(bytes);
	const known = new Set();
	for (const [fname, off, size, count, signed] of s.fields) {
		known.add(fname);
		if (!(fname in values)) continue;
		const v = values[fname];
		if (count === 1) {
			writeInt(dv, off, size, signed, v);
			continue;
		}
		let items = v;
		if (size === 1 && typeof v === 'string') items = Buffer.from(v, 'hex');
		if (items.length > count) throw new RangeError(`${name}.${fname}: ${items.length} > ${count} items`);
		for (let i = 0; i < items.length; i++) writeInt(dv, off + i * size, size, signed, items[i]);
	}
	for (const k of Object.keys(values)) {
		if (!known.has(k)) throw new TypeError(`${name} has no field ${k}`);
	}
	return bytes;
}

const NUMBER64 = new Set(['score', 'value']);

function camel(fname) {
	return fname.replace(/[._]([a-z0-9])/g, (_, c) => c.toUpperCase());
}

function cstr(dv, at, n) {
	let s = '';
	for (let i = 0; i < n; i++) {
		const c = dv.getUint8(at + i);
		if (c === 0) break;
		s += String.fromCharCode(c);
	}
	return s;
}

function u8copy(dv, at, n) {
	return new Uint8Array(dv.buffer.slice(dv.byteOffset + at, dv.byteOffset + at + n));
}

const decoders = new Map();

// A compiled decoder for the API (see the top of the file); `strings` names the u8
// arrays that hold NUL-padded text.
function decoder(name, strings = ['name']) {
	const key = `${name}/${strings.join(',')}`;
	let fn = decoders.get(key);
	if (fn) return fn;
	const s = struct(name);
	const parts = [];
	const read = (size, signed, at, leaf) => {
		switch (size) {
		case 1: return `dv.get${signed ? 'Int8' : 'Uint8'}(o + ${at})`;
		case 2: return `dv.get${signed ? 'Int16' : 'Uint16'}(o + ${at}, true)`;
		case 4: return `dv.get${signed ? 'Int32' : 'Uint32'}(o + ${at}, true)`;
		default: {
			if (NUMBER64.has(leaf)) {
				// Two halves, no BigInt allocated: exact up to 2^53 in magnitude.
				return `(dv.getUint32(o + ${at}, true) + dv.get${signed ? 'Int32' : 'Uint32'}(o + ${at + 4}, true) * 4294967296)`;
			}
			return `dv.get${signed ? 'BigInt64' : 'BigUint64'}(o + ${at}, true)`;
		}
		}
	};
	for (const [fname, off, size, count, signed] of s.fields) {
		const leaf = fname.split('.').pop();
		if (leaf.startsWith('_')) continue;
		let expr;
		if (count === 1) {
			expr = read(size, signed, off, leaf);
		} else if (size === 1) {
			expr = strings.includes(leaf) ? `cstr(dv, o + ${off}, ${count})` : `u8copy(dv, o + ${off}, ${count})`;
		} else {
			const items = [];
			for (let i = 0; i < count; i++) items.push(read(size, signed, off + i * size, leaf));
			expr = `[${items.join(', ')}]`;
		}
		parts.push(`${JSON.stringify(camel(fname))}: ${expr}`);
	}
	// eslint-disable-next-line no-new-func
	const compiled = new Function('cstr', 'u8copy', `return function decode_${name}(dv, o) {\n` +
		`\treturn {${parts.join(', ')}};\n};`)(cstr, u8copy);
	decoders.set(key, compiled);
	return compiled;
}

// Decodes n consecutive structs from bytes (a Uint8Array).
function decodeArray(name, bytes, n) {
	const dec = decoder(name);
	const size = struct(name).size;
	const dv = view(bytes);
	const out = new Array(n);
	for (let i = 0; i < n; i++) out[i] = dec(dv, i * size);
	return out;
}

// {field: offset} of a struct's top-level fields, for writing payloads in place.
function offsets(name) {
	const o = {};
	for (const [fname, off] of struct(name).fields) o[fname] = off;
	return Object.freeze(o);
}

module.exports = { decodeRaw, encodeRaw, decoder, decodeArray, offsets, camel, view };
