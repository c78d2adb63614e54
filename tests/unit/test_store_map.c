/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  The map grows by itself: a tiny initial map grown by store_write(); a
 *  write that does not fit under the ceiling fails clearly with nothing of
 *  it written; the warning past 80 %; a reader in another process follows
 *  the growth (MDB_MAP_RESIZED) at once when idle, and only once its other
 *  reads are over when not.
 *
 *  Usage as a helper: test_store_map --grow DIR FIRST N  writes records
 *  FIRST .. FIRST+N-1 of 8 KiB in one store_write() (the other process of
 *  the reader tests). */
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "errors.h"
#include "log.h"
#include "store.h"
#include "tap.h"

extern char **environ;

static char root[512];

static const char *sub(const char *name)
{
	static char buf[700];
	snprintf(buf, sizeof(buf), "%s/%s", root, name);
	return buf;
}

static void rm_env(const char *dir)
{
	char p[800];
	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", dir);
	unlink(p);
	rmdir(dir);
}

typedef struct {
	unsigned first, n; /* records first .. first + n - 1 */
	unsigned runs;     /* how often the body ran */
} fill_t;

static int fill_body(store_wtxn_t *w, void *ctx)
{
	fill_t *f = ctx;
	static uint8_t big[8192];
	f->runs++;
	for (unsigned i = 0; i < f->n && w->err == HG_EOK; i++) {
		char key[16];
		snprintf(key, sizeof(key), "k%06u", f->first + i);
		memset(big, (int)(f->first + i), sizeof(big));
		store_put(w, STORE_CURSORS, key, strlen(key), big, sizeof(big));
	}
	return w->err;
}

static size_t count(store_t *s)
{
	store_rtxn_t r = { 0 };
	size_t n = 0;
	if (store_rtxn_begin(s, &r) == HG_EOK) {
		store_count(&r, STORE_CURSORS, &n);
	}
	store_rtxn_free(&r);
	return n;
}

static store_t *open_with(const char *dir, unsigned flags, const char *initial, const char *limit)
{
	if (initial) {
		setenv("HG_STORE_MAPSIZE", initial, 1);
	}
	if (limit) {
		setenv("HG_STORE_MAPSIZE_MAX", limit, 1);
	}
	store_t *s = NULL;
	if (store_open(dir, flags, &s) != HG_EOK) {
		diag("open %s: %s", dir, store_last_error());
		s = NULL;
	}
	unsetenv("HG_STORE_MAPSIZE");
	unsetenv("HG_STORE_MAPSIZE_MAX");
	return s;
}

