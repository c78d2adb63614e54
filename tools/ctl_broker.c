/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* broker-config: from the policy and a few facts about the broker host,
 * the files that make a stock RabbitMQ 3.10 node ready for the fleet. This
 * file parses the command line and checks the options together
 * (ctl_broker_args.c checks single values); ctl_broker_render.c writes the
 * text. Anything wrong is reported here, by option, before a file is
 * touched. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "ctl_broker.h"
#include "errors.h"
#include "policy.h"

static void usage(void)
{
	printf("Usage: haltgslb-ctl broker-config --policy FILE --dns-node ID [--dns-node ID ...]\n"
	       "           --out DIR --port N --tls-cert F --tls-key F --tls-ca F [OPTIONS]\n\n"
	       "Write DIR/rabbitmq.conf, DIR/enabled_plugins, DIR/definitions.json,\n"
	       "DIR/rabbitmq-env.conf and DIR/epmd.socket.conf (a drop-in for systemd's\n"
	       "epmd.socket) for one RabbitMQ 3.10 node of the fleet's broker:\n"
	       "AMQP over TLS only on port N with client certificates and EXTERNAL login\n"
	       "(user = certificate CN), one user per prober of the policy and per DNS\n"
	       "node, the topic exchange 'haltgslb', the stream 'haltgslb.measurements'\n"
	       "bound with '#', prober X allowed to publish with routing key X only, DNS\n"
	       "nodes allowed to consume only; no guest user. Files are written\n"
	       "atomically, mode 0640. Start the node with\n"
	       "  RABBITMQ_CONFIG_FILE=DIR/rabbitmq.conf "
	       "RABBITMQ_ENABLED_PLUGINS_FILE=DIR/enabled_plugins \\\n"
	       "  RABBITMQ_CONF_ENV_FILE=DIR/rabbitmq-env.conf rabbitmq-server\n"
	       "or write into /etc/rabbitmq (with --group rabbitmq) for Debian's service.\n\n"
	       "Required:\n"
	       "  --policy FILE            the fleet's policy (its probers become users)\n"
	       "  --dns-node ID            a DNS node (haltgslb-syncd) id; repeat per node\n"
	       "  --out DIR                output directory (created if missing)\n"
	       "  --port N                 AMQPS port (5671 is the usual one)\n"
	       "  --tls-cert F, --tls-key F  the broker's certificate and unencrypted key\n"
	       "  --tls-ca F               CA certificate(s) that issue client certificates\n"
	       "Listeners and cluster:\n"
	       "  --listen ADDR            AMQPS listen address; repeatable (default: all)\n"
	       "  --cluster-node NAME@HOST every node of a cluster, this one included;\n"
	       "                           repeat per node (default: a single node)\n"
	       "  --node-name NAME@HOST    this node's name (written as NODENAME)\n"
	       "  --cluster-name NAME      the cluster's name, the same on every node\n"
	       "                           (printable, no spaces; default with\n"
	       "                           --cluster-node: 'haltgslb-' and the first of the\n"
	       "                           sorted --cluster-node names; a single node keeps\n"
	       "                           RabbitMQ's own, NAME@HOST). haltgslb-syncd resumes\n"
	       "                           after its stored offset only on a cluster of the\n"
	       "                           same name: give a NEW name when a cluster is\n"
	       "                           rebuilt from scratch (its new stream starts its\n"
	       "                           offsets at 0 again)\n"
	       "  --cluster-address ADDR   address epmd and the Erlang distribution listen\n"
	       "                           on; repeatable, the first one is the distribution's\n"
	       "                           (default 127.0.0.1: a single host)\n"
	       "  --dist-port N            Erlang distribution port (default 25672)\n"
	       "  --epmd-port N            epmd port (default: epmd's own, 4369)\n"
	       "  --net-ticktime S         seconds to detect a dead peer (default 10)\n"
	       "  --partition-handling M   what a split does: pause_if_all_down (default\n"
	       "                           for 3 nodes: a node cut off from both others\n"
	       "                           pauses, autoheal merges any partition left;\n"
	       "                           needs --node-name), autoheal (default for 2\n"
	       "                           nodes) or pause_minority (default for 1 and 4+)\n"
	       "Stream and limits (SIZE: bytes, or with kB MB GB KiB MiB GiB):\n"
	       "  --vhost NAME             virtual host (default /)\n"
	       "  --retention AGE          keep messages this long: N then Y M D h m s\n"
	       "                           (default 24h)\n"
	       "  --max-bytes SIZE         and at most this much (default 5GB)\n"
	       "  --segment-bytes SIZE     stream segment size, the unit retention drops\n"
	       "                           (default 100MB)\n"
	       "  --memory-limit SIZE      vm_memory_high_watermark.absolute (default 1GiB)\n"
	       "  --disk-free-limit SIZE   block publishers below this free disk (default 2GB)\n"
	       "  --max-message-size SIZE  largest message accepted (default 16MiB)\n"
	       "  --group NAME             group of the written files (e.g. rabbitmq)\n\n"
	       "Exit status: 0 written, 1 failure (nothing changed), 2 usage error.\n");
}

