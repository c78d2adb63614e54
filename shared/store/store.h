/*  haltgslb — LMDB store.
 *  SPDX-License-Identifier: GPL-3.0-or-later
 */
/*!
 * \file
 * \brief One LMDB environment per process, shared and reference-counted;
 *        read and write transactions; iteration helpers.
 *
 * LMDB forbids opening the same environment twice in one process, so
 * store_open() on a directory that is already open returns the same handle
 * with its reference count raised; store_close() drops it.
 *
 * Read side (store.c, store_rtxn.c, store_iter.c): what the module links.
 * Write side (store_wtxn.c): the tools and daemons only.
 *
 * Errors are the project's HG_E* codes (errors.h); LMDB's are mapped in one
 * place, hg_err_from_mdb().
 *
 * Map size (SCHEMA.md, "The environment"): writers map HG_STORE_MAPSIZE
 * bytes (default STORE_MAPSIZE_DEFAULT) or what the file records, whichever
 * is larger, and store_write() doubles the map whenever a transaction
 * fills it, up to HG_STORE_MAPSIZE_MAX (default STORE_MAPSIZE_MAX_DEFAULT);
 * readers map that ceiling from the start. Both are bytes (>= 65536), read
 * when the environment is first opened in the process; every process that
 * opens the environment should use the same values.
 */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "schema.h"

/*! Reader slots in the lock file: knotd takes one per worker thread per
 *  module instance, plus one per checker thread; tools take one each. */
#define STORE_MAXREADERS 1024

/*! Default initial map size of a writer: generous, sparse on disk. */
#define STORE_MAPSIZE_DEFAULT (1024ull * 1024 * 1024)

/*! Default ceiling of the map (HG_STORE_MAPSIZE_MAX): writers grow up to it,
 *  readers map it. Virtual address space only: disk and memory follow the
 *  data. */
#define STORE_MAPSIZE_MAX_DEFAULT (16ull * 1024 * 1024 * 1024)

/*! Share of the ceiling above which every commit warns (once until the
 *  data falls under STORE_MAP_CALM_PCT again). */
#define STORE_MAP_WARN_PCT 80
#define STORE_MAP_CALM_PCT 70

/*! Buffer size that always holds a measurements key (two ids and the NUL
 *  between them; no trailing NUL). */
#define STORE_MEASURE_KEY_MAX (2 * HG_ID_MAX + 1)

enum store_open_flags {
	STORE_RDONLY = 1 << 0, /*!< Open read-only (the module); DBs must exist. */
	STORE_CREATE = 1 << 1, /*!< Create the directory, DBs and meta if missing. */
	/*! Also accept the previous schema version (1), for the one writer that
	 *  upgrades it in place: writer_load_policy() (SCHEMA.md, "Versions and
	 *  upgrades"). Not with STORE_RDONLY. */
	STORE_UPGRADE = 1 << 2,
};

/*! The schema version STORE_UPGRADE accepts (and writer_load_policy()
 *  upgrades from). */
#define STORE_SCHEMA_PREVIOUS_VERSION 1u

/*! The named databases of schema.h, in a fixed order. */
enum store_dbi {
	STORE_META = 0,
	STORE_PROBERS,
	STORE_POOLS,
	STORE_ENDPOINTS,
	STORE_NAMES,
	STORE_EPSETS,
	STORE_MEASUREMENTS,
	STORE_VIEWS,
	STORE_OVERRIDES,
	STORE_CURSORS,
	STORE_SETS,
	STORE_DBI_COUNT
};

typedef struct store store_t;

/*! How store_last_error() messages about a truncated or corrupt data.mdb
 *  end: what the operator does about it (docs/runbook.md). */
#define STORE_REBUILD_HINT                                             \
	"rebuild it into a fresh directory (haltgslb-ctl load POLICY " \
	"--db NEWDIR) and swap the directories (see the runbook)"

