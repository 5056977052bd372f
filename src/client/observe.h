/*
 * Watching a daemon without attaching: the state segment, mapped read-only, for the
 * monitors (ringtop, tests). No lane is taken; the daemon sees one short connection.
 */
#ifndef CAIRN_CLIENT_OBSERVE_H
#define CAIRN_CLIENT_OBSERVE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shm/segment.h"

struct cairn__observed {
	const void *base; /* the state segment, read-only */
	uint64_t size;
	pid_t pid;                          /* the daemon's, from its header */
	struct cairn__metrics_view metrics; /* valid when metrics_err is 0 */
	int metrics_err;                    /* 0, -ENOENT (none published) or -CAIRN_E_LAYOUT */
};

/*
 * Connects to the daemon at path (NULL: the default socket), asks for the state segment
 * (hello flag OBSERVE), maps and validates it. Returns 0, or a negative code with a
 * sentence in err: -errno from the socket (-ENOENT, -ECONNREFUSED: no daemon there),
 * -CAIRN_E_DENIED, -CAIRN_E_VERSION, -CAIRN_E_HANDSHAKE, -CAIRN_E_LAYOUT, ...
 */
int cairn__observe(const char *path, struct cairn__observed *o, char *err, size_t errlen);

/* Unmaps the segment. */
void cairn__observe_close(struct cairn__observed *o);

/*
 * Whether the daemon is still there: its process exists and its heartbeat is younger
 * than stale_ns. A daemon that stopped cleanly says so in daemon_state.
 */
int cairn__observe_alive(const struct cairn__observed *o, uint64_t stale_ns);

#endif
