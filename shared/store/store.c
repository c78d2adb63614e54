/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  LMDB environment registry and the open path: safety checks of the
 *  directory and files (store_safe.c), the data file checked before it is
 *  mapped (store_meta.c), the environment opened inside a fault guard
 *  (store_guard.c), schema check, DB creation. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "errors.h"
#include "store.h"
#include "store_guard.h"
#include "store_meta.h"
#include "store_safe.h"
#include "store_int.h"

/* LMDB forbids two MDB_env on one file in a process (POSIX locks are per
 * process), so every zone/thread of knotd must share one handle. */
static pthread_mutex_t store_lock = PTHREAD_MUTEX_INITIALIZER;
static struct store *store_list;

static _Thread_local char store_errbuf[512];

static const char *const store_db_names[STORE_DBI_COUNT] = {
	[STORE_META] = HG_DB_META,
	[STORE_PROBERS] = HG_DB_PROBERS,
	[STORE_POOLS] = HG_DB_POOLS,
	[STORE_ENDPOINTS] = HG_DB_ENDPOINTS,
	[STORE_NAMES] = HG_DB_NAMES,
	[STORE_EPSETS] = HG_DB_EPSETS,
	[STORE_MEASUREMENTS] = HG_DB_MEASUREMENTS,
	[STORE_VIEWS] = HG_DB_VIEWS,
	[STORE_OVERRIDES] = HG_DB_OVERRIDES,
	[STORE_CURSORS] = HG_DB_CURSORS,
	[STORE_SETS] = HG_DB_SETS,
};

_Static_assert(STORE_DBI_COUNT == HG_DB_COUNT, "one store_dbi per named DB");

int store_fail(int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(store_errbuf, sizeof(store_errbuf), fmt, ap);
	va_end(ap);
	return err;
}

const char *store_last_error(void)
{
	return store_errbuf;
}

const char *store_db_name(enum store_dbi which)
{
	return (unsigned)which < STORE_DBI_COUNT ? store_db_names[which] : NULL;
}

/* mkdir -p: parents 0755, the database directory STORE_DIR_MODE (0750),
 * exactly (a umask of 077 would keep knotd's group out). knotd's group only
 * reads the directory: the files it writes (lock.mdb) exist before it comes
 * (store_safe.h). Directories that exist are left as they are. */
static int store_mkdirs(const char *dir)
{
	char buf[PATH_MAX];
	size_t len = strlen(dir);
	if (len == 0 || len >= sizeof(buf)) {
		return HG_EINVAL;
	}
	memcpy(buf, dir, len + 1);
	for (char *p = buf + 1;; p++) {
		if (*p != '/' && *p != '\0') {
			continue;
		}
		char saved = *p;
		*p = '\0';
		mode_t mode = saved == '\0' ? STORE_DIR_MODE : 0755;
		if (mkdir(buf, mode) == 0) {
			if (chmod(buf, mode) != 0) {
				return hg_err_from_errno(errno);
			}
		} else if (errno != EEXIST) {
			return hg_err_from_errno(errno);
		}
		*p = saved;
		if (saved == '\0') {
			break;
		}
	}
	return HG_EOK;
}

static int store_check_schema(MDB_txn *txn, MDB_dbi meta, bool create, bool upgrade,
                              const char *path, uint32_t *found_out)
{
	*found_out = HG_SCHEMA_VERSION;
	MDB_val k = { strlen(HG_META_SCHEMA_VERSION), (void *)HG_META_SCHEMA_VERSION }, v;
	int rc = mdb_get(txn, meta, &k, &v);
	if (rc == MDB_NOTFOUND && create) {
		uint32_t version = HG_SCHEMA_VERSION;
		v.mv_size = sizeof(version);
		v.mv_data = &version;
		rc = mdb_put(txn, meta, &k, &v, 0);
		return rc == MDB_SUCCESS ? HG_EOK
		                         : store_fail(hg_err_from_mdb(rc),
		                                      "%s: cannot write schema version: %s", path,
		                                      mdb_strerror(rc));
	}
	if (rc == MDB_NOTFOUND) {
		return store_fail(HG_ESCHEMA, "%s: database has no schema version", path);
	}
	if (rc != MDB_SUCCESS) {
		return store_fail(hg_err_from_mdb(rc), "%s: %s", path, mdb_strerror(rc));
	}
	uint32_t found = 0;
	if (v.mv_size != sizeof(found)) {
		return store_fail(HG_ESCHEMA, "%s: malformed schema version (%zu bytes)", path,
		                  v.mv_size);
	}
	memcpy(&found, v.mv_data, sizeof(found));
	if (upgrade && found == STORE_SCHEMA_PREVIOUS_VERSION) {
		*found_out = found; /* writer_load_policy() rewrites it */
		return HG_EOK;
	}
	if (found != HG_SCHEMA_VERSION) {
		return store_fail(HG_ESCHEMA,
		                  "%s: database schema version %u, this build reads "
		                  "version %u",
		                  path, found, HG_SCHEMA_VERSION);
	}
	return HG_EOK;
}

