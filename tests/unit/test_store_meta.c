/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  store_meta_check() on crafted data files: one line per mutation of a real
 *  environment's data.mdb; and the writers' promise that the file covers
 *  the pages its meta page records (LMDB alone does not keep it). */
#include <fcntl.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"
#include "store.h"
#include "store_meta.h"
#include "tap.h"

static char base[512];
static uint8_t *orig; /* data.mdb of a real environment */
static size_t orig_len;
static size_t psize;

/* Offsets in a meta page (LMDB 0.9, 64-bit): see store_meta.h. */
enum {
	OFF_PGNO = 0,
	OFF_FLAGS = 10,
	OFF_MAGIC = 16,
	OFF_VERSION = 20,
	OFF_PSIZE = 40,
	OFF_FREE_ROOT = 80,
	OFF_MAIN_ROOT = 128,
	OFF_LAST_PG = 136,
	OFF_TXNID = 144,
};

static const char *sub(const char *name)
{
	static char p[4][1024];
	static int slot;
	slot = (slot + 1) % 4;
	snprintf(p[slot], sizeof(p[slot]), "%s/%s", base, name);
	return p[slot];
}

static uint64_t get64(const uint8_t *b, unsigned page, size_t off)
{
	uint64_t v;
	memcpy(&v, b + page * psize + off, sizeof(v));
	return v;
}

static void put64(uint8_t *b, unsigned page, size_t off, uint64_t v)
{
	memcpy(b + page * psize + off, &v, sizeof(v));
}

static void put32(uint8_t *b, unsigned page, size_t off, uint32_t v)
{
	memcpy(b + page * psize + off, &v, sizeof(v));
}

static int write_file(const char *path, const uint8_t *buf, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL) {
		return -1;
	}
	size_t n = len > 0 ? fwrite(buf, 1, len, f) : 0;
	return (fclose(f) == 0 && n == len) ? 0 : -1;
}

static int read_file(const char *path, uint8_t **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		return -1;
	}
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	*buf = malloc((size_t)n);
	*len = (size_t)n;
	size_t got = *buf != NULL ? fread(*buf, 1, (size_t)n, f) : 0;
	fclose(f);
	return got == (size_t)n ? 0 : -1;
}

static int check_path(const char *path, store_meta_t *meta, char *why, size_t size)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		snprintf(why, size, "open failed");
		return HG_EIO;
	}
	int ret = store_meta_check(fd, meta, why, size);
	close(fd);
	return ret;
}

/* A real environment with a few pages of data. */
static int make_base(void)
{
	store_t *s = NULL;
	if (store_open(sub("base"), STORE_CREATE, &s) != HG_EOK) {
		return -1;
	}
	for (int t = 0; t < 3; t++) {
		store_wtxn_t w;
		store_wtxn_begin(s, &w);
		for (int i = 0; i < 200; i++) {
			char key[32];
			uint8_t val[100] = { (uint8_t)i };
			snprintf(key, sizeof(key), "key-%d-%d", t, i);
			store_put(&w, STORE_CURSORS, key, strlen(key), val, sizeof(val));
		}
		store_wtxn_commit(&w);
	}
	store_close(s);
	if (read_file(sub("base/data.mdb"), &orig, &orig_len) != 0) {
		return -1;
	}
	uint32_t ps;
	memcpy(&ps, orig + OFF_PSIZE, sizeof(ps));
	psize = ps;
	return 0;
}

typedef void (*mutate_fn)(uint8_t *b, size_t *len);

static unsigned newer(const uint8_t *b)
{
	return get64(b, 1, OFF_TXNID) > get64(b, 0, OFF_TXNID) ? 1 : 0;
}

static size_t need_of(const uint8_t *b)
{
	uint64_t a = get64(b, 0, OFF_LAST_PG), c = get64(b, 1, OFF_LAST_PG);
	return (size_t)((a > c ? a : c) + 1) * psize;
}