void broker_conf_free(broker_conf_t *conf)
{
	free(conf->out_dir);
	free(conf->tls_cert);
	free(conf->tls_key);
	free(conf->tls_ca);
	free(conf->defs_path);
	free(conf->cluster_name_buf);
	conf->out_dir = conf->tls_cert = conf->tls_key = conf->tls_ca = conf->defs_path = NULL;
	conf->cluster_name_buf = NULL;
}

static bool in_list(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(s, list[i]) == 0) {
			return true;
		}
	}
	return false;
}

/* The policy's probers, or NULL after printing the policy's errors. */
static policy_t *load_policy(const char *path)
{
	policy_t *policy = NULL;
	policy_errors_t errors = { 0 };
	int ret = policy_parse_file(path, &policy, &errors);
	if (ret != HG_EOK) {
		if (errors.n_errors > 0) {
			policy_errors_print(&errors, path, stderr);
		} else {
			ctl_error("--policy %s: %s", path, hg_strerror(ret));
		}
		policy_errors_free(&errors);
		return NULL;
	}
	policy_errors_free(&errors);
	policy_errors_print(&policy->warnings, path, stderr);
	return policy;
}

/* Cross-option checks on the collected values; argument-level checks were
 * done while parsing. */
static int check_conf(broker_conf_t *c, const policy_t *policy)
{
	if (policy->n_probers == 0) {
		ctl_error("--policy %s: the policy lists no probers: nobody could publish",
		          c->policy_path);
		return CTL_FAIL;
	}
	for (size_t i = 0; i < c->n_dns_nodes; i++) {
		if (policy_find_prober(policy, c->dns_nodes[i]) >= 0) {
			ctl_error("--dns-node %s: %s also names a prober of %s; one certificate CN "
			          "is "
			          "one broker user, which cannot both publish and consume",
			          c->dns_nodes[i], c->dns_nodes[i], c->policy_path);
			return CTL_FAIL;
		}
	}
	for (size_t i = 0; i < policy->n_probers; i++) {
		c->probers[i] = policy->probers[i].id;
	}
	c->n_probers = policy->n_probers;
	if (c->node_name != NULL && c->n_cluster_nodes > 0 &&
	    !in_list(c->node_name, c->cluster_nodes, c->n_cluster_nodes)) {
		return ctl_usage_error(BROKER_CMD,
		                       "--node-name %s is not one of the --cluster-node names",
		                       c->node_name);
	}
	/* One name for the whole cluster: RabbitMQ 3.10 otherwise reports each
	 * node's own NAME@HOST, and syncd, which keys its stored offset by the
	 * name, would start by time after every failover. */
	if (c->cluster_name == NULL && c->n_cluster_nodes > 0) {
		c->cluster_name_buf =
		        broker_default_cluster_name(c->cluster_nodes, c->n_cluster_nodes);
		if (c->cluster_name_buf == NULL) {
			ctl_error("out of memory");
			return CTL_FAIL;
		}
		if (!broker_cluster_name_valid(c->cluster_name_buf)) {
			return ctl_usage_error(BROKER_CMD,
			                       "the default cluster name '%s' is longer than %d "
			                       "characters: give --cluster-name",
			                       c->cluster_name_buf, BROKER_CLUSTER_NAME_MAX);
		}
		c->cluster_name = c->cluster_name_buf;
	}
	if (c->dist_port == c->port ||
	    (c->epmd_port != 0 && (c->epmd_port == c->port || c->epmd_port == c->dist_port))) {
		return ctl_usage_error(BROKER_CMD,
		                       "--port, --dist-port and --epmd-port must differ");
	}
	if (c->max_bytes < c->segment_bytes) {
		return ctl_usage_error(
		        BROKER_CMD, "--max-bytes (%llu) is smaller than --segment-bytes (%llu)",
		        (unsigned long long)c->max_bytes, (unsigned long long)c->segment_bytes);
	}
	size_t size = broker_cluster_size(c);
	bool chosen = c->partition_handling != NULL;
	if (!chosen) {
		/* Two nodes: either side of a split is alone, and pausing would stop
		 * both. Three: a node cut off from both others pauses (what
		 * pause_minority does with 3), and autoheal merges the partition a
		 * suspended node leaves, which pause_minority never does (it pauses
		 * only a node that saw its peers go down). From four nodes a node
		 * that still reaches one peer would not pause, so a 2-2 or 2-3 split
		 * would run on both sides: pause_minority. One node: no peer.
		 * (docs/replication.md, "Safe settings".) */
		c->partition_handling = size == 2   ? "autoheal"
		                        : size == 3 ? "pause_if_all_down"
		                                    : "pause_minority";
	}
	if (strcmp(c->partition_handling, "pause_minority") == 0 && size >= 2 && size % 2 == 0) {
		fprintf(stderr,
		        "haltgslb-ctl broker-config: warning: pause_minority with %zu nodes: "
		        "an even split pauses every node\n",
		        size);
	}
	/* pause_if_all_down lists this node's peers, never itself (a listed node
	 * that is always reachable would never let it pause). */
	if (strcmp(c->partition_handling, "pause_if_all_down") == 0) {
		if (size < 3) {
			return ctl_usage_error(
			        BROKER_CMD,
			        "--partition-handling pause_if_all_down needs at "
			        "least 3 --cluster-node names (with 2, both sides of a split "
			        "would pause)");
		}
		if (c->node_name == NULL) {
			return ctl_usage_error(
			        BROKER_CMD,
			        "--node-name is required with %zu --cluster-node "
			        "names: %s lists the other nodes%s",
			        size,
			        chosen ? "pause_if_all_down"
			               : "the partition handling (pause_if_all_down)",
			        chosen ? "" : " (or choose --partition-handling)");
		}
	}
	return CTL_OK;
}

