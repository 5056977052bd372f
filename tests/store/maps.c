/*
 * store-maps: the maps of a data directory. Recorded maps load back with the same
 * size, cells, hash and name (the embedded default map included); recording again
 * writes nothing; new ids are added and old ones kept; a map id recorded with another
 * hash is refused; a changed map file, a malformed manifest and a gap in the ids are
 * refused with messages that name the file. Also cairn__map_format on its own.
 */
#include <sys/stat.h>

#include "kit.h"

static void same_map(const struct cairn__map *a, const struct cairn__map *b)
{
	ASSERT_UEQ(a->width, b->width);
	ASSERT_UEQ(a->height, b->height);
	ASSERT_UEQ(a->passable, b->passable);
	ASSERT_UEQ(a->hash, b->hash);
	ASSERT_STREQ(a->name, b->name);
	ASSERT_TRUE(memcmp(a->cells, b->cells, (size_t)a->width * a->height) == 0);
}

static void test_format(void)
{
	const struct cairn__map *const *maps = eng_maps();
	for (unsigned i = 0; i < ENG_N_MAPS; i++) {
		char *text;
		size_t len;
		ASSERT_OK(cairn__map_format(maps[i], &text, &len));
		struct cairn__map *m;
		struct cairn__map_error err;
		int rc = cairn__map_parse(text, len, maps[i]->name, &m, &err);
		if (rc < 0) {
			T_FAILF("map %u does not parse back: %s at %u:%u", i, err.message, err.line,
				err.column);
		}
		same_map(maps[i], m);
		cairn__map_free(m);
		free(text);
	}
	/* One cell. */
	struct cairn__map *one;
	const char *t1 = "type octile\nheight 1\nwidth 1\nmap\nT\n";
	ASSERT_OK(cairn__map_parse(t1, strlen(t1), "t", &one, NULL));
	char *text;
	size_t len;
	ASSERT_OK(cairn__map_format(one, &text, &len));
	ASSERT_UEQ(len, strlen(t1));
	ASSERT_TRUE(memcmp(text, "type octile\nheight 1\nwidth 1\nmap\n@\n", len) == 0);
	free(text);
	cairn__map_free(one);
}

static void load_ok(const char *data, const struct cairn__map *const *want, uint32_t n)
{
	struct cairn__map **maps;
	uint32_t got;
	char why[512] = "";
	int rc = cairn__data_maps_load(data, &maps, &got, why, sizeof(why));
	if (rc < 0) {
		T_FAILF("load: %d: %s", rc, why);
	}
	ASSERT_UEQ(got, n);
	for (uint32_t i = 0; i < n; i++) {
		same_map(want[i], maps[i]);
	}
	cairn__data_maps_free(maps, got);
}

static void load_bad(const char *data, int code, const char *phrase)
{
	struct cairn__map **maps;
	uint32_t got;
	char why[512] = "";
	int rc = cairn__data_maps_load(data, &maps, &got, why, sizeof(why));
	if (rc != code || !strstr(why, phrase)) {
		T_FAILF("load returned %d (%s), expected %d and \"%s\"", rc, why, code, phrase);
	}
	ASSERT_TRUE(maps == NULL && got == 0);
}