/* Open every named DB in one txn. DBI handles opened in a txn become
 * env-wide only when that txn commits, so even the read-only txn commits. */
static int store_open_dbis(struct store *s, bool create, bool upgrade)
{
	MDB_txn *txn = NULL;
	int rc = mdb_txn_begin(s->env, NULL, create ? 0 : MDB_RDONLY, &txn);
	if (rc != MDB_SUCCESS) {
		return store_fail(hg_err_from_mdb(rc), "%s: %s", s->path, mdb_strerror(rc));
	}
	s->open_txn = txn;
	int ret = HG_EOK;
	for (int i = 0; i < STORE_DBI_COUNT; i++) {
		unsigned flags = (create ? MDB_CREATE : 0) | (i == STORE_EPSETS ? MDB_DUPSORT : 0);
		rc = mdb_dbi_open(txn, store_db_names[i], flags, &s->dbi[i]);
		if (rc == MDB_NOTFOUND) {
			ret = store_fail(HG_ENOENT, "%s: no haltgslb database (missing DB \"%s\")",
			                 s->path, store_db_names[i]);
			goto cleanup;
		} else if (rc == MDB_INCOMPATIBLE) {
			ret = store_fail(HG_ESCHEMA, "%s: DB \"%s\" has incompatible flags",
			                 s->path, store_db_names[i]);
			goto cleanup;
		} else if (rc != MDB_SUCCESS) {
			ret = store_fail(hg_err_from_mdb(rc), "%s: DB \"%s\": %s", s->path,
			                 store_db_names[i], mdb_strerror(rc));
			goto cleanup;
		}
	}
	ret = store_check_schema(txn, s->dbi[STORE_META], create, upgrade, s->path,
	                         &s->schema_found);
	if (ret != HG_EOK) {
		goto cleanup;
	}
	rc = mdb_txn_commit(txn);
	txn = NULL;
	if (rc != MDB_SUCCESS) {
		ret = store_fail(hg_err_from_mdb(rc), "%s: %s", s->path, mdb_strerror(rc));
	}
cleanup:
	if (txn != NULL) {
		mdb_txn_abort(txn);
	}
	s->open_txn = NULL;
	return ret;
}

/* The data file as the safety checks left it: refuse a truncated or
 * corrupt one before LMDB maps it. Only a data.mdb created empty just now
 * is a new environment: an existing empty one was truncated (LMDB writes
 * the meta pages as soon as it creates the file), and loading into it in
 * place would hide that from a knotd that still maps it. */
static int store_check_data(struct store *s, const store_files_t *files)
{
	if (files->data_created) {
		return HG_EOK;
	}
	char why[320];
	int ret = store_meta_check_settled(files->data_fd, NULL, why, sizeof(why));
	if (ret == HG_ENOENT) {
		return store_fail(HG_ECORRUPT,
		                  "%s/data.mdb is empty (truncated); " STORE_REBUILD_HINT, s->path);
	} else if (ret == HG_ECORRUPT) {
		return store_fail(ret, "%s/data.mdb: %s; " STORE_REBUILD_HINT, s->path, why);
	} else if (ret != HG_EOK) {
		return store_fail(ret, "%s/data.mdb: %s", s->path, why);
	}
	return HG_EOK;
}

