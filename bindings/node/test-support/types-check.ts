// Compiled by `npm run typecheck` (tsc --noEmit) against index.d.ts: the declarations
// must describe a real use of the API.
import { Client, CairnError, CLAIM_WON, E_TOO_MANY_LANES, ERROR_NAMES, EventFeed, Moved, protocol, STRUCTS } from '../index';

async function use(socket: string): Promise<number> {
	const c = new Client(socket, { timeoutMs: 1000, cmdCapacity: 64 });
	c.pingSync();
	await c.ping();
	const h = (await c.huntCreate({ speedLimitMmS: 5000 })).huntId;
	const p: number = c.joinSync(h, 1500, 1500);
	const m: Moved = c.moveSync(h, p, 1600, 1500);
	const won: boolean = m.outcome === CLAIM_WON;
	const feed: EventFeed = c.openEvents();
	for (const e of await feed.next({ timeoutMs: 10 })) {
		const order: bigint = e.order;
		void order;
	}
	const path = await c.path(h, 1500, 1500, 10500, 1500, { waypoints: true });
	try {
		c.moveSync(h, 999, 0, 0);
	} catch (e) {
		if (e instanceof CairnError && e.codeName === 'UNKNOWN_PLAYER') return e.code;
		if (e instanceof CairnError && (e.code === E_TOO_MANY_LANES || e.code === protocol.E_TOO_MANY_PLAYERS))
			return ERROR_NAMES[e.code].length + STRUCTS['msg'].size;
	}
	c.close();
	return path.points.length + (won ? 1 : 0);
}
void use;
