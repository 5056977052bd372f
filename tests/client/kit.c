#include "kit.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>

struct h_daemon *kit_start(const char *const *extra)
{
	struct h_daemon *d = h_prepare();
	char path[160];
	snprintf(path, sizeof(path), "%s/field.map", d->dir);
	FILE *f = fopen(path, "w");
	if (!f) {
		T_FAILF("cannot create %s: %s", path, strerror(errno));
	}
	fprintf(f, "type octile\nheight %d\nwidth %d\nmap\n", KIT_H, KIT_W);
	for (int y = 0; y < KIT_H; y++) {
		for (int x = 0; x < KIT_W; x++) {
			fputc(x == KIT_WALL_X && y == KIT_WALL_Y ? '@' : '.', f);
		}
		fputc('\n', f);
	}
	if (fclose(f) != 0) {
		T_FAILF("cannot write %s", path);
	}
	kit_respawn(d, extra);
	return d;
}

void kit_respawn(struct h_daemon *d, const char *const *extra)
{
	char path[160];
	snprintf(path, sizeof(path), "%s/field.map", d->dir);
	const char *args[40];
	unsigned n = 0;
	args[n++] = "--map";
	args[n++] = path;
	for (unsigned i = 0; extra && extra[i]; i++) {
		if (n + 1 >= sizeof(args) / sizeof(args[0])) {
			T_FAILF("too many daemon arguments");
		}
		args[n++] = extra[i];
	}
	args[n] = NULL;
	h_spawn(d, args);
	h_wait_ready(d);
}

void kit_kill(struct h_daemon *d)
{
	h_signal(d, SIGKILL);
	if (!h_wait_exit(d, 10000)) {
		T_FAILF("cairnd did not die within 10 s of SIGKILL");
	}
}

void wait_reconnects(cairn_client *c, uint64_t n)
{
	uint64_t end = h_now_ns() + 10 * SEC;
	struct cairn_daemon_info info;
	for (;;) {
		ASSERT_OK(cairn_daemon_info(c, &info));
		if (info.reconnects >= n) {
			return;
		}
		if (h_now_ns() > end) {
			T_FAILF("%llu reattaches after 10 s, expected %llu",
				(unsigned long long)info.reconnects, (unsigned long long)n);
		}
		h_sleep_us(1000);
	}
}

cairn_client *kit_open(const struct h_daemon *d, const struct cairn_open_options *opts)
{
	cairn_client *c = NULL;
	ASSERT_OK(cairn_open(d->sock, opts, &c));
	return c;
}

uint32_t kit_hunt(cairn_client *c, uint32_t claim_radius_mm, uint32_t speed_limit_mm_s)
{
	struct cairn_hunt_params p = {.map_id = KIT_MAP,
				      .claim_radius_mm = claim_radius_mm,
				      .speed_limit_mm_s = speed_limit_mm_s};
	struct cairn_hunt_created hc;
	ASSERT_OK(cairn_hunt_create(c, &p, &hc, 5 * SEC));
	ASSERT_EQ(hc.map_id, KIT_MAP);
	ASSERT_EQ(hc.width, KIT_W);
	ASSERT_EQ(hc.height, KIT_H);
	return hc.hunt_id;
}
