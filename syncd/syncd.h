/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*!
 * \file
 * \brief haltgslb-syncd internals: configuration, the event loop, the
 *        stream consumer and the metrics file.
 *
 * One thread, one epoll loop: the broker socket, a signalfd (SIGTERM,
 * SIGINT, SIGHUP) and a periodic timerfd (heartbeats, reconnects,
 * metrics). Deliveries are applied as they are read, in one LMDB write
 * transaction per burst (syncd_apply.h), and acknowledged after the commit.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "hg_amqp.h"
#include "store.h"
#include "syncd_apply.h"
#include "syncd_resume.h"

#define SYNCD_STREAM_DEFAULT               "haltgslb.measurements"
#define SYNCD_SNAPSHOT_INTERVAL_DEFAULT_MS 30000u
/*! A node without a position starts this much before one snapshot interval
 *  back, so the snapshot published right at the edge is not missed. */
#define SYNCD_START_MARGIN_MS              5000u
#define SYNCD_PREFETCH_DEFAULT             2000u
#define SYNCD_BATCH_DEFAULT                500u
#define SYNCD_METRICS_INTERVAL_MS          5000u
/*! A transaction is committed once it has been open this long, even when
 *  deliveries keep coming (publish → view latency stays bounded). */
#define SYNCD_BATCH_MAX_MS                 50u
/*! One call reading from the broker returns after this long, so signals
 *  and the tick are served during a long catch-up. */
#define SYNCD_READ_SLICE_MS                200u
/*! The event loop wakes at least this often (heartbeats, reconnects). */
#define SYNCD_TICK_MS                      250u
/*! A consumer that ran this long without an error resets the backoff. */
#define SYNCD_STABLE_MS                    10000u

/*! Everything the command line and the config file set. Strings are owned
 *  (malloc'd) by the config. */
typedef struct {
	char *db, *broker, *tls_cert, *tls_key, *tls_ca, *metrics, *stream, *vhost, *identity;
	uint32_t snapshot_interval_ms;
	uint32_t heartbeat_s;
	uint32_t prefetch, batch_max;
	uint32_t metrics_interval_ms;
	int log_level;
	bool foreground;
	char *config_path; /*!< --config FILE, NULL: none */
} syncd_config_t;

/*! The stream consumed (--stream, else the default). */
#define SYNCD_STREAM(cfg) ((cfg)->stream != NULL ? (cfg)->stream : SYNCD_STREAM_DEFAULT)

/*! \brief Defaults (everything optional set). */
void syncd_config_defaults(syncd_config_t *cfg);

/*! \brief Free the strings of \a cfg. */
void syncd_config_free(syncd_config_t *cfg);

/*!
 * \brief Set option \a key (a long option name without "--", e.g.
 *        "tls-cert") to \a value. \a where names the source in errors
 *        ("--tls-cert", "FILE:12").
 * \return HG_EOK, HG_EINVAL (unknown key or bad value: logged), HG_ENOMEM.
 */
int syncd_config_set(syncd_config_t *cfg, const char *key, const char *value, const char *where);

/*!
 * \brief Read "key = value" lines from \a path into \a cfg ('#' starts a
 *        comment; keys are the long option names).
 * \return HG_EOK, HG_EINVAL (errors logged as FILE:LINE: ...), HG_ENOENT /
 *         HG_EACCES (unreadable), HG_ENOMEM.
 */
int syncd_config_file(syncd_config_t *cfg, const char *path);

/*! \brief Check that the required options are set. \return HG_EOK or
 *         HG_EINVAL (what is missing is logged). */
int syncd_config_check(const syncd_config_t *cfg);

/*! One command-line option as given, replayed over the file on reload. */
typedef struct {
	const char *key, *value;
} syncd_arg_t;

/*! The daemon. */
typedef struct syncd {
	syncd_config_t cfg;
	syncd_arg_t *args; /*!< command-line options (reload re-applies them) */
	size_t n_args;
	store_t *store;
	syncd_apply_t ap;
	/* broker */
	hg_amqp_t *amqp;
	hg_amqp_uris_t uris;
	uint64_t tls_print; /*!< fingerprint of the TLS files' contents */
	bool consuming;
	uint64_t connected_ms; /*!< monotonic ms the consumer started */
	uint64_t retry_at_ms;  /*!< monotonic ms of the next connection attempt */
	unsigned failures;     /*!< in a row, for the backoff */
	uint64_t reconnects, connect_failures, consumer_losses;
	unsigned started_consuming; /*!< 1 once a consumer ran: later starts are reconnects */
	char last_error[HG_AMQP_ERR_MAX];
	uint64_t rng;
	/* a consumer started past the end of the stream (syncd_resume.h) */
	syncd_resume_watch_t watch;
	bool by_time_next;        /*!< the next consumer starts by time, whatever is stored */
	uint64_t offset_restarts; /*!< consumers restarted by time for that */
	/* the burst being applied */
	uint64_t batch_open_ms; /*!< monotonic ms the open transaction began */
	uint64_t batch_tag;     /*!< delivery tag of its last delivery */
	size_t batch_n;
	uint8_t *body; /*!< the delivery being read */
	size_t body_cap;
	/* loop */
	int epfd, sig_fd, tick_fd, amqp_fd;
	uint64_t metrics_due_ms;
	int metrics_err;
	bool stop, reload, waiting_policy;
	uint64_t started_ms; /*!< Unix ms */
} syncd_t;

/* syncd_loop.c */
uint64_t syncd_mono_ms(void);
int syncd_loop_init(syncd_t *s);
void syncd_loop_free(syncd_t *s);
int syncd_run(syncd_t *s);

/* syncd_consume.c */
/*! \brief Make a broker connection object from the configuration (checks the
 *         TLS files). \return HG_EOK or an error (logged). */
int syncd_consumer_setup(syncd_t *s);
/*! \brief Connect and start consuming from the stored position, when due. */
void syncd_consumer_step(syncd_t *s);
/*! \brief Read and apply what the broker sent (socket readable or tick), for
 *         at most SYNCD_READ_SLICE_MS; the caller calls again while
 *         syncd_consumer_pending(). */
void syncd_consumer_read(syncd_t *s);
/*! \brief On the tick: a consumer started from a stored offset that got no
 *         delivery for a snapshot interval + SYNCD_STALL_MARGIN_MS is
 *         restarted one snapshot interval back by time (logged). */
void syncd_consumer_watch(syncd_t *s);
/*! \brief True while librabbitmq holds bytes or frames already read (the
 *         socket may not become readable for them again). */
bool syncd_consumer_pending(syncd_t *s);
/*! \brief Stop consuming: abort the open batch, close the connection
 *         (\a clean: channel and connection close handshakes). */
void syncd_consumer_stop(syncd_t *s, bool clean);
/*! \brief Fingerprint of the TLS files' contents (a renewed certificate
 *         changes it). */
uint64_t syncd_tls_fingerprint(const syncd_config_t *cfg);

/* syncd_metrics.c */
/*! \brief Write the Prometheus textfile atomically (tmp + rename). */
int syncd_metrics_write(const syncd_t *s, const char *path);
