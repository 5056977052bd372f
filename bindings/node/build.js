#!/usr/bin/env node
// Builds build/Release/cairn.node: the addon's own C files (src/) with libcairn's core
// sources compiled in, so the binding needs no installed libcairn.so. Nothing is
// downloaded: the Node-API headers come from the running Node's own include directory
// (or from the node-api-headers package when that is installed), the protocol headers
// are generated here by ../../shm-protocol/gen.py (Python 3, standard library only), and
// the list of core sources is read from ../../src/meson.build, so it cannot drift.
//
//   node build.js            build (skipped when nothing changed)
//   node build.js --force    build again
//   CC=clang node build.js   another compiler; CFLAGS are appended
'use strict';

const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

const here = __dirname;
const root = path.resolve(here, '..', '..');
const out = path.join(here, 'build');
const gen = path.join(out, 'gen');
const target = path.join(out, 'Release', 'cairn.node');

function fail(msg) {
	process.stderr.write(`cairn build: ${msg}\n`);
	process.exit(1);
}

function nodeApiInclude() {
	const candidates = [];
	if (process.env.CAIRN_NODE_INCLUDE) candidates.push(process.env.CAIRN_NODE_INCLUDE);
	// A Node installed from a package or a tarball keeps its headers beside its binary.
	candidates.push(path.join(path.dirname(process.execPath), '..', 'include', 'node'));
	candidates.push('/usr/include/node', '/usr/local/include/node');
	try {
		candidates.push(require('node-api-headers').include_dir);
	} catch (_) {
		// Optional: only when the package is installed.
	}
	for (const dir of candidates) {
		if (dir && fs.existsSync(path.join(dir, 'node_api.h'))) return dir;
	}
	fail('no Node-API headers (node_api.h) found; install the Node headers ' +
		'(Debian: libnode-dev) or `npm install node-api-headers`, or set CAIRN_NODE_INCLUDE');
}

// The `core_src = files(...)` list of src/meson.build: libcairn's core.
function coreSources() {
	const text = fs.readFileSync(path.join(root, 'src', 'meson.build'), 'utf8');
	const m = /core_src\s*=\s*files\(([^)]*)\)/.exec(text);
	if (!m) fail('cannot find core_src in src/meson.build');
	const files = [...m[1].matchAll(/'([^']+)'/g)].map((x) => path.join(root, 'src', x[1]));
	if (files.length === 0) fail('core_src in src/meson.build is empty');
	return files;
}

function projectVersion() {
	const text = fs.readFileSync(path.join(root, 'meson.build'), 'utf8');
	const m = /version:\s*'([^']+)'/.exec(text);
	return m ? m[1] : '0';
}

function newest(files) {
	let t = 0;
	for (const f of files) t = Math.max(t, fs.statSync(f).mtimeMs);
	return t;
}

function headersUnder(dir) {
	const res = [];
	for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
		const p = path.join(dir, e.name);
		if (e.isDirectory()) res.push(...headersUnder(p));
		else if (e.name.endsWith('.h')) res.push(p);
	}
	return res;
}

function main() {
	const force = process.argv.includes('--force');
	const schema = path.join(root, 'shm-protocol', 'schema.json');
	const genPy = path.join(root, 'shm-protocol', 'gen.py');
	const addonSrc = fs.readdirSync(path.join(here, 'src'))
		.filter((f) => f.endsWith('.c')).sort().map((f) => path.join(here, 'src', f));
	const sources = [...addonSrc, ...coreSources()];
	const inputs = [...sources, schema, genPy, __filename,
		...headersUnder(path.join(root, 'src')), ...headersUnder(path.join(root, 'include')),
		...headersUnder(path.join(here, 'src'))];
	if (!force && fs.existsSync(target) && fs.statSync(target).mtimeMs >= newest(inputs)) {
		return;
	}

	fs.mkdirSync(path.join(gen, 'cairn'), { recursive: true });
	fs.mkdirSync(path.dirname(target), { recursive: true });
	const python = process.env.PYTHON || 'python3';
	try {
		execFileSync(python, [genPy, schema,
			'--c-header', path.join(gen, 'cairn', 'protocol.h'),
			'--c-desc', path.join(gen, 'protocol_desc.h')], { stdio: 'inherit' });
	} catch (e) {
		fail(`${python} ${genPy} failed: ${e.message}`);
	}

	const mapFile = path.join(out, 'exports.map');
	// Only the module's entry points are exported; libcairn's symbols stay inside.
	fs.writeFileSync(mapFile, '{\nglobal:\n\tnapi_register_module_v1;\n' +
		'\tnode_api_module_get_api_version_v1;\nlocal:\n\t*;\n};\n');

	const cc = process.env.CC || 'cc';
	const args = [
		'-std=c11', '-O2', '-g', '-fPIC', '-shared', '-pthread',
		'-D_GNU_SOURCE', '-DNAPI_VERSION=8', `-DCAIRN_VERSION="${projectVersion()}"`,
		'-fvisibility=hidden', '-fno-strict-aliasing',
		'-Wall', '-Wextra', '-Wno-unused-parameter', '-Wshadow', '-Wvla',
		`-I${gen}`, `-I${path.join(root, 'include')}`, `-I${path.join(root, 'src')}`,
		`-I${nodeApiInclude()}`,
		...sources,
		`-Wl,--version-script=${mapFile}`, '-o', target,
		...(process.env.CFLAGS ? process.env.CFLAGS.split(/\s+/).filter(Boolean) : []),
	];
	process.stderr.write(`cairn build: ${cc} ... -o ${path.relative(here, target)}\n`);
	try {
		execFileSync(cc, args, { stdio: 'inherit' });
	} catch (e) {
		fail(`${cc} failed`);
	}
}

main();
