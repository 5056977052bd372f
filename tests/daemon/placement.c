/*
 * placement: cairnd grown up. With --cpu it pins the apply thread, says which NUMA node
 * holds its memory (or that there is one node), allocates through mimalloc, and counts
 * every command it refuses by reason in the engine counters that hosts read.
 */
#include <dirent.h>
#include <stdio.h>
#include <unistd.h>

#include "harness.h"

#define SEC (1000 * 1000 * 1000ll)

/* Reads the first line of path that starts with key into out (the rest of the line). */
static bool read_field(const char *path, const char *key, char *out, size_t len)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		return false;
	}
	char line[512];
	bool found = false;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, strlen(key)) == 0) {
			snprintf(out, len, "%s", line + strlen(key));
			out[strcspn(out, "\n")] = 0;
			found = true;
			break;
		}
	}
	fclose(f);
	return found;
}

/* True when any line of /proc/pid/maps names libmimalloc. */
static bool maps_mimalloc(pid_t pid)
{
	char path[64], line[512];
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	FILE *f = fopen(path, "r");
	ASSERT_TRUE(f != NULL);
	bool found = false;
	while (fgets(line, sizeof(line), f)) {
		found |= strstr(line, "libmimalloc") != NULL;
	}
	fclose(f);
	return found;
}

/* The CPU list the thread named comm of pid may run on, or "" if there is none. */
static void thread_cpus(pid_t pid, const char *comm, char *out, size_t len)
{
	char dir[64], path[400], name[64];
	snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
	out[0] = 0;
	DIR *d = opendir(dir);
	ASSERT_TRUE(d != NULL);
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.') {
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s/status", dir, e->d_name);
		if (read_field(path, "Name:\t", name, sizeof(name)) && strcmp(name, comm) == 0) {
			read_field(path, "Cpus_allowed_list:\t", out, len);
		}
	}
	closedir(d);
}

static void test_placement(void)
{
	struct h_daemon *d = h_start(H_ARGS("--cpu", "0"));
	ASSERT_TRUE(h_log_has(d, "allocator: mimalloc", NULL, 2000));
	ASSERT_TRUE(maps_mimalloc(d->pid));
	/* Either the node and the node count, or a clear word that NUMA is not there. */
	ASSERT_TRUE(h_log_has(d, "pinned to CPU 0, NUMA node", NULL, 0) ||
		    h_log_has(d, "NUMA is not available", NULL, 0));
	/* The socket may accept before the apply thread has its name: give it 2 s. */
	char cpus[128];
	for (int i = 0; i < 200; i++) {
		thread_cpus(d->pid, "cairn-apply", cpus, sizeof(cpus));
		if (cpus[0]) {
			break;
		}
		h_sleep_us(10000);
	}
	if (cpus[0] == 0) {
		h_print_log(d);
		T_FAILF("no thread named cairn-apply in cairnd %d", (int)d->pid);
	}
	ASSERT_STREQ(cpus, "0");
	ASSERT_TRUE(h_log_has(d, "map 0: cairn-default, 128x96 cells", NULL, 0));

	cairn_client *c;
	ASSERT_OK(cairn_open(d->sock, NULL, &c));
	struct cairn_daemon_info info;
	ASSERT_OK(cairn_daemon_info(c, &info));
	ASSERT_EQ(info.apply_cpu, 0);
	cairn_close(c);
	h_stop(d);
	h_ok("apply thread pinned to CPU %s, mimalloc mapped, placement logged", cpus);
}

/* One malformed command of the table, sent through cairnd. */
struct bad {
	const char *what;
	uint16_t type;
	uint8_t length;
	uint8_t flags;
	/* The payload's first four 32-bit words: hunt, then player or clue, x, y (for JOIN:
	 * hunt, x, y). */
	uint32_t a, b;
	int32_t x, y;
	int code;
};

