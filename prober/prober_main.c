/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* haltgslb-prober: command line, detach, the store and the policy in it,
 * then the loop. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "errors.h"
#include "log.h"
#include "prober.h"
#include "store_guard.h"

/* Block the signals the loop reads from its signalfd now, not only once the
 * loop exists: a SIGHUP (systemctl reload) or SIGTERM during startup (a DB
 * open waiting for LMDB's lock file) must not kill the prober with the
 * default action. They stay pending and the loop handles them when it
 * starts. */
static void block_signals(void)
{
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
}

/* Detaching moves to "/": relative paths must not change meaning. */
static int make_absolute(const char **path, char *buf, size_t size)
{
	char cwd[PATH_MAX];
	if (*path == NULL || (*path)[0] == '/') {
		return HG_EOK;
	}
	if (getcwd(cwd, sizeof(cwd)) == NULL) {
		return hg_err_from_errno(errno);
	}
	if ((size_t)snprintf(buf, size, "%s/%s", cwd, *path) >= size) {
		return HG_ERANGE;
	}
	*path = buf;
	return HG_EOK;
}

/* Fork into the background before LMDB, libcurl and epoll exist (none of
 * them survives a fork). The parent waits on a pipe and exits 0 only when
 * the child says it is probing, or 1 when the child exits first: a startup
 * failure (no DB, no policy, --id not a prober) reaches the caller, and the
 * DB is opened once, by the process that uses it. Only the child returns;
 * *ready_fd is the pipe's write end for prober_ready(). */
static int detach(int *ready_fd)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) != 0) {
		return hg_err_from_errno(errno);
	}
	pid_t pid = fork();
	if (pid < 0) {
		int ret = hg_err_from_errno(errno);
		close(fds[0]);
		close(fds[1]);
		return ret;
	}
	if (pid > 0) {
		close(fds[1]);
		char c = 0;
		ssize_t n;
		while ((n = read(fds[0], &c, 1)) < 0 && errno == EINTR) {
		}
		_exit(n == 1 ? 0 : 1);
	}
	close(fds[0]);
	if (setsid() < 0 || chdir("/") != 0) {
		close(fds[1]);
		return hg_err_from_errno(errno);
	}
	*ready_fd = fds[1];
	return HG_EOK;
}

/* Tell a waiting parent (detach()) that startup succeeded. */
static void prober_ready(int *ready_fd)
{
	if (*ready_fd >= 0) {
		ssize_t n = write(*ready_fd, "1", 1);
		(void)n; /* the parent gone: nobody to tell */
		close(*ready_fd);
		*ready_fd = -1;
	}
}

static int background(prober_t *p, int *ready_fd)
{
	static char db_abs[PATH_MAX], metrics_abs[PATH_MAX];
	int ret = make_absolute(&p->db_dir, db_abs, sizeof(db_abs));
	if (ret == HG_EOK) {
		ret = make_absolute(&p->metrics_path, metrics_abs, sizeof(metrics_abs));
	}
	if (ret == HG_EOK) {
		ret = detach(ready_fd);
	}
	if (ret != HG_EOK) {
		hg_err("cannot detach: %s", hg_strerror(ret));
	}
	return ret;
}

/* The loop's resources, the DB, the targets from the policy in it. */
static int prober_start(prober_t *p)
{
	int ret = prober_loop_init(p);
	if (ret != HG_EOK) {
		hg_err("startup: %s", hg_strerror(ret));
		return ret;
	}
	ret = store_open(p->db_dir, 0, &p->store);
	const char *why = store_last_error();
	if (ret == HG_ENOENT) {
		hg_err("%s (load a policy first: haltgslb-ctl load FILE --db DIR)",
		       *why ? why : "no haltgslb database");
		return ret;
	} else if (ret != HG_EOK) {
		/* The reason says what is wrong and, for a damaged or unsafe
		 * database, what to do about it. */
		hg_err("database %s: %s", p->db_dir, *why ? why : hg_strerror(ret));
		return ret;
	}
	ret = prober_reload(p);
	if (ret == HG_EOK) {
		ret = prober_pub_start(p);
	}
	return ret;
}

static void prober_stop(prober_t *p)
{
	prober_pub_stop(p); /* before the store closes: its snapshots read it */
	prober_loop_free(p);
	store_rtxn_free(&p->watch_rtxn);
	store_close(p->store);
	p->store = NULL;
}

int main(int argc, char **argv)
{
	static prober_t p; /* large (ICMP table): not on the stack */
	p.window = PROBER_WINDOW_DEFAULT;
	p.max_inflight = PROBER_INFLIGHT_DEFAULT;
	p.log_level = HG_LOG_NOTICE;
	hg_log_init(argv[0], p.log_level);
	/* Its database truncated under it: a message and exit 1, not SIGBUS. */
	store_guard_install(STORE_GUARD_FATAL, "haltgslb-prober");
	int ret = prober_opts_parse(&p, argc, argv);
	if (ret != HG_EOK) {
		return ret == PROBER_OPTS_EXIT ? 0 : 2;
	}
	hg_log_init(argv[0], p.log_level);
	block_signals();
	int ready_fd = -1;
	if (!p.foreground && background(&p, &ready_fd) != HG_EOK) {
		return 1;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		hg_err("libcurl initialization failed");
		return 1;
	}
	ret = prober_start(&p);
	if (ret == HG_EOK) {
		hg_notice("prober %s started: %zu endpoints, db %s (policy generation %llu)", p.id,
		          p.n_targets, p.db_dir, (unsigned long long)p.policy_gen);
		prober_ready(&ready_fd);
		ret = prober_run(&p);
		hg_notice("prober %s stopped (%llu probes, %llu batches)", p.id,
		          (unsigned long long)p.probes_total, (unsigned long long)p.batches);
	}
	prober_stop(&p);
	curl_global_cleanup();
	if (ready_fd >= 0) {
		close(ready_fd);
	}
	return ret == HG_EOK ? 0 : 1;
}