/* LMDB opened the files by name: make sure it got the data file checked. */
static int store_check_same_file(struct store *s, const store_files_t *files)
{
	int fd = -1;
	struct stat st;
	if (mdb_env_get_fd(s->env, &fd) != MDB_SUCCESS || fstat(fd, &st) != 0) {
		return store_fail(HG_EIO, "%s: cannot stat data.mdb", s->path);
	}
	if (st.st_dev != files->data_st.st_dev || st.st_ino != files->data_st.st_ino) {
		return store_fail(HG_EUNSAFE, "%s/data.mdb was replaced while being opened",
		                  s->path);
	}
	return HG_EOK;
}

static void store_abort_open_txn(void *arg)
{
	struct store *s = arg;
	if (s->open_txn != NULL) {
		mdb_txn_abort(s->open_txn);
	}
}

static int store_env_setup(struct store *s)
{
	int rc = mdb_env_create(&s->env);
	if (rc != MDB_SUCCESS) {
		s->env = NULL;
		return store_fail(hg_err_from_mdb(rc), "mdb_env_create: %s", mdb_strerror(rc));
	}
	/* A corrupt page trips an LMDB assertion: inside a guard it jumps back
	 * to the guard instead of aborting the process. */
	mdb_env_set_assert(s->env, store_guard_assert);
	/* Writers start at the initial size and grow (store_write()); readers
	 * map the ceiling, so a writer's growth never moves their map. */
	size_t initial;
	store_map_config(&initial, &s->map_limit);
	/* One more than the schema's DBs: the upgrade opens the retired one to
	 * delete it (store_wtxn_upgrade()). */
	if ((rc = mdb_env_set_maxdbs(s->env, HG_DB_COUNT + 1)) != MDB_SUCCESS ||
	    (rc = mdb_env_set_maxreaders(s->env, STORE_MAXREADERS)) != MDB_SUCCESS ||
	    (rc = mdb_env_set_mapsize(s->env, s->rdonly ? s->map_limit : initial)) != MDB_SUCCESS) {
		return store_fail(hg_err_from_mdb(rc), "%s: %s", s->path, mdb_strerror(rc));
	}
	return HG_EOK;
}

/* Where LMDB mapped data.mdb, to tell a fault in it from one in another
 * mapped file. LMDB does not say (mdb_env_info()'s address is only that of
 * a fixed map), so find it from a value it returns: the value lies in a
 * page, every page starts with its own number, and page N is N pages into
 * the map. Checked against meta page 0 at the result; left unknown (NULL)
 * if anything disagrees. */
void store_find_map(struct store *s)
{
	MDB_stat st;
	MDB_envinfo info;
	MDB_txn *txn = NULL;
	if (mdb_env_stat(s->env, &st) != MDB_SUCCESS ||
	    mdb_env_info(s->env, &info) != MDB_SUCCESS ||
	    mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) != MDB_SUCCESS) {
		return;
	}
	MDB_val k = { strlen(HG_META_SCHEMA_VERSION), (void *)HG_META_SCHEMA_VERSION }, v;
	if (mdb_get(txn, s->dbi[STORE_META], &k, &v) == MDB_SUCCESS) {
		uintptr_t psize = st.ms_psize;
		const char *page = (const char *)((uintptr_t)v.mv_data & ~(psize - 1));
		size_t pgno, pgno0;
		uint16_t flags0;
		memcpy(&pgno, page, sizeof(pgno));
		if (pgno <= info.me_last_pgno && (uintptr_t)page >= pgno * psize) {
			const char *map = page - pgno * psize;
			memcpy(&pgno0, map, sizeof(pgno0));
			memcpy(&flags0, map + sizeof(size_t) + 2, sizeof(flags0));
			if (pgno0 == 0 && (flags0 & 0x08)) {
				s->map_addr = map;
				s->map_size = info.me_mapsize;
			}
		}
	}
	mdb_txn_abort(txn);
}