static void m_none(uint8_t *b, size_t *len)
{
	(void)b;
	(void)len;
}
static void m_empty(uint8_t *b, size_t *len)
{
	(void)b;
	*len = 0;
}
static void m_cut_in_meta0(uint8_t *b, size_t *len)
{
	(void)b;
	*len = 100;
}
static void m_cut_in_meta1(uint8_t *b, size_t *len)
{
	(void)b;
	*len = psize + 100;
}
static void m_metas_only(uint8_t *b, size_t *len)
{
	(void)b;
	*len = 2 * psize;
}
static void m_one_page_short(uint8_t *b, size_t *len)
{
	*len = need_of(b) - psize;
}
static void m_one_byte_short(uint8_t *b, size_t *len)
{
	*len = need_of(b) - 1;
}
static void m_zero_meta0(uint8_t *b, size_t *len)
{
	(void)len;
	memset(b, 0, psize);
}
static void m_zero_meta1(uint8_t *b, size_t *len)
{
	(void)len;
	memset(b + psize, 0, psize);
}
static void m_zero_metas(uint8_t *b, size_t *len)
{
	(void)len;
	memset(b, 0, 2 * psize);
}
static void m_not_meta(uint8_t *b, size_t *len)
{
	(void)len;
	b[OFF_FLAGS] = 0x02;
}
static void m_swapped(uint8_t *b, size_t *len)
{
	(void)len;
	put32(b, 0, OFF_MAGIC, 0xDEC0EFBEu);
}
static void m_magic(uint8_t *b, size_t *len)
{
	(void)len;
	put32(b, 1, OFF_MAGIC, 0xBEEFC0DFu);
}
static void m_version(uint8_t *b, size_t *len)
{
	(void)len;
	put32(b, 0, OFF_VERSION, 2);
}
static void m_psize0(uint8_t *b, size_t *len)
{
	(void)len;
	put32(b, 0, OFF_PSIZE, 0);
}
static void m_psize_odd(uint8_t *b, size_t *len)
{
	(void)len;
	put32(b, 0, OFF_PSIZE, 3000);
}
static void m_psize_huge(uint8_t *b, size_t *len)
{
	(void)len;
	put32(b, 0, OFF_PSIZE, 1u << 20);
}
static void m_psize_differ(uint8_t *b, size_t *len)
{
	(void)len;
	put32(b, 1, OFF_PSIZE, (uint32_t)psize / 2);
}
static void m_pgno(uint8_t *b, size_t *len)
{
	(void)len;
	put64(b, 1, OFF_PGNO, 5);
}
static void m_parity(uint8_t *b, size_t *len)
{
	(void)len;
	put64(b, 0, OFF_TXNID, 7);
}
static void m_root(uint8_t *b, size_t *len)
{
	(void)len;
	unsigned k = newer(b);
	put64(b, k, OFF_MAIN_ROOT, get64(b, k, OFF_LAST_PG) + 1);
}
static void m_free_root_meta(uint8_t *b, size_t *len)
{
	(void)len;
	put64(b, 0, OFF_FREE_ROOT, 1);
}
static void m_last_pg0(uint8_t *b, size_t *len)
{
	(void)len;
	put64(b, 1, OFF_LAST_PG, 0);
}
/* The older meta page records more pages than the file has (a reader may
 * still use its snapshot). */
static void m_older_longer(uint8_t *b, size_t *len)
{
	unsigned old = 1 - newer(b);
	put64(b, old, OFF_LAST_PG, *len / psize + 3);
}
/* Make meta page 0 the newer one (txn ids keep their parity). */
static void m_pick0(uint8_t *b, size_t *len)
{
	(void)len;
	uint64_t t1 = get64(b, 1, OFF_TXNID), t0 = get64(b, 0, OFF_TXNID);
	put64(b, 0, OFF_TXNID, (t0 > t1 ? t0 : t1) + 1 + ((t0 > t1 ? t0 : t1) + 1) % 2);
}
static void m_pick1(uint8_t *b, size_t *len)
{
	(void)len;
	uint64_t t1 = get64(b, 1, OFF_TXNID), t0 = get64(b, 0, OFF_TXNID);
	uint64_t t = (t0 > t1 ? t0 : t1) + 1;
	put64(b, 1, OFF_TXNID, t % 2 ? t : t + 1);
}

