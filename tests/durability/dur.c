#include "dur.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

struct dur_config dur;

void dur_init(int argc, char **argv, const char *name, bool table)
{
	h_init(argc, argv, name);
	int next = 2;
	if (table) {
		if (argc < 3 ||
		    (strcmp(argv[2], "io_uring") != 0 && strcmp(argv[2], "sync") != 0)) {
			T_FAILF("usage: %s CAIRND io_uring|sync [CAIRN-REPLAY] (got %s)", argv[0],
				argc < 3 ? "no backend" : argv[2]);
		}
		dur.backend = argv[2];
		next = 3;
	}
	if (argc > next) {
		if (access(argv[next], X_OK) != 0) {
			T_FAILF("cairn-replay %s is not executable", argv[next]);
		}
		dur.replay = argv[next];
	}
	printf("%s: backend %s, cairn-replay %s\n", name, dur.backend ? dur.backend : "(auto)",
	       dur.replay ? dur.replay : "(not built)");
}

/* ---- the daemon ---- */

#define MAX_EXTRA 48

static void with_backend(const char *const *extra, const char **args)
{
	unsigned n = 0;
	bool named = false;
	for (unsigned i = 0; extra && extra[i]; i++) {
		if (n + 3 >= MAX_EXTRA) {
			T_FAILF("too many daemon arguments");
		}
		named |= strncmp(extra[i], "--wal-backend", 13) == 0;
		args[n++] = extra[i];
	}
	if (dur.backend && !named) {
		args[n++] = "--wal-backend";
		args[n++] = dur.backend;
	}
	args[n] = NULL;
}

static bool connectable(const char *sock)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		T_FAILF("socket: %s", strerror(errno));
	}
	int r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	return r == 0;
}

/* Waits for the socket; a daemon that exits first is a skip (io_uring refused) or a failure. */
static void wait_ready(struct h_daemon *d, off_t mark)
{
	uint64_t deadline = h_now_ns() + 20 * (uint64_t)SEC;
	for (;;) {
		if (h_wait_exit(d, 0)) {
			char line[1024];
			if (dur.backend && strcmp(dur.backend, "io_uring") == 0 &&
			    dur_log_find(d, mark,
					 H_ARGS("cannot open the write-ahead log", "io_uring"),
					 line, sizeof(line), 0)) {
				T_SKIP_BECAUSE("cairnd cannot use io_uring here: %s", line);
			}
			T_FAILF("cairnd exited before accepting connections (status 0x%x)",
				d->status);
		}
		if (connectable(d->sock)) {
			return;
		}
		if (h_now_ns() > deadline) {
			T_FAILF("cairnd did not accept connections on %s within 20 s", d->sock);
		}
		h_sleep_us(2000);
	}
}

void dur_spawn(struct h_daemon *d, const char *const *extra)
{
	dur_spawn_wrapped(d, NULL, extra);
}

void dur_spawn_wrapped(struct h_daemon *d, const char *const *wrapper, const char *const *extra)
{
	const char *args[MAX_EXTRA];
	with_backend(extra, args);
	off_t mark = dur_log_mark(d);
	h_spawn_wrapped(d, wrapper, args);
	wait_ready(d, mark);
}

struct h_daemon *dur_start(const char *const *extra)
{
	struct h_daemon *d = h_prepare();
	dur_spawn(d, extra);
	return d;
}

int dur_spawn_expect_exit(struct h_daemon *d, const char *const *extra)
{
	const char *args[MAX_EXTRA];
	with_backend(extra, args);
	h_spawn(d, args);
	if (!h_wait_exit(d, 10000)) {
		T_FAILF("cairnd (pid %d) still runs 10 s after it was started; it should have "
			"refused to start",
			(int)d->pid);
	}
	return d->status;
}

void dur_kill(struct h_daemon *d)
{
	h_signal(d, SIGKILL);
	if (!h_wait_exit(d, 10000)) {
		T_FAILF("cairnd (pid %d) survived SIGKILL for 10 s", (int)d->pid);
	}
}

off_t dur_log_mark(const struct h_daemon *d)
{
	struct stat st;
	return stat(d->log, &st) == 0 ? st.st_size : 0;
}

