/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  Path, directory and file checks before LMDB opens an environment by name
 *  (the rules: store_safe.h). Messages name uids, not users: this runs
 *  inside knotd, where a name lookup could block on a remote directory. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"
#include "store_safe.h"

#define STORE_LOCK_FILE "lock.mdb"
#define STORE_DATA_FILE "data.mdb"

__attribute__((format(printf, 4, 5))) static int safe_fail(int err, char *why, size_t size,
                                                           const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, size, fmt, ap);
	va_end(ap);
	return err;
}

static bool trusted_uid(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

/* Others than the owner may add, remove or rename entries. */
static bool others_may_write(const struct stat *st)
{
	return (st->st_mode & (S_IWGRP | S_IWOTH)) != 0;
}

static bool sticky(const struct stat *st)
{
	return (st->st_mode & S_ISVTX) != 0;
}

/* An ancestor directory nobody but root and us can change. */
static int check_ancestor(const char *path, char *why, size_t size)
{
	struct stat st;
	if (lstat(path, &st) != 0) {
		return safe_fail(hg_err_from_errno(errno), why, size, "%s: %s", path,
		                 strerror(errno));
	}
	if (!S_ISDIR(st.st_mode)) {
		return safe_fail(HG_EUNSAFE, why, size, "%s: changed while being checked (now %s)",
		                 path, S_ISLNK(st.st_mode) ? "a symbolic link" : "not a directory");
	}
	if (!trusted_uid(st.st_uid)) {
		return safe_fail(HG_EUNSAFE, why, size,
		                 "%s is owned by uid %u, not by root or "
		                 "uid %u: its owner could replace the database directory",
		                 path, (unsigned)st.st_uid, (unsigned)geteuid());
	}
	if (others_may_write(&st) && !sticky(&st)) {
		return safe_fail(HG_EUNSAFE, why, size,
		                 "%s is writable by group or others (mode "
		                 "%04o) without the sticky bit: they could replace the database "
		                 "directory",
		                 path, (unsigned)(st.st_mode & 07777));
	}
	return HG_EOK;
}

/* Rule 1: a symlink of the given path must sit where nobody else can
 * change it. \a dir is where the link's name is looked up. */
static int check_link(const char *link, const char *dir, char *why, size_t size)
{
	struct stat lst, dst;
	if (lstat(link, &lst) != 0 || stat(dir, &dst) != 0) {
		return safe_fail(hg_err_from_errno(errno), why, size, "%s: %s", link,
		                 strerror(errno));
	}
	bool ok = trusted_uid(dst.st_uid) &&
	          (!others_may_write(&dst) || (sticky(&dst) && trusted_uid(lst.st_uid)));
	if (!ok) {
		return safe_fail(HG_EUNSAFE, why, size,
		                 "%s is a symbolic link in %s, which a user "
		                 "other than root or uid %u can change: give the real path",
		                 link, dir, (unsigned)geteuid());
	}
	return HG_EOK;
}

static int check_given(const char *given, char *why, size_t size)
{
	char buf[PATH_MAX];
	size_t len = strlen(given);
	if (len == 0 || len >= sizeof(buf)) {
		return safe_fail(HG_EINVAL, why, size, "invalid path");
	}
	memcpy(buf, given, len + 1);
	/* Each prefix ending at a component: "/a", "/a/b", ... or "a", "a/b". */
	for (size_t end = 1; end <= len; end++) {
		if (end < len && buf[end] != '/') {
			continue;
		}
		if (buf[end - 1] == '/') {
			continue; /* "//" or a trailing '/' */
		}
		char saved = buf[end];
		buf[end] = '\0';
		struct stat st;
		int ret = HG_EOK;
		if (lstat(buf, &st) != 0) {
			buf[end] = saved;
			break; /* reported by the later checks */
		}
		if (S_ISLNK(st.st_mode)) {
			char dir[PATH_MAX];
			char *slash = strrchr(buf, '/');
			if (slash == NULL) {
				snprintf(dir, sizeof(dir), ".");
			} else if (slash == buf) {
				snprintf(dir, sizeof(dir), "/");
			} else {
				snprintf(dir, sizeof(dir), "%.*s", (int)(slash - buf), buf);
			}
			ret = check_link(buf, dir, why, size);
		}
		buf[end] = saved;
		if (ret != HG_EOK) {
			return ret;
		}
	}
	return HG_EOK;
}

static int check_ancestors(const char *real, char *why, size_t size)
{
	char buf[PATH_MAX];
	size_t len = strlen(real);
	if (real[0] != '/' || len >= sizeof(buf)) {
		return safe_fail(HG_EINVAL, why, size, "%s: not an absolute path", real);
	}
	int ret = check_ancestor("/", why, size);
	memcpy(buf, real, len + 1);
	/* Every proper prefix ending before a '/': the database directory's
	 * ancestors (the directory itself is checked on its fd). */
	for (size_t end = 1; ret == HG_EOK && end < len; end++) {
		if (buf[end] != '/') {
			continue;
		}
		buf[end] = '\0';
		ret = check_ancestor(buf, why, size);
		buf[end] = '/';
	}
	return ret;
}

static int check_dir(const char *real, store_files_t *f, char *why, size_t size)
{
	f->dir_fd = open(real, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (f->dir_fd < 0) {
		if (errno == ELOOP || errno == ENOTDIR) {
			return safe_fail(HG_EUNSAFE, why, size,
			                 "%s: not a directory (or replaced by a "
			                 "symbolic link while being checked)",
			                 real);
		}
		int ret = hg_err_from_errno(errno);
		return safe_fail(ret, why, size,
		                 ret == HG_ENOENT ? "%s: no haltgslb database" : "%s: %s", real,
		                 strerror(errno));
	}
	if (fstat(f->dir_fd, &f->dir_st) != 0) {
		return safe_fail(HG_EIO, why, size, "%s: %s", real, strerror(errno));
	}
	const struct stat *st = &f->dir_st;
	if (others_may_write(st) && !sticky(st)) {
		return safe_fail(HG_EUNSAFE, why, size,
		                 "%s is writable by group or others (mode "
		                 "%04o) without the sticky bit: they could replace lock.mdb or "
		                 "data.mdb; chmod it 2750 (or 3770)",
		                 real, (unsigned)(st->st_mode & 07777));
	}
	if (geteuid() == 0 && st->st_uid != 0) {
		return safe_fail(HG_EUNSAFE, why, size,
		                 "%s is owned by uid %u: root does not open "
		                 "a database directory another user controls (that user could "
		                 "redirect root's writes to any file); run as uid %u",
		                 real, (unsigned)st->st_uid, (unsigned)st->st_uid);
	}
	return HG_EOK;
}

/* Rule 4 for one existing file, open on \a fd (O_PATH or readable). */
static int check_file(const char *real, const char *name, int fd, const struct stat *dir,
                      struct stat *st, char *why, size_t size)
{
	if (fstat(fd, st) != 0) {
		return safe_fail(HG_EIO, why, size, "%s/%s: %s", real, name, strerror(errno));
	}
	if (S_ISLNK(st->st_mode)) {
		return safe_fail(HG_EUNSAFE, why, size,
		                 "%s/%s is a symbolic link: refusing to "
		                 "follow it (remove it; the writer recreates the file)",
		                 real, name);
	}
	if (!S_ISREG(st->st_mode)) {
		return safe_fail(HG_EUNSAFE, why, size, "%s/%s is not a regular file", real, name);
	}
	if (st->st_nlink != 1) {
		return safe_fail(HG_EUNSAFE, why, size,
		                 "%s/%s has %lu hard links: another name "
		                 "may refer to it",
		                 real, name, (unsigned long)st->st_nlink);
	}
	if (!trusted_uid(st->st_uid) && st->st_uid != dir->st_uid) {
		return safe_fail(HG_EUNSAFE, why, size,
		                 "%s/%s is owned by uid %u, not by root, "
		                 "uid %u or the directory's owner (uid %u)",
		                 real, name, (unsigned)st->st_uid, (unsigned)geteuid(),
		                 (unsigned)dir->st_uid);
	}
	if (st->st_mode & S_IWOTH) {
		return safe_fail(HG_EUNSAFE, why, size, "%s/%s is writable by everyone (mode %04o)",
		                 real, name, (unsigned)(st->st_mode & 07777));
	}
	return HG_EOK;
}

/* Create \a name (absent) with exactly \a mode. */
static int create_file(const char *real, const char *name, int dir_fd, mode_t mode, int *fd_out,
                       char *why, size_t size)
{
	int fd = openat(dir_fd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0) {
		if (errno == EEXIST) {
			return HG_EEXIST; /* appeared meanwhile: check it as existing */
		}
		int ret = hg_err_from_errno(errno);
		return safe_fail(ret, why, size, "%s/%s: cannot create: %s", real, name,
		                 strerror(errno));
	}
	/* The umask must not take knotd's group access away. */
	if (fchmod(fd, mode) != 0) {
		int ret = hg_err_from_errno(errno);
		close(fd);
		return safe_fail(ret, why, size, "%s/%s: %s", real, name, strerror(errno));
	}
	*fd_out = fd;
	return HG_EOK;
}

/* Open (or create) one file and check it; \a keep_fd gets a readable fd. */
static int open_file(const char *real, const char *name, store_files_t *f, bool may_create,
                     mode_t mode, int *keep_fd, struct stat *st, bool *created, char *why,
                     size_t size)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		int flags = (keep_fd != NULL ? O_RDONLY : O_PATH) | O_NOFOLLOW | O_CLOEXEC |
		            O_NOCTTY | O_NONBLOCK;
		int fd = openat(f->dir_fd, name, flags);
		if (fd < 0 && errno == ENOENT) {
			if (!may_create) {
				return safe_fail(HG_ENOENT, why, size,
				                 "%s: no haltgslb database (no %s)", real, name);
			}
			int ret = create_file(real, name, f->dir_fd, mode, &fd, why, size);
			if (ret == HG_EEXIST) {
				continue;
			}
			if (ret != HG_EOK) {
				return ret;
			}
			*created = true;
		} else if (fd < 0) {
			if (errno == ELOOP) {
				return safe_fail(
				        HG_EUNSAFE, why, size,
				        "%s/%s is a symbolic link: refusing "
				        "to follow it (remove it; the writer recreates the file)",
				        real, name);
			}
			int ret = hg_err_from_errno(errno);
			return safe_fail(ret, why, size, "%s/%s: %s", real, name, strerror(errno));
		}
		int ret = check_file(real, name, fd, &f->dir_st, st, why, size);
		if (ret != HG_EOK || keep_fd == NULL) {
			close(fd);
			return ret;
		}
		*keep_fd = fd;
		return HG_EOK;
	}
	return safe_fail(HG_EUNSAFE, why, size, "%s/%s keeps changing", real, name);
}

