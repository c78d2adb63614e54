/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*!
 * \file
 * \brief Private to libhg_store: the checks store_open() makes before LMDB
 *        opens the environment's files by name (docs/security.md).
 *
 * LMDB opens DIR/lock.mdb and DIR/data.mdb with open(2), following
 * symlinks, and writes both (lock.mdb even in a read-only process: its
 * reader table). A user who can change the directory could point them at
 * any file the opener may write. So before LMDB sees the path:
 *
 * 1. Symlinks in the path as given are followed only where they sit in a
 *    directory nobody else can change: owned by root or the running user,
 *    not writable by group or others unless sticky, and then the link
 *    owned by root or the running user.
 * 2. Every directory above the database directory (its real path) is a
 *    directory owned by root or the running user, not writable by group or
 *    others unless sticky.
 * 3. The database directory: not a symlink; not writable by group or
 *    others unless sticky (3770 is fine, 2770 is not); a process running as
 *    root only uses a directory owned by root (another owner could swap
 *    files between these checks and LMDB's open: run as that owner).
 * 4. lock.mdb and data.mdb: opened with O_NOFOLLOW, regular files, one hard
 *    link, owned by root, the running user or the directory's owner, not
 *    writable by others. A missing one is created here (O_EXCL, exact mode
 *    0660 for lock.mdb, 0640 for data.mdb) when the caller may: lock.mdb by
 *    root or the directory's owner, data.mdb only with STORE_CREATE. Once
 *    they exist under 3., only a trusted user can replace them before LMDB
 *    opens them, and store_open() checks afterwards that LMDB's data.mdb is
 *    the file checked here.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

/*! Exact modes of the files the store creates (knotd's group reads data.mdb
 *  and writes its reader slot in lock.mdb). */
#define STORE_DATA_MODE 0640
#define STORE_LOCK_MODE 0660
/*! Mode of directories store_open(STORE_CREATE) creates (less the umask). */
#define STORE_DIR_MODE  0750

/*! The checked environment files, held open while LMDB opens them. */
typedef struct {
	int dir_fd;  /*!< O_PATH of the directory, -1 if not open */
	int data_fd; /*!< data.mdb open for reading, -1 if not open */
	struct stat dir_st;
	struct stat data_st; /*!< identity LMDB's data.mdb must match */
	bool data_created;   /*!< data.mdb did not exist: created empty here */
} store_files_t;

/*!
 * \brief Run checks 1–4 on \a given (the path the caller passed) and
 *        \a real (its realpath) and open the files.
 *
 * \param create  STORE_CREATE: create a missing data.mdb.
 * \param[out] f  Filled on HG_EOK; release with store_safe_close() in every case.
 * \param[out] why  "PATH: reason" on failure.
 * \return HG_EOK, HG_EUNSAFE (a check failed), HG_ENOENT (no data.mdb and no
 *         \a create, or no lock.mdb this user may create), HG_EACCES, HG_EIO.
 */
int store_safe_open(const char *given, const char *real, bool create, store_files_t *f, char *why,
                    size_t why_size);

/*! \brief Close what store_safe_open() opened (idempotent). */
void store_safe_close(store_files_t *f);
