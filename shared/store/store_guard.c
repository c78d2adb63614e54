/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  Fault guards: SIGBUS and LMDB assertions inside a guard jump back to it
 *  (rules and why: store_guard.h). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "store_guard.h"

/* Initial-exec TLS: the handler reads these, and a dynamic TLS access from
 * a dlopen()ed module (knotd loads the module) may allocate, which is not
 * async-signal-safe; initial-exec is a fixed offset from the thread pointer. */
#define GUARD_TLS __attribute__((tls_model("initial-exec")))
static _Thread_local store_guard_t *guard_top GUARD_TLS;
static _Thread_local bool guard_thread_ready GUARD_TLS;

static pthread_mutex_t guard_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned guard_refs;              /* under guard_lock */
static struct sigaction guard_prev;      /* written before the handler is installed */
static volatile sig_atomic_t guard_mode; /* enum store_guard_mode */
static volatile sig_atomic_t guard_installed;
static const char *volatile guard_prog;

static const char guard_hint[] =
        ": rebuild it into a fresh directory (haltgslb-ctl load POLICY --db NEWDIR), "
        "then swap the directories (see the runbook)\n";

/* write(2) only: called from the signal handler. */
static void guard_say(const char *a, const char *b)
{
	const char *prog = guard_prog != NULL ? guard_prog : "haltgslb";
	const char *parts[] = { prog, ": ", a, b, guard_hint };
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		size_t len = strlen(parts[i]);
		while (len > 0) {
			ssize_t n = write(STDERR_FILENO, parts[i], len);
			if (n <= 0) {
				if (n < 0 && errno == EINTR) {
					continue;
				}
				return;
			}
			parts[i] += n;
			len -= (size_t)n;
		}
	}
}

/* Pop the innermost guard and go back to it. */
__attribute__((noreturn)) static void guard_jump(store_guard_t *g, int fault, void *addr,
                                                 const char *msg)
{
	guard_top = g->prev;
	g->fault = fault;
	g->addr = addr;
	if (msg != NULL) {
		size_t n = strlen(msg);
		n = n < sizeof(g->msg) - 1 ? n : sizeof(g->msg) - 1;
		memcpy(g->msg, msg, n);
		g->msg[n] = '\0';
	}
	siglongjmp(g->jb, 1);
}

static void guard_on_sigbus(int sig, siginfo_t *si, void *uctx)
{
	store_guard_t *g = guard_top;
	/* si_code > 0: raised by the kernel for this thread's own access. */
	if (g != NULL && si != NULL && si->si_code > 0) {
		guard_jump(g, STORE_FAULT_SIGBUS, si->si_addr, NULL);
	}
	if (guard_mode == STORE_GUARD_FATAL) {
		guard_say("read fault (SIGBUS) in a mapped file", ": the database was truncated "
		                                                  "while in use");
		_exit(1);
	}
	/* Not ours: whatever the previous action would have done. */
	int saved = errno;
	if ((guard_prev.sa_flags & SA_SIGINFO) && guard_prev.sa_sigaction != NULL) {
		guard_prev.sa_sigaction(sig, si, uctx);
	} else if (!(guard_prev.sa_flags & SA_SIGINFO) && guard_prev.sa_handler != SIG_DFL &&
	           guard_prev.sa_handler != SIG_IGN) {
		guard_prev.sa_handler(sig);
	} else {
		sigaction(SIGBUS, &guard_prev, NULL);
		if (si == NULL || si->si_code <= 0) {
			raise(SIGBUS); /* delivered as we return */
		}
		/* A fault: the access runs again on return and faults under the
		 * previous action (the default: terminate with a core). */
	}
	errno = saved;
}

int store_guard_install(enum store_guard_mode mode, const char *prog)
{
	int ret = 0;
	pthread_mutex_lock(&guard_lock);
	if (guard_refs == 0) {
		guard_mode = mode;
		guard_prog = prog;
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = guard_on_sigbus;
		/* NODEFER: sigsetjmp(.., 0) saves no mask, so leaving the handler by a
		 * jump must not leave SIGBUS blocked in the thread. */
		sa.sa_flags = SA_SIGINFO | SA_NODEFER;
		sigemptyset(&sa.sa_mask);
		struct sigaction prev;
		if (sigaction(SIGBUS, NULL, &prev) != 0) {
			ret = -1;
			goto cleanup;
		}
		guard_prev = prev;
		if (sigaction(SIGBUS, &sa, NULL) != 0) {
			ret = -1;
			goto cleanup;
		}
		guard_installed = 1;
	}
	guard_refs++;
cleanup:
	pthread_mutex_unlock(&guard_lock);
	return ret;
}

void store_guard_uninstall(void)
{
	pthread_mutex_lock(&guard_lock);
	if (guard_refs > 0 && --guard_refs == 0) {
		struct sigaction cur;
		/* Someone who installed a handler after ours may chain to ours: then
		 * it stays (the module is linked nodelete, so its code stays too). */
		if (sigaction(SIGBUS, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) &&
		    cur.sa_sigaction == guard_on_sigbus) {
			sigaction(SIGBUS, &guard_prev, NULL);
			guard_installed = 0;
		}
	}
	pthread_mutex_unlock(&guard_lock);
}

void store_guard_arm(store_guard_t *g)
{
	if (!guard_thread_ready) {
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, SIGBUS);
		pthread_sigmask(SIG_UNBLOCK, &set, NULL);
		guard_thread_ready = true;
	}
	g->fault = STORE_FAULT_NONE;
	g->addr = NULL;
	g->msg[0] = '\0';
	g->prev = guard_top;
	/* The handler runs on this thread: order against it, not other CPUs. */
	atomic_signal_fence(memory_order_seq_cst);
	guard_top = g;
	atomic_signal_fence(memory_order_seq_cst);
}

void store_guard_disarm(store_guard_t *g)
{
	atomic_signal_fence(memory_order_seq_cst);
	if (guard_top == g) {
		guard_top = g->prev;
	}
	atomic_signal_fence(memory_order_seq_cst);
}

bool store_guard_call(void (*fn)(void *), void *arg)
{
	store_guard_t g;
	store_guard_arm(&g);
	if (sigsetjmp(g.jb, 0) != 0) {
		return false;
	}
	fn(arg);
	store_guard_disarm(&g);
	return true;
}

void store_guard_assert(MDB_env *env, const char *msg)
{
	(void)env;
	store_guard_t *g = guard_top;
	if (g != NULL) {
		guard_jump(g, STORE_FAULT_ASSERT, NULL, msg);
	}
	if (guard_installed && guard_mode == STORE_GUARD_FATAL) {
		guard_say("the database is corrupt: LMDB: ", msg);
		_exit(1);
	}
	/* Returning lets LMDB print the message and abort, as without us. */
}

const char *store_guard_describe(const store_guard_t *g, char *buf, size_t size)
{
	switch (g->fault) {
	case STORE_FAULT_SIGBUS:
		snprintf(buf, size, "read fault (SIGBUS) at %p: a mapped file was truncated",
		         g->addr);
		break;
	case STORE_FAULT_ASSERT: snprintf(buf, size, "LMDB assertion: %s", g->msg); break;
	default: snprintf(buf, size, "no fault"); break;
	}
	return buf;
}