static bool log_find_now(const struct h_daemon *d, off_t mark, const char *const *needles,
			 char *line, size_t len)
{
	FILE *f = fopen(d->log, "re");
	char buf[4096];
	bool found = false;
	if (!f) {
		return false;
	}
	if (fseeko(f, mark, SEEK_SET) != 0) {
		fclose(f);
		return false;
	}
	while (!found && fgets(buf, sizeof(buf), f)) {
		found = true;
		for (unsigned i = 0; needles[i] && found; i++) {
			found = strstr(buf, needles[i]) != NULL;
		}
	}
	fclose(f);
	if (found && line) {
		buf[strcspn(buf, "\n")] = '\0';
		snprintf(line, len, "%s", buf);
	}
	return found;
}

bool dur_log_find(const struct h_daemon *d, off_t mark, const char *const *needles, char *line,
		  size_t len, int timeout_ms)
{
	uint64_t deadline = h_now_ns() + (uint64_t)timeout_ms * 1000000;
	while (!log_find_now(d, mark, needles, line, len)) {
		if (h_now_ns() >= deadline) {
			return false;
		}
		h_sleep_us(2000);
	}
	return true;
}

/* ---- calls ---- */

int dur_call(cairn_client *c, struct cairn_msg *cmd, struct cairn_msg *res)
{
	memset(res, 0, sizeof(*res));
	int r = cairn_call(c, cmd, res, 10 * SEC);
	if (r < 0 && res->hdr.type != CAIRN_MSG_ERROR) {
		T_FAILF("call of type 0x%x failed without an answer: %d (%s)", cmd->hdr.type, r,
			cairn_strerror(r));
	}
	return r < 0 ? -(int)res->hdr.status : 0;
}

struct cairn_wal_status dur_wal_status(cairn_client *c)
{
	struct cairn_msg m, res;
	struct cairn_wal_status w;
	cairn_msg_init(&m, CAIRN_MSG_WAL_STATUS, 0);
	int r = dur_call(c, &m, &res);
	if (r < 0) {
		T_FAILF("WAL_STATUS: %d (%s)", r, cairn_strerror(r));
	}
	dur_expect_reply(&res, CAIRN_MSG_WAL_STATUS_REPLY, "WAL_STATUS");
	memcpy(&w, res.payload, sizeof(w));
	return w;
}

struct cairn_state_hash_reply dur_state_hash(cairn_client *c)
{
	struct cairn_state_hash_reply h;
	ASSERT_OK(cairn_state_hash(c, &h, 10 * SEC));
	return h;
}

int dur_snapshot(cairn_client *c, struct cairn_snapshot_reply *out)
{
	struct cairn_msg m, res;
	cairn_msg_init(&m, CAIRN_MSG_SNAPSHOT, 0);
	int r = dur_call(c, &m, &res);
	if (r == 0) {
		dur_expect_reply(&res, CAIRN_MSG_SNAPSHOT_TAKEN, "SNAPSHOT");
		memcpy(out, res.payload, sizeof(*out));
	}
	return r;
}

void dur_msg_rollback(struct cairn_msg *m, uint32_t hunt, uint64_t lsn)
{
	struct cairn_rollback rb;
	memset(&rb, 0, sizeof(rb));
	rb.hunt_id = hunt;
	rb.lsn = lsn;
	cairn_msg_init(m, CAIRN_MSG_ROLLBACK, CAIRN_MSG_ROLLBACK_LEN_MIN);
	memcpy(m->payload, &rb, CAIRN_MSG_ROLLBACK_LEN_MIN);
}

int dur_rollback(cairn_client *c, uint32_t hunt, uint64_t lsn, struct cairn_rollback_reply *out)
{
	struct cairn_msg m, res;
	dur_msg_rollback(&m, hunt, lsn);
	int r = dur_call(c, &m, &res);
	if (r == 0) {
		dur_expect_reply(&res, CAIRN_MSG_ROLLED_BACK, "ROLLBACK");
		memcpy(out, res.payload, sizeof(*out));
	}
	return r;
}