static void test_refusals_counted(void)
{
	struct h_daemon *d = h_start(NULL);
	cairn_client *c;
	ASSERT_OK(cairn_open(d->sock, NULL, &c));
	struct cairn_hunt_created hc;
	ASSERT_OK(cairn_hunt_create(c, NULL, &hc, 5 * SEC));
	uint32_t h = hc.hunt_id, p;
	ASSERT_OK(cairn_join(c, h, 1500, 1500, &p, 5 * SEC));
	struct cairn_state_hash_reply before;
	ASSERT_OK(cairn_state_hash(c, &before, 5 * SEC));

	const struct bad table[] = {
		{"unknown type", 0x7f, 0, 0, 0, 0, 0, 0, CAIRN_E_UNKNOWN_TYPE},
		{"MOVE too short", CAIRN_MSG_MOVE, 12, 0, h, p, 1500, 1500, CAIRN_E_BAD_LENGTH},
		{"MOVE with flags", CAIRN_MSG_MOVE, 16, 1, h, p, 1500, 1500, CAIRN_E_BAD_FLAGS},
		{"MOVE, unknown hunt", CAIRN_MSG_MOVE, 16, 0, h + 1, p, 1500, 1500,
		 CAIRN_E_UNKNOWN_HUNT},
		{"MOVE, unknown player", CAIRN_MSG_MOVE, 16, 0, h, p + 1, 1500, 1500,
		 CAIRN_E_UNKNOWN_PLAYER},
		{"MOVE off the map", CAIRN_MSG_MOVE, 16, 0, h, p, -1, 1500, CAIRN_E_OFF_MAP},
		{"MOVE into a wall", CAIRN_MSG_MOVE, 16, 0, h, p, 500, 500, CAIRN_E_BLOCKED},
		{"JOIN into a wall", CAIRN_MSG_JOIN, 12, 0, h, 500, 500, 0, CAIRN_E_BLOCKED},
		{"LEAVE, unknown player", CAIRN_MSG_LEAVE, 8, 0, h, p + 7, 0, 0,
		 CAIRN_E_UNKNOWN_PLAYER},
		{"CLUE_REMOVE, unknown clue", CAIRN_MSG_CLUE_REMOVE, 8, 0, h, 12345, 0, 0,
		 CAIRN_E_UNKNOWN_CLUE},
		{"HUNT_DESTROY, unknown hunt", CAIRN_MSG_HUNT_DESTROY, 4, 0, h ^ 0x40000000u, 0, 0,
		 0, CAIRN_E_UNKNOWN_HUNT},
	};
	struct cairn_daemon_info i0, i1;
	ASSERT_OK(cairn_daemon_info(c, &i0));
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		const struct bad *t = &table[i];
		struct cairn_msg m, res;
		memset(&m, 0, sizeof(m));
		m.hdr.type = t->type;
		m.hdr.length = t->length;
		m.hdr.flags = t->flags;
		memcpy(m.payload, &t->a, 4);
		memcpy(m.payload + 4, &t->b, 4);
		memcpy(m.payload + 8, &t->x, 4);
		memcpy(m.payload + 12, &t->y, 4);
		int r = cairn_call(c, &m, &res, 5 * SEC);
		if (r != -t->code) {
			T_FAILF("%s: %d (%s), expected -%s", t->what, r, cairn_strerror(r),
				cairn_error_name(t->code));
		}
		ASSERT_EQ(res.hdr.status, t->code);
	}
	ASSERT_OK(cairn_daemon_info(c, &i1));
	/* Each reason counted once per refusal; the total too. */
	uint64_t want[64] = {0};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		want[table[i].code - CAIRN_E_BAD_MAGIC]++;
	}
	for (int k = 0; k < 64; k++) {
		uint64_t got = i1.engine.by_error[k] - i0.engine.by_error[k];
		if (got != want[k]) {
			T_FAILF("by_error[%s]: %llu more, expected %llu",
				cairn_error_name(k + 1001), (unsigned long long)got,
				(unsigned long long)want[k]);
		}
	}
	ASSERT_UEQ(i1.engine.rejected - i0.engine.rejected, sizeof(table) / sizeof(table[0]));
	ASSERT_UEQ(i1.engine.by_type[CAIRN_MSG_MOVE] - i0.engine.by_type[CAIRN_MSG_MOVE], 6);
	/* And nothing changed. */
	struct cairn_state_hash_reply after;
	ASSERT_OK(cairn_state_hash(c, &after, 5 * SEC));
	ASSERT_UEQ(after.hash, before.hash);
	ASSERT_UEQ(after.applied, before.applied);
	cairn_close(c);
	h_stop(d);
	h_ok("%zu refusals, each counted by reason; state hash unchanged",
	     sizeof(table) / sizeof(table[0]));
}

int main(int argc, char **argv)
{
	h_init(argc, argv, "placement");
	test_placement();
	test_refusals_counted();
	h_pass();
}