static int add_unique(const char *opt, const char *value, const char **list, size_t *n)
{
	if (in_list(value, list, *n)) {
		return ctl_usage_error(BROKER_CMD, "%s %s given twice", opt, value);
	}
	list[(*n)++] = value;
	return CTL_OK;
}

enum {
	O_POLICY = 256,
	O_DNS_NODE,
	O_OUT,
	O_PORT,
	O_CERT,
	O_KEY,
	O_CA,
	O_LISTEN,
	O_CNODE,
	O_NODE_NAME,
	O_CLUSTER_NAME,
	O_CADDR,
	O_DIST_PORT,
	O_EPMD_PORT,
	O_TICK,
	O_PART,
	O_VHOST,
	O_RETENTION,
	O_MAX_BYTES,
	O_SEGMENT,
	O_MEMORY,
	O_DISK,
	O_MSG,
	O_GROUP,
};

static const struct option opts[] = { { "help", no_argument, NULL, 'h' },
	                              { "policy", required_argument, NULL, O_POLICY },
	                              { "dns-node", required_argument, NULL, O_DNS_NODE },
	                              { "out", required_argument, NULL, O_OUT },
	                              { "port", required_argument, NULL, O_PORT },
	                              { "tls-cert", required_argument, NULL, O_CERT },
	                              { "tls-key", required_argument, NULL, O_KEY },
	                              { "tls-ca", required_argument, NULL, O_CA },
	                              { "listen", required_argument, NULL, O_LISTEN },
	                              { "cluster-node", required_argument, NULL, O_CNODE },
	                              { "node-name", required_argument, NULL, O_NODE_NAME },
	                              { "cluster-name", required_argument, NULL, O_CLUSTER_NAME },
	                              { "cluster-address", required_argument, NULL, O_CADDR },
	                              { "dist-port", required_argument, NULL, O_DIST_PORT },
	                              { "epmd-port", required_argument, NULL, O_EPMD_PORT },
	                              { "net-ticktime", required_argument, NULL, O_TICK },
	                              { "partition-handling", required_argument, NULL, O_PART },
	                              { "vhost", required_argument, NULL, O_VHOST },
	                              { "retention", required_argument, NULL, O_RETENTION },
	                              { "max-bytes", required_argument, NULL, O_MAX_BYTES },
	                              { "segment-bytes", required_argument, NULL, O_SEGMENT },
	                              { "memory-limit", required_argument, NULL, O_MEMORY },
	                              { "disk-free-limit", required_argument, NULL, O_DISK },
	                              { "max-message-size", required_argument, NULL, O_MSG },
	                              { "group", required_argument, NULL, O_GROUP },
	                              { NULL, 0, NULL, 0 } };

