/*
 * The Moving AI scenario reader on good files (CRLF, blank lines, "version 1.0") and on
 * malformed ones: each is rejected with -EINVAL and a message naming the file and the
 * line; a missing file gives -ENOENT.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kit.h"
#include "solver/scen.h"

static char dir[] = "/tmp/cairn-scen-XXXXXX";

static const char *write_file(const char *name, const char *text, size_t len)
{
	static char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	ASSERT_TRUE(f != NULL);
	ASSERT_UEQ(fwrite(text, 1, len, f), len);
	ASSERT_EQ(fclose(f), 0);
	return path;
}

#define GOOD_LINE "0\tmaps/x.map\t20\t10\t1\t2\t18\t9\t17.4853\n"

struct bad_case {
	const char *text;
	unsigned line;    /* the line the message must name */
	const char *says; /* a part of the message */
};

int main(void)
{
	ASSERT_TRUE(mkdtemp(dir) != NULL);
	struct cairn__map *m = kit_gen_open(20, 10);
	char err[256];
	struct cairn__scen *sc;
	size_t n;

	const char good[] = "version 1\r\n" GOOD_LINE "\n"
			    "3\tmaps/x.map\t20\t10\t0\t0\t0\t0\t0\r\n"
			    "\n"
			    "12\tx.map\t20\t10\t19\t9\t0\t0\t22.3\n";
	const char *path = write_file("good.scen", good, sizeof(good) - 1);
	ASSERT_OK(cairn__scen_load(path, m, &sc, &n, err, sizeof(err)));
	ASSERT_UEQ(n, 3);
	ASSERT_TRUE(sc[0].bucket == 0 && sc[0].start.x == 1 && sc[0].start.y == 2 &&
		    sc[0].goal.x == 18 && sc[0].goal.y == 9 && sc[0].length == 17.4853 &&
		    sc[0].line == 2);
	ASSERT_TRUE(sc[1].bucket == 3 && sc[1].length == 0 && sc[1].line == 4);
	ASSERT_TRUE(sc[2].bucket == 12 && sc[2].start.x == 19 && sc[2].line == 6);
	free(sc);
	const char v10[] = "version 1.0\n" GOOD_LINE;
	path = write_file("v10.scen", v10, sizeof(v10) - 1);
	ASSERT_OK(cairn__scen_load(path, NULL, &sc, &n, err, sizeof(err)));
	ASSERT_UEQ(n, 1);
	free(sc);

	static const struct bad_case bad[] = {
		{"version 2\n" GOOD_LINE, 1, "version 1"},
		{"", 1, "empty"},
		{GOOD_LINE, 1, "version 1"},
		{"version 1\n" GOOD_LINE "0\tx.map\t20\t10\t1\t2\t18\t9\n", 3, "8 tab-separated"},
		{"version 1\n0\tx.map\t20\t10\t1\t2\t18\t9\t1\t7\n", 2, "more than 9"},
		{"version 1\n0 x.map 20 10 1 2 18 9 1\n", 2, "1 tab-separated"},
		{"version 1\n-1\tx.map\t20\t10\t1\t2\t18\t9\t1\n", 2, "bucket"},
		{"version 1\n0\tx.map\t20\t10\t+1\t2\t18\t9\t1\n", 2, "start x"},
		{"version 1\n0\tx.map\t20\t10\t1\t 2\t18\t9\t1\n", 2, "start y"},
		{"version 1\n0\tx.map\t20\t10\t1\t2\t1e1\t9\t1\n", 2, "goal x"},
		{"version 1\n0\tx.map\t20\t10\t1\t2\t18\t99999999999\t1\n", 2, "goal y"},
		{"version 1\n0\tx.map\t20\t10\t1\t2\t18\t9\tnan\n", 2, "length"},
		{"version 1\n0\tx.map\t20\t10\t1\t2\t18\t9\t-3\n", 2, "length"},
		{"version 1\n0\tx.map\t20\t10\t1\t2\t18\t9\t1.5x\n", 2, "length"},
		{"version 1\n0\tx.map\t20\t10\t1\t2\t18\t9\t\n", 2, "length"},
		{"version 1\n0\t\t20\t10\t1\t2\t18\t9\t1\n", 2, "map field"},
		{"version 1\n" GOOD_LINE "0\tx.map\t10\t20\t1\t2\t8\t9\t1\n", 3, "10 x 20"},
		{"version 1\n0\tx.map\t20\t10\t20\t2\t18\t9\t1\n", 2, "off the"},
		{"version 1\n0\tx.map\t20\t10\t1\t2\t18\t10\t1\n", 2, "off the"},
	};
	unsigned rejected = 0;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char name[32];
		snprintf(name, sizeof(name), "bad%zu.scen", i);
		path = write_file(name, bad[i].text, strlen(bad[i].text));
		sc = (struct cairn__scen *)&n;
		int r = cairn__scen_load(path, m, &sc, &n, err, sizeof(err));
		char where[300];
		snprintf(where, sizeof(where), "%s:%u: ", path, bad[i].line);
		if (r != -EINVAL || sc != NULL || n != 0 ||
		    strncmp(err, where, strlen(where)) != 0 || !strstr(err, bad[i].says)) {
			T_FAILF("case %zu: returned %d, message \"%s\"; want -EINVAL and "
				"\"%s...%s\"",
				i, r, err, where, bad[i].says);
		}
		rejected++;
	}
	/* A NUL byte inside a line. */
	const char nul[] = "version 1\n0\tx.map\t20\t10\t1\0\t2\t18\t9\t1\n";
	path = write_file("nul.scen", nul, sizeof(nul) - 1);
	ASSERT_EQ(cairn__scen_load(path, m, &sc, &n, err, sizeof(err)), -EINVAL);
	ASSERT_TRUE(strstr(err, ":2: ") != NULL);
	rejected++;

	char missing[300];
	snprintf(missing, sizeof(missing), "%s/none.scen", dir);
	ASSERT_EQ(cairn__scen_load(missing, m, &sc, &n, err, sizeof(err)), -ENOENT);
	ASSERT_TRUE(strstr(err, missing) != NULL);

	printf("ok: scenarios: 2 good files read field for field; %u malformed ones rejected "
	       "naming file and line; a missing file -ENOENT\n",
	       rejected);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ASSERT_EQ(system(cmd), 0);
	cairn__map_free(m);
	return T_PASS;
}