static int store_env_map_guarded(struct store *s, const store_files_t *files, bool create)
{
	/* NOTLS: read txns are cached per worker and renewed, not tied to a thread. */
	unsigned env_flags = MDB_NOTLS | (s->rdonly ? MDB_RDONLY : 0);
	/* The files exist (store_safe_open() created them with their modes). */
	int rc = mdb_env_open(s->env, s->path, env_flags, STORE_DATA_MODE);
	if (rc == ENOENT) {
		return store_fail(HG_ENOENT, "%s: no haltgslb database", s->path);
	} else if (rc != MDB_SUCCESS) {
		return store_fail(hg_err_from_mdb(rc), "%s: %s", s->path, mdb_strerror(rc));
	}
	int ret = store_check_same_file(s, files);
	if (ret != HG_EOK) {
		return ret;
	}
	int dead = 0;
	mdb_reader_check(s->env, &dead);
	store_map_opened(s);
	ret = store_open_dbis(s, create, s->upgrade);
	if (ret == HG_EOK) {
		store_find_map(s);
	}
	return ret;
}

/* Everything that reads the map, in one guard: a file truncated between
 * the checks and here, or corrupt pages, give an error, not a signal. */
static int store_env_map(struct store *s, const store_files_t *files, bool create)
{
	store_guard_t guard;
	store_guard_arm(&guard);
	if (sigsetjmp(guard.jb, 0) != 0) {
		char what[256];
		store_guard_call(store_abort_open_txn, s);
		s->open_txn = NULL;
		return store_fail(HG_ECORRUPT,
		                  "%s: %s while opening the database; " STORE_REBUILD_HINT, s->path,
		                  store_guard_describe(&guard, what, sizeof(what)));
	}
	int ret = store_env_map_guarded(s, files, create);
	store_guard_disarm(&guard);
	return ret;
}

static int store_env_open(struct store *s, const char *given, unsigned flags)
{
	bool create = !s->rdonly && (flags & (STORE_CREATE | STORE_UPGRADE));
	s->upgrade = !s->rdonly && (flags & STORE_UPGRADE);
	store_files_t files;
	char why[400];
	int ret = store_safe_open(given, s->path, create, &files, why, sizeof(why));
	if (ret != HG_EOK) {
		store_fail(ret, "%s", why);
		goto cleanup;
	}
	ret = store_check_data(s, &files);
	if (ret == HG_EOK) {
		ret = store_env_setup(s);
	}
	if (ret == HG_EOK) {
		ret = store_env_map(s, &files, create);
	}
cleanup:
	store_safe_close(&files);
	return ret;
}

static void store_env_close_cb(void *env)
{
	mdb_env_close(env);
}

int store_open(const char *dir, unsigned flags, store_t **out)
{
	if (dir == NULL || out == NULL ||
	    ((flags & STORE_RDONLY) && (flags & (STORE_CREATE | STORE_UPGRADE)))) {
		return store_fail(HG_EINVAL, "store_open: invalid arguments");
	}
	store_errbuf[0] = '\0';
	if (flags & STORE_CREATE) {
		int ret = store_mkdirs(dir);
		if (ret != HG_EOK) {
			return store_fail(ret, "%s: cannot create directory: %s", dir,
			                  hg_strerror(ret));
		}
	}
	char real[PATH_MAX];
	if (realpath(dir, real) == NULL) {
		int ret = hg_err_from_errno(errno);
		return store_fail(ret, ret == HG_ENOENT ? "%s: no haltgslb database" : "%s: %s",
		                  dir, hg_strerror(ret));
	}

	int ret = HG_EOK;
	struct store *s = NULL;
	pthread_mutex_lock(&store_lock);
	for (s = store_list; s != NULL; s = s->next) {
		if (strcmp(s->path, real) == 0) {
			break;
		}
	}
	if (s != NULL) {
		if (s->rdonly && !(flags & STORE_RDONLY)) {
			s = NULL;
			ret = store_fail(HG_EACCES, "%s: already open read-only in this process",
			                 real);
			goto cleanup;
		}
		s->refs++;
		*out = s;
		goto cleanup;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL || (s->path = strdup(real)) == NULL) {
		ret = store_fail(HG_ENOMEM, "%s: out of memory", real);
		goto cleanup;
	}
	s->rdonly = (flags & STORE_RDONLY) != 0;
	s->refs = 1;
	pthread_mutex_init(&s->readers_lock, NULL);
	ret = store_env_open(s, dir, flags);
	if (ret != HG_EOK) {
		goto cleanup;
	}
	s->next = store_list;
	store_list = s;
	*out = s;
	s = NULL;
cleanup:
	if (ret != HG_EOK && s != NULL) {
		if (s->env != NULL) {
			store_guard_call(store_env_close_cb, s->env);
		}
		pthread_mutex_destroy(&s->readers_lock);
		free(s->path);
		free(s);
	}
	pthread_mutex_unlock(&store_lock);
	return ret;
}

