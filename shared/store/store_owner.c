/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  Tools run as root work on a database directory as its owner (write side
 *  only: never linked into knotd). */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"
#include "store.h"

int store_become_dir_owner(const char *dir, char *why, size_t size)
{
	why[0] = '\0';
	struct stat st;
	if (geteuid() != 0 || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid == 0) {
		return HG_EOK; /* store_open() judges what there is */
	}
	/* Group: the directory's (knotd's, in the documented layout), so files
	 * created meanwhile get the group knotd reads with even without setgid. */
	if (setgroups(0, NULL) != 0 || setresgid(st.st_gid, st.st_gid, st.st_gid) != 0 ||
	    setresuid(st.st_uid, st.st_uid, st.st_uid) != 0) {
		snprintf(why, size, "%s is owned by uid %u: cannot switch to it: %s", dir,
		         (unsigned)st.st_uid, strerror(errno));
		return HG_EACCES;
	}
	return HG_EOK;
}