/* A 64 KiB map grown to hold 8 MiB, in one transaction run again. */
static void test_grow(void)
{
	store_t *s = open_with(sub("grow"), STORE_CREATE, "65536", "67108864");
	ok(s != NULL, "open with a 64 KiB map, 64 MiB limit");
	if (s == NULL) {
		return;
	}
	store_map_info_t m0, m1;
	store_map_info(s, &m0);
	ok(m0.map == 65536 && m0.limit == 67108864, "map %llu, limit %llu",
	   (unsigned long long)m0.map, (unsigned long long)m0.limit);
	fill_t f = { .first = 0, .n = 1000 };
	is_int(store_write(s, fill_body, &f), HG_EOK, "8 MiB written through store_write()");
	store_map_info(s, &m1);
	ok(m1.map >= m1.used && m1.used >= 1000 * 8192 && m1.grows >= 7,
	   "the map grew %llu times to %llu bytes for %llu in use", (unsigned long long)m1.grows,
	   (unsigned long long)m1.map, (unsigned long long)m1.used);
	ok(f.runs == m1.grows + 1, "the transaction ran again after each growth (%u runs)", f.runs);
	is_int(count(s), 1000, "every record is there");
	store_close(s);

	/* Reopened, a writer maps what the file records, not its initial size. */
	s = open_with(sub("grow"), 0, "65536", "67108864");
	store_map_info_t m2 = { 0 };
	bool got = s != NULL && store_map_info(s, &m2) == HG_EOK;
	ok(got && m2.map == m1.map, "reopened by a writer: map %llu as recorded",
	   (unsigned long long)m2.map);
	store_close(s);
	/* A writer whose ceiling is below the recorded map maps its ceiling:
	 * it cannot write past it without meeting a full map. */
	s = open_with(sub("grow"), 0, "65536", "14680064");
	got = s != NULL && store_map_info(s, &m2) == HG_EOK;
	ok(got && m2.map == 14680064,
	   "reopened under a 14 MiB ceiling: map %llu, not the recorded %llu",
	   (unsigned long long)m2.map, (unsigned long long)m1.map);
	fill_t more = { .first = 5000, .n = 300 };
	is_int(store_write(s, fill_body, &more), HG_EMAPFULL,
	       "300 records (3.5 MiB) more: past 14 MiB, HG_EMAPFULL");
	is_int(count(s), 1000, "nothing of it written");
	store_close(s);
	/* A reader maps its ceiling (or the data, if larger). */
	s = open_with(sub("grow"), STORE_RDONLY, NULL, "134217728");
	got = s != NULL && store_map_info(s, &m2) == HG_EOK;
	ok(got && m2.map == 134217728, "a reader maps its 128 MiB ceiling (%llu)",
	   (unsigned long long)m2.map);
	store_close(s);
	rm_env(sub("grow"));
}

/* At the ceiling: a clear error, nothing of the transaction written, and
 * the database still takes writes that fit. */
static void test_ceiling(void)
{
	store_t *s = open_with(sub("ceiling"), STORE_CREATE, "65536", "1048576");
	ok(s != NULL, "open with a 1 MiB limit");
	if (s == NULL) {
		return;
	}
	fill_t small = { .first = 0, .n = 20 };
	is_int(store_write(s, fill_body, &small), HG_EOK, "20 records fit");
	fill_t big = { .first = 100, .n = 400 };
	is_int(store_write(s, fill_body, &big), HG_EMAPFULL, "3 MiB more: HG_EMAPFULL");
	const char *why = store_last_error();
	ok(strstr(why, "limit of 1048576 bytes") != NULL &&
	           strstr(why, "HG_STORE_MAPSIZE_MAX") != NULL,
	   "the error names the limit: %s", why);
	is_int(count(s), 20, "nothing of the failed transaction was written");
	store_map_info_t m;
	store_map_info(s, &m);
	ok(m.map == 1048576, "the map stopped at the limit");
	fill_t more = { .first = 50, .n = 5 };
	is_int(store_write(s, fill_body, &more), HG_EOK, "a write that fits still works");
	is_int(count(s), 25, "and is there");
	store_close(s);
	rm_env(sub("ceiling"));
}

/* The warning, from 80 % of the ceiling (its flag in store_map_info()). */
static void test_warning(void)
{
	store_t *s = open_with(sub("warn"), STORE_CREATE, "65536", "4194304");
	if (s == NULL) {
		ok(0, "open");
		return;
	}
	store_map_info_t m;
	fill_t f = { .first = 0, .n = 100 };
	store_write(s, fill_body, &f);
	store_map_info(s, &m);
	ok(!m.warn, "%llu of %llu bytes: no warning", (unsigned long long)m.used,
	   (unsigned long long)m.limit);
	fill_t g = { .first = 1000, .n = 180 }; /* about 12.5 KB each: to some 84 % */
	is_int(store_write(s, fill_body, &g), HG_EOK, "fill up to over 80 %%");
	store_map_info(s, &m);
	ok(m.warn && m.used * 100 >= m.limit * STORE_MAP_WARN_PCT, "%llu of %llu bytes: warning",
	   (unsigned long long)m.used, (unsigned long long)m.limit);
	store_close(s);
	rm_env(sub("warn"));
}

