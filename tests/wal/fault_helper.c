/*
 * For wal-strace-eio: writes up to 6 batches of 4 records through the sync backend into
 * the directory argv[1], waiting for each, and prints what it saw:
 *   batch I wait R durable D      per batch
 *   append R                      after a failed batch: one more append
 *   RESULT durable=D err=E what=SENTENCE
 */
#include <stdio.h>
#include <string.h>

#include "wal/wal.h"

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	struct cairn__wal_config cfg = {
		.dir = argv[1], .backend = CAIRN__WAL_SYNC, .segment_size = 1 << 20};
	struct cairn__wal *w;
	char why[256];
	int r = cairn__wal_open(&cfg, NULL, &w, why, sizeof(why));
	if (r < 0) {
		printf("open %d %s\n", r, why);
		return 1;
	}
	uint8_t body[100];
	memset(body, 0xab, sizeof(body));
	struct iovec iov = {body, sizeof(body)};
	for (int i = 1; i <= 6; i++) {
		int64_t lsn = 0;
		for (int k = 0; k < 4; k++) {
			lsn = cairn__wal_append(w, 1, &iov, 1);
		}
		r = cairn__wal_wait(w, (uint64_t)lsn, 10LL * 1000000000);
		printf("batch %d wait %d durable %llu\n", i, r,
		       (unsigned long long)cairn__wal_poll(w));
		if (r < 0) {
			printf("append %lld\n", (long long)cairn__wal_append(w, 1, &iov, 1));
			break;
		}
	}
	const char *what;
	int err = cairn__wal_error(w, &what);
	printf("RESULT durable=%llu err=%d what=%s\n", (unsigned long long)cairn__wal_poll(w), err,
	       what);
	fflush(stdout);
	cairn__wal_close(w);
	return 0;
}
