/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  Fault guards: a read of a truncated mapping inside a guard comes back to
 *  the guard (any thread, nested guards, LMDB assertions); outside a guard
 *  the process gets exactly what it would have got without the handler
 *  (checked in child processes); a store whose data.mdb is truncated while
 *  open faults into the guard and is then reported truncated. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "errors.h"
#include "store.h"
#include "store_guard.h"
#include "tap.h"

static char base[512];

static const char *sub(const char *name)
{
	static char p[4][1024];
	static int slot;
	slot = (slot + 1) % 4;
	snprintf(p[slot], sizeof(p[slot]), "%s/%s", base, name);
	return p[slot];
}

/* A one-page file mapped, then truncated: reading the page faults. */
static volatile const uint8_t *gone_page(const char *name)
{
	long pg = sysconf(_SC_PAGESIZE);
	int fd = open(sub(name), O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, pg) != 0) {
		return NULL;
	}
	void *map = mmap(NULL, (size_t)pg, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED || ftruncate(fd, 0) != 0) {
		close(fd);
		return NULL;
	}
	close(fd);
	return map;
}

/* ---- outside a guard, in children: nothing changes ---- */

enum child_case {
	C_DFL_FAULT,
	C_FATAL_FAULT,
	C_FATAL_ASSERT,
	C_CHAIN_ASSERT,
	C_USER_SIGNAL,
	C_PREV_HANDLER
};

static void prev_handler(int sig)
{
	(void)sig;
	_exit(3);
}

static void child(enum child_case c, int errfd)
{
	dup2(errfd, STDERR_FILENO);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = c == C_PREV_HANDLER ? prev_handler : SIG_DFL;
	sigaction(SIGBUS, &sa, NULL);
	bool fatal = c == C_FATAL_FAULT || c == C_FATAL_ASSERT;
	store_guard_install(fatal ? STORE_GUARD_FATAL : STORE_GUARD_CHAIN, "test-tool");
	volatile const uint8_t *page = gone_page("child.bin");
	store_guard_t g;
	switch (c) {
	case C_DFL_FAULT:
	case C_FATAL_FAULT:
	case C_PREV_HANDLER:
		if (page != NULL) {
			(void)page[0];
		}
		_exit(0);
	case C_FATAL_ASSERT:
	case C_CHAIN_ASSERT:
		store_guard_assert(NULL, "mdb.c:1: Assertion 'x' failed in f()");
		_exit(0);
	case C_USER_SIGNAL:
		/* Even inside a guard, a SIGBUS someone sends is not a fault. */
		store_guard_arm(&g);
		if (sigsetjmp(g.jb, 0) != 0) {
			_exit(4);
		}
		kill(getpid(), SIGBUS);
		_exit(0);
	}
	_exit(5);
}

static void test_unguarded(void)
{
	static const struct {
		enum child_case c;
		int signal; /* expected terminating signal, or 0 */
		int status; /* else expected exit status */
		const char *says;
		const char *what;
	} cases[] = {
		{ C_DFL_FAULT, SIGBUS, 0, "", "chain, fault, default action → killed by SIGBUS" },
		{ C_FATAL_FAULT, 0, 1, "test-tool: read fault (SIGBUS)",
		  "fatal, fault → message, exit 1" },
		{ C_FATAL_ASSERT, 0, 1, "LMDB: mdb.c:1: Assertion",
		  "fatal, LMDB assertion → message, exit 1" },
		{ C_CHAIN_ASSERT, 0, 0, "", "chain, LMDB assertion → returns (LMDB aborts)" },
		{ C_USER_SIGNAL, SIGBUS, 0, "", "a SIGBUS sent by kill() inside a guard → killed" },
		{ C_PREV_HANDLER, 0, 3, "", "chain, fault → the previous handler runs" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int pfd[2];
		if (pipe(pfd) != 0) {
			ok(0, "pipe");
			return;
		}
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0) {
			close(pfd[0]);
			child(cases[i].c, pfd[1]);
		}
		close(pfd[1]);
		char err[1024] = "";
		size_t got = 0;
		ssize_t n;
		while ((n = read(pfd[0], err + got, sizeof(err) - 1 - got)) > 0) {
			got += (size_t)n;
		}
		err[got] = '\0';
		close(pfd[0]);
		int st = 0;
		waitpid(pid, &st, 0);
		bool pass = cases[i].signal ? (WIFSIGNALED(st) && WTERMSIG(st) == cases[i].signal)
		                            : (WIFEXITED(st) && WEXITSTATUS(st) == cases[i].status);
		ok(pass && strstr(err, cases[i].says) != NULL, "%s (status 0x%x)", cases[i].what,
		   st);
		if (!pass || strstr(err, cases[i].says) == NULL) {
			diag("stderr: %s", err);
		}
	}
}

