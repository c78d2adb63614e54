/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  LMDB environment registry and the open path (schema check, DB creation). */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "errors.h"
#include "store.h"

struct store {
	struct store *next;
	char *path;                    /* realpath: the registry key */
	MDB_env *env;
	MDB_dbi dbi[STORE_DBI_COUNT];
	unsigned refs;
	bool rdonly;
	uint32_t schema_found;         /* HG_SCHEMA_VERSION, or 1 awaiting the upgrade */
};

/* LMDB forbids two MDB_env on one file in a process (POSIX locks are per
 * process), so every zone/thread of knotd must share one handle. */
static pthread_mutex_t store_lock = PTHREAD_MUTEX_INITIALIZER;
static struct store *store_list;

static _Thread_local char store_errbuf[512];

static const char *const store_db_names[STORE_DBI_COUNT] = {
	[STORE_META] = HG_DB_META,             [STORE_PROBERS] = HG_DB_PROBERS,
	[STORE_POOLS] = HG_DB_POOLS,           [STORE_ENDPOINTS] = HG_DB_ENDPOINTS,
	[STORE_NAMES] = HG_DB_NAMES,           [STORE_EPSETS] = HG_DB_EPSETS,
	[STORE_MEASUREMENTS] = HG_DB_MEASUREMENTS, [STORE_VIEWS] = HG_DB_VIEWS,
	[STORE_OVERRIDES] = HG_DB_OVERRIDES,   [STORE_CURSORS] = HG_DB_CURSORS,
	[STORE_SETS] = HG_DB_SETS,
};

_Static_assert(STORE_DBI_COUNT == HG_DB_COUNT, "one store_dbi per named DB");

static int store_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int store_fail(int err, const char *fmt, ...)
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

/* mkdir -p with 0770 less the umask: the DNS server's group shares the
 * directory (LMDB readers write lock.mdb); the umask keeps others out. */
static int store_mkdirs(const char *dir)
{
	char buf[PATH_MAX];
	size_t len = strlen(dir);
	if (len == 0 || len >= sizeof(buf)) {
		return HG_EINVAL;
	}
	memcpy(buf, dir, len + 1);
	for (char *p = buf + 1; ; p++) {
		if (*p != '/' && *p != '\0') {
			continue;
		}
		char saved = *p;
		*p = '\0';
		if (mkdir(buf, 0770) != 0 && errno != EEXIST) {
			return hg_err_from_errno(errno);
		}
		*p = saved;
		if (saved == '\0') {
			break;
		}
	}
	return HG_EOK;
}

/* Map size from HG_STORE_MAPSIZE (bytes) if set: lets operators grow the
 * map without a rebuild and tests provoke MDB_MAP_FULL. */
static size_t store_mapsize(void)
{
	const char *env = getenv("HG_STORE_MAPSIZE");
	if (env != NULL && *env != '\0') {
		char *end = NULL;
		unsigned long long v = strtoull(env, &end, 10);
		if (end != NULL && *end == '\0' && v >= 65536) {
			return (size_t)v;
		}
	}
	return (size_t)STORE_MAPSIZE_DEFAULT;
}

/* The one earlier version a writer may open to upgrade it (STORE_UPGRADE). */
#define STORE_SCHEMA_PREVIOUS 1u

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
		       : store_fail(hg_err_from_mdb(rc), "%s: cannot write schema version: %s",
		                    path, mdb_strerror(rc));
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
	if (upgrade && found == STORE_SCHEMA_PREVIOUS) {
		*found_out = found;   /* writer_load_policy() rewrites it */
		return HG_EOK;
	}
	if (found != HG_SCHEMA_VERSION) {
		return store_fail(HG_ESCHEMA, "%s: database schema version %u, this build reads "
		                  "version %u", path, found, HG_SCHEMA_VERSION);
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
	return ret;
}

static int store_env_open(struct store *s, unsigned flags)
{
	int rc = mdb_env_create(&s->env);
	if (rc != MDB_SUCCESS) {
		return store_fail(hg_err_from_mdb(rc), "mdb_env_create: %s", mdb_strerror(rc));
	}
	/* One more than the schema's DBs: the upgrade opens the retired one to
	 * delete it (store_wtxn_upgrade()). */
	if ((rc = mdb_env_set_maxdbs(s->env, HG_DB_COUNT + 1)) != MDB_SUCCESS ||
	    (rc = mdb_env_set_maxreaders(s->env, STORE_MAXREADERS)) != MDB_SUCCESS ||
	    (rc = mdb_env_set_mapsize(s->env, store_mapsize())) != MDB_SUCCESS) {
		return store_fail(hg_err_from_mdb(rc), "%s: %s", s->path, mdb_strerror(rc));
	}
	/* NOTLS: read txns are cached per worker and renewed, not tied to a thread. */
	unsigned env_flags = MDB_NOTLS | (s->rdonly ? MDB_RDONLY : 0);
	/* 0660 less the umask: knotd reads as another user of the group. */
	rc = mdb_env_open(s->env, s->path, env_flags, 0660);
	if (rc == ENOENT) {
		return store_fail(HG_ENOENT, "%s: no haltgslb database", s->path);
	} else if (rc != MDB_SUCCESS) {
		return store_fail(hg_err_from_mdb(rc), "%s: %s", s->path, mdb_strerror(rc));
	}
	int dead = 0;
	mdb_reader_check(s->env, &dead);
	return store_open_dbis(s, !s->rdonly && (flags & (STORE_CREATE | STORE_UPGRADE)),
	                       !s->rdonly && (flags & STORE_UPGRADE));
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
			return store_fail(ret, "%s: cannot create directory: %s", dir, hg_strerror(ret));
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
			ret = store_fail(HG_EACCES, "%s: already open read-only in this process", real);
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
	ret = store_env_open(s, flags);
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
			mdb_env_close(s->env);
		}
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
	 * and another process's reader check could then clear our readers). */
	mdb_env_close(store->env);
	pthread_mutex_unlock(&store_lock);
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