void dur_pipeline(cairn_client *c, struct cairn_msg *cmds, struct cairn_msg *res, size_t n)
{
	enum { WINDOW = 128 };
	size_t sent = 0, done = 0;
	while (done < n) {
		while (sent < n && sent - done < WINDOW) {
			int r = cairn_submit(c, &cmds[sent]);
			if (r == -EAGAIN) {
				break;
			}
			if (r < 0) {
				T_FAILF("cairn_submit of command %zu: %d (%s)", sent, r,
					cairn_strerror(r));
			}
			sent++;
		}
		struct cairn_msg m;
		int r = cairn_wait(c, &m, 10 * SEC);
		if (r < 0) {
			T_FAILF("cairn_wait for the result of command %zu of %zu: %d (%s)", done, n,
				r, cairn_strerror(r));
		}
		/* One lane, one thread: results come back in the order of the commands. */
		if (m.hdr.request_id != cmds[done].hdr.request_id) {
			T_FAILF("result for request %llu where request %llu (command %zu) was next",
				(unsigned long long)m.hdr.request_id,
				(unsigned long long)cmds[done].hdr.request_id, done);
		}
		if (res) {
			res[done] = m;
		}
		done++;
	}
}

void dur_raw_call(struct h_raw *r, const struct cairn_msg *m, struct cairn_msg *res)
{
	if (!h_raw_push(r, m)) {
		T_FAILF("raw lane: the command ring has no room");
	}
	if (!h_raw_pop(r, res, 10000)) {
		T_FAILF("raw lane: no result for request %llu (type 0x%x) within 10 s",
			(unsigned long long)m->hdr.request_id, m->hdr.type);
	}
	if (res->hdr.request_id != m->hdr.request_id) {
		T_FAILF("raw lane: result for request %llu, expected %llu",
			(unsigned long long)res->hdr.request_id,
			(unsigned long long)m->hdr.request_id);
	}
}

/* ---- the game ---- */

void dur_pos(uint64_t k, int32_t *x, int32_t *y)
{
	/* Row 3 of the embedded map: cells 1..126 are ground. */
	*x = 1000 + (int32_t)((k * 7919u + 13) % 126000u);
	*y = 3000 + (int32_t)((k * 104729u + 7) % 1000u);
}

int dur_result_code(const struct cairn_msg *res)
{
	return res->hdr.type == CAIRN_MSG_ERROR ? -(int)res->hdr.status : 0;
}

void dur_expect_reply(const struct cairn_msg *res, uint16_t type, const char *what)
{
	if (res->hdr.type == CAIRN_MSG_ERROR) {
		T_FAILF("%s was refused: %d (%s)", what, res->hdr.status,
			cairn_strerror(res->hdr.status));
	}
	if (res->hdr.type != type) {
		T_FAILF("%s answered with type 0x%x, expected 0x%x", what, res->hdr.type, type);
	}
}

void dur_check_players(cairn_client *c, uint32_t hunt, const struct dur_player *players, size_t n,
		       const char *when)
{
	for (size_t i = 0; i < n; i++) {
		const struct dur_player *p = &players[i];
		struct cairn_player_info pi;
		int r = cairn_player_state(c, hunt, p->id, &pi, 10 * SEC);
		if (p->gone) {
			if (r != -CAIRN_E_UNKNOWN_PLAYER) {
				T_FAILF("%s: player %08x should not exist, PLAYER_STATE gave %d "
					"(%s) "
					"at (%d, %d)",
					when, p->id, r, cairn_strerror(r), r == 0 ? pi.x : 0,
					r == 0 ? pi.y : 0);
			}
			continue;
		}
		if (r < 0) {
			T_FAILF("%s: PLAYER_STATE of player %08x of hunt %08x: %d (%s)", when,
				p->id, hunt, r, cairn_strerror(r));
		}
		if (pi.x != p->x || pi.y != p->y) {
			T_FAILF("%s: player %08x is at (%d, %d), expected (%d, %d)", when, p->id,
				pi.x, pi.y, p->x, p->y);
		}
	}
}

/* ---- the data directory ---- */

static uint64_t fnv1a(uint64_t h, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	for (size_t i = 0; i < len; i++) {
		h = (h ^ p[i]) * 0x100000001b3ull;
	}
	return h;
}