/* ---- inside guards ---- */

static void test_guarded(void)
{
	volatile const uint8_t *page = gone_page("a.bin");
	ok(page != NULL, "a mapped page of a truncated file");
	if (page == NULL) {
		return;
	}
	store_guard_t g;
	volatile int reached = 0;
	store_guard_arm(&g);
	if (sigsetjmp(g.jb, 0) == 0) {
		(void)page[0];
		reached = 1;
		store_guard_disarm(&g);
	}
	ok(!reached && g.fault == STORE_FAULT_SIGBUS, "the read comes back to the guard");
	ok(g.addr == (const void *)page, "fault address is the page (%p)", g.addr);
	char buf[200];
	ok(strstr(store_guard_describe(&g, buf, sizeof(buf)), "truncated") != NULL, "%s", buf);

	/* A second fault after the first: the handler still works (SIGBUS was
	 * not left blocked by leaving it with a jump). */
	store_guard_arm(&g);
	if (sigsetjmp(g.jb, 0) == 0) {
		(void)page[1];
		store_guard_disarm(&g);
	}
	ok(g.fault == STORE_FAULT_SIGBUS, "a second fault is caught too");

	/* Nested: the inner guard catches, the outer one stays armed. */
	store_guard_t outer, inner;
	volatile int where = 0;
	store_guard_arm(&outer);
	if (sigsetjmp(outer.jb, 0) == 0) {
		store_guard_arm(&inner);
		if (sigsetjmp(inner.jb, 0) == 0) {
			(void)page[2];
			store_guard_disarm(&inner);
		} else {
			where = 1;
		}
		(void)page[3]; /* now the outer one */
		store_guard_disarm(&outer);
	} else {
		where = where == 1 ? 2 : 3;
	}
	is_int(where, 2, "nested guards: inner catches the first fault, outer the second");

	/* LMDB's assertion inside a guard. */
	store_guard_arm(&g);
	if (sigsetjmp(g.jb, 0) == 0) {
		store_guard_assert(NULL, "mdb.c:42: Assertion 'mp->mp_pgno == pgno' failed");
		store_guard_disarm(&g);
	}
	ok(g.fault == STORE_FAULT_ASSERT && strstr(g.msg, "mp_pgno") != NULL,
	   "an LMDB assertion comes back to the guard: %s", g.msg);
	munmap((void *)page, (size_t)sysconf(_SC_PAGESIZE));
}

static void touch_gone(void *arg)
{
	(void)((volatile const uint8_t *)arg)[0];
}

static void nothing(void *arg)
{
	(void)arg;
}

/* As knotd's workers: a thread started with every signal blocked. */
static void *blocked_thread(void *arg)
{
	volatile const uint8_t *page = arg;
	store_guard_t g;
	store_guard_arm(&g);
	if (sigsetjmp(g.jb, 0) == 0) {
		(void)page[0];
		store_guard_disarm(&g);
	}
	return (void *)(intptr_t)g.fault;
}

static void test_threads(void)
{
	volatile const uint8_t *page = gone_page("b.bin");
	ok(page != NULL && !store_guard_call(touch_gone, (void *)page) &&
	           store_guard_call(nothing, NULL),
	   "store_guard_call: false on a fault, true otherwise");

	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_t t;
	void *res = NULL;
	int rc = pthread_create(&t, NULL, blocked_thread, (void *)page);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc == 0) {
		pthread_join(t, &res);
	}
	is_int((intptr_t)res, STORE_FAULT_SIGBUS,
	       "a thread started with SIGBUS blocked is guarded");
}

