/*
 * A game host for the ops tests, driven line by line on stdin so that a Python test can
 * make it send a known number of commands and then look at the daemon from outside.
 *
 *   ops-host SOCKET NAME      attaches (reconnecting as libcairn does by default) and
 *                             prints "ready client=ID lane=N pid=P"
 *
 * Then, one answer line per command line: "ok [VALUE]" or "err CODE NAME".
 *
 *   ping N                    N PINGs, one at a time
 *   unknown N                 N commands of a type the schema does not define
 *   hunt MAP                  a hunt on map MAP; prints its id
 *   join HUNT X Y             a player at (X, Y) mm; prints its id
 *   clue HUNT X Y             a clue worth 1 at (X, Y) mm; prints its id
 *   move HUNT PLAYER X Y      a move
 *   evict CLIENT              EVICT, as cairnctl sends it; prints the lane evicted
 *   quit                      detaches and exits 0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cairn/cairn.h"

#define TIMEOUT_NS (5ll * 1000 * 1000 * 1000)

static void report(int r, unsigned long long value, int with_value)
{
	if (r < 0) {
		const char *name = cairn_error_name(r);
		printf("err %d %s\n", -r, name ? name : cairn_strerror(r));
	} else if (with_value) {
		printf("ok %llu\n", value);
	} else {
		printf("ok\n");
	}
	fflush(stdout);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: ops-host SOCKET NAME\n");
		return 2;
	}
	struct cairn_open_options oo = {.name = argv[2]};
	cairn_client *c;
	int r = cairn_open(argv[1], &oo, &c);
	if (r < 0) {
		printf("err %d %s\n", -r, cairn_strerror(r));
		return 1;
	}
	struct cairn_daemon_info info;
	r = cairn_daemon_info(c, &info);
	if (r < 0) {
		printf("err %d %s\n", -r, cairn_strerror(r));
		return 1;
	}
	printf("ready client=%llu lane=%u pid=%d\n", (unsigned long long)info.client_id,
	       info.lane_id, (int)getpid());
	fflush(stdout);

	char line[256];
	while (fgets(line, sizeof(line), stdin)) {
		char cmd[32];
		long long a = 0, b = 0, x = 0, y = 0;
		int n = sscanf(line, "%31s %lld %lld %lld %lld", cmd, &a, &b, &x, &y);
		if (n < 1) {
			continue;
		}
		if (strcmp(cmd, "quit") == 0) {
			break;
		} else if (strcmp(cmd, "ping") == 0) {
			r = 0;
			for (long long i = 0; i < a && r == 0; i++) {
				r = cairn_ping(c, TIMEOUT_NS);
			}
			report(r, 0, 0);
		} else if (strcmp(cmd, "unknown") == 0) {
			r = 0;
			for (long long i = 0; i < a && r >= 0; i++) {
				struct cairn_msg m, res;
				cairn_msg_init(&m, 63, 0);
				r = cairn_call(c, &m, &res, TIMEOUT_NS);
				if (r == -CAIRN_E_UNKNOWN_TYPE) {
					r = 0; /* the expected answer */
				} else if (r == 0) {
					r = -CAIRN_E_BAD_REPLY;
				}
			}
			report(r, 0, 0);
		} else if (strcmp(cmd, "hunt") == 0) {
			struct cairn_hunt_params p = {.map_id = (uint32_t)a};
			struct cairn_hunt_created h;
			r = cairn_hunt_create(c, &p, &h, TIMEOUT_NS);
			report(r, r < 0 ? 0 : h.hunt_id, 1);
		} else if (strcmp(cmd, "join") == 0) {
			uint32_t id = 0;
			r = cairn_join(c, (uint32_t)a, (int32_t)b, (int32_t)x, &id, TIMEOUT_NS);
			report(r, id, 1);
		} else if (strcmp(cmd, "clue") == 0) {
			uint32_t id = 0;
			r = cairn_clue_place(c, (uint32_t)a, (int32_t)b, (int32_t)x, 1, &id,
					     TIMEOUT_NS);
			report(r, id, 1);
		} else if (strcmp(cmd, "move") == 0) {
			struct cairn_moved mv;
			r = cairn_move(c, (uint32_t)a, (uint32_t)b, (int32_t)x, (int32_t)y, &mv,
				       TIMEOUT_NS);
			report(r, 0, 0);
		} else if (strcmp(cmd, "evict") == 0) {
			struct cairn_evict e = {.client_id = (uint64_t)a};
			struct cairn_msg m, res;
			cairn_msg_init(&m, CAIRN_MSG_EVICT, CAIRN_MSG_EVICT_LEN_MIN);
			memcpy(m.payload, &e, sizeof(e));
			r = cairn_call(c, &m, &res, TIMEOUT_NS);
			struct cairn_evicted v = {0};
			memcpy(&v, res.payload, sizeof(v));
			report(r, r < 0 ? 0 : v.lane, 1);
		} else {
			printf("err 0 unknown-command\n");
			fflush(stdout);
		}
	}
	cairn_close(c);
	return 0;
}
