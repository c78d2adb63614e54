/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  store: registry, open errors, schema check, sticky writes, read reuse,
 *  map full, iteration (foreach, prefix, dups, write walks that delete),
 *  counts and the measurements key. */
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
	static const struct {
		const char *ep, *pr;
		size_t size, want;
	} cases[] = {
		{ "waf-fra", "eu-fra", 64, 14 },
		{ "a", "b", 3, 3 },
		{ "a", "b", 2, 0 }, /* does not fit */
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

static void test_measure_key_split(void)
{
	static const struct {
		const char *key;
		size_t klen;
		int want;
		const char *ep, *pr;
	} c[] = {
		{ "waf-fra\0eu-fra", 14, HG_EOK, "waf-fra", "eu-fra" },
		{ "a\0b", 3, HG_EOK, "a", "b" },
		{ "ab", 2, HG_ECORRUPT, NULL, NULL },      /* no separator */
		{ "\0b", 2, HG_ECORRUPT, NULL, NULL },     /* empty endpoint */
		{ "a\0", 2, HG_ECORRUPT, NULL, NULL },     /* empty prober */
		{ "a\0b\0c", 5, HG_ECORRUPT, NULL, NULL }, /* two separators */
		{ "", 0, HG_ECORRUPT, NULL, NULL },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		char ep[HG_ID_SIZE] = "x", pr[HG_ID_SIZE] = "y";
		int ret = store_measure_key_split(c[i].key, c[i].klen, ep, pr);
		is_int(ret, c[i].want, "split case %zu", i);
		if (c[i].want == HG_EOK) {
			ok(strcmp(ep, c[i].ep) == 0 && strcmp(pr, c[i].pr) == 0, "split: %s / %s",
			   ep, pr);
		}
	}
	/* Longest ids split; one byte more is refused. */
	uint8_t key[STORE_MEASURE_KEY_MAX + 1];
	char ep[HG_ID_SIZE], pr[HG_ID_SIZE], id[HG_ID_MAX + 2];
	memset(id, 'e', HG_ID_MAX);
	id[HG_ID_MAX] = '\0';
	size_t n = store_measure_key(key, sizeof(key), id, id);
	is_int(n, STORE_MEASURE_KEY_MAX, "longest key is STORE_MEASURE_KEY_MAX");
	ok(store_measure_key_split(key, n, ep, pr) == HG_EOK && strlen(ep) == HG_ID_MAX &&
	           strlen(pr) == HG_ID_MAX,
	   "longest ids split");
	id[HG_ID_MAX] = 'e';
	id[HG_ID_MAX + 1] = '\0';
	n = store_measure_key(key, sizeof(key), id, "p");
	is_int(store_measure_key_split(key, n, ep, pr), HG_ECORRUPT,
	       "an id over HG_ID_MAX is refused");
}

/* Visitor: records "key=value;" and stops (returns 7) at value "stop". */
typedef struct {
	char seen[256];
	int del_value; /* write walks: delete entries whose value is this digit */
} visit_log_t;

static int log_visit(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
	visit_log_t *l = ctx;
	size_t o = strlen(l->seen);
	snprintf(l->seen + o, sizeof(l->seen) - o, "%.*s=%.*s;", (int)klen, (const char *)key,
	         (int)vlen, (const char *)val);
	if (vlen == 4 && memcmp(val, "stop", 4) == 0) {
		return 7;
	}
	if (l->del_value != 0 && vlen == 1 && ((const char *)val)[0] == l->del_value) {
		return STORE_ITER_DELETE;
	}
	return HG_EOK;
}

static int fail_visit(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
	return HG_ECORRUPT;
}

static void put_str(store_wtxn_t *w, enum store_dbi db, const char *k, const char *v)
{
	store_put(w, db, k, strlen(k), v, strlen(v));
}

static const char *walk(store_t *s, enum store_dbi db, const char *prefix, bool dup, int *ret)
{
	static visit_log_t l;
	store_rtxn_t r = { 0 };
	memset(&l, 0, sizeof(l));
	*ret = store_rtxn_begin(s, &r);
	if (*ret == HG_EOK) {
		size_t plen = prefix != NULL ? strlen(prefix) : 0;
		*ret = dup ? store_foreach_dup(&r, db, prefix, plen, log_visit, &l)
		           : store_foreach(&r, db, prefix, plen, log_visit, &l);
	}
	store_rtxn_free(&r);
	return l.seen;
}

static void test_iter(void)
{
	store_t *s = NULL;
	is_int(store_open(sub("iter"), STORE_CREATE, &s), HG_EOK, "iter: open");
	store_wtxn_t w;
	store_wtxn_begin(s, &w);
	put_str(&w, STORE_CURSORS, "a", "1");
	put_str(&w, STORE_CURSORS, "ab", "2");
	put_str(&w, STORE_CURSORS, "abc", "3");
	put_str(&w, STORE_CURSORS, "b", "4");
	put_str(&w, STORE_CURSORS, "c", "stop");
	put_str(&w, STORE_CURSORS, "d", "5");
	put_str(&w, STORE_EPSETS, "ep1", "x"); /* DUPSORT: values sorted */
	put_str(&w, STORE_EPSETS, "ep1", "w");
	put_str(&w, STORE_EPSETS, "ep1", "y");
	put_str(&w, STORE_EPSETS, "ep2", "z");
	is_int(store_wtxn_commit(&w), HG_EOK, "iter: fill");

	static const struct {
		enum store_dbi db;
		const char *prefix;
		bool dup;
		int want_ret;
		const char *want;
	} c[] = {
		{ STORE_CURSORS, NULL, false, 7,
		  "a=1;ab=2;abc=3;b=4;c=stop;" }, /* stop value returned */
		{ STORE_CURSORS, "a", false, HG_EOK, "a=1;ab=2;abc=3;" },
		{ STORE_CURSORS, "ab", false, HG_EOK, "ab=2;abc=3;" },
		{ STORE_CURSORS, "abcd", false, HG_EOK, "" },
		{ STORE_CURSORS, "aa", false, HG_EOK, "" }, /* between keys */
		{ STORE_CURSORS, "d", false, HG_EOK, "d=5;" },
		{ STORE_CURSORS, "e", false, HG_EOK, "" }, /* past the end */
		{ STORE_EPSETS, NULL, false, HG_EOK, "ep1=w;ep1=x;ep1=y;ep2=z;" }, /* every dup */
		{ STORE_EPSETS, "ep", false, HG_EOK, "ep1=w;ep1=x;ep1=y;ep2=z;" },
		{ STORE_EPSETS, "ep1", true, HG_EOK, "ep1=w;ep1=x;ep1=y;" },
		{ STORE_EPSETS, "ep2", true, HG_EOK, "ep2=z;" },
		{ STORE_EPSETS, "ep", true, HG_EOK, "" }, /* dup: exact key only */
		{ STORE_EPSETS, "ep3", true, HG_EOK, "" },
		{ STORE_MEASUREMENTS, NULL, false, HG_EOK, "" }, /* empty DB */
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		int ret;
		const char *seen = walk(s, c[i].db, c[i].prefix, c[i].dup, &ret);
		ok(ret == c[i].want_ret && strcmp(seen, c[i].want) == 0,
		   "%s %s '%s': %d '%s' (want %d '%s')", store_db_name(c[i].db),
		   c[i].dup ? "foreach_dup" : "foreach", c[i].prefix ? c[i].prefix : "", ret, seen,
		   c[i].want_ret, c[i].want);
	}

	store_rtxn_t r = { 0 };
	size_t n = 0;
	visit_log_t l = { { 0 }, 0 };
	is_int(store_foreach(&r, STORE_CURSORS, NULL, 0, log_visit, &l), HG_EINVAL,
	       "foreach on a txn never begun: HG_EINVAL");
	is_int(store_count(&r, STORE_CURSORS, &n), HG_EINVAL,
	       "count on a txn never begun: HG_EINVAL");
	store_rtxn_begin(s, &r);
	is_int(store_foreach_dup(&r, STORE_EPSETS, "", 0, log_visit, &l), HG_EINVAL,
	       "foreach_dup with an empty key: HG_EINVAL");
	is_int(store_foreach(&r, STORE_CURSORS, "a", 1, fail_visit, NULL), HG_ECORRUPT,
	       "a visitor's error stops the walk and is returned");
	static const struct {
		enum store_dbi db;
		size_t want;
	} counts[] = {
		{ STORE_CURSORS, 6 },
		{ STORE_EPSETS, 4 },
		{ STORE_MEASUREMENTS, 0 },
	};
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		n = 99;
		ok(store_count(&r, counts[i].db, &n) == HG_EOK && n == counts[i].want,
		   "count %s: %zu (want %zu)", store_db_name(counts[i].db), n, counts[i].want);
	}
	store_rtxn_end(&r);
	is_int(store_count(&r, STORE_CURSORS, &n), HG_EINVAL, "count on an ended txn: HG_EINVAL");
	store_rtxn_free(&r);

	/* Write walks: STORE_ITER_DELETE deletes and goes on. */
	store_wtxn_begin(s, &w);
	memset(&l, 0, sizeof(l));
	l.del_value = '2';
	is_int(store_wforeach(&w, STORE_CURSORS, "a", 1, log_visit, &l), HG_EOK, "wforeach 'a'");
	is_str(l.seen, "a=1;ab=2;abc=3;", "wforeach visits every entry, deleted ones too");
	memset(&l, 0, sizeof(l));
	l.del_value = 'x';
	is_int(store_wforeach_dup(&w, STORE_EPSETS, "ep1", 3, log_visit, &l), HG_EOK,
	       "wforeach_dup ep1");
	is_str(l.seen, "ep1=w;ep1=x;ep1=y;", "wforeach_dup goes on after a delete");
	memset(&l, 0, sizeof(l));
	l.del_value = 'w';
	store_wforeach_dup(&w, STORE_EPSETS, "ep1", 3, log_visit, &l);
	is_str(l.seen, "ep1=w;ep1=y;", "x is gone");
	is_int(store_wforeach_dup(&w, STORE_EPSETS, "", 0, log_visit, &l), HG_EINVAL,
	       "wforeach_dup with an empty key: HG_EINVAL");
	is_int(w.err, HG_EOK, "deletes and HG_EINVAL are not sticky");
	is_int(store_wtxn_commit(&w), HG_EOK, "commit the deletes");
	int ret;
	is_str(walk(s, STORE_CURSORS, "a", false, &ret), "a=1;abc=3;", "ab deleted");
	is_str(walk(s, STORE_EPSETS, NULL, false, &ret), "ep1=y;ep2=z;", "ep1's w and x deleted");

	/* Deleting every value of a key, and a visitor error in a write walk. */
	store_wtxn_begin(s, &w);
	memset(&l, 0, sizeof(l));
	l.del_value = 'y';
	store_wforeach_dup(&w, STORE_EPSETS, "ep1", 3, log_visit, &l);
	is_int(store_wforeach(&w, STORE_CURSORS, NULL, 0, fail_visit, NULL), HG_ECORRUPT,
	       "wforeach returns the visitor's error");
	is_int(w.err, HG_ECORRUPT, "a negative visitor return becomes sticky");
	is_int(store_wforeach(&w, STORE_CURSORS, NULL, 0, log_visit, &l), HG_ECORRUPT,
	       "wforeach after a failure returns the sticky error");
	is_int(store_wtxn_commit(&w), HG_ECORRUPT, "commit aborts");
	is_str(walk(s, STORE_EPSETS, NULL, false, &ret), "ep1=y;ep2=z;",
	       "nothing of it was written");
	store_wtxn_begin(s, &w);
	store_wforeach_dup(&w, STORE_EPSETS, "ep1", 3, log_visit, &l);
	store_wtxn_commit(&w);
	is_str(walk(s, STORE_EPSETS, NULL, false, &ret), "ep2=z;", "last value of ep1 deleted");
	store_close(s);
	rm_env(sub("iter"));
}

