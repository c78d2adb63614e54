/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*!
 * \file
 * \brief haltgslb-ctl broker-config: the validated settings of one RabbitMQ
 *        node and the renderers of the files that configure it.
 *
 * ctl_broker.c parses and checks the command line into a broker_conf_t
 * (ctl_broker_args.c checks single values);
 * ctl_broker_render.c turns it into rabbitmq.conf, enabled_plugins,
 * definitions.json, rabbitmq-env.conf and epmd.socket.conf (a systemd
 * drop-in); ctl_broker_files.c writes them
 * atomically; ctl_broker_tls.c checks the certificate files.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*! Names the broker side of the fleet uses; syncd and the prober use the same. */
#define BROKER_EXCHANGE "haltgslb"
#define BROKER_STREAM   "haltgslb.measurements"

/*! Upper bounds of repeatable options (a fleet is far smaller). */
#define BROKER_MAX_USERS 4096
#define BROKER_MAX_NODES 9
#define BROKER_MAX_ADDRS 8

/*! Everything the generated files depend on. Strings are borrowed (argv,
 *  the policy) except the absolute paths, which are owned (free with
 *  broker_conf_free()). */
typedef struct {
	const char *policy_path;
	const char **probers; /*!< prober ids, from the policy */
	size_t n_probers;
	const char **dns_nodes; /*!< DNS node ids (--dns-node) */
	size_t n_dns_nodes;
	const char **cluster_nodes; /*!< NAME@HOST of every cluster node (--cluster-node) */
	size_t n_cluster_nodes;
	const char *node_name;    /*!< this node's NAME@HOST (--node-name) or NULL */
	const char *cluster_name; /*!< --cluster-name, the default, or NULL (one node) */
	char *cluster_name_buf;   /*!< owned: the default cluster_name */
	const char **listen;      /*!< AMQPS listener addresses; none = all */
	size_t n_listen;
	const char **cluster_addrs; /*!< epmd + distribution addresses */
	size_t n_cluster_addrs;
	char *out_dir;                     /*!< absolute */
	char *tls_cert, *tls_key, *tls_ca; /*!< absolute */
	char *defs_path;                   /*!< absolute path of definitions.json */
	const char *vhost;
	const char *retention;          /*!< RabbitMQ max-age: N followed by Y M D h m s */
	const char *partition_handling; /*!< pause_if_all_down | pause_minority | autoheal */
	unsigned port;                  /*!< AMQPS port */
	unsigned dist_port;             /*!< Erlang distribution port */
	unsigned epmd_port;             /*!< 0: epmd's default (4369), not written */
	unsigned net_ticktime;          /*!< seconds */
	uint64_t max_bytes;             /*!< stream size cap (x-max-length-bytes) */
	uint64_t segment_bytes;         /*!< stream segment size */
	uint64_t memory_limit;          /*!< vm_memory_high_watermark.absolute, bytes */
	uint64_t disk_free_limit;       /*!< disk_free_limit.absolute, bytes */
	uint64_t max_message_size;      /*!< bytes */
} broker_conf_t;

/*! The subcommand's name in messages. */
#define BROKER_CMD "broker-config"

/* ---- option values (ctl_broker_args.c) ----
 * The parsers print "haltgslb-ctl broker-config: OPTION 'VALUE': what is
 * expected" and return CTL_USAGE, or CTL_OK; the path helpers print and
 * return CTL_FAIL. */

/*! \brief A prober or DNS node id: 1-63 characters of A-Z a-z 0-9 . _ -
 *         (policy ids, certificate CNs, user names, routing keys). */
bool broker_id_valid(const char *id);
/*! \brief An Erlang node name NAME@HOST, with NAME of [A-Za-z0-9_-] and
 *         HOST of [A-Za-z0-9.-]. */