int store_safe_open(const char *given, const char *real, bool create, store_files_t *f, char *why,
                    size_t why_size)
{
	memset(f, 0, sizeof(*f));
	f->dir_fd = -1;
	f->data_fd = -1;
	why[0] = '\0';

	int ret = check_given(given, why, why_size);
	if (ret == HG_EOK) {
		ret = check_ancestors(real, why, why_size);
	}
	if (ret == HG_EOK) {
		ret = check_dir(real, f, why, why_size);
	}
	if (ret != HG_EOK) {
		return ret;
	}
	/* A created file belongs to its creator: only root or the directory's
	 * owner may create one that everybody else then trusts. */
	bool owner = geteuid() == 0 || geteuid() == f->dir_st.st_uid;
	struct stat lock_st;
	bool lock_created = false;
	ret = open_file(real, STORE_LOCK_FILE, f, owner, STORE_LOCK_MODE, NULL, &lock_st,
	                &lock_created, why, why_size);
	if (ret == HG_ENOENT && !owner) {
		snprintf(why, why_size,
		         "%s: no %s yet, and only its owner (uid %u) may create it: "
		         "open it once as a writer (haltgslb-ctl load)",
		         real, STORE_LOCK_FILE, (unsigned)f->dir_st.st_uid);
	}
	if (ret == HG_EOK) {
		ret = open_file(real, STORE_DATA_FILE, f, create && owner, STORE_DATA_MODE,
		                &f->data_fd, &f->data_st, &f->data_created, why, why_size);
	}
	return ret;
}

void store_safe_close(store_files_t *f)
{
	if (f->data_fd >= 0) {
		close(f->data_fd);
		f->data_fd = -1;
	}
	if (f->dir_fd >= 0) {
		close(f->dir_fd);
		f->dir_fd = -1;
	}
}