/*!
 * \brief Open (or share) the environment in \a dir.
 *
 * Before LMDB sees the directory, checks that nobody but root, the running
 * user and the directory's owner can redirect or replace its files
 * (symlinks, owners, modes, hard links: store_safe.h, docs/security.md),
 * and that data.mdb is not truncated or corrupt (both meta pages read with
 * pread() and checked, the file long enough for the pages they use:
 * store_meta.h), so a bad file is refused instead of faulting once mapped.
 * The map is first read inside a fault guard (store_guard.h): a file
 * truncated meanwhile gives HG_ECORRUPT, not SIGBUS. Runs
 * mdb_reader_check() to clear stale reader slots.
 *
 * Missing files are created with exact modes (data.mdb 0640, lock.mdb
 * 0660, whatever the umask; knotd's group reads them), lock.mdb by root or
 * the directory's owner, data.mdb only with STORE_CREATE; STORE_CREATE also
 * creates the directory (0750 less the umask, parents 0755), every DB and
 * meta["schema_version"]. Always checks the schema version and refuses an
 * unknown one. A directory already open in this process is shared without
 * new checks.
 *
 * \param[out] out  Shared handle; release it with store_close().
 * \return HG_EOK, HG_ENOENT (no environment / DBs and no STORE_CREATE),
 *         HG_EUNSAFE (a safety check failed), HG_ECORRUPT (truncated or
 *         corrupt data.mdb), HG_ESCHEMA, HG_EACCES, HG_EIO...;
 *         store_last_error() says why.
 */
int store_open(const char *dir, unsigned flags, store_t **out);

/*! \brief Drop one reference; the environment closes with the last.
 *         NULL is a no-op. Every read txn on it must be freed first. */
void store_close(store_t *store);

/*!
 * \brief One-line reason for the last store_open() failure in this thread
 *        (e.g. "…: database schema version 2, this build reads version 1").
 *
 * Static thread-local buffer, "" when the last open succeeded; valid until
 * the next store_open() in the same thread.
 */
const char *store_last_error(void);

/*! \brief The directory of the environment (realpath); owned by the store. */
const char *store_path(const store_t *store);

/*! \brief True if the shared handle was opened with STORE_RDONLY. */
bool store_is_rdonly(const store_t *store);

/*! \brief The schema version the database holds: HG_SCHEMA_VERSION, or the
 *         previous version when opened with STORE_UPGRADE and not upgraded yet. */
uint32_t store_schema_found(const store_t *store);

/*! \brief Record that a write transaction of this handle committed the
 *         current schema version (the upgrade is done). */
void store_schema_upgraded(store_t *store);

/*! \brief The DBI of a named database. */
MDB_dbi store_dbi(const store_t *store, enum store_dbi which);

/*! \brief LMDB name of a DB ("meta", "probers"...), NULL if out of range. Static. */
const char *store_db_name(enum store_dbi which);

/*! \brief The raw environment, for mdb_env_info/mdb_stat in the tools. Owned
 *         by the store; never close it. */
MDB_env *store_env(const store_t *store);

/*!
 * \brief Check the open environment's data file again, through LMDB's own
 *        file descriptor (the file that is mapped, even if the directory
 *        was replaced): meta pages and size as at open
 *        (store_meta_check_settled()), and whether a read fault marked it
 *        broken. Reads with pread(), never through the map. May sleep
 *        ~100 ms when the file looks bad (it may be mid-commit).
 * \param[out] why  Reason on failure.
 * \return HG_EOK, HG_ECORRUPT (truncated, empty, invalid meta page, or
 *         marked broken), HG_EIO.
 */
int store_check_file(store_t *store, char *why, size_t size);

/*! \brief Mark the environment broken for good: a read of its map faulted
 *         (store_guard.h), so its pages cannot be trusted any more.
 *         Lock-free; any thread. */
void store_mark_broken(store_t *store);

/*! \brief True once store_mark_broken() was called. Lock-free. */
bool store_is_broken(const store_t *store);

/*! \brief True if \a addr lies in the map of data.mdb or of lock.mdb (to
 *         tell a fault in the environment from one in another mapped file,
 *         such as a geo database); also true when data.mdb's map address
 *         could not be found at open (assume the worst). Reads
 *         /proc/self/maps for the lock file: call it after a fault, not
 *         per query. */
bool store_map_contains(const store_t *store, const void *addr);

/* ---------------------------------------------------------------------- */

/*! Who may touch a read txn's LMDB txn (store_rtxn_t.state). */
enum store_rtxn_state {
	STORE_RTXN_FREE = 0, /*!< reset (or never begun): its owner may begin it */
	STORE_RTXN_BUSY,     /*!< its owner reads through it: the map must not move */
	STORE_RTXN_HELD,     /*!< its owner keeps the snapshot between reads
	                              (store_rtxn_hold()); another thread may take
	                              it back to FREE (store_release_held()) */
	STORE_RTXN_TAKING,   /*!< another thread is resetting it */
};