/* One option into *c; returns CTL_OK or the exit code of a usage error. */
static int take_option(broker_conf_t *c, int opt, const char *arg, const char **out_dir,
                       const char **group, const char *paths[3])
{
	switch (opt) {
	case O_POLICY: c->policy_path = arg; return CTL_OK;
	case O_OUT: *out_dir = arg; return CTL_OK;
	case O_CERT: paths[0] = arg; return CTL_OK;
	case O_KEY: paths[1] = arg; return CTL_OK;
	case O_CA: paths[2] = arg; return CTL_OK;
	case O_GROUP: *group = arg; return CTL_OK;
	case O_PORT: return broker_parse_uint("--port", arg, 1, 65535, &c->port);
	case O_DIST_PORT: return broker_parse_uint("--dist-port", arg, 1, 65535, &c->dist_port);
	case O_EPMD_PORT: return broker_parse_uint("--epmd-port", arg, 1, 65535, &c->epmd_port);
	case O_TICK: return broker_parse_uint("--net-ticktime", arg, 2, 120, &c->net_ticktime);
	case O_DNS_NODE:
		if (!broker_id_valid(arg)) {
			return ctl_usage_error(BROKER_CMD,
			                       "--dns-node '%s': an id is 1-%d characters of "
			                       "A-Z a-z 0-9 . _ -",
			                       arg, HG_ID_MAX);
		}
		return add_unique("--dns-node", arg, c->dns_nodes, &c->n_dns_nodes);
	case O_CNODE:
		if (!broker_node_name_valid(arg) || c->n_cluster_nodes == BROKER_MAX_NODES) {
			return ctl_usage_error(
			        BROKER_CMD,
			        "--cluster-node '%s': expected NAME@HOST (at most %d "
			        "nodes)",
			        arg, BROKER_MAX_NODES);
		}
		return add_unique("--cluster-node", arg, c->cluster_nodes, &c->n_cluster_nodes);
	case O_NODE_NAME:
		if (!broker_node_name_valid(arg)) {
			return ctl_usage_error(BROKER_CMD, "--node-name '%s': expected NAME@HOST",
			                       arg);
		}
		c->node_name = arg;
		return CTL_OK;
	case O_CLUSTER_NAME:
		if (!broker_cluster_name_valid(arg)) {
			return ctl_usage_error(BROKER_CMD,
			                       "--cluster-name '%s': expected 1-%d printable "
			                       "characters without spaces or '#'",
			                       arg, BROKER_CLUSTER_NAME_MAX);
		}
		c->cluster_name = arg;
		return CTL_OK;
	case O_LISTEN:
	case O_CADDR: {
		bool listen = opt == O_LISTEN;
		const char *name = listen ? "--listen" : "--cluster-address";
		size_t *n = listen ? &c->n_listen : &c->n_cluster_addrs;
		if (!broker_addr_valid(arg) || *n == BROKER_MAX_ADDRS) {
			return ctl_usage_error(BROKER_CMD,
			                       "%s '%s': expected an IPv4 or IPv6 address (at most "
			                       "%d)",
			                       name, arg, BROKER_MAX_ADDRS);
		}
		return add_unique(name, arg, listen ? c->listen : c->cluster_addrs, n);
	}
	case O_PART:
		if (strcmp(arg, "pause_if_all_down") != 0 && strcmp(arg, "pause_minority") != 0 &&
		    strcmp(arg, "autoheal") != 0) {
			return ctl_usage_error(
			        BROKER_CMD,
			        "--partition-handling '%s': expected "
			        "pause_if_all_down, pause_minority or autoheal ('ignore' "
			        "would leave a partition unhealed)",
			        arg);
		}
		c->partition_handling = arg;
		return CTL_OK;
	case O_VHOST:
		if (strlen(arg) == 0 || strlen(arg) > HG_ID_MAX ||
		    strspn(arg,
		           "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._/-") !=
		            strlen(arg)) {
			return ctl_usage_error(
			        BROKER_CMD, "--vhost '%s': 1-%d characters of A-Z a-z 0-9 . _ - /",
			        arg, HG_ID_MAX);
		}
		c->vhost = arg;
		return CTL_OK;
	case O_RETENTION:
		if (!broker_retention_valid(arg)) {
			return ctl_usage_error(BROKER_CMD,
			                       "--retention '%s': expected a positive number and "
			                       "one unit of Y M D h m s, e.g. 24h or 7D",
			                       arg);
		}
		c->retention = arg;
		return CTL_OK;
	case O_MAX_BYTES:
		return broker_parse_size("--max-bytes", arg, 1ULL << 20, 1ULL << 50, &c->max_bytes);
	case O_SEGMENT:
		/* RabbitMQ refuses segments above 3,000,000,000 bytes. */
		return broker_parse_size("--segment-bytes", arg, 1ULL << 20, 3000000000ULL,
		                         &c->segment_bytes);
	case O_MEMORY:
		return broker_parse_size("--memory-limit", arg, 64ULL << 20, 1ULL << 50,
		                         &c->memory_limit);
	case O_DISK:
		return broker_parse_size("--disk-free-limit", arg, 0, 1ULL << 50,
		                         &c->disk_free_limit);
	case O_MSG:
		/* RabbitMQ's own ceiling is 512 MiB. */
		return broker_parse_size("--max-message-size", arg, 4096, 512ULL << 20,
		                         &c->max_message_size);
	default: return ctl_usage_error(BROKER_CMD, "unknown option or missing value");
	}
}