bool broker_node_name_valid(const char *s);
/*! \brief A cluster_name: 1 to BROKER_CLUSTER_NAME_MAX printable ASCII
 *         characters, no space and no '#' (rabbitmq.conf's comment). */
bool broker_cluster_name_valid(const char *s);
/*! Longest cluster_name: what syncd stores with its stream position
 *  (HG_CLUSTER_SIZE - 1). */
#define BROKER_CLUSTER_NAME_MAX 127
/*!
 * \brief The default cluster_name of \a n cluster nodes: "haltgslb-" and
 *        the smallest of the names (strcmp order), so every node computes the
 *        same one from the --cluster-node list they share, in any order.
 * \return a malloc'ed string (the caller frees it), NULL when \a n is 0 or
 *         memory ran out.
 */
char *broker_default_cluster_name(const char *const *nodes, size_t n);
/*! \brief A numeric IPv4 or IPv6 address. */
bool broker_addr_valid(const char *s);
/*! \brief RabbitMQ's max-age syntax: a positive integer and one of Y M D h m s. */
bool broker_retention_valid(const char *s);
/*! \brief A path rabbitmq.conf can hold: no whitespace, control character or '#'. */
bool broker_conf_path_ok(const char *p);
/*! \brief Decimal integer in [lo, hi] into *out. */
int broker_parse_uint(const char *opt, const char *s, unsigned lo, unsigned hi, unsigned *out);
/*! \brief Size "16MiB", "2GB", "1073741824" in [lo, hi] bytes into *out. */
int broker_parse_size(const char *opt, const char *s, uint64_t lo, uint64_t hi, uint64_t *out);
/*! \brief Canonical path of an existing regular file; *out is malloc'ed
 *         (the caller frees it, even on failure). */
int broker_abs_file(const char *opt, const char *path, char **out);
/*! \brief Create \a dir (and parents, mode 0750) if missing; *out gets its
 *         canonical path, malloc'ed (the caller frees it, even on failure). */
int broker_make_out_dir(const char *dir, char **out);

/*! \brief Free the owned paths of \a conf (not the struct). */
void broker_conf_free(broker_conf_t *conf);

/*! Cluster size the stream and the cluster formation wait for (1 when no
 *  --cluster-node was given). */
size_t broker_cluster_size(const broker_conf_t *conf);

/*!
 * \brief Render one generated file into \a out.
 * \return 0, or -1 when writing to \a out failed (errno set by stdio).
 */
int broker_render_rabbitmq_conf(const broker_conf_t *conf, FILE *out);
int broker_render_enabled_plugins(const broker_conf_t *conf, FILE *out);
int broker_render_definitions(const broker_conf_t *conf, FILE *out);
int broker_render_env(const broker_conf_t *conf, FILE *out);
int broker_render_epmd_socket(const broker_conf_t *conf, FILE *out);

/*! A file to write: its name inside the output directory and its renderer. */
typedef struct {
	const char *name;
	int (*render)(const broker_conf_t *conf, FILE *out);
} broker_file_t;

/*!
 * \brief Write every file of \a files into conf->out_dir atomically, mode
 *        0640: each is rendered into a temporary file in the directory,
 *        synced, and renamed over the old one only when all of them were
 *        written (a failure leaves the old files untouched).
 * \param group  group to give the files (e.g. "rabbitmq"), or NULL.
 * \return HG_EOK, or an HG_E* code after printing the path and the reason.
 */
int broker_files_write(const broker_conf_t *conf, const broker_file_t *files, size_t n_files,
                       const char *group);

/*!
 * \brief Check the TLS files: \a cert holds a certificate, \a key the
 *        private key that matches it, \a ca at least one certificate.
 *        Prints "FILE: what is wrong" on failure; warns (and still returns
 *        HG_EOK) when the certificate is not valid now.
 * \return HG_EOK, HG_ENOENT (missing/unreadable) or HG_EINVAL.
 */
int broker_tls_check(const char *cert, const char *key, const char *ca);