/*! A read transaction: reusable (MDB_NOTLS), so one per thread can be
 *  cached. Registered with its store from its first begin until
 *  store_rtxn_free(), which every user must call before the struct goes. */
typedef struct {
	store_t *store;
	MDB_txn *txn; /*!< NULL until first begin; reset between uses */
	bool active;
	bool registered;  /*!< in store's registry (a remap waits for it) */
	atomic_int state; /*!< enum store_rtxn_state */
} store_rtxn_t;

/*!
 * \brief Start a read snapshot, renewing the cached txn when there is one.
 *
 * \a rtxn must be zero-initialized before its first use. A txn cached for
 * another store is freed and a new one begun. When a writer of another
 * process grew the data beyond this process's map (MDB_MAP_RESIZED), the
 * map is moved at once if no other read txn of the process is active,
 * else HG_EMAPRESIZED is returned and store_remap_wanted() is set.
 * \return HG_EOK, HG_EMAPRESIZED (also while a remap is under way), or the
 *         mapped LMDB error (e.g. HG_EBUSY: no reader slot).
 */
int store_rtxn_begin(store_t *store, store_rtxn_t *rtxn);

/*! \brief End the snapshot (mdb_txn_reset); the txn is kept for renewal.
 *         Every value read through it becomes invalid. */
void store_rtxn_end(store_rtxn_t *rtxn);

/*!
 * \brief As store_rtxn_begin(), but when \a rtxn holds a snapshot
 *        (store_rtxn_hold()) and no write committed since, that snapshot is
 *        used again without renewing the txn: the same bytes at the same
 *        addresses, so pointers read through it in the last use (and cached
 *        by its snapshot id) are valid again. For the module's worker
 *        threads: one atomic operation and a look at the meta pages instead
 *        of mdb_txn_renew() + mdb_txn_reset() per query.
 * \return As store_rtxn_begin().
 */
int store_rtxn_resume(store_t *store, store_rtxn_t *rtxn);

/*!
 * \brief End a use of \a rtxn but keep its snapshot for store_rtxn_resume().
 *
 * The snapshot stays pinned (LMDB cannot reuse pages freed after it) until
 * the next resume sees a newer commit, or store_release_held() takes it
 * back: call that periodically (the module's checker does, every second).
 */
void store_rtxn_hold(store_rtxn_t *rtxn);

/*!
 * \brief Reset every held read txn of \a store whose snapshot is older than
 *        the newest commit and that its owner is not using, so an idle
 *        worker does not pin an old snapshot. From any thread but an
 *        owner's while it holds its txn BUSY. Its LMDB calls run inside a
 *        fault guard: with a truncated data.mdb or lock.mdb it releases
 *        nothing instead of killing the process.
 * \return How many were reset.
 */
unsigned store_release_held(store_t *store);

/*!
 * \brief Free the cached txn (abort) and unregister it from its store; \a rtxn
 *        may then be begun again. Every rtxn that was begun must be freed.
 *
 * Also the way to drop a txn that a fault interrupted (store_guard.h): the
 * abort runs inside a guard of its own, and if even that faults (a
 * truncated lock.mdb) the txn is forgotten, its reader slot leaked.
 */
void store_rtxn_free(store_rtxn_t *rtxn);

/* ---------------------------------------------------------------------- */
/* The map. */

/*! What the map holds and may hold. */
typedef struct {
	uint64_t used;   /*!< bytes of the data: (last page in use + 1) x page size */
	uint64_t map;    /*!< this process's map */
	uint64_t limit;  /*!< the ceiling writers grow to (HG_STORE_MAPSIZE_MAX) */
	uint64_t grows;  /*!< times this process grew the map (store_write()) */
	uint64_t remaps; /*!< times it moved its map to follow another process */
	bool warn;       /*!< used is above STORE_MAP_WARN_PCT of the limit */
} store_map_info_t;

/*! \brief Fill \a out. \return HG_EOK or the mapped LMDB error. */
int store_map_info(store_t *store, store_map_info_t *out);