int ctl_cmd_broker_config(int argc, char **argv)
{
	static const char *const default_addr[] = { "127.0.0.1" };
	broker_conf_t c = {
		.vhost = "/",
		.retention = "24h",
		.dist_port = 25672,
		.net_ticktime = 10,
		.max_bytes = 5000000000ULL,
		.segment_bytes = 100000000ULL,
		.memory_limit = 1ULL << 30,
		.disk_free_limit = 2000000000ULL,
		.max_message_size = 16ULL << 20,
	};
	const char *out_dir = NULL, *group = NULL, *paths[3] = { NULL, NULL, NULL };
	policy_t *policy = NULL;
	int rc = CTL_FAIL;
	/* Repeatable options cannot outnumber the arguments. */
	size_t cap = (size_t)argc + 1;
	c.dns_nodes = calloc(cap, sizeof(char *));
	c.cluster_nodes = calloc(cap, sizeof(char *));
	c.listen = calloc(cap, sizeof(char *));
	c.cluster_addrs = calloc(cap, sizeof(char *));
	if (c.dns_nodes == NULL || c.cluster_nodes == NULL || c.listen == NULL ||
	    c.cluster_addrs == NULL) {
		ctl_error("out of memory");
		goto cleanup;
	}

	int opt;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (opt == 'h') {
			usage();
			rc = CTL_OK;
			goto cleanup;
		}
		if (opt == '?' || opt == ':') {
			rc = ctl_usage_error(BROKER_CMD, "unknown option or missing value '%s'",
			                     argv[optind - 1]);
			goto cleanup;
		}
		rc = take_option(&c, opt, optarg, &out_dir, &group, paths);
		if (rc != CTL_OK) {
			goto cleanup;
		}
	}
	rc = CTL_USAGE;
	if (optind != argc) {
		ctl_usage_error(BROKER_CMD, "unexpected argument '%s'", argv[optind]);
		goto cleanup;
	}
	static const char *const required[] = { "--policy",   "--out",     "--port",
		                                "--tls-cert", "--tls-key", "--tls-ca" };
	const void *given[] = { c.policy_path, out_dir,  c.port ? "" : NULL,
		                paths[0],      paths[1], paths[2] };
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		if (given[i] == NULL) {
			ctl_usage_error(BROKER_CMD, "%s is required", required[i]);
			goto cleanup;
		}
	}
	if (c.n_dns_nodes == 0) {
		ctl_usage_error(BROKER_CMD, "at least one --dns-node ID is required");
		goto cleanup;
	}
	if (c.n_cluster_addrs == 0) {
		c.cluster_addrs[0] = default_addr[0];
		c.n_cluster_addrs = 1;
	}

	rc = CTL_FAIL;
	policy = load_policy(c.policy_path);
	if (policy == NULL) {
		goto cleanup;
	}
	c.probers = calloc(policy->n_probers + 1, sizeof(char *));
	if (c.probers == NULL) {
		ctl_error("out of memory");
		goto cleanup;
	}
	if ((rc = check_conf(&c, policy)) != CTL_OK) {
		goto cleanup;
	}
	rc = CTL_FAIL;
	if (c.n_probers + c.n_dns_nodes > BROKER_MAX_USERS) {
		ctl_error("%zu users: more than %d", c.n_probers + c.n_dns_nodes, BROKER_MAX_USERS);
		goto cleanup;
	}
	if (broker_abs_file("--tls-cert", paths[0], &c.tls_cert) != CTL_OK ||
	    broker_abs_file("--tls-key", paths[1], &c.tls_key) != CTL_OK ||
	    broker_abs_file("--tls-ca", paths[2], &c.tls_ca) != CTL_OK ||
	    broker_tls_check(c.tls_cert, c.tls_key, c.tls_ca) != HG_EOK) {
		goto cleanup;
	}
	if (broker_make_out_dir(out_dir, &c.out_dir) != CTL_OK) {
		goto cleanup;
	}
	if (asprintf(&c.defs_path, "%s/definitions.json", c.out_dir) < 0) {
		c.defs_path = NULL;
		ctl_error("out of memory");
		goto cleanup;
	}

	static const broker_file_t files[] = {
		{ "definitions.json", broker_render_definitions },
		{ "enabled_plugins", broker_render_enabled_plugins },
		{ "rabbitmq-env.conf", broker_render_env },
		{ "epmd.socket.conf", broker_render_epmd_socket },
		{ "rabbitmq.conf", broker_render_rabbitmq_conf },
	};
	if (broker_files_write(&c, files, sizeof(files) / sizeof(files[0]), group) != HG_EOK) {
		fprintf(stderr, "haltgslb-ctl: %s: nothing changed\n", c.out_dir);
		goto cleanup;
	}
	printf("wrote %s/{rabbitmq.conf,enabled_plugins,definitions.json,rabbitmq-env.conf,"
	       "epmd.socket.conf}\n",
	       c.out_dir);
	printf("  users: %zu prober%s, %zu DNS node%s; AMQPS port %u; stream %s: retention %s, "
	       "at most %llu bytes, on %zu node%s\n",
	       c.n_probers, c.n_probers == 1 ? "" : "s", c.n_dns_nodes,
	       c.n_dns_nodes == 1 ? "" : "s", c.port, BROKER_STREAM, c.retention,
	       (unsigned long long)c.max_bytes, broker_cluster_size(&c),
	       broker_cluster_size(&c) == 1 ? "" : "s");
	if (c.cluster_name != NULL) {
		printf("  cluster_name %s (the same on every node; a new one when the cluster is "
		       "rebuilt)\n",
		       c.cluster_name);
	}
	rc = CTL_OK;
cleanup:
	broker_conf_free(&c);
	free(c.probers);
	free(c.dns_nodes);
	free(c.cluster_nodes);
	free(c.listen);
	free(c.cluster_addrs);
	policy_free(policy);
	return rc;
}