static void tree_walk(const char *root, const char *rel, struct dur_tree *out)
{
	char path[512];
	snprintf(path, sizeof(path), "%s%s%s", root, *rel ? "/" : "", rel);
	DIR *dh = opendir(path);
	if (!dh) {
		T_FAILF("opendir %s: %s", path, strerror(errno));
	}
	struct dirent *e;
	while ((e = readdir(dh)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
			continue;
		}
		char sub[192], full[768];
		if ((size_t)snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", e->d_name) >=
			    sizeof(sub) ||
		    (size_t)snprintf(full, sizeof(full), "%s/%s", root, sub) >= sizeof(full)) {
			T_FAILF("a path below %s is too long", root);
		}
		struct stat st;
		if (lstat(full, &st) < 0) {
			T_FAILF("lstat %s: %s", full, strerror(errno));
		}
		if (S_ISDIR(st.st_mode)) {
			tree_walk(root, sub, out);
			continue;
		}
		if (out->n == sizeof(out->files) / sizeof(out->files[0])) {
			T_FAILF("more than %zu files below %s", out->n, root);
		}
		struct dur_file *f = &out->files[out->n++];
		snprintf(f->name, sizeof(f->name), "%s", sub);
		f->size = (uint64_t)st.st_size;
		f->hash = 0xcbf29ce484222325ull;
		int fd = open(full, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			T_FAILF("open %s: %s", full, strerror(errno));
		}
		static uint8_t buf[1 << 16];
		ssize_t k;
		while ((k = read(fd, buf, sizeof(buf))) > 0) {
			f->hash = fnv1a(f->hash, buf, (size_t)k);
		}
		close(fd);
	}
	closedir(dh);
}

static int cmp_file(const void *a, const void *b)
{
	return strcmp(((const struct dur_file *)a)->name, ((const struct dur_file *)b)->name);
}

void dur_tree_read(const char *dir, struct dur_tree *out)
{
	out->n = 0;
	tree_walk(dir, "", out);
	qsort(out->files, out->n, sizeof(out->files[0]), cmp_file);
}

void dur_tree_expect_equal(const struct dur_tree *a, const struct dur_tree *b, const char *what)
{
	size_t i = 0, j = 0;
	while (i < a->n || j < b->n) {
		int c = i == a->n ? 1 : j == b->n ? -1 : strcmp(a->files[i].name, b->files[j].name);
		if (c < 0) {
			T_FAILF("%s: %s is gone", what, a->files[i].name);
		}
		if (c > 0) {
			T_FAILF("%s: %s appeared", what, b->files[j].name);
		}
		if (a->files[i].size != b->files[j].size || a->files[i].hash != b->files[j].hash) {
			T_FAILF("%s: %s changed (%llu bytes, hash %016llx; now %llu bytes, hash "
				"%016llx)",
				what, a->files[i].name, (unsigned long long)a->files[i].size,
				(unsigned long long)a->files[i].hash,
				(unsigned long long)b->files[j].size,
				(unsigned long long)b->files[j].hash);
		}
		i++;
		j++;
	}
}

static void copy_file(const char *src, const char *dst, mode_t mode)
{
	int in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		T_FAILF("open %s: %s", src, strerror(errno));
	}
	int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 0777);
	if (out < 0) {
		T_FAILF("create %s: %s", dst, strerror(errno));
	}
	static uint8_t buf[1 << 16];
	ssize_t k;
	while ((k = read(in, buf, sizeof(buf))) > 0) {
		if (write(out, buf, (size_t)k) != k) {
			T_FAILF("write %s: %s", dst, strerror(errno));
		}
	}
	if (k < 0) {
		T_FAILF("read %s: %s", src, strerror(errno));
	}
	close(in);
	close(out);
}