/*! \brief True when a read txn met MDB_MAP_RESIZED and the map was not
 *         moved yet (the caller should run store_remap()). */
bool store_remap_wanted(store_t *store);

/*!
 * \brief Move this process's map to the size the file records (another
 *        process grew it), waiting until no read txn of the process on
 *        \a store is active; read txns that begin meanwhile get
 *        HG_EMAPRESIZED. Never from a thread holding an active read txn of
 *        \a store (it would wait for itself), nor during a write txn.
 * \return HG_EOK, HG_ECORRUPT (resetting a held txn faulted: a file was
 *         truncated under the map) or the mapped LMDB error.
 */
int store_remap(store_t *store);

/*!
 * \brief Get a value in place.
 * \param[out] val  Points into the map: valid only until store_rtxn_end().
 * \return HG_EOK, HG_ENOENT (absent), HG_EINVAL (txn not active), or the
 *         mapped LMDB error.
 */
int store_get(store_rtxn_t *rtxn, enum store_dbi db, const void *key, size_t klen, const void **val,
              size_t *vlen);

/* ---------------------------------------------------------------------- */

/*!
 * A write transaction with a sticky error (as Knot's knot_lmdb.c): after
 * the first failure every later put/del is a no-op and store_wtxn_commit()
 * aborts and returns that error. One writer at a time per environment
 * (LMDB's writer lock); begin blocks while another process writes.
 */
typedef struct {
	store_t *store;
	MDB_txn *txn;
	int err; /*!< first error, HG_EOK while all went well */
} store_wtxn_t;

/*!
 * \brief For the tools, when run as root: become the owner of the database
 *        directory \a dir (its uid, its group, no supplementary groups) if
 *        that owner is not root.
 *
 * store_open() running as root refuses a directory another user owns: that
 * user could swap lock.mdb or data.mdb for a symlink between the checks and
 * LMDB's open and have root write any file. As the owner, the process can
 * only write what the owner could anyway, and the files it creates belong
 * to the owner. A no-op when not root, or when \a dir is missing (it will
 * be created by root) or owned by root. Irreversible: call it after reading
 * what only root may read, and only in a single-threaded tool (write side:
 * never linked into knotd).
 *
 * \param[out] why  Reason on failure.
 * \return HG_EOK, or HG_EACCES if the switch failed.
 */
int store_become_dir_owner(const char *dir, char *why, size_t size);

/*! \brief Begin a write txn. \return HG_EOK, HG_EACCES (read-only handle),
 *         or the mapped LMDB error; the same code is left in wtxn->err. */
int store_wtxn_begin(store_t *store, store_wtxn_t *wtxn);

/*! \brief Put \a key → \a val (copied by LMDB). Failures become sticky. */
void store_put(store_wtxn_t *wtxn, enum store_dbi db, const void *key, size_t klen, const void *val,
               size_t vlen);

/*! \brief Delete a key with all its values (a missing key is not an error). */
void store_del(store_wtxn_t *wtxn, enum store_dbi db, const void *key, size_t klen);

/*! \brief Empty a database, keeping its handle and flags. */
void store_drop_all(store_wtxn_t *wtxn, enum store_dbi db);

/*!
 * \brief Read within a write txn.
 * \param[out] val  Valid until the next write in this txn or its end (LMDB
 *                  may move pages a later put touches): copy it first if
 *                  you write.
 * \return HG_EOK, HG_ENOENT (absent; not sticky), or the sticky error.
 */
int store_wget(store_wtxn_t *wtxn, enum store_dbi db, const void *key, size_t klen,
               const void **val, size_t *vlen);

/*! \brief Make \a err the sticky error of \a wtxn unless one is already set. */
void store_wtxn_fail(store_wtxn_t *wtxn, int err);

/*!
 * \brief When the handle holds a schema-1 database (STORE_UPGRADE), make this
 *        txn upgrade it: delete the retired `epnames` DB and write the
 *        current schema_version. The caller rewrites everything else (a
 *        policy load); the upgrade is done when the txn commits
 *        (store_schema_upgraded()). No-op on a current database. Failures
 *        are sticky.
 */
void store_wtxn_upgrade(store_wtxn_t *wtxn);

/*! \brief Commit. \return HG_EOK, or the sticky error (the txn was aborted),
 *         or the commit's own error (e.g. HG_EMAPFULL). */
