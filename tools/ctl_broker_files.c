/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* broker-config: writing the generated files. All of them are rendered into
 * temporary files next to their final names first; only when every one was
 * written and synced are they renamed into place, so a failure (disk full,
 * permissions) leaves the previous set untouched, and the broker never reads
 * a half-written file. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"
#include "ctl_broker.h"
#include "errors.h"

#define BROKER_FILE_MODE 0640

/* Render one file into a new temporary file; *tmp_out receives its path. */
static int write_tmp(const broker_conf_t *conf, const broker_file_t *f, gid_t gid,
                     char tmp_out[PATH_MAX])
{
	int ret = HG_EIO;
	FILE *out = NULL;
	int n = snprintf(tmp_out, PATH_MAX, "%s/.%s.XXXXXX", conf->out_dir, f->name);
	if (n < 0 || n >= PATH_MAX) {
		ctl_error("%s/%s: path too long", conf->out_dir, f->name);
		tmp_out[0] = '\0';
		return HG_ERANGE;
	}
	int fd = mkstemp(tmp_out);
	if (fd < 0) {
		ctl_error("%s: cannot create a file there: %s", conf->out_dir, strerror(errno));
		ret = hg_err_from_errno(errno);
		tmp_out[0] = '\0';
		return ret;
	}
	/* The mode is set explicitly: the umask must not widen or narrow it. */
	if (fchmod(fd, BROKER_FILE_MODE) != 0 ||
	    (gid != (gid_t)-1 && fchown(fd, (uid_t)-1, gid) != 0)) {
		ctl_error("%s: cannot set mode/group: %s", tmp_out, strerror(errno));
		ret = hg_err_from_errno(errno);
		close(fd);
		return ret;
	}
	out = fdopen(fd, "w");
	if (out == NULL) {
		ctl_error("%s: %s", tmp_out, strerror(errno));
		close(fd);
		return HG_ENOMEM;
	}
	if (f->render(conf, out) != 0 || fflush(out) != 0 || fsync(fileno(out)) != 0) {
		ctl_error("%s/%s: write failed: %s", conf->out_dir, f->name, strerror(errno));
		ret = hg_err_from_errno(errno != 0 ? errno : EIO);
		goto cleanup;
	}
	ret = HG_EOK;
cleanup:
	if (fclose(out) != 0 && ret == HG_EOK) {
		ctl_error("%s/%s: write failed: %s", conf->out_dir, f->name, strerror(errno));
		ret = HG_EIO;
	}
	return ret;
}

static int resolve_group(const char *group, gid_t *gid)
{
	*gid = (gid_t)-1;
	if (group == NULL) {
		return HG_EOK;
	}
	errno = 0;
	struct group *gr = getgrnam(group);
	if (gr == NULL) {
		ctl_error("--group %s: no such group%s%s", group, errno != 0 ? ": " : "",
		          errno != 0 ? strerror(errno) : "");
		return HG_ENOENT;
	}
	*gid = gr->gr_gid;
	return HG_EOK;
}

int broker_files_write(const broker_conf_t *conf, const broker_file_t *files, size_t n_files,
                       const char *group)
{
	char(*tmp)[PATH_MAX] = calloc(n_files, sizeof(*tmp));
	if (tmp == NULL) {
		return HG_ENOMEM;
	}
	gid_t gid;
	int ret = resolve_group(group, &gid);
	for (size_t i = 0; ret == HG_EOK && i < n_files; i++) {
		ret = write_tmp(conf, &files[i], gid, tmp[i]);
	}
	for (size_t i = 0; ret == HG_EOK && i < n_files; i++) {
		char final[PATH_MAX];
		snprintf(final, sizeof(final), "%s/%s", conf->out_dir, files[i].name);
		if (rename(tmp[i], final) != 0) {
			ctl_error("%s: cannot replace: %s", final, strerror(errno));
			ret = hg_err_from_errno(errno);
			break;
		}
		tmp[i][0] = '\0';
	}
	if (ret == HG_EOK) {
		/* Make the renames durable too. */
		int dfd = open(conf->out_dir, O_RDONLY | O_DIRECTORY);
		if (dfd >= 0) {
			(void)fsync(dfd);
			close(dfd);
		}
	}
	for (size_t i = 0; i < n_files; i++) {
		if (tmp[i][0] != '\0') {
			unlink(tmp[i]);
		}
	}
	free(tmp);
	return ret;
}
