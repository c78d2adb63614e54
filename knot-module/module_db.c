/*  SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <urcu/urcu-memb.h>

#include "errors.h"
#include "module_db.h"
#include "schema.h"

struct module_db {
	knotd_mod_t *mod;
	char *path;
	unsigned interval_ms;
	_Atomic(store_t *) store; /*!< set once by the checker, never changed until free */
	atomic_int state;         /*!< enum module_db_state */
	store_rtxn_t check_txn;   /*!< the checker's own read txn */
	dev_t dev;                /*!< data.mdb identity when opened */
	ino_t ino;
	bool guard_installed;           /*!< store_guard_install() done (undo at free) */
	atomic_bool fault_logged;       /*!< a fault in data.mdb was logged */
	atomic_bool other_fault_logged; /*!< a fault elsewhere was logged */
	char why[512];                  /*!< checker thread: reason of the last failure */

	pthread_t thread;
	bool thread_started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
};

const char *module_db_state_str(int state)
{
	switch (state) {
	case MODULE_DB_OK: return "valid";
	case MODULE_DB_MISSING: return "missing";
	case MODULE_DB_SCHEMA: return "unknown schema version";
	case MODULE_DB_ACCESS: return "permission denied";
	case MODULE_DB_CORRUPT: return "truncated or corrupt";
	case MODULE_DB_UNSAFE: return "unsafe";
	case MODULE_DB_ERROR: return "unreadable";
	default: return "not checked";
	}
}

static int state_from_err(int err)
{
	switch (err) {
	case HG_EOK: return MODULE_DB_OK;
	case HG_ENOENT: return MODULE_DB_MISSING;
	case HG_ESCHEMA: return MODULE_DB_SCHEMA;
	case HG_EACCES: return MODULE_DB_ACCESS;
	case HG_ECORRUPT: return MODULE_DB_CORRUPT;
	case HG_EUNSAFE: return MODULE_DB_UNSAFE;
	default: return MODULE_DB_ERROR;
	}
}

static int data_file_id(const char *dir, dev_t *dev, ino_t *ino)
{
	char file[4096];
	if ((size_t)snprintf(file, sizeof(file), "%s/data.mdb", dir) >= sizeof(file)) {
		return HG_EINVAL;
	}
	struct stat st;
	if (stat(file, &st) != 0) {
		return hg_err_from_errno(errno);
	}
	*dev = st.st_dev;
	*ino = st.st_ino;
	return HG_EOK;
}

/* The schema version, read through the map inside a fault guard: the file
 * may be truncated between store_check_file() and here. */
static int check_schema(module_db_t *db, store_t *store)
{
	store_guard_t guard;
	store_guard_arm(&guard);
	if (sigsetjmp(guard.jb, 0) != 0) {
		char what[256];
		store_rtxn_free(&db->check_txn);
		store_mark_broken(store);
		snprintf(db->why, sizeof(db->why), "%s",
		         store_guard_describe(&guard, what, sizeof(what)));
		return HG_ECORRUPT;
	}
	int ret = store_rtxn_begin(store, &db->check_txn);
	if (ret == HG_EOK) {
		const void *val = NULL;
		size_t len = 0;
		ret = store_get(&db->check_txn, STORE_META, HG_META_SCHEMA_VERSION,
		                strlen(HG_META_SCHEMA_VERSION), &val, &len);
		if (ret == HG_EOK) {
			uint32_t version = 0;
			if (len == sizeof(version)) {
				memcpy(&version, val, sizeof(version));
			}
			ret = (version == HG_SCHEMA_VERSION) ? HG_EOK : HG_ESCHEMA;
		} else if (ret == HG_ENOENT) {
			ret = HG_ESCHEMA;
		}
		store_rtxn_end(&db->check_txn);
	}
	store_guard_disarm(&guard);
	return ret;
}

/* While the env is open: the file may be truncated or overwritten under
 * it (checked with pread(), before anything touches the map), the schema
 * version may be rewritten by a newer haltgslb-ctl, and the directory may
 * be replaced, which an open env would never notice (it keeps the old,
 * unlinked file mapped). */
