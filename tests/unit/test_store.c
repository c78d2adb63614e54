/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  store.c: registry, open errors, schema check, sticky writes, read reuse, map full. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"
#include "store.h"
#include "tap.h"

static char base[512];

static void rm_env(const char *dir)
{
	char p[1024];
	const char *files[] = { "data.mdb", "lock.mdb" };
	for (size_t i = 0; i < 2; i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
		unlink(p);
	}
	rmdir(dir);
}

static const char *sub(const char *name)
{
	static char p[4][1024];
	static int slot;
	slot = (slot + 1) % 4;
	snprintf(p[slot], sizeof(p[slot]), "%s/%s", base, name);
	return p[slot];
}

static void test_measure_key(void)
{
	static const struct { const char *ep, *pr; size_t size, want; } cases[] = {
		{ "waf-fra", "eu-fra", 64, 14 },
		{ "a", "b", 3, 3 },
		{ "a", "b", 2, 0 },                /* does not fit */
		{ "", "p", 8, 2 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t buf[64];
		size_t n = store_measure_key(buf, cases[i].size, cases[i].ep, cases[i].pr);
		is_int(n, cases[i].want, "measure key %s/%s size %zu", cases[i].ep, cases[i].pr,
		       cases[i].size);
		if (n > 0) {
			size_t el = strlen(cases[i].ep);
			ok(memcmp(buf, cases[i].ep, el) == 0 && buf[el] == 0 &&
			   memcmp(buf + el + 1, cases[i].pr, strlen(cases[i].pr)) == 0,
			   "measure key bytes %s\\0%s", cases[i].ep, cases[i].pr);
		}
	}
}

static void test_open_errors(void)
{
	store_t *s = NULL;
	is_int(store_open(sub("missing"), STORE_RDONLY, &s), HG_ENOENT, "rdonly open of missing dir");
	ok(strstr(store_last_error(), "no haltgslb database") != NULL, "reason: %s",
	   store_last_error());
	mkdir(sub("empty"), 0750);
	is_int(store_open(sub("empty"), STORE_RDONLY, &s), HG_ENOENT, "rdonly open of empty dir");
	is_int(store_open(sub("empty"), 0, &s), HG_ENOENT, "rw open without CREATE: no DBs");
	rm_env(sub("empty"));
	is_int(store_open(sub("x"), STORE_RDONLY | STORE_CREATE, &s), HG_EINVAL,
	       "RDONLY|CREATE refused");
}

static void test_registry(void)
{
	store_t *a = NULL, *b = NULL, *c = NULL;
	is_int(store_open(sub("reg/deep"), STORE_CREATE, &a), HG_EOK, "create nested dir");
	char alias[1100];
	snprintf(alias, sizeof(alias), "%s/reg/../reg/deep/", base);
	is_int(store_open(alias, STORE_CREATE, &b), HG_EOK, "open alias path");
	ok(a == b, "same dir twice → same handle");
	is_int(store_open(sub("reg/deep"), STORE_RDONLY, &c), HG_EOK, "rdonly shares rw handle");
	ok(c == a, "rdonly open returns the shared handle");
	ok(strstr(store_path(a), "/reg/deep") != NULL, "store_path is the realpath");
	store_close(c);
	store_close(b);
	/* still open through a */
	store_wtxn_t w;
	is_int(store_wtxn_begin(a, &w), HG_EOK, "handle alive after two of three closes");
	uint32_t v = 7;
	store_put(&w, STORE_CURSORS, "k", 1, &v, sizeof(v));
	is_int(store_wtxn_commit(&w), HG_EOK, "commit");
	store_close(a);

	is_int(store_open(sub("reg/deep"), STORE_RDONLY, &a), HG_EOK, "reopen rdonly after last close");
	is_int(store_open(sub("reg/deep"), 0, &b), HG_EACCES, "rw open of a handle held rdonly");
	is_int(store_wtxn_begin(a, &w), HG_EACCES, "write txn on rdonly store");
	is_int(store_wtxn_commit(&w), HG_EACCES, "commit of failed begin returns its error");
	store_rtxn_t r = { 0 };
	const void *val;
	size_t len;
	is_int(store_rtxn_begin(a, &r), HG_EOK, "read txn");
	is_int(store_get(&r, STORE_CURSORS, "k", 1, &val, &len), HG_EOK, "data persisted");
	uint32_t got = 0;
	memcpy(&got, val, sizeof(got));
	ok(len == 4 && got == 7, "value read back");
	is_int(store_get(&r, STORE_META, HG_META_SCHEMA_VERSION, strlen(HG_META_SCHEMA_VERSION),
	                 &val, &len), HG_EOK, "schema_version written on create");
	memcpy(&got, val, sizeof(got));
	ok(len == 4 && got == HG_SCHEMA_VERSION, "schema_version is 1");
	store_rtxn_free(&r);
	store_close(a);
	rm_env(sub("reg/deep"));
	rmdir(sub("reg"));
}

static void set_version(const char *dir, const uint32_t *version)
{
	store_t *s = NULL;
	store_wtxn_t w;
	if (store_open(dir, STORE_CREATE, &s) != HG_EOK) {
		return;
	}
	store_wtxn_begin(s, &w);
	if (version != NULL) {
		store_put(&w, STORE_META, HG_META_SCHEMA_VERSION, strlen(HG_META_SCHEMA_VERSION),
		          version, sizeof(*version));
	} else {
		store_del(&w, STORE_META, HG_META_SCHEMA_VERSION, strlen(HG_META_SCHEMA_VERSION));
	}
	store_wtxn_commit(&w);
	store_close(s);
}

static void test_schema(void)
{
	static const struct { uint32_t version; bool missing; unsigned flags; int want; } cases[] = {
		{ 1, false, STORE_RDONLY, HG_EOK },
		{ 2, false, STORE_RDONLY, HG_ESCHEMA },
		{ 2, false, STORE_CREATE, HG_ESCHEMA },   /* CREATE never overwrites a version */
		{ 0, false, 0,            HG_ESCHEMA },
		{ 0, true,  STORE_RDONLY, HG_ESCHEMA },
		{ 0, true,  0,            HG_ESCHEMA },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *dir = sub("schema");
		set_version(dir, cases[i].missing ? NULL : &cases[i].version);
		store_t *s = NULL;
		int ret = store_open(dir, cases[i].flags, &s);
		is_int(ret, cases[i].want, "schema case %zu (version %u%s, flags %u)", i,
		       cases[i].version, cases[i].missing ? " missing" : "", cases[i].flags);
		if (ret == HG_ESCHEMA) {
			ok(strstr(store_last_error(), "schema version") != NULL, "message: %s",
			   store_last_error());
		} else if (ret == HG_EOK) {
			store_close(s);
		}
		rm_env(dir);
	}
}

static void test_sticky_and_reads(void)
{
	store_t *s = NULL;
	is_int(store_open(sub("sticky"), STORE_CREATE, &s), HG_EOK, "open");
	store_wtxn_t w;
	store_wtxn_begin(s, &w);
	store_put(&w, STORE_CURSORS, "a", 1, "1", 1);
	store_put(&w, STORE_CURSORS, "", 0, "2", 1);     /* zero-length key: MDB_BAD_VALSIZE */
	is_int(w.err, HG_EINVAL, "failing put sets the sticky error");
	store_put(&w, STORE_CURSORS, "b", 1, "3", 1);
	const void *val;
	size_t len;
	is_int(store_wget(&w, STORE_CURSORS, "a", 1, &val, &len), HG_EINVAL,
	       "wget after failure returns the sticky error");
	is_int(store_wtxn_commit(&w), HG_EINVAL, "commit returns the sticky error");

	store_rtxn_t r = { 0 };
	is_int(store_rtxn_begin(s, &r), HG_EOK, "read txn begin");
	is_int(store_get(&r, STORE_CURSORS, "a", 1, &val, &len), HG_ENOENT,
	       "nothing of the failed txn was written");
	store_rtxn_end(&r);
	ok(r.txn != NULL && !r.active, "ended txn kept for renewal");

	store_wtxn_begin(s, &w);
	store_put(&w, STORE_CURSORS, "a", 1, "1", 1);
	store_del(&w, STORE_CURSORS, "zz", 2);            /* missing key: no error */
	is_int(store_wget(&w, STORE_CURSORS, "a", 1, &val, &len), HG_EOK, "wget sees own put");
	is_int(store_wget(&w, STORE_CURSORS, "q", 1, &val, &len), HG_ENOENT, "wget missing");
	is_int(w.err, HG_EOK, "ENOENT and missing delete are not sticky");

	MDB_txn *cached = r.txn;
	is_int(store_rtxn_begin(s, &r), HG_EOK, "renew read txn during a write");
	ok(r.txn == cached, "the cached txn is renewed, not reallocated");
	is_int(store_get(&r, STORE_CURSORS, "a", 1, &val, &len), HG_ENOENT,
	       "reader does not see uncommitted data");
	is_int(store_wtxn_commit(&w), HG_EOK, "commit");
	is_int(store_get(&r, STORE_CURSORS, "a", 1, &val, &len), HG_ENOENT,
	       "open snapshot still the old one");
	store_rtxn_end(&r);
	is_int(store_rtxn_begin(s, &r), HG_EOK, "begin again");
	is_int(store_get(&r, STORE_CURSORS, "a", 1, &val, &len), HG_EOK,
	       "begin/end/begin sees the new data");
	ok(len == 1 && memcmp(val, "1", 1) == 0, "value");
	store_rtxn_end(&r);
	is_int(store_get(&r, STORE_CURSORS, "a", 1, &val, &len), HG_EINVAL, "get on ended txn");

	store_wtxn_begin(s, &w);
	store_drop_all(&w, STORE_CURSORS);
	is_int(store_wtxn_commit(&w), HG_EOK, "drop_all commit");
	store_rtxn_begin(s, &r);
	is_int(store_get(&r, STORE_CURSORS, "a", 1, &val, &len), HG_ENOENT, "drop_all emptied the DB");
	store_rtxn_free(&r);
	ok(r.txn == NULL, "rtxn_free releases the txn");
	store_close(s);
	rm_env(sub("sticky"));
}

static void test_map_full(void)
{
	setenv("HG_STORE_MAPSIZE", "262144", 1);
	store_t *s = NULL;
	int ret = store_open(sub("small"), STORE_CREATE, &s);
	unsetenv("HG_STORE_MAPSIZE");
	is_int(ret, HG_EOK, "open with a 256 KiB map");
	if (ret != HG_EOK) {
		return;
	}
	store_wtxn_t w;
	store_wtxn_begin(s, &w);
	static uint8_t big[8192];
	int i;
	for (i = 0; i < 1000 && w.err == HG_EOK; i++) {
		char key[16];
		snprintf(key, sizeof(key), "k%04d", i);
		store_put(&w, STORE_MEASUREMENTS, key, strlen(key), big, sizeof(big));
	}
	is_int(w.err, HG_EMAPFULL, "filling the map → HG_EMAPFULL after %d puts", i);
	is_int(store_wtxn_commit(&w), HG_EMAPFULL, "commit reports HG_EMAPFULL");
	ok(strstr(hg_strerror(HG_EMAPFULL), "map size") != NULL, "text tells what to do: %s",
	   hg_strerror(HG_EMAPFULL));
	store_close(s);
	rm_env(sub("small"));
}

int main(void)
{
	const char *root = getenv("HG_TEST_DATA");
	if (root == NULL || *root == '\0') {
		root = "/tmp";
	}
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", root);
	if (system(cmd) != 0) {
		diag("cannot create %s", root);
	}
	snprintf(base, sizeof(base), "%s/test_store.XXXXXX", root);
	if (mkdtemp(base) == NULL) {
		ok(0, "mkdtemp %s", base);
		return done_testing();
	}
	test_measure_key();
	test_open_errors();
	test_registry();
	test_schema();
	test_sticky_and_reads();
	test_map_full();
	ok(rmdir(base) == 0, "every test env removed");
	return done_testing();
}