static void test_open_errors(void)
{
	store_t *s = NULL;
	is_int(store_open(sub("missing"), STORE_RDONLY, &s), HG_ENOENT,
	       "rdonly open of missing dir");
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

	is_int(store_open(sub("reg/deep"), STORE_RDONLY, &a), HG_EOK,
	       "reopen rdonly after last close");
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
	                 &val, &len),
	       HG_EOK, "schema_version written on create");
	memcpy(&got, val, sizeof(got));
	ok(len == 4 && got == HG_SCHEMA_VERSION, "schema_version is %u", HG_SCHEMA_VERSION);
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
	static const struct {
		uint32_t version;
		bool missing;
		unsigned flags;
		int want;
	} cases[] = {
		{ 2, false, STORE_RDONLY, HG_EOK },
		{ 3, false, STORE_RDONLY, HG_ESCHEMA },
		{ 3, false, STORE_CREATE, HG_ESCHEMA }, /* CREATE never overwrites a version */
		{ 1, false, STORE_RDONLY, HG_ESCHEMA }, /* the previous version too ... */
		{ 1, false, STORE_CREATE, HG_ESCHEMA },
		{ 1, false, STORE_CREATE | STORE_UPGRADE, HG_EOK }, /* ... but for its upgrade */
		{ 3, false, STORE_CREATE | STORE_UPGRADE, HG_ESCHEMA },
		{ 2, false, STORE_RDONLY | STORE_UPGRADE, HG_EINVAL },
		{ 0, false, 0, HG_ESCHEMA },
		{ 0, true, STORE_RDONLY, HG_ESCHEMA },
		{ 0, true, 0, HG_ESCHEMA },
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
	store_put(&w, STORE_CURSORS, "", 0, "2", 1); /* zero-length key: MDB_BAD_VALSIZE */
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
	store_del(&w, STORE_CURSORS, "zz", 2); /* missing key: no error */
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
	is_int(store_get(&r, STORE_CURSORS, "a", 1, &val, &len), HG_ENOENT,
	       "drop_all emptied the DB");
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
	ok(strstr(hg_strerror(HG_EMAPFULL), "HG_STORE_MAPSIZE_MAX") != NULL,
	   "text tells what to do: %s", hg_strerror(HG_EMAPFULL));
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
	test_measure_key_split();
	test_open_errors();
	test_registry();
	test_schema();
	test_sticky_and_reads();
	test_map_full();
	test_iter();
	ok(rmdir(base) == 0, "every test env removed");
	return done_testing();
}
