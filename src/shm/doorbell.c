#include "shm/doorbell.h"

#include <sched.h>

#include "common/clock.h"

void cairn__idle_init(struct cairn__idle *idle, uint64_t spin_ns, uint64_t yield_ns)
{
	idle->start = 0;
	idle->spin_ns = spin_ns;
	idle->yield_ns = yield_ns;
	cairn__idle_reset(idle);
}

bool cairn__idle_step(struct cairn__idle *idle)
{
	if (idle->n++ == 0) {
		idle->start = cairn__now_ns();
	}
	if (!idle->yielding) {
		/* Read the clock only every 64 pauses: the spin must stay cheap. */
		if ((idle->n & 63) != 0 || cairn__now_ns() - idle->start < idle->spin_ns) {
			cairn__cpu_relax();
			return false;
		}
		idle->yielding = 1;
	}
	if (cairn__now_ns() - idle->start < idle->spin_ns + idle->yield_ns) {
		sched_yield();
		return false;
	}
	return true;
}