/* ---- a store truncated while open ---- */

static void test_store_truncated(void)
{
	store_t *s = NULL;
	if (store_open(sub("env"), STORE_CREATE, &s) != HG_EOK) {
		ok(0, "create: %s", store_last_error());
		return;
	}
	store_wtxn_t w;
	store_wtxn_begin(s, &w);
	static uint8_t val[3000];
	for (int i = 0; i < 300; i++) {
		char key[16];
		snprintf(key, sizeof(key), "k%d", i);
		store_put(&w, STORE_VIEWS, key, strlen(key), val, sizeof(val));
	}
	is_int(store_wtxn_commit(&w), HG_EOK, "a database of a few hundred pages");
	store_close(s);
	is_int(store_open(sub("env"), STORE_RDONLY, &s), HG_EOK, "opened read-only");
	char why[400];
	is_int(store_check_file(s, why, sizeof(why)), HG_EOK, "check of the open file: intact");

	long pg = 4096;
	ok(truncate(sub("env/data.mdb"), 2 * pg) == 0, "data.mdb truncated to its meta pages");
	is_int(store_check_file(s, why, sizeof(why)), HG_ECORRUPT, "check: corrupt");
	ok(strstr(why, "truncated") != NULL, "  says so: %s", why);

	store_rtxn_t r = { 0 };
	store_guard_t g;
	volatile int got = -100;
	store_guard_arm(&g);
	if (sigsetjmp(g.jb, 0) == 0) {
		const void *v;
		size_t len;
		if (store_rtxn_begin(s, &r) == HG_EOK) {
			got = store_get(&r, STORE_VIEWS, "k7", 2, &v, &len);
			if (got == HG_EOK) {
				got = ((const uint8_t *)v)[len - 1];
			}
		}
		store_guard_disarm(&g);
	}
	ok(g.fault != STORE_FAULT_NONE, "a lookup faults into the guard (%s)",
	   store_guard_describe(&g, why, sizeof(why)));
	ok(g.fault != STORE_FAULT_SIGBUS || store_map_contains(s, g.addr),
	   "  the fault address is in data.mdb's map");
	store_rtxn_free(&r);
	ok(r.txn == NULL && !r.active, "the interrupted txn is dropped");
	ok(!store_is_broken(s), "not broken until marked");
	store_mark_broken(s);
	ok(store_is_broken(s) && store_check_file(s, why, sizeof(why)) == HG_ECORRUPT &&
	           strstr(why, "faulted") != NULL,
	   "marked broken: the check says so: %s", why);
	store_close(s);

	is_int(store_open(sub("env"), STORE_RDONLY, &s), HG_ECORRUPT,
	       "a new open refuses the truncated file");
	ok(strstr(store_last_error(), "truncated") != NULL, "  %s", store_last_error());
}

int main(void)
{
	const char *root = getenv("HG_TEST_DATA");
	if (root == NULL || *root == '\0') {
		root = "/tmp";
	}
	mkdir(root, 0755);
	snprintf(base, sizeof(base), "%s/test_store_guard.XXXXXX", root);
	if (mkdtemp(base) == NULL) {
		ok(0, "mkdtemp %s", base);
		return done_testing();
	}
	test_unguarded(); /* before this process installs anything */
	struct sigaction before, cur;
	sigaction(SIGBUS, NULL, &before);
	ok(store_guard_install(STORE_GUARD_CHAIN, NULL) == 0, "handler installed");
	sigaction(SIGBUS, NULL, &cur);
	ok(cur.sa_sigaction != before.sa_sigaction, "  it is the SIGBUS action now");
	test_guarded();
	test_threads();
	test_store_truncated();
	store_guard_uninstall();
	sigaction(SIGBUS, NULL, &cur);
	ok(cur.sa_sigaction == before.sa_sigaction, "uninstall restores the previous action");
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	if (system(cmd) != 0) {
		diag("cannot remove %s", base);
	}
	return done_testing();
}
