#!/usr/bin/env node
'use strict';
// A small game-server host: creates a hunt on cairnd's embedded map, joins four
// players, places clues, walks every player toward its nearest clue one step at a time
// (the daemon's NEXT_MOVE answers which way), reacts to claim events from the feed, and
// prints what happened.
//
//   node examples/hunt.js --socket PATH [--seconds N]
const path = require('path');
const cairn = require(path.join(__dirname, '..'));

function flag(name, dflt) {
	const i = process.argv.indexOf(name);
	return i > 0 ? process.argv[i + 1] : dflt;
}

const STEP = { [cairn.DIR_N]: [0, -1], [cairn.DIR_NE]: [1, -1], [cairn.DIR_E]: [1, 0], [cairn.DIR_SE]: [1, 1],
	[cairn.DIR_S]: [0, 1], [cairn.DIR_SW]: [-1, 1], [cairn.DIR_W]: [-1, 0], [cairn.DIR_NW]: [-1, -1] };

async function main() {
	const client = new cairn.Client(flag('--socket'), { name: 'hunt-example' });
	const seconds = Number(flag('--seconds', 5));
	const hunt = await client.huntCreate();
	const cell = hunt.cellMm;
	const h = hunt.huntId;
	console.log(`hunt ${h}: ${hunt.width} x ${hunt.height} cells of ${cell} mm`);

	const names = new Map();
	const players = [];
	for (const [i, name] of ['ada', 'brook', 'cyd', 'dune'].entries()) {
		const id = await client.join(h, 1500 + i * 1000, 1500);
		names.set(id, name);
		players.push(id);
	}
	const spots = [[10500, 1500], [5500, 3500], [1500, 10500], [20500, 20500], [30500, 10500], [60500, 40500]];
	let spot = 0;
	const placeClue = () => {
		const [x, y] = spots[spot++ % spots.length];
		return client.cluePlace(h, x, y, 10 + (spot % 5) * 5);
	};
	for (let i = 0; i < 3; i++) await placeClue();

	// React to the feed: every claim is announced and its clue replaced elsewhere.
	const feed = client.openEvents();
	let claims = 0;
	let running = true;
	(async () => {
		while (running) {
			for (const e of await feed.next({ timeoutMs: 200 })) {
				if (e.type !== cairn.EVENT_CLUE_CLAIMED) continue;
				claims++;
				console.log(`  ${names.get(e.playerId)} claimed clue ${e.clueId} worth ${e.value} at (${e.x}, ${e.y})`);
				await client.clueRemove(h, e.clueId);
				await placeClue();
			}
		}
	})().catch((e) => { if (running) console.error('feed:', e.message); });

	// The game loop: each tick, every player takes one step toward its nearest clue.
	const deadline = Date.now() + seconds * 1000;
	let moves = 0;
	while (Date.now() < deadline) {
		const pairs = [];
		const who = [];
		for (const p of players) {
			const st = client.playerStateSync(h, p);
			const [clue] = await client.nearestClues(h, st.x, st.y, 1);
			if (!clue) continue;
			pairs.push({ fromX: st.x, fromY: st.y, toX: clue.x, toY: clue.y });
			who.push([p, st, clue]);
		}
		if (pairs.length === 0) break;
		const { items } = await client.nextMoves(h, pairs);
		await Promise.all(items.map(async (it, i) => {
			const [p, st, clue] = who[i];
			let x, y;
			if (it.status !== 0) return;
			if (it.dir === cairn.DIR_NONE) [x, y] = [clue.x, clue.y];
			else [x, y] = [st.x + STEP[it.dir][0] * cell, st.y + STEP[it.dir][1] * cell];
			try {
				await client.move(h, p, x, y);
				moves++;
			} catch (e) {
				console.log(`  ${names.get(p)}: ${e.codeName}`);
			}
		}));
		await new Promise((r) => setTimeout(r, 2));
	}
	running = false;

	console.log(`${moves} moves, ${claims} claims in ${seconds} s`);
	for (const [rank, hit] of (await client.leaderboard(h, players.length)).entries()) {
		console.log(`  #${rank + 1} ${names.get(hit.id).padEnd(6)} ${hit.value}`);
	}
	await client.huntDestroy(h);
	client.close();
}

main().catch((e) => {
	console.error(e.message);
	process.exit(1);
});