int store_wtxn_commit(store_wtxn_t *wtxn);

/*! The body of a write transaction for store_write(): every write of the
 *  transaction, nothing else (it may run more than once). Returns HG_EOK
 *  or an error (the txn's sticky error included). */
typedef int (*store_write_fn)(store_wtxn_t *wtxn, void *ctx);

/*!
 * \brief Run \a fn in a write transaction and commit it; when the map fills
 *        (HG_EMAPFULL), discard the transaction, double the map up to the
 *        ceiling and run \a fn again from the start, so a write is never
 *        lost to a full map while the ceiling allows it.
 *
 * \a fn must be repeatable: each run starts from the committed state.
 * \return HG_EOK; HG_EMAPFULL when the write does not fit under the ceiling
 *         (nothing of it was written; store_last_error() names the sizes and
 *         the variable to raise); or \a fn's / the commit's error.
 */
int store_write(store_t *store, store_write_fn fn, void *ctx);

/*! \brief Abort (no-op when already committed or aborted). */
void store_wtxn_abort(store_wtxn_t *wtxn);

/* ---------------------------------------------------------------------- */

/*! A visitor's return that asks store_wforeach*() to delete the entry. */
#define STORE_ITER_DELETE 1

/*!
 * Called for each entry of an iteration. \a key and \a val point into the
 * map and are valid only during the call. Return HG_EOK to go on; any other
 * value stops the walk and is returned by the iteration (use positive
 * values for "found, stop"; STORE_ITER_DELETE is reserved in write walks).
 */
typedef int (*store_visit_fn)(void *ctx, const void *key, size_t klen, const void *val,
                              size_t vlen);

/*!
 * \brief Visit, in key order, every entry of \a db whose key starts with
 *        \a prefix (every entry when \a plen is 0; every value of a
 *        DUPSORT key).
 * \return HG_EOK after the last entry, the visitor's stop value, or an
 *         LMDB error.
 */
int store_foreach(store_rtxn_t *rtxn, enum store_dbi db, const void *prefix, size_t plen,
                  store_visit_fn fn, void *ctx);

/*! \brief Visit every value of the exact key \a key in a DUPSORT DB.
 *  \return As store_foreach(); HG_EOK when the key is absent; HG_EINVAL for
 *          an inactive txn or an empty key. */
int store_foreach_dup(store_rtxn_t *rtxn, enum store_dbi db, const void *key, size_t klen,
                      store_visit_fn fn, void *ctx);

/*!
 * \brief How many entries \a db holds in this snapshot (each value of a
 *        DUPSORT key counts), without walking it (mdb_stat).
 * \param[out] n  Set on success.
 * \return HG_EOK, HG_EINVAL (txn not active), or the mapped LMDB error.
 */
int store_count(store_rtxn_t *rtxn, enum store_dbi db, size_t *n);

/*!
 * \brief As store_foreach() inside a write txn; a visitor returning
 *        STORE_ITER_DELETE has that entry deleted. The visitor must not
 *        write to \a db itself. Negative returns become sticky.
 */
int store_wforeach(store_wtxn_t *wtxn, enum store_dbi db, const void *prefix, size_t plen,
                   store_visit_fn fn, void *ctx);

/*! \brief As store_foreach_dup() inside a write txn (STORE_ITER_DELETE deletes). */
int store_wforeach_dup(store_wtxn_t *wtxn, enum store_dbi db, const void *key, size_t klen,
                       store_visit_fn fn, void *ctx);

/* ---------------------------------------------------------------------- */

/*! \brief Unix time in milliseconds (CLOCK_REALTIME). */
uint64_t store_now_ms(void);

/*!
 * \brief Build the measurements key "endpoint\0prober" in \a buf.
 * \return Its length, or 0 when it does not fit \a size
 *         (STORE_MEASURE_KEY_MAX always fits valid ids).
 */
size_t store_measure_key(uint8_t *buf, size_t size, const char *endpoint, const char *prober);

/*!
 * \brief Split a measurements key into its NUL-terminated ids.
 * \return HG_EOK, HG_ECORRUPT (no separator, an empty or over-long id).
 */
int store_measure_key_split(const void *key, size_t klen, char endpoint[HG_ID_SIZE],
                            char prober[HG_ID_SIZE]);