/* The other process of the reader tests: it grows the database. */
/* This program's path from main()'s argv[0]: under valgrind /proc/self/exe
 * is valgrind's tool, which refuses to be run directly. */
static const char *self_path = "/proc/self/exe";

static int run_grower(const char *dir, unsigned first, unsigned n)
{
	const char *self = self_path;
	char arg_first[16], arg_n[16];
	snprintf(arg_first, sizeof(arg_first), "%u", first);
	snprintf(arg_n, sizeof(arg_n), "%u", n);
	char *const argv[] = {
		(char *)"test_store_map", (char *)"--grow", (char *)dir, arg_first, arg_n, NULL
	};
	pid_t pid;
	setenv("HG_STORE_MAPSIZE", "65536", 1);         /* grows from the recorded size */
	setenv("HG_STORE_MAPSIZE_MAX", "268435456", 1); /* the writer's ceiling is larger */
	int rc = posix_spawn(&pid, self, NULL, NULL, argv, environ);
	unsetenv("HG_STORE_MAPSIZE");
	unsetenv("HG_STORE_MAPSIZE_MAX");
	if (rc != 0) {
		return -1;
	}
	int status;
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

typedef struct {
	store_t *s;
	store_rtxn_t r;
	volatile int begun, release;
} holder_t;

static void *hold(void *arg)
{
	holder_t *h = arg;
	h->begun = store_rtxn_begin(h->s, &h->r) == HG_EOK ? 1 : -1;
	while (!h->release) {
		usleep(1000);
	}
	store_rtxn_end(&h->r);
	store_rtxn_free(&h->r);
	return NULL;
}

/* A reader whose ceiling the data outgrows (a writer with a larger one). */
static void test_reader_follows(void)
{
	const char *dir = sub("follow");
	store_t *w = open_with(dir, STORE_CREATE, "65536", "268435456");
	fill_t f = { .first = 0, .n = 10 };
	ok(w != NULL && store_write(w, fill_body, &f) == HG_EOK, "a small database");
	store_close(w);
	store_t *r = open_with(dir, STORE_RDONLY, NULL, "1048576");
	ok(r != NULL, "a reader with a 1 MiB ceiling");
	if (r == NULL) {
		return;
	}
	is_int(count(r), 10, "it reads the 10 records");

	/* Idle: the next read moves the map itself. */
	is_int(run_grower(dir, 1000, 300), 0, "another process writes 2.4 MiB");
	is_int(count(r), 310, "the next read follows the growth: 310 records");
	store_map_info_t m;
	store_map_info(r, &m);
	ok(m.remaps == 1 && m.map >= m.used, "remapped once to %llu bytes",
	   (unsigned long long)m.map);

	/* Another thread of this process is reading: no remap under it. */
	holder_t h = { .s = r };
	pthread_t t;
	pthread_create(&t, NULL, hold, &h);
	while (h.begun == 0) {
		usleep(1000);
	}
	is_int(run_grower(dir, 2000, 600), 0, "the other process writes 4.8 MiB more");
	store_rtxn_t mine = { 0 };
	is_int(store_rtxn_begin(r, &mine), HG_EMAPRESIZED,
	       "a read while another is active: HG_EMAPRESIZED, the map stays");
	ok(store_remap_wanted(r), "a remap is wanted");
	store_rtxn_end(&mine); /* (if the read was begun after all) */
	h.release = 1;
	pthread_join(t, NULL);
	is_int(store_remap(r), HG_EOK, "store_remap() once the other read ended");
	ok(!store_remap_wanted(r), "no remap wanted any more");
	is_int(count(r), 910, "the reader sees all 910 records");
	store_rtxn_free(&mine);
	store_close(r);
	rm_env(dir);
}

/* Held snapshots: resumed without a renew while nothing was committed,
 * renewed after a commit, taken back by store_release_held() when old,
 * and reset by a remap rather than waited for. */
static void test_hold(void)
{
	const char *dir = sub("hold");
	store_t *s = open_with(dir, STORE_CREATE, "65536", "67108864");
	fill_t f = { .first = 0, .n = 3 };
	ok(s != NULL && store_write(s, fill_body, &f) == HG_EOK, "a database of 3 records");
	if (s == NULL) {
		return;
	}
	store_rtxn_t r = { 0 };
	const void *v1 = NULL, *v2 = NULL;
	size_t len;
	is_int(store_rtxn_resume(s, &r), HG_EOK, "first resume begins a snapshot");
	size_t id1 = mdb_txn_id(r.txn);
	store_get(&r, STORE_CURSORS, "k000001", 7, &v1, &len);
	store_rtxn_hold(&r);
	is_int(atomic_load(&r.state), STORE_RTXN_HELD, "held");
	is_int(store_release_held(s), 0, "the newest snapshot is not taken back");
	is_int(store_rtxn_resume(s, &r), HG_EOK, "resumed");
	store_get(&r, STORE_CURSORS, "k000001", 7, &v2, &len);
	ok(mdb_txn_id(r.txn) == id1 && v1 == v2, "no commit: the same snapshot, the same bytes");
	store_rtxn_hold(&r);
	fill_t g = { .first = 10, .n = 1 };
	is_int(store_write(s, fill_body, &g), HG_EOK, "a commit");
	is_int(store_rtxn_resume(s, &r), HG_EOK, "resumed after the commit");
	ok(mdb_txn_id(r.txn) > id1 &&
	           store_get(&r, STORE_CURSORS, "k000010", 7, &v2, &len) == HG_EOK,
	   "a newer snapshot, with the new record");
	store_rtxn_hold(&r);
	is_int(store_write(s, fill_body, &g), HG_EOK, "another commit");
	is_int(store_release_held(s), 1, "the old held snapshot is taken back");
	is_int(atomic_load(&r.state), STORE_RTXN_FREE, "free again");
	is_int(store_rtxn_resume(s, &r), HG_EOK, "its owner begins anew");
	store_rtxn_hold(&r);
	is_int(store_remap(s), HG_EOK, "a remap resets a held snapshot instead of waiting for it");
	is_int(atomic_load(&r.state), STORE_RTXN_FREE, "free after the remap");
	is_int(store_rtxn_resume(s, &r), HG_EOK, "and it begins again");
	store_rtxn_end(&r);
	store_rtxn_free(&r);
	store_close(s);
	rm_env(dir);
}

int main(int argc, char **argv)
{
	if (argc > 0 && strchr(argv[0], '/') != NULL) {
		self_path = argv[0];
	}
	if (argc == 5 && strcmp(argv[1], "--grow") == 0) {
		hg_log_init("test_store_map", HG_LOG_WARN);
		store_t *s = NULL;
		if (store_open(argv[2], 0, &s) != HG_EOK) {
			fprintf(stderr, "grower: %s\n", store_last_error());
			return 1;
		}
		fill_t f = { .first = (unsigned)strtoul(argv[3], NULL, 10),
			     .n = (unsigned)strtoul(argv[4], NULL, 10) };
		int ret = store_write(s, fill_body, &f);
		store_close(s);
		return ret == HG_EOK ? 0 : 1;
	}
	hg_log_init("test_store_map", HG_LOG_ERR);
	const char *data = getenv("HG_TEST_DATA");
	data = data && *data ? data : "/tmp";
	mkdir(data, 0750);
	snprintf(root, sizeof(root), "%s/test_store_map.XXXXXX", data);
	if (mkdtemp(root) == NULL) {
		ok(0, "mkdtemp %s", root);
		return done_testing();
	}
	test_grow();
	test_ceiling();
	test_warning();
	test_reader_follows();
	test_hold();
	ok(rmdir(root) == 0, "test directories removed");
	return done_testing();
}