void dur_copy_tree(const char *src, const char *dst)
{
	struct stat st;
	if (stat(src, &st) < 0) {
		T_FAILF("stat %s: %s", src, strerror(errno));
	}
	if (mkdir(dst, st.st_mode & 0777) < 0) {
		T_FAILF("mkdir %s: %s", dst, strerror(errno));
	}
	DIR *dh = opendir(src);
	if (!dh) {
		T_FAILF("opendir %s: %s", src, strerror(errno));
	}
	struct dirent *e;
	while ((e = readdir(dh)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
			continue;
		}
		char s[512], d[512];
		snprintf(s, sizeof(s), "%s/%s", src, e->d_name);
		snprintf(d, sizeof(d), "%s/%s", dst, e->d_name);
		if (lstat(s, &st) < 0) {
			T_FAILF("lstat %s: %s", s, strerror(errno));
		}
		if (S_ISDIR(st.st_mode)) {
			dur_copy_tree(s, d);
		} else if (S_ISREG(st.st_mode)) {
			copy_file(s, d, st.st_mode);
		}
	}
	closedir(dh);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void dur_remove_tree(const char *dir)
{
	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	if (access(dir, F_OK) == 0) {
		T_FAILF("could not remove %s", dir);
	}
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

static bool is_segment_name(const char *s)
{
	if (strlen(s) != 4 + 16 + 4 || strncmp(s, "wal-", 4) != 0 || strcmp(s + 20, ".seg") != 0) {
		return false;
	}
	for (int i = 4; i < 20; i++) {
		if (!strchr("0123456789abcdefABCDEF", s[i])) {
			return false;
		}
	}
	return true;
}

size_t dur_wal_segments(const char *data, char names[][64], size_t max)
{
	char dir[512];
	snprintf(dir, sizeof(dir), "%s/wal", data);
	DIR *dh = opendir(dir);
	if (!dh) {
		T_FAILF("opendir %s: %s", dir, strerror(errno));
	}
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(dh)) != NULL) {
		if (is_segment_name(e->d_name)) {
			if (n == max) {
				T_FAILF("more than %zu segments in %s", max, dir);
			}
			snprintf(names[n++], 64, "%s", e->d_name);
		}
	}
	closedir(dh);
	qsort(names, n, 64, cmp_name);
	return n;
}

size_t dur_wal_records(const char *data, struct dur_rec **out)
{
	static char names[512][64];
	size_t nseg = dur_wal_segments(data, names, 512);
	size_t n = 0, cap = 1024;
	struct dur_rec *recs = malloc(cap * sizeof(*recs));
	uint64_t last_lsn = 0;
	ASSERT_TRUE(recs != NULL);
	for (size_t s = 0; s < nseg; s++) {
		char path[600];
		snprintf(path, sizeof(path), "%s/wal/%s", data, names[s]);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			T_FAILF("open %s: %s", path, strerror(errno));
		}
		struct stat st;
		fstat(fd, &st);
		uint8_t *buf = malloc((size_t)st.st_size + 1);
		ASSERT_TRUE(buf != NULL);
		size_t got = 0;
		while (got < (size_t)st.st_size) {
			ssize_t k = read(fd, buf + got, (size_t)st.st_size - got);
			if (k <= 0) {
				T_FAILF("read %s: %s", path, k < 0 ? strerror(errno) : "short");
			}
			got += (size_t)k;
		}
		close(fd);
		struct cairn__wal_seg_header sh;
		if (got < sizeof(sh)) {
			free(buf);
			continue;
		}
		memcpy(&sh, buf, sizeof(sh));
		if (sh.magic != CAIRN__WAL_SEG_MAGIC) {
			T_FAILF("%s: not a segment (magic %016llx)", path,
				(unsigned long long)sh.magic);
		}
		uint64_t off = CAIRN__WAL_SEG_HEADER;
		while (off + CAIRN__WAL_REC_HEADER <= got) {
			struct cairn__wal_rec h;
			memcpy(&h, buf + off, sizeof(h));
			bool follows =
				h.lsn != 0 && (last_lsn == 0 || h.lsn == last_lsn + 1) &&
				h.salt == (uint32_t)sh.salt &&
				(h.kind == CAIRN__WAL_COMMAND || h.kind == CAIRN__WAL_ROLLBACK) &&
				h.length >= sizeof(struct cairn__wal_command) &&
				off + cairn__wal_rec_size(h.length) <= got;
			if (!follows) {
				break;
			}
			if (n == cap) {
				cap *= 2;
				recs = realloc(recs, cap * sizeof(*recs));
				ASSERT_TRUE(recs != NULL);
			}
			struct dur_rec *r = &recs[n++];
			snprintf(r->file, sizeof(r->file), "%s", names[s]);
			r->seq = sh.seq;
			r->offset = off;
			r->hdr = h;
			memcpy(&r->cmd, buf + off + CAIRN__WAL_REC_HEADER, sizeof(r->cmd));
			last_lsn = h.lsn;
			off += cairn__wal_rec_size(h.length);
		}
		free(buf);
	}
	*out = recs;
	return n;
}

