/*  haltgslb — surviving a read fault in a mapped file.
 *  SPDX-License-Identifier: GPL-3.0-or-later
 */
/*!
 * \file
 * \brief Fault guards: a thread reading LMDB's map (or another mapped file)
 *        inside a guard gets control back at the guard when a page is gone
 *        (SIGBUS: the file was truncated under it) or LMDB asserts on a
 *        corrupt page, instead of the process dying.
 *
 * Why: the store checks data.mdb before it opens it and the module re-checks
 * it every check-interval (store_meta.h), but a file truncated while open
 * faults in the thread that next reads a missing page, which in knotd is a
 * query worker, before any periodic check can notice. Two sources:
 *
 * - SIGBUS (kernel-generated, si_code > 0) on a thread inside a guard:
 *   the process-wide handler installed by store_guard_install()
 *   siglongjmp()s to the innermost guard. Any other SIGBUS (another thread,
 *   no guard, sent by kill) gets what it would have got without us: with
 *   STORE_GUARD_CHAIN the previous handler is called, or the previous
 *   disposition (knotd: the default, terminate with a core) is restored
 *   and the signal re-raised; with STORE_GUARD_FATAL (the tools) a one-line
 *   message and exit status 1.
 * - LMDB assertions (its build keeps assert() on): every environment gets
 *   an assert callback (store_guard_assert()) that jumps to the innermost
 *   guard; with no guard, STORE_GUARD_FATAL prints and exits 1, otherwise
 *   LMDB aborts as it always did.
 *
 * Rules for code inside a guard (between store_guard_arm() and
 * store_guard_disarm()): it must hold no lock and own no resource that a
 * jump would leak or leave inconsistent; after a jump, nothing read or
 * built inside it may be used, and the read txn it used must be dropped
 * with store_rtxn_discard(). LMDB read txns qualify: a read lookup holds no
 * lock and allocates nothing (its cursor is on the stack), and an aborted
 * txn releases its reader slot. Locals modified inside the guard are
 * indeterminate after a jump unless volatile (C11 7.13.2.1).
 *
 * Per thread, the first arm unblocks SIGBUS (knotd starts its workers with
 * every signal blocked; a blocked SIGBUS from a fault kills the process
 * whatever the handler). Guards are per thread and nest. Arming costs a
 * thread-local store and a sigsetjmp() that saves no signal mask (no
 * system call).
 */
#pragma once

#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>

#include <lmdb.h>

/*! What sent control back to a guard. */
enum store_fault {
	STORE_FAULT_NONE = 0,
	STORE_FAULT_SIGBUS, /*!< a page of a mapped file is gone (truncated file) */
	STORE_FAULT_ASSERT, /*!< LMDB asserted (corrupt page) */
};

/*! One guard, on the stack of the thread that arms it. */
typedef struct store_guard {
	sigjmp_buf jb;               /*!< sigsetjmp(jb, 0) right after arming */
	struct store_guard *prev;    /*!< enclosing guard of the thread */
	volatile sig_atomic_t fault; /*!< enum store_fault after a jump */
	void *volatile addr;         /*!< SIGBUS: the faulting address */
	char msg[160];               /*!< ASSERT: LMDB's message (truncated) */
} store_guard_t;

/*! How store_guard_install() treats a SIGBUS outside any guard. */
enum store_guard_mode {
	STORE_GUARD_CHAIN = 0, /*!< as if we were not there (inside knotd) */
	STORE_GUARD_FATAL,     /*!< print "PROG: ..." and _exit(1) (tools, daemons) */
};

/*!
 * \brief Install the process-wide SIGBUS handler (reference-counted: the
 *        first call installs, store_guard_uninstall() of the last removes).
 *
 * \param mode  STORE_GUARD_FATAL also makes unguarded LMDB assertions exit 1
 *              with a message instead of aborting.
 * \param prog  Program name for the fatal message (static string), or NULL.
 * \return 0, or -1 if sigaction() failed (errno set).
 */
int store_guard_install(enum store_guard_mode mode, const char *prog);

/*! \brief Drop one reference; the last restores the previous SIGBUS action
 *         if ours is still the installed one. */
void store_guard_uninstall(void);

/*!
 * \brief Make \a g the thread's innermost guard. Call sigsetjmp(g->jb, 0)
 *        right after, in the same function, and disarm before it returns:
 *
 *     store_guard_t g;
 *     store_guard_arm(&g);
 *     if (sigsetjmp(g.jb, 0) != 0) {
 *             ... g.fault says why; clean up, do not use what was read ...
 *     } else {
 *             ... reads ...
 *             store_guard_disarm(&g);
 *     }
 *
 * After a jump the guard is already disarmed.
 */
void store_guard_arm(store_guard_t *g);

/*! \brief Remove \a g (the innermost guard of the thread). */
void store_guard_disarm(store_guard_t *g);

/*!
 * \brief Call \a fn(\a arg) inside a guard of its own.
 * \return true if it returned, false if it faulted (whatever it was doing is
 *         left undone: use it for cleanup that may touch a broken map, e.g.
 *         aborting a txn whose reader slot lives in a truncated lock file).
 */
bool store_guard_call(void (*fn)(void *), void *arg);

/*! \brief The LMDB assert callback every store environment gets (see the
 *         file comment). Exposed for environments opened outside store.c. */
void store_guard_assert(MDB_env *env, const char *msg);

/*! \brief Short text for a fault (\a g after a jump), e.g. "read fault
 *         (SIGBUS) at 0x7f...: the file was truncated" or LMDB's assertion. */
const char *store_guard_describe(const store_guard_t *g, char *buf, size_t size);
