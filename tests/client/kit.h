/*
 * What the client tests share: a cairnd started on a private socket with a small open
 * map of its own (map id 1) next to the embedded one, and a few helpers.
 *
 * The field map is KIT_W x KIT_H cells of open ground with a single wall cell at
 * (KIT_WALL_X, KIT_WALL_Y), so that every position a test picks is known to be
 * passable or blocked without reading the map.
 */
#ifndef CAIRN_TESTS_CLIENT_KIT_H
#define CAIRN_TESTS_CLIENT_KIT_H

#include "../daemon/harness.h"

#define SEC ((int64_t)1000 * 1000 * 1000)
#define MS  ((int64_t)1000 * 1000)

#define KIT_MAP    1 /* the field map's id */
#define KIT_W      64
#define KIT_H      48
#define KIT_WALL_X 10
#define KIT_WALL_Y 10
#define KIT_CELL   1000 /* mm, the default cell side */

/* h_start with the field map loaded (--map) in front of the extra arguments. */
struct h_daemon *kit_start(const char *const *extra);

/*
 * Starts cairnd again in d (same socket, same data directory, the field map) once the
 * previous one has exited, with these extra arguments, and waits until it listens.
 */
void kit_respawn(struct h_daemon *d, const char *const *extra);

/* SIGKILL, and waits (at most 10 s) until the daemon is gone. */
void kit_kill(struct h_daemon *d);

/*
 * Waits (at most 10 s) until c has reattached n times in all, so that the next kill
 * hits a daemon that serves it; the other threads of the test drive the reattach.
 */
void wait_reconnects(cairn_client *c, uint64_t n);

/* cairn_open on d's socket with opts (NULL for defaults); fails the test on error. */
cairn_client *kit_open(const struct h_daemon *d, const struct cairn_open_options *opts);

/* A hunt on the field map with this claim radius and speed limit (0: defaults). */
uint32_t kit_hunt(cairn_client *c, uint32_t claim_radius_mm, uint32_t speed_limit_mm_s);

/* Asserts that call returned exactly -code, naming both codes otherwise. */
#define ASSERT_CODE(call, code)                                                                    \
	do {                                                                                       \
		int _r = (call);                                                                   \
		int _want = -(int)(code);                                                          \
		if (_r != _want)                                                                   \
			T_FAILF("%s returned %d (%s), expected %d (%s)", #call, _r,                \
				cairn_strerror(_r), _want, cairn_strerror(_want));                 \
	} while (0)

#endif
