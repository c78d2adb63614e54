/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* The publisher shared by its loop side (prober_pub.c) and its thread
 * (prober_pub_thread.c). Each field says who writes it. */
#pragma once

#include <pthread.h>
#include <stdatomic.h>

#include "feed.h"
#include "hg_amqp.h"
#include "prober_pub.h"
#include "prober_pub_queue.h"
#include "prober_pub_unacked.h"
#include "store.h"

/*! What the loop asks of the thread (prober_pub_t.cmd). */
enum { PUB_RUN = 0, PUB_FLUSH, PUB_ABORT };

/*! Counters for the metrics file, written by the thread under stats_lock. */
typedef struct {
	uint64_t msgs[FEED_HEARTBEAT + 1]; /*!< first publications, by enum feed_kind */
	uint64_t recs[FEED_HEARTBEAT + 1];
	uint64_t acks, nacks;                /*!< messages confirmed / refused by the broker */
	uint64_t republished;                /*!< sent again after a reconnect */
	uint64_t connects, connect_failures; /*!< successful connections / failed rounds */
	uint64_t superseded;                 /*!< queued batches a snapshot covered */
	uint64_t unacked;                    /*!< messages waiting for a confirm now */
	uint64_t seq;                        /*!< last sequence number used */
	bool connected, blocked;
} prober_pub_stats_t;

/*! The publisher thread's own state (no other thread reads it). */
typedef struct {
	uint64_t seq; /*!< last feed sequence number used */
	prober_pub_unacked_t unacked;
	uint64_t tag_next; /*!< next delivery tag on the channel */
	feed_enc_t enc;
	store_rtxn_t rtxn;
	bool snapshot_pending; /*!< after a (re)connect, a nack */
	uint64_t next_snapshot_ms, next_heartbeat_ms, retry_at_ms; /*!< monotonic */
	uint64_t connected_at_ms;                                  /*!< monotonic */
	unsigned quick_losses; /*!< connections in a row that ended soon */
	uint64_t rng;
	int log_state; /*!< what was logged last (prober_pub_thread.c) */
	int down_kind; /*!< LOG_DOWN: HG_EACCES refused, HG_EIO unreachable */
	char last_err[HG_AMQP_ERR_MAX];
} prober_pub_thr_t;

typedef struct prober_pub {
	/* set before the thread starts, read-only afterwards */
	char id[HG_ID_SIZE];
	uint64_t epoch;
	uint32_t snapshot_ms;
	uint32_t queue_max; /*!< the queue's capacity (--publish-queue) */
	store_t *store;
	hg_amqp_t *amqp;
	int wake_fd; /*!< eventfd: the loop (or stop) wakes the thread */
	prober_pubq_t q;
	pthread_t thread;
	bool thread_started;
	/* control: written by the loop, read by the thread */
	atomic_int cmd;
	/* the thread says it finished (stop waits on it with a deadline) */
	pthread_mutex_t done_lock;
	pthread_cond_t done_cond;
	bool done;
	/* counters: written by the thread, read by the metrics writer */
	pthread_mutex_t stats_lock;
	prober_pub_stats_t stats;
	/* loop side only: the batch being collected */
	prober_pub_batch_t building;
	struct prober_target **build_targets;
	size_t build_cap;
	bool drop_logged;
	/* thread side only */
	prober_pub_thr_t thr;
} prober_pub_t;

/* prober_pub_thread.c */
/*! The thread's body; \a arg is the prober_pub_t. */
void *prober_pub_main(void *arg);
/*! Monotonic clock, ms. */
uint64_t prober_pub_mono_ms(void);