static void test_crafted(void)
{
	static const struct {
		const char *what;
		mutate_fn fn;
		int want;
		const char *says; /* in the reason */
	} cases[] = {
		{ "intact file", m_none, HG_EOK, "" },
		{ "empty file (new environment)", m_empty, HG_ENOENT, "empty" },
		{ "cut inside meta page 0", m_cut_in_meta0, HG_ECORRUPT, "inside meta page 0" },
		{ "cut inside meta page 1", m_cut_in_meta1, HG_ECORRUPT, "inside meta page 1" },
		{ "only the meta pages left", m_metas_only, HG_ECORRUPT, "truncated" },
		{ "one page short", m_one_page_short, HG_ECORRUPT, "truncated" },
		{ "one byte short", m_one_byte_short, HG_ECORRUPT, "truncated" },
		{ "meta page 0 zeroed", m_zero_meta0, HG_ECORRUPT,
		  "page 0 is not an LMDB meta page" },
		{ "meta page 1 zeroed", m_zero_meta1, HG_ECORRUPT,
		  "page 1 is not an LMDB meta page" },
		{ "both meta pages zeroed", m_zero_metas, HG_ECORRUPT,
		  "page 0 is not an LMDB meta page" },
		{ "page 0 without the meta flag", m_not_meta, HG_ECORRUPT,
		  "not an LMDB meta page" },
		{ "other byte order", m_swapped, HG_ECORRUPT, "byte order" },
		{ "bad magic on page 1", m_magic, HG_ECORRUPT, "page 1 is not an LMDB meta page" },
		{ "data format version 2", m_version, HG_ECORRUPT, "format version 2" },
		{ "page size 0", m_psize0, HG_ECORRUPT, "invalid page size 0" },
		{ "page size 3000", m_psize_odd, HG_ECORRUPT, "invalid page size 3000" },
		{ "page size 1 MiB", m_psize_huge, HG_ECORRUPT, "invalid page size" },
		{ "meta pages disagree on page size", m_psize_differ, HG_ECORRUPT, "disagree" },
		{ "page 1 says it is page 5", m_pgno, HG_ECORRUPT, "says it is page 5" },
		{ "odd txn id in meta page 0", m_parity, HG_ECORRUPT, "belongs in meta page 1" },
		{ "main root past the last page", m_root, HG_ECORRUPT, "main tree root" },
		{ "free-page root on a meta page", m_free_root_meta, HG_ECORRUPT,
		  "free-page tree root is page 1" },
		{ "last page 0", m_last_pg0, HG_ECORRUPT, "invalid last page 0" },
		{ "older meta page needs more", m_older_longer, HG_ECORRUPT, "truncated" },
		{ "meta page 0 the newer", m_pick0, HG_EOK, "" },
		{ "meta page 1 the newer", m_pick1, HG_EOK, "" },
	};
	uint8_t *buf = malloc(orig_len);
	for (size_t i = 0; buf != NULL && i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(buf, orig, orig_len);
		size_t len = orig_len;
		cases[i].fn(buf, &len);
		char why[400] = "";
		store_meta_t meta;
		memset(&meta, 0, sizeof(meta)); /* read below only when ret is HG_EOK */
		int ret = -100;
		if (write_file(sub("crafted.mdb"), buf, len) == 0) {
			ret = check_path(sub("crafted.mdb"), &meta, why, sizeof(why));
		}
		is_int(ret, cases[i].want, "%s → %s", cases[i].what, hg_strerror(cases[i].want));
		ok(strstr(why, cases[i].says) != NULL, "  says \"%s\": %s", cases[i].says, why);
		if (cases[i].fn == m_pick0 || cases[i].fn == m_pick1) {
			unsigned want = cases[i].fn == m_pick1;
			ok(ret == HG_EOK && meta.which == want &&
			           meta.txnid == get64(buf, want, OFF_TXNID),
			   "  picks meta page %u (txn %llu)", want,
			   (unsigned long long)get64(buf, want, OFF_TXNID));
		}
		if (cases[i].fn == m_none) {
			ok(ret == HG_EOK && meta.psize == psize && meta.file_size == orig_len &&
			           meta.need == need_of(buf) && meta.need <= orig_len &&
			           meta.last_pg >= 2,
			   "  page size %zu, last page %zu, needs %llu of %llu bytes", meta.psize,
			   meta.last_pg, (unsigned long long)meta.need,
			   (unsigned long long)meta.file_size);
		}
	}
	free(buf);
}