size_t dur_snapshots(const char *data, uint64_t *lsns, size_t max, size_t *tmp_files)
{
	char dir[512];
	snprintf(dir, sizeof(dir), "%s/snapshots", data);
	size_t n = 0, tmp = 0;
	DIR *dh = opendir(dir);
	if (!dh) {
		T_FAILF("opendir %s: %s", dir, strerror(errno));
	}
	struct dirent *e;
	while ((e = readdir(dh)) != NULL) {
		unsigned long long lsn;
		char tail[16];
		if (sscanf(e->d_name, "snap-%20llu.%15s", &lsn, tail) != 2) {
			continue;
		}
		if (strcmp(tail, "tmp") == 0) {
			tmp++;
		} else if (strcmp(tail, "snap") == 0) {
			if (n == max) {
				T_FAILF("more than %zu snapshots in %s", max, dir);
			}
			lsns[n++] = lsn;
		}
	}
	closedir(dh);
	/* Oldest first. */
	for (size_t i = 1; i < n; i++) {
		for (size_t j = i; j > 0 && lsns[j - 1] > lsns[j]; j--) {
			uint64_t t = lsns[j];
			lsns[j] = lsns[j - 1];
			lsns[j - 1] = t;
		}
	}
	if (tmp_files) {
		*tmp_files = tmp;
	}
	return n;
}

void dur_file_read(const char *path, uint64_t off, void *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || pread(fd, buf, len, (off_t)off) != (ssize_t)len) {
		T_FAILF("read %zu bytes at %llu of %s: %s", len, (unsigned long long)off, path,
			strerror(errno));
	}
	close(fd);
}

void dur_file_write(const char *path, uint64_t off, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || pwrite(fd, buf, len, (off_t)off) != (ssize_t)len) {
		T_FAILF("write %zu bytes at %llu of %s: %s", len, (unsigned long long)off, path,
			strerror(errno));
	}
	close(fd);
}

/* ---- programs ---- */

int dur_run(const char *const *argv, char *out, size_t len, int timeout_ms)
{
	char path[] = "/tmp/cairn-dur-out-XXXXXX";
	int fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0) {
		T_FAILF("mkostemp: %s", strerror(errno));
	}
	unlink(path);
	pid_t pid = h_fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);
		if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) {
			_exit(127);
		}
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	uint64_t deadline = h_now_ns() + (uint64_t)timeout_ms * 1000000;
	int st = 0;
	for (;;) {
		pid_t w = waitpid(pid, &st, WNOHANG);
		if (w == pid) {
			break;
		}
		if (h_now_ns() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			T_FAILF("%s still ran after %d ms", argv[0], timeout_ms);
		}
		h_sleep_us(1000);
	}
	ssize_t k = pread(fd, out, len - 1, 0);
	out[k > 0 ? k : 0] = '\0';
	close(fd);
	return st;
}

void dur_replay(const char *dir, uint64_t until, uint64_t *lsn, uint64_t *hash)
{
	static char out[1 << 16];
	char until_s[32];
	const char *argv[8];
	unsigned n = 0;
	ASSERT_TRUE(dur.replay != NULL);
	argv[n++] = dur.replay;
	if (until) {
		snprintf(until_s, sizeof(until_s), "%llu", (unsigned long long)until);
		argv[n++] = "--until";
		argv[n++] = until_s;
	}
	argv[n++] = dir;
	argv[n] = NULL;
	int st = dur_run(argv, out, sizeof(out), 60000);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		T_FAILF("cairn-replay%s%s %s exited with status 0x%x:\n%s",
			until ? " --until " : "", until ? until_s : "", dir, st, out);
	}
	bool found = false;
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
		unsigned long long l, h;
		const char *p = strstr(line, "lsn=");
		if (p && sscanf(p, "lsn=%llu hash=0x%llx", &l, &h) == 2) {
			*lsn = l;
			*hash = h;
			found = true;
		}
	}
	if (!found) {
		T_FAILF("cairn-replay %s printed no \"lsn=N hash=0x...\" line", dir);
	}
}
