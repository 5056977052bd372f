'use strict';
// Starts a real cairnd for the tests: $CAIRND (an absolute path) in a fresh temporary
// directory, with --socket DIR/s --data-dir DIR/data --table-max-cells 0 and whatever
// the test adds; waits for its socket; stops it with SIGTERM.
const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

function cairndPath() {
	const p = process.env.CAIRND;
	if (!p) {
		throw new Error('CAIRND is not set: point it at a cairnd binary (an absolute path), e.g. ' +
			'CAIRND=/path/to/build/src/cairnd npm test');
	}
	if (!path.isAbsolute(p) || !fs.existsSync(p)) {
		throw new Error(`CAIRND=${p} is not an absolute path to an existing cairnd binary`);
	}
	return p;
}

function sleep(ms) {
	return new Promise((r) => setTimeout(r, ms));
}

class Daemon {
	constructor(args = [], dir = null) {
		this.bin = cairndPath();
		this.dir = dir || fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-node-'));
		this.socket = path.join(this.dir, 's');
		this.args = args;
		this.proc = null;
		this.log = '';
	}

	argv() {
		return ['--socket', this.socket, '--data-dir', path.join(this.dir, 'data'),
			'--table-max-cells', '0', ...this.args];
	}

	// Starts cairnd and resolves once its socket accepts connections.
	async start(timeoutMs = 10000) {
		fs.rmSync(this.socket, { force: true });
		const proc = spawn(this.bin, this.argv(), { stdio: ['ignore', 'pipe', 'pipe'] });
		this.proc = proc;
		proc.stdout.on('data', (d) => { this.log += d; });
		proc.stderr.on('data', (d) => { this.log += d; });
		const deadline = Date.now() + timeoutMs;
		while (Date.now() < deadline) {
			if (proc.exitCode !== null) throw new Error(`cairnd exited with ${proc.exitCode}:\n${this.log}`);
			if (fs.existsSync(this.socket) && await this.accepts()) return this;
			await sleep(10);
		}
		throw new Error(`cairnd did not open ${this.socket} in ${timeoutMs} ms:\n${this.log}`);
	}

	accepts() {
		return new Promise((resolve) => {
			const s = require('net').connect(this.socket);
			s.on('connect', () => { s.destroy(); resolve(true); });
			s.on('error', () => resolve(false));
		});
	}

	// SIGTERM (or sig), and wait for the exit.
	async stop(sig = 'SIGTERM') {
		const proc = this.proc;
		if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
		const done = new Promise((r) => proc.once('exit', r));
		proc.kill(sig);
		await done;
		this.proc = null;
	}

	// Stops and removes the directory.
	async dispose() {
		await this.stop();
		fs.rmSync(this.dir, { recursive: true, force: true });
	}
}

async function startDaemon(args = []) {
	return new Daemon(args).start();
}

// A child process (node -e source) that must exit by itself within timeoutMs.
function runNode(source, env = {}, timeoutMs = 10000) {
	return spawnSync(process.execPath, ['-e', source], {
		encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, ...env },
	});
}

module.exports = { Daemon, startDaemon, sleep, runNode, cairndPath };