/* What store_open() says about a bad data.mdb, before LMDB maps it. */
static void test_open_refuses(void)
{
	static const struct {
		const char *what;
		mutate_fn fn;
		const char *says;
	} cases[] = {
		{ "truncated data.mdb", m_one_page_short, "truncated" },
		{ "zeroed meta pages", m_zero_metas, "not an LMDB meta page" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t *buf = malloc(orig_len);
		if (buf == NULL) {
			return;
		}
		memcpy(buf, orig, orig_len);
		size_t len = orig_len;
		cases[i].fn(buf, &len);
		int wrote = write_file(sub("base/data.mdb"), buf, len);
		free(buf);
		for (int rdonly = 0; rdonly < 2 && wrote == 0; rdonly++) {
			store_t *s = NULL;
			int ret = store_open(sub("base"), rdonly ? STORE_RDONLY : STORE_CREATE, &s);
			is_int(ret, HG_ECORRUPT, "%s open of %s → corrupt",
			       rdonly ? "read-only" : "create", cases[i].what);
			ok(strstr(store_last_error(), cases[i].says) != NULL &&
			           strstr(store_last_error(),
			                  "haltgslb-ctl load POLICY --db NEWDIR") != NULL,
			   "  says what and how to rebuild: %s", store_last_error());
			if (ret == HG_EOK) {
				store_close(s);
			}
		}
	}
	write_file(sub("base/data.mdb"), orig, orig_len);
}

/* Raw LMDB: a big value put and deleted in one txn leaves its pages at the
 * end of the file free and unwritten. Returns how many of the commits left
 * the file shorter than its last page. */
static int raw_lmdb_short_commits(const char *dir)
{
	mkdir(dir, 0750);
	MDB_env *env = NULL;
	int shorts = 0;
	if (mdb_env_create(&env) != 0 || mdb_env_set_maxdbs(env, 2) != 0 ||
	    mdb_env_set_mapsize(env, 1u << 30) != 0 || mdb_env_open(env, dir, 0, 0640) != 0) {
		return -1;
	}
	static uint8_t big[90000];
	for (int i = 0; i < 8; i++) {
		MDB_txn *txn = NULL;
		MDB_dbi dbi;
		mdb_txn_begin(env, NULL, 0, &txn);
		mdb_dbi_open(txn, "x", MDB_CREATE, &dbi);
		MDB_val k = { 3, "big" }, v = { sizeof(big), big }, k2 = { 1, "a" },
		        v2 = { 10, big };
		mdb_put(txn, dbi, &k, &v, 0);
		mdb_del(txn, dbi, &k, NULL);
		mdb_put(txn, dbi, &k2, &v2, 0);
		mdb_txn_commit(txn);
		int fd = -1;
		mdb_env_get_fd(env, &fd);
		store_meta_t meta;
		char why[300];
		if (store_meta_check(fd, &meta, why, sizeof(why)) == HG_ECORRUPT) {
			shorts++;
		}
	}
	mdb_env_close(env);
	return shorts;
}

static void test_writers_cover_pages(void)
{
	int raw = raw_lmdb_short_commits(sub("raw"));
	ok(raw > 0, "raw LMDB leaves the file shorter than its last page (%d of 8 commits)", raw);

	store_t *s = NULL;
	if (store_open(sub("covered"), STORE_CREATE, &s) != HG_EOK) {
		ok(0, "open: %s", store_last_error());
		return;
	}
	static uint8_t big[90000];
	int shorts = 0;
	for (int i = 0; i < 8; i++) {
		store_wtxn_t w;
		store_wtxn_begin(s, &w);
		store_put(&w, STORE_CURSORS, "big", 3, big, sizeof(big));
		store_del(&w, STORE_CURSORS, "big", 3);
		store_put(&w, STORE_CURSORS, "a", 1, big, 10);
		store_wtxn_commit(&w);
		char why[300];
		if (store_check_file(s, why, sizeof(why)) != HG_EOK) {
			shorts++;
			diag("after commit %d: %s", i, why);
		}
	}
	is_int(shorts, 0, "store_wtxn_commit() leaves the file covering its last page");
	store_close(s);
	is_int(store_open(sub("covered"), STORE_RDONLY, &s), HG_EOK, "and readers open it");
	store_close(s);
}

int main(void)
{
	const char *root = getenv("HG_TEST_DATA");
	if (root == NULL || *root == '\0') {
		root = "/tmp";
	}
	mkdir(root, 0755);
	snprintf(base, sizeof(base), "%s/test_store_meta.XXXXXX", root);
	if (mkdtemp(base) == NULL || make_base() != 0) {
		ok(0, "set up a base environment in %s: %s", base, store_last_error());
		return done_testing();
	}
	diag("base data.mdb: %zu bytes, page size %zu", orig_len, psize);
	test_crafted();
	test_open_refuses();
	test_writers_cover_pages();
	free(orig);
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	if (system(cmd) != 0) {
		diag("cannot remove %s", base);
	}
	return done_testing();
}
