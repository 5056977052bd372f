/*
 * Both backends write the same bytes. The same records in the same batches go through
 * io_uring and through the sync backend, with the test hook CAIRN_WAL_TEST_SALT fixing
 * the segment salts (otherwise random, so that the files could not be compared); the
 * segments rotate several times (batches re-encoded for a new segment) and one run has
 * a short write. Every segment file must be equal byte for byte, except the segment
 * header's creation time and the checksum over it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kit.h"

static uint32_t len_of(uint64_t seed, uint64_t lsn)
{
	return kit_body_len(seed, lsn, 0);
}

static char *write_log(const struct kit_backend *b, const char *fault, unsigned *segments)
{
	char *dir = kit_tmpdir(b->name);
	if (fault) {
		setenv("CAIRN_WAL_FAULT", fault, 1);
	}
	struct cairn__wal *w = kit_open(dir, b->backend, KIT_MIB, 0, NULL);
	unsetenv("CAIRN_WAL_FAULT");
	uint64_t lsn = 1;
	for (uint64_t i = 0; lsn < 12000; i++) {
		uint64_t count = 1 + kit_mix(i) % 60;
		kit_batch(w, 1234, lsn, count, len_of);
		lsn += count;
	}
	struct cairn__wal_stats st;
	cairn__wal_stats(w, &st);
	ASSERT_EQ(cairn__wal_close(w), 0);
	*segments = (unsigned)st.segments;
	return dir;
}

static void compare(const char *a, const char *b, unsigned segments)
{
	for (unsigned seq = 1; seq <= segments; seq++) {
		size_t la, lb;
		uint8_t *x = kit_slurp(kit_seg_path(a, seq), &la);
		uint8_t *y = kit_slurp(kit_seg_path(b, seq), &lb);
		ASSERT_UEQ(la, lb);
		struct cairn__wal_seg_header hx, hy;
		memcpy(&hx, x, sizeof(hx));
		memcpy(&hy, y, sizeof(hy));
		ASSERT_UEQ(hx.salt, UINT64_C(0xc0ffee0000000000) + seq);
		hx.created_ns = hy.created_ns = 0;
		hx.header_sum = hy.header_sum = 0;
		ASSERT_EQ(memcmp(&hx, &hy, sizeof(hx)), 0);
		for (size_t i = CAIRN__WAL_SEG_HEADER; i < la; i++) {
			if (x[i] != y[i]) {
				T_FAILF("segment %u differs at byte %zu: %02x vs %02x", seq, i,
					x[i], y[i]);
			}
		}
		free(x);
		free(y);
	}
}

int main(void)
{
	char why[384];
	if (!kit_backend_usable(&kit_backends[0], why, sizeof(why))) {
		T_SKIP_BECAUSE("io_uring cannot be used here, nothing to compare the sync backend "
			       "with: %s",
			       why);
	}
	setenv("CAIRN_WAL_TEST_SALT", "c0ffee0000000000", 1);
	unsigned su, ss, sshort;
	char *u = write_log(&kit_backends[0], NULL, &su);
	char *s = write_log(&kit_backends[1], NULL, &ss);
	char *us = write_log(&kit_backends[0], "write:7:short", &sshort);
	char *ss2 = write_log(&kit_backends[1], "write:9:short", &sshort);
	unsetenv("CAIRN_WAL_TEST_SALT");
	ASSERT_UEQ(su, ss);
	ASSERT_UEQ(sshort, ss);
	ASSERT_TRUE(su >= 4);
	ASSERT_UEQ(kit_count(u, ".seg"), su);
	ASSERT_UEQ(kit_count(s, ".seg"), su);
	compare(u, s, su);
	compare(u, us, su);
	compare(s, ss2, su);

	struct kit_read ru, rs;
	kit_read_all(u, 1, 1234, len_of, &ru);
	kit_read_all(s, 1, 1234, len_of, &rs);
	ASSERT_EQ(ru.end.end, CAIRN__WAL_END_CLEAN);
	ASSERT_UEQ(ru.records, rs.records);
	ASSERT_UEQ(ru.last_sum, rs.last_sum);
	printf("%u segments, %llu records: identical bytes from both backends (and with short "
	       "writes)\n",
	       su, (unsigned long long)ru.records);
	char *dirs[] = {u, s, us, ss2};
	for (int i = 0; i < 4; i++) {
		kit_rmrf(dirs[i]);
		free(dirs[i]);
	}
	return T_PASS;
}