static int check_open_store(module_db_t *db, store_t *store)
{
	db->why[0] = '\0';
	int ret = store_check_file(store, db->why, sizeof(db->why));
	if (ret != HG_EOK) {
		return ret;
	}
	dev_t dev;
	ino_t ino;
	ret = data_file_id(db->path, &dev, &ino);
	if (ret != HG_EOK) {
		return ret;
	}
	if (dev != db->dev || ino != db->ino) {
		return HG_EIO;
	}
	return check_schema(db, store);
}

static int try_open(module_db_t *db)
{
	store_t *store = NULL;
	int ret = store_open(db->path, STORE_RDONLY, &store);
	if (ret != HG_EOK) {
		snprintf(db->why, sizeof(db->why), "%s", store_last_error());
		return ret;
	}
	ret = data_file_id(db->path, &db->dev, &db->ino);
	if (ret != HG_EOK) {
		store_close(store);
		return ret;
	}
	atomic_store_explicit(&db->store, store, memory_order_release);
	return HG_EOK;
}

/* One check; logs only when the state changes, so a missing database does
 * not flood the log once a second. */
static void check_once(module_db_t *db)
{
	store_t *store = atomic_load_explicit(&db->store, memory_order_acquire);
	db->why[0] = '\0';
	int ret = (store == NULL) ? try_open(db) : check_open_store(db, store);
	if (store != NULL && (ret == HG_EMAPRESIZED || store_remap_wanted(store))) {
		/* A writer with a larger HG_STORE_MAPSIZE_MAX grew the data beyond
		 * knotd's map: follow it once no worker reads (microseconds). */
		int remapped = store_remap(store);
		knotd_mod_log(db->mod, remapped == HG_EOK ? LOG_NOTICE : LOG_ERR,
		              "database '%s' grew beyond knotd's map: %s", db->path,
		              remapped == HG_EOK ? "remapped to its size (set HG_STORE_MAPSIZE_MAX "
		                                   "alike for every process)"
		                                 : hg_strerror(remapped));
		ret = check_open_store(db, store);
	}
	if (store != NULL) {
		/* Workers keep their snapshot between queries; one that went idle
		 * must not pin an old one (LMDB could not reuse the pages writers
		 * free after it). */
		store_release_held(store);
	}
	int state = state_from_err(ret);
	if (store != NULL && ret == HG_EIO) {
		/* The open env no longer matches the directory: serving it would
		 * mean serving stale data forever. */
		state = MODULE_DB_ERROR;
	}

	int old = atomic_exchange_explicit(&db->state, state, memory_order_acq_rel);
	if (old == state) {
		return;
	}
	const char *why = db->why[0] != '\0' ? db->why : hg_strerror(ret);
	if (state == MODULE_DB_OK) {
		knotd_mod_log(db->mod, LOG_NOTICE, "database '%s' is valid, answering from it",
		              db->path);
	} else if (store != NULL && ret == HG_EIO) {
		knotd_mod_log(db->mod, LOG_ERR,
		              "database '%s' was replaced on disk, "
		              "serving zone records; restart knotd to use the new one",
		              db->path);
	} else if (state == MODULE_DB_CORRUPT && store != NULL) {
		/* The open environment is the damaged file: a rebuilt directory is
		 * a new file, which this knotd only opens after a restart. */
		knotd_mod_log(db->mod, LOG_ERR,
		              "database '%s' is truncated or corrupt (%s), "
		              "serving zone records; rebuild it into a fresh directory, swap it in "
		              "and restart knotd (see the runbook)",
		              db->path, why);
	} else if (state == MODULE_DB_CORRUPT) {
		knotd_mod_log(db->mod, LOG_ERR,
		              "database '%s' is truncated or corrupt (%s), "
		              "serving zone records",
		              db->path, why);
	} else {
		knotd_mod_log(db->mod, LOG_WARNING,
		              "database '%s' is %s (%s), serving zone records", db->path,
		              module_db_state_str(state), why);
	}
}