void store_close(store_t *store)
{
	if (store == NULL) {
		return;
	}
	pthread_mutex_lock(&store_lock);
	if (--store->refs > 0) {
		pthread_mutex_unlock(&store_lock);
		return;
	}
	for (struct store **pp = &store_list; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == store) {
			*pp = store->next;
			break;
		}
	}
	/* Close under the lock: a concurrent store_open() of the same path must
	 * not open a second environment on the file while this one still holds
	 * the lock file (closing it would drop this process's lock-file locks,
	 * and another process's reader check could then clear our readers).
	 * Guarded: closing clears our reader slots in lock.mdb's map. */
	store_guard_call(store_env_close_cb, store->env);
	pthread_mutex_unlock(&store_lock);
	pthread_mutex_destroy(&store->readers_lock);
	free(store->readers);
	free(store->path);
	free(store);
}

const char *store_path(const store_t *store)
{
	return store->path;
}

MDB_dbi store_dbi(const store_t *store, enum store_dbi which)
{
	return store->dbi[which];
}

MDB_env *store_env(const store_t *store)
{
	return store->env;
}

bool store_is_rdonly(const store_t *store)
{
	return store->rdonly;
}

uint32_t store_schema_found(const store_t *store)
{
	return store->schema_found;
}

void store_schema_upgraded(store_t *store)
{
	store->schema_found = HG_SCHEMA_VERSION;
}

int store_check_file(store_t *store, char *why, size_t size)
{
	if (atomic_load_explicit(&store->broken, memory_order_relaxed)) {
		snprintf(why, size,
		         "a read of its pages faulted: the file was truncated or "
		         "corrupted while open");
		return HG_ECORRUPT;
	}
	int fd = -1;
	if (mdb_env_get_fd(store->env, &fd) != MDB_SUCCESS) {
		snprintf(why, size, "no file descriptor");
		return HG_EIO;
	}
	int ret = store_meta_check_settled(fd, NULL, why, size);
	if (ret == HG_ENOENT) {
		snprintf(why, size, "the file is empty: truncated");
		ret = HG_ECORRUPT;
	}
	return ret;
}

void store_mark_broken(store_t *store)
{
	atomic_store_explicit(&store->broken, true, memory_order_relaxed);
}

bool store_is_broken(const store_t *store)
{
	return atomic_load_explicit(&((store_t *)store)->broken, memory_order_relaxed);
}

/* Whether addr lies in a mapping of the environment's lock.mdb (the reader
 * table LMDB maps itself, at an address it does not tell): looked up in
 * /proc/self/maps, which is fine since this runs only after a fault. */
static bool store_lock_map_contains(const store_t *store, uintptr_t addr)
{
	char lock_path[PATH_MAX];
	if (snprintf(lock_path, sizeof(lock_path), "%s/lock.mdb", store->path) >=
	    (int)sizeof(lock_path)) {
		return false;
	}
	FILE *maps = fopen("/proc/self/maps", "re");
	if (maps == NULL) {
		return false;
	}
	bool found = false;
	char line[PATH_MAX + 128];
	while (!found && fgets(line, sizeof(line), maps) != NULL) {
		unsigned long start, end;
		int path_at = 0;
		if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %n", &start, &end, &path_at) < 2 ||
		    path_at == 0 || addr < start || addr >= end) {
			continue;
		}
		line[strcspn(line, "\n")] = '\0';
		found = strcmp(line + path_at, lock_path) == 0;
	}
	fclose(maps);
	return found;
}

bool store_map_contains(const store_t *store, const void *addr)
{
	const char *p = addr;
	if (store->map_addr == NULL) {
		return true; /* unknown: assume the worst */
	}
	if (p >= store->map_addr && (size_t)(p - store->map_addr) < store->map_size) {
		return true;
	}
	return store_lock_map_contains(store, (uintptr_t)addr);
}
