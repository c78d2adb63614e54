/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*!
 * \file
 * \brief Publishing to the fleet's broker (--broker): what the probe loop
 *        calls. The work happens on a publisher thread with its own AMQP
 *        connection (prober_pub_thread.c); the loop only hands it
 *        committed batches through a bounded queue and never waits on it.
 *
 * Without --broker none of this runs: p->pub stays NULL and every hook is
 * a no-op, so the prober behaves exactly as a single host's.
 *
 * What is published, when, and what every broker failure does:
 * docs/prober.md ("Publishing to a broker") and docs/replication.md.
 */
#pragma once

#include <stdint.h>
#include <stdio.h>

#include "hg_amqp.h"
#include "schema.h"

struct prober;
struct prober_target;

/*! Default --snapshot-interval. */
#define PROBER_SNAPSHOT_DEFAULT_MS 30000u
/*! Heartbeat period. */
#define PROBER_HEARTBEAT_MS        1000u
/*! Default --publish-queue: batches the loop may queue for the publisher;
 *  past it the oldest is dropped (and a snapshot follows). */
#define PROBER_PUB_QUEUE_MAX       256u
/*! Largest --publish-queue. */
#define PROBER_PUB_QUEUE_LIMIT     65536u
/*! Unconfirmed messages at most; past it the publisher waits for confirms. */
#define PROBER_PUB_UNACKED_MAX     1024u
/*! SIGTERM: how long the publisher may take to publish and get confirms. */
#define PROBER_PUB_FLUSH_MS        2000u

/*! The broker options (prober_opts.c fills them). */
typedef struct {
	const char *broker;  /*!< --broker URIS as given; NULL: no publishing */
	hg_amqp_uris_t uris; /*!< parsed */
	const char *tls_cert, *tls_key, *tls_ca;
	uint32_t snapshot_ms; /*!< --snapshot-interval; 0: default */
	uint32_t queue_max;   /*!< --publish-queue; 0: default */
} prober_pub_conf_t;

/* Option setters for prober_opts.c's table: HG_EOK, or HG_EINVAL after
 * saying what is wrong. */
int prober_pub_opt_broker(struct prober *p, const char *arg);
int prober_pub_opt_tls_cert(struct prober *p, const char *arg);
int prober_pub_opt_tls_key(struct prober *p, const char *arg);
int prober_pub_opt_tls_ca(struct prober *p, const char *arg);
int prober_pub_opt_snapshot(struct prober *p, const char *arg);
int prober_pub_opt_queue(struct prober *p, const char *arg);
/*! \brief After parsing: the TLS options go with --broker, all or none.
 *  \return HG_EOK, or HG_EINVAL after saying what is missing. */
int prober_pub_opts_check(struct prober *p);

/*!
 * \brief With --broker: check the certificate (its CN must be --id), the
 *        key and the CA, then start the publisher thread, which connects
 *        on its own. Without --broker: nothing.
 *
 * Call after the store is open (snapshots read it) and before the loop.
 * \return HG_EOK, HG_EINVAL (CN is not the prober id, unusable TLS file;
 *         said on stderr), HG_ENOMEM, or a thread creation error.
 */
int prober_pub_start(struct prober *p);

/*!
 * \brief Stop the publisher: publish what is queued and wait for its
 *        confirms for at most PROBER_PUB_FLUSH_MS, close the connection,
 *        join the thread. A thread stuck in a connect is given up on after
 *        one more second (the process is exiting). No-op without --broker.
 */
void prober_pub_stop(struct prober *p);

/*! \brief Batch hook, in the write txn: \a t's measurement \a m was put;
 *         keep it for the next BATCH if it changed (prober_pub_diff.h). */
void prober_pub_collect(struct prober *p, struct prober_target *t, const hg_rec_measure_t *m);

/*! \brief Batch hook: the txn committed; hand the kept records to the
 *         publisher (never blocks; drops the oldest batch when the queue is
 *         full, and a snapshot follows). */
void prober_pub_commit(struct prober *p);

/*! \brief Batch hook: the txn failed; forget the kept records. */
void prober_pub_abort(struct prober *p);

/*! \brief Append the publisher's Prometheus series to \a f (no-op without --broker). */
void prober_pub_metrics(const struct prober *p, FILE *f);