void module_db_fault(module_db_t *db, store_t *store, const store_guard_t *g)
{
	char what[256];
	bool in_db = g->fault == STORE_FAULT_ASSERT ||
	             (g->fault == STORE_FAULT_SIGBUS && store_map_contains(store, g->addr));
	if (in_db) {
		store_mark_broken(store);
		if (!atomic_exchange(&db->fault_logged, true)) {
			knotd_mod_log(
			        db->mod, LOG_ERR,
			        "database '%s': %s, serving zone records; "
			        "rebuild it into a fresh directory, swap it in and restart knotd "
			        "(see the runbook)",
			        db->path, store_guard_describe(g, what, sizeof(what)));
		}
	} else if (!atomic_exchange(&db->other_fault_logged, true)) {
		knotd_mod_log(db->mod, LOG_ERR,
		              "%s outside database '%s' (a geo database "
		              "replaced in place? replace files by renaming them, then knotc "
		              "reload), serving zone records",
		              store_guard_describe(g, what, sizeof(what)), db->path);
	}
}

static void *checker_main(void *arg)
{
	module_db_t *db = arg;
	/* knotd_mod_log() takes knotd's RCU read lock (urcu-memb, as knotd
	 * links): an unregistered thread would not be waited for when a reload
	 * frees the log configuration. */
	urcu_memb_register_thread();
	pthread_mutex_lock(&db->lock);
	while (!db->stop) {
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += db->interval_ms / 1000;
		until.tv_nsec += (long)(db->interval_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!db->stop &&
		       pthread_cond_timedwait(&db->cond, &db->lock, &until) != ETIMEDOUT) {
			/* spurious wakeup or stop */
		}
		if (db->stop) {
			break;
		}
		pthread_mutex_unlock(&db->lock);
		check_once(db);
		pthread_mutex_lock(&db->lock);
	}
	pthread_mutex_unlock(&db->lock);
	urcu_memb_unregister_thread();
	return NULL;
}

int module_db_new(knotd_mod_t *mod, const char *path, unsigned interval_ms, module_db_t **out)
{
	module_db_t *db = calloc(1, sizeof(*db));
	if (db == NULL) {
		return HG_ENOMEM;
	}
	db->mod = mod;
	db->interval_ms = interval_ms > 0 ? interval_ms : 1000;
	atomic_init(&db->store, NULL);
	atomic_init(&db->state, MODULE_DB_INIT);
	db->path = strdup(path);
	if (db->path == NULL) {
		free(db);
		return HG_ENOMEM;
	}

	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&db->cond, &attr);
	pthread_condattr_destroy(&attr);
	pthread_mutex_init(&db->lock, NULL);
	atomic_init(&db->fault_logged, false);
	atomic_init(&db->other_fault_logged, false);

	/* Reads of the map fault into guards instead of killing knotd (why it
	 * is safe inside knotd: store_guard.h, docs/security.md). */
	if (store_guard_install(STORE_GUARD_CHAIN, NULL) != 0) {
		knotd_mod_log(mod, LOG_WARNING,
		              "cannot install the SIGBUS handler (%s): a "
		              "database truncated under knotd will crash it",
		              strerror(errno));
	} else {
		db->guard_installed = true;
	}

	/* First check now, so a valid database answers from the first query. */
	check_once(db);

	if (pthread_create(&db->thread, NULL, checker_main, db) != 0) {
		module_db_free(db);
		return HG_EIO;
	}
	db->thread_started = true;
	*out = db;
	return HG_EOK;
}

void module_db_free(module_db_t *db)
{
	if (db == NULL) {
		return;
	}
	if (db->thread_started) {
		pthread_mutex_lock(&db->lock);
		db->stop = true;
		pthread_cond_signal(&db->cond);
		pthread_mutex_unlock(&db->lock);
		pthread_join(db->thread, NULL);
	}
	store_rtxn_free(&db->check_txn);
	store_t *store = atomic_load(&db->store);
	if (store != NULL) {
		store_close(store);
	}
	if (db->guard_installed) {
		store_guard_uninstall();
	}
	pthread_cond_destroy(&db->cond);
	pthread_mutex_destroy(&db->lock);
	free(db->path);
	free(db);
}

store_t *module_db_get(module_db_t *db)
{
	if (atomic_load_explicit(&db->state, memory_order_acquire) != MODULE_DB_OK) {
		return NULL;
	}
	store_t *store = atomic_load_explicit(&db->store, memory_order_acquire);
	return (store != NULL && !store_is_broken(store)) ? store : NULL;
}