static void test_record_and_load(void)
{
	const char *data = kit_tmpdir("maps");
	char why[512] = "";
	load_bad(data, -ENOENT, "maps");

	/* A third map with an awkward name. */
	struct cairn__map *third;
	const char *txt = "type octile\nheight 2\nwidth 3\nmap\n.@.\nGST\n";
	ASSERT_OK(cairn__map_parse(txt, strlen(txt), "north field (v2)", &third, NULL));
	const struct cairn__map *three[3] = {eng_maps()[0], eng_maps()[1], third};

	ASSERT_OK(cairn__data_maps_record(data, three, 2, why, sizeof(why)));
	size_t mlen;
	uint8_t *manifest = kit_read(kit_path(data, "maps/MANIFEST"), &mlen);
	ASSERT_TRUE(manifest != NULL);
	fprintf(stderr, "MANIFEST:\n%s", (char *)manifest);
	char line0[128];
	snprintf(line0, sizeof(line0), "0 %016llx small\n1 %016llx cairn-default\n",
		 (unsigned long long)eng_maps()[0]->hash, (unsigned long long)eng_maps()[1]->hash);
	ASSERT_STREQ((char *)manifest, line0);
	free(manifest);
	load_ok(data, three, 2);

	/* Recording the same maps again changes nothing on disk. */
	uint64_t before = kit_tree_digest(data);
	ASSERT_OK(cairn__data_maps_record(data, three, 2, why, sizeof(why)));
	ASSERT_OK(cairn__data_maps_record(data, three, 1, why, sizeof(why)));
	ASSERT_UEQ(kit_tree_digest(data), before);

	/* A new id is added; the old ones stay. */
	ASSERT_OK(cairn__data_maps_record(data, three, 3, why, sizeof(why)));
	load_ok(data, three, 3);
	ASSERT_TRUE(!kit_exists(kit_path(data, "maps/MANIFEST.tmp")));
	ASSERT_TRUE(!kit_exists(kit_path(data, "maps/2.map.tmp")));

	/* Another map under a recorded id is refused, and nothing changes. */
	before = kit_tree_digest(data);
	const struct cairn__map *swapped[3] = {eng_maps()[1], eng_maps()[0], third};
	int rc = cairn__data_maps_record(data, swapped, 3, why, sizeof(why));
	ASSERT_EQ(rc, -CAIRN_E_BAD_MAP);
	fprintf(stderr, "swapped maps: %s\n", why);
	ASSERT_TRUE(strstr(why, "map id 0") != NULL && strstr(why, "small") != NULL);
	ASSERT_UEQ(kit_tree_digest(data), before);

	/* A map file changed behind the manifest's back. */
	const char *two = kit_path(data, "maps/2.map");
	size_t len;
	uint8_t *orig = kit_read(two, &len);
	kit_write(two, "type octile\nheight 2\nwidth 3\nmap\n...\n...\n", 40);
	load_bad(data, -CAIRN_E_BAD_MAP, "2.map has hash");
	kit_write(two, "type octile\nheight 2\nwidth 3\nmap\n...\n", 37);
	load_bad(data, -CAIRN_E_BAD_MAP, "2.map");
	ASSERT_EQ(remove(two), 0);
	load_bad(data, -ENOENT, "2.map");
	kit_write(two, orig, len);
	free(orig);
	load_ok(data, three, 3);

	/* Malformed manifests. */
	const char *mf = kit_path(data, "maps/MANIFEST");
	uint8_t *good = kit_read(mf, &len);
	struct {
		const char *text, *phrase;
	} bad[] = {
		{"0 0123456789abcdef small", "line 1: no line end"},
		{"x 0123456789abcdef small\n", "line 1"},
		{"00 0123456789abcdef small\n", "line 1"},
		{"0 0123456789ABCDEF small\n", "16 lowercase hex"},
		{"0 0123456789abcde small\n", "16 lowercase hex"},
		{"0 0123456789abcdef\n", "name"},
		{"0 0123456789abcdef a\tb\n", "control character"},
		{"0 0123456789abcdef aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
		 "longer than"},
		{"1 0123456789abcdef a\n1 0123456789abcdef b\n", "recorded twice"},
		{"1 0123456789abcdef a\n", "id 0 is missing"},
		{"99999999 0123456789abcdef a\n", "line 1"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		kit_write(mf, bad[i].text, strlen(bad[i].text));
		load_bad(data, -CAIRN_E_BAD_MAP, bad[i].phrase);
		/* Recording refuses to build on a malformed manifest too (except a gap). */
		if (!strstr(bad[i].phrase, "missing")) {
			ASSERT_EQ(cairn__data_maps_record(data, three, 3, why, sizeof(why)),
				  -CAIRN_E_BAD_MAP);
		}
	}
	kit_write(mf, good, len);
	free(good);
	load_ok(data, three, 3);

	/* An empty manifest records no map. */
	const char *data2 = kit_tmpdir("maps2");
	kit_mkdir(kit_path(data2, "maps"));
	kit_write(kit_path(data2, "maps/MANIFEST"), "", 0);
	struct cairn__map **maps;
	uint32_t n;
	ASSERT_OK(cairn__data_maps_load(data2, &maps, &n, why, sizeof(why)));
	ASSERT_UEQ(n, 0);
	cairn__data_maps_free(maps, n);
	/* The data directory itself must exist. */
	ASSERT_EQ(cairn__data_maps_record(kit_path(data2, "no/such"), three, 1, why, sizeof(why)),
		  -ENOENT);
	cairn__map_free(third);
}

int main(void)
{
	test_format();
	test_record_and_load();
	return T_PASS;
}
