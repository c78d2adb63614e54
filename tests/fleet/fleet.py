# SPDX-License-Identifier: GPL-3.0-or-later
"""A haltgslb fleet in network namespaces (fleetnet.py): a RabbitMQ broker
(one node or a 3-node cluster, configured only by `haltgslb-ctl
broker-config`), probers each probing every endpoint over its own
delay link, endpoint hosts with real HTTP servers, DNS nodes (knotd +
mod-haltgslb + haltgslb-syncd, each with its own LMDB that only its syncd
writes), and a client host that queries the DNS nodes.

    spec = Spec()                          # the default two-prober fleet (below)
    f = Fleet(workdir, spec).start()       # everything up, bounded waits
    f.client.answer(f.dns["d1"], "fra")    # (addresses, ttl, rcode) for a Frankfurt client
    f.endpoints["ep-a"].kill()             # its HTTP server: kill -9
    f.net.cut(f.probers["eu"].host)        # eu loses the LAN (the broker)
    f.dns["d1"].syncd.kill()               # kill -9
    f.close()                              # also on failure: every process and namespace

Addresses (all inside the test's namespaces): LAN 10.210.0.0/24 — broker
.2 (.3, .4 for a cluster), probers .11+, DNS nodes .21+, client .31;
endpoints' service addresses 10.220.0.N on their loopback, routed from each
prober over its own hg_tunrelay link (10.240.K.0/30). Before a daemon
starts, every address it sends to is checked with `ip route get` from its
namespace.

Client locations are EDNS client subnets of the test geo data
(tests/geo/test-geo.txt): "fra" 10.1.0.0/24 (Frankfurt), "sin" 10.2.0.0/24
(Singapore).
"""
import datetime
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import dns.edns
import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.environ.get("top_srcdir", os.path.join(HERE, "..", "..")))
BUILD = os.path.abspath(os.environ.get("top_builddir", SRC))
sys.path.insert(0, os.path.join(SRC, "tests", "netsim"))
sys.path.insert(0, HERE)

import broker    # noqa: E402
import fleetnet  # noqa: E402
import pki       # noqa: E402

CTL = os.path.join(BUILD, "haltgslb-ctl")
DUMP = os.path.join(BUILD, "haltgslb-dump")
PROBER = os.path.join(BUILD, "haltgslb-prober")
SYNCD = os.path.join(BUILD, "haltgslb-syncd")
RELAY = os.path.join(BUILD, "tests", "netsim", "hg_tunrelay")
HTTPD = os.path.join(SRC, "tests", "netsim", "hg_httpd.py")
PY = "/usr/bin/python3"

# The knotd runner of the integration tests, reused (module path, not a package).
_spec = importlib.util.spec_from_file_location(
    "hg_integration_conftest", os.path.join(SRC, "tests", "integration", "conftest.py"))
knot = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(knot)

ZONE = knot.ZONE
NAME = "fast." + ZONE
STREAM_KEY = "@stream:" + broker.STREAM
LOCATIONS = {"fra": "10.1.0.0/24", "sin": "10.2.0.0/24"}
MQ_ADDRS = ["10.210.0.2", "10.210.0.3", "10.210.0.4"]
AMQPS_PORT = 5671


def required_binaries():
    return [CTL, DUMP, PROBER, SYNCD, RELAY, knot.MODULE, knot.CITY,
            os.path.join(broker.RMQ_BIN, "rabbitmq-server"), "/usr/bin/epmd", knot.KNOTD]


def wait_for(pred, timeout, step=0.05):
    """Poll pred() until it returns something true or `timeout` s pass."""
    end = time.monotonic() + timeout
    while True:
        got = pred()
        if got or time.monotonic() > end:
            return got
        time.sleep(step)


def iso_ms(text):
    """'2026-12-01T20:06:20.625Z' -> Unix ms (None stays None)."""
    if text is None:
        return None
    t = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")
    return int(t.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)


# --- the test fleet's shape ---------------------------------------------
class Spec:
    """What to build. The default: probers eu (Frankfurt) and ap
    (Singapore), each seeing the endpoint in its own region fastest; a
    third prober id, us, is in the policy but runs nowhere (tests use its
    id for a prober that must never get in)."""

    def __init__(self, probers=None, endpoints=None, dns=("d1", "d2"), spare_dns=("d3",),
                 broker_nodes=1, idle_probers=None, interval="1s", timeout="500ms",
                 rise=2, fall=2, stale_after="4s", snapshot_interval="5s",
                 prober_window=None, server_args=(), bulk_endpoints=None, bulk_pools=20):
        self.probers = probers or {
            # id: (LAN address, location, RTT in ms to each endpoint)
            "eu": ("10.210.0.11", (50.11, 8.68), {"ep-a": 10, "ep-b": 60, "ep-c": 36}),
            "ap": ("10.210.0.12", (1.35, 103.82), {"ep-a": 60, "ep-b": 10, "ep-c": 36}),
        }
        self.endpoints = endpoints or {
            "ep-a": ("10.220.0.1", (50.11, 8.68)),
            "ep-b": ("10.220.0.2", (1.29, 103.85)),
            "ep-c": ("10.220.0.3", (38.95, -77.45)),
        }
        self.idle_probers = {"us": (38.95, -77.45)} if idle_probers is None else idle_probers
        self.dns = list(dns)
        self.spare_dns = list(spare_dns)
        self.broker_nodes = broker_nodes
        self.interval, self.timeout, self.rise, self.fall = interval, timeout, rise, fall
        self.stale_after, self.snapshot_interval = stale_after, snapshot_interval
        self.prober_window = prober_window
        self.server_args = list(server_args)      # extra hg_httpd.py options
        # Endpoints without a host (nobody answers; probed rarely): load for
        # benchmarks, in bulk_pools pools with a name each.
        self.bulk_endpoints = bulk_endpoints or {}
        self.bulk_pools = bulk_pools

    @staticmethod
    def seconds(d):
        m = re.match(r"^(\d+)(ms|s)$", d)
        return int(m.group(1)) / (1000.0 if m.group(2) == "ms" else 1.0)

    def dns_addr(self, name):
        return "10.210.0.%d" % (21 + (self.dns + self.spare_dns).index(name))

    def fastest(self, prober):
        rtt = self.probers[prober][2]
        return min(rtt, key=rtt.get)

    def policy(self):
        lines = ["version: 1", "defaults:", "  ttl: 30", "  degraded-ttl: 10",
                 "  quorum: 0.5", "  stale-after: %s" % self.stale_after,
                 "  check: {type: http, port: 8080, path: /healthz, expect: [200], "
                 "interval: %s, timeout: %s, rise: %d, fall: %d}"
                 % (self.interval, self.timeout, self.rise, self.fall),
                 "probers:"]
        for pid, (_, (lat, lon), _) in self.probers.items():
            lines.append("  - {id: %s, location: {lat: %s, lon: %s}}" % (pid, lat, lon))
        for pid, (lat, lon) in self.idle_probers.items():
            lines.append("  - {id: %s, location: {lat: %s, lon: %s}}" % (pid, lat, lon))
        lines += ["pools:", "  - id: web", "    endpoints:"]
        for eid, (addr, (lat, lon)) in self.endpoints.items():
            lines.append("      - {id: %s, address: [%s], location: {lat: %s, lon: %s}}"
                         % (eid, addr, lat, lon))
        bulk = sorted(self.bulk_endpoints)
        groups = [bulk[i::self.bulk_pools] for i in range(self.bulk_pools)] if bulk else []
        for i, ids in enumerate(groups):
            lines += ["  - id: bulk%02d" % i, "    endpoints:"]
            for eid in ids:
                lines.append("      - {id: %s, address: [%s], check: {type: tcp, port: 9, "
                             "interval: 60s, timeout: 1s}}" % (eid, self.bulk_endpoints[eid]))
        lines += ["names:", "  - name: %s" % NAME, "    pools: [web]",
                  "    chain: [up, lowest-latency: {tolerance: 5ms}, first: 1]",
                  "    fallback: all"]
        for i in range(len(groups)):
            lines += ["  - name: bulk%02d.%s" % (i, ZONE), "    pools: [bulk%02d]" % i,
                      "    chain: [up, first: 1]"]
        return "\n".join(lines) + "\n"


def host_name(ident):
    """A host name (namespace suffix, [a-z0-9]) for an id like 'ep-a'."""
    return re.sub(r"[^a-z0-9]", "", ident.lower())


def ctl_load(db, policy):
    r = subprocess.run([CTL, "load", "--db", db, policy], capture_output=True, text=True,
                       timeout=30)
    if r.returncode != 0:
        raise RuntimeError("haltgslb-ctl load %s failed: %s" % (db, r.stderr))


def dump(db, what):
    r = subprocess.run([DUMP, "--db", db, "--json", what], capture_output=True, text=True,
                       timeout=30)
    if r.returncode != 0:
        raise RuntimeError("haltgslb-dump %s %s failed: %s" % (db, what, r.stderr))
    return json.loads(r.stdout)[what]


def measurements(db):
    """{(endpoint, prober): record} of a database."""
    return {(m["endpoint"], m["prober"]): m for m in dump(db, "measurements")}


def cursors(db):
    """{prober id or '@stream:NAME': cursor} of a database (syncd's)."""
    return dump(db, "cursors")


def parse_metrics(text):
    """Prometheus text -> {(name, frozenset(labels)): value}."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$', line)
        if not m:
            raise ValueError("malformed metrics line %r" % line)
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


class Daemon:
    """A process of ours inside a host, with its log and sanitizer reports."""

    def __init__(self, host, workdir, name):
        self.host, self.workdir, self.name = host, workdir, name
        self.log = os.path.join(workdir, name + ".log")
        self.asan_dir = os.path.join(workdir, name + "-sanitizer")
        os.makedirs(self.asan_dir, exist_ok=True)
        self.proc = None
        self.exits = []            # exit statuses of stopped runs (SIGTERM expects 0)

    def env(self):
        e = dict(os.environ)
        e.pop("LD_PRELOAD", None)
        e["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0:log_path=%s/asan" % self.asan_dir
        e["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=0:log_path=%s/ubsan" % self.asan_dir
        return e

    def spawn(self, argv):
        self.proc = self.host.spawn(argv, log=self.log, env=self.env())
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=20):
        """SIGTERM and wait; the exit status is kept in .exits."""
        if self.proc is not None:
            rc = fleetnet.stop_process(self.proc, timeout=timeout)
            self.exits.append(rc)
            self.proc = None
            return rc
        return None

    def kill(self):
        """kill -9 (not counted as an unclean exit)."""
        if self.proc is not None:
            fleetnet.stop_process(self.proc, sig=signal.SIGKILL)
            self.proc = None

    def logtext(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def sanitizer_reports(self):
        """Reports in the sanitizers' log_path files, and any that reached
        the log instead (UBSan writes there when it cannot open the file)."""
        out = [line for line in self.logtext().splitlines()
               if re.search(r"runtime error:|ERROR: (Address|Leak|Undefined)Sanitizer", line)]
        for name in sorted(os.listdir(self.asan_dir)):
            with open(os.path.join(self.asan_dir, name), errors="replace") as f:
                out.append(f.read())
        return out


# --- hosts of the fleet ---------------------------------------------------
class BrokerHost:
    """The broker namespace: 1 node, or a 3-node cluster on one private
    network (a cluster must not span a WAN). Node i listens on MQ_ADDRS[i];
    distribution and epmd stay on the namespace's loopback."""

    def __init__(self, fleet, n):
        self.fleet = fleet
        self.addrs = MQ_ADDRS[:n]
        self.host = fleet.net.host("mq", lan=self.addrs)
        d = os.path.join(fleet.workdir, "mq")
        # Distribution ports away from 25672: rabbitmq-server's prelaunch
        # checks AMQP port + 20000 (25672, RABBITMQ_DIST_PORT is not set)
        # against the ports of the nodes already registered with epmd, and
        # refuses to boot a second node when the first one listens there.
        names = ["hgf%d@localhost" % i for i in range(1, n + 1)] if n > 1 else ["hgf1@localhost"]
        nodes = []
        for i, addr in enumerate(self.addrs):
            conf = broker.broker_config(
                CTL, os.path.join(d, "conf%d" % i), fleet.policy_path,
                fleet.spec.dns + fleet.spec.spare_dns, AMQPS_PORT, fleet.pki.server,
                node_name=names[i], dist_port=25681 + i, epmd_port=4369,
                cluster_nodes=names if n > 1 else (), listen=[addr])
            nodes.append(broker.Node(conf, os.path.join(d, "node%d" % i), netns=self.host.ns))
        self.broker = broker.Broker(nodes)
        self.nodes = nodes

    def uris(self, first=None):
        """amqps:// URIs of every node ("first": that node's address first)."""
        addrs = list(self.addrs)
        if first is not None:
            addrs.remove(first)
            addrs.insert(0, first)
        return ",".join("amqps://%s:%d" % (a, AMQPS_PORT) for a in addrs)

    def start(self):
        for n in self.nodes:
            n.start()

    def wait_ready(self, timeout=90):
        end = time.monotonic() + timeout
        for n in self.nodes:
            n.wait_ready(max(1.0, end - time.monotonic()))
        if len(self.nodes) > 1:
            ok = wait_for(lambda: self.stream_leader() is not None, max(1.0, end - time.monotonic()),
                          step=0.5)
            if not ok:
                raise RuntimeError("the stream has no leader\n" + self.broker.logs())

    def stream_members(self, node=None):
        """{name, leader, members, online} of the stream, asked of `node`."""
        node = node or next(n for n in self.nodes if n.alive())
        q = json.loads(node.ctl("list_queues", "name", "leader", "members", "online",
                                "--formatter", "json", check=False) or "[]")
        return next((x for x in q if x["name"] == broker.STREAM), None)

    def stream_leader(self):
        try:
            q = self.stream_members()
        except (broker.BrokerError, StopIteration, ValueError):
            return None
        if not q or not q.get("leader") or sorted(q.get("online", [])) != \
                sorted(n.name for n in self.nodes):
            return None
        return next(n for n in self.nodes if n.name == q["leader"])

    def addr_of(self, node):
        return self.addrs[self.nodes.index(node)]

    def stop(self):
        """Stop every node gracefully (stream data stays on disk)."""
        for n in self.nodes:
            n.terminate()
        for n in self.nodes:
            n.stop(20)

    def close(self):
        self.broker.close()


class EndpointHost:
    """A host with one service address and a real HTTP server on :8080."""

    def __init__(self, fleet, eid, addr):
        self.fleet, self.id, self.addr = fleet, eid, addr
        self.host = fleet.net.host(host_name(eid), service=[addr])
        self.server = Daemon(self.host, os.path.join(fleet.workdir, "endpoints"), host_name(eid))

    def start(self):
        self.server.spawn([PY, HTTPD, "--bind", self.addr, "--port", "8080"] +
                          list(self.fleet.spec.server_args))
        return self

    def wait_listening(self, timeout=10):
        def up():
            out = self.host.run("ss", "-Hltn", "sport = :8080", check=False).stdout
            return self.addr + ":8080" in out
        if not wait_for(up, timeout):
            raise RuntimeError("HTTP server of %s not listening" % self.id)

    def kill(self):
        """kill -9: from now on connections are refused."""
        self.server.kill()


class ProberHost:
    """A prober host: its own LMDB (policy loaded by haltgslb-ctl load) and
    haltgslb-prober publishing to the broker."""

    def __init__(self, fleet, pid, addr):
        self.fleet, self.id, self.addr = fleet, pid, addr
        self.host = fleet.net.host(host_name(pid), lan=[addr])
        self.dir = os.path.join(fleet.workdir, "prober-" + pid)
        os.makedirs(self.dir, exist_ok=True)
        self.db = os.path.join(self.dir, "db")
        self.metrics_path = os.path.join(self.dir, "prober.prom")
        ctl_load(self.db, fleet.policy_path)
        self.daemon = Daemon(self.host, self.dir, "prober")
        self.cert = fleet.pki.clients[pid]
        self.extra = []

    def check_routes(self):
        """Every endpoint over this prober's own link, the broker on its LAN."""
        for eid, (addr, _) in self.fleet.spec.endpoints.items():
            self.host.check_route(addr, "t-" + host_name(eid))
        for a in self.fleet.mq.addrs:
            self.host.check_route(a, "lan0")
        # Bulk endpoints must have no route at all (one check per /24).
        for addr in sorted({a.rsplit(".", 1)[0] + ".1" for a in self.fleet.spec.bulk_endpoints.values()}):
            dev, _, out = self.host.route(addr)
            if dev is not None:
                raise fleetnet.NetError("bulk endpoint %s is routed: %s" % (addr, out))

    def argv(self, cert=None, uris=None, pid=None, db=None, metrics=None):
        cert = cert or self.cert
        argv = [PROBER, "--id", pid or self.id, "--db", db or self.db, "--foreground",
                "--log-level", "info", "--metrics", metrics or self.metrics_path,
                "--broker", uris or self.fleet.uris or self.fleet.mq.uris(),
                "--tls-cert", cert.cert, "--tls-key", cert.key, "--tls-ca", cert.ca,
                "--snapshot-interval", self.fleet.spec.snapshot_interval]
        if self.fleet.spec.prober_window:
            argv += ["--window", str(self.fleet.spec.prober_window)]
        return argv + self.extra

    def start(self, uris=None):
        self.check_routes()
        self.daemon.spawn(self.argv(uris=uris))
        return self

    def records(self):
        """This prober's own measurements: {endpoint: record}."""
        return {ep: m for (ep, p), m in measurements(self.db).items() if p == self.id}

    def metrics(self):
        try:
            with open(self.metrics_path) as f:
                return parse_metrics(f.read())
        except OSError:
            return {}

    def metric(self, name, **labels):
        return self.metrics().get((name, frozenset(labels.items())))


class FleetKnotd(knot.Knotd):
    """knotd with mod-haltgslb inside a DNS node's namespace, on its LAN
    address port 53 (the integration tests' runner, moved)."""

    def __init__(self, tmpdir, host, addr, db, policy):
        self.host, self.addr = host, addr
        super().__init__(tmpdir, db=db, policy=policy, valgrind=False)

    def write_conf(self, geoip=None):
        super().write_conf(geoip)
        with open(self.conf) as f:
            text = f.read()
        old = "listen: 127.0.0.1@%d" % self.port
        if old not in text:
            raise RuntimeError("knotd configuration changed shape: no %r" % old)
        with open(self.conf, "w") as f:
            f.write(text.replace(old, "listen: %s@53" % self.addr))

    def start(self, wait=True):
        self.proc = self.host.spawn([knot.KNOTD, "-c", self.conf], env=self.env(),
                                    log=os.path.join(self.dir, "knotd.stderr"))
        if wait:
            self.wait_ready(15)
        return self

    def query(self, name, rdtype="A", ecs=None, timeout=None, **kw):
        """A query from the node's own namespace (readiness checks)."""
        return udp_query(self.host, self.addr, name, rdtype, ecs, timeout or 1.0)


def udp_query(host, server, name, rdtype="A", ecs=None, timeout=1.0):
    """One DNS query over UDP from `host`'s namespace to server:53."""
    options = []
    if ecs is not None:
        addr, plen = ecs.split("/")
        options.append(dns.edns.ECSOption(addr, int(plen)))
    q = dns.message.make_query(name, rdtype, use_edns=0, options=options, payload=1232)
    s = host.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.setblocking(False)
        return dns.query.udp(q, server, timeout=timeout, port=53, sock=s)
    finally:
        s.close()


class Syncd(Daemon):
    def __init__(self, node):
        super().__init__(node.host, node.dir, "syncd")
        self.node = node
        self.metrics_path = os.path.join(node.dir, "syncd.prom")
        self.extra = []

    def argv(self, uris=None):
        f, c = self.node.fleet, self.node.cert
        argv = [SYNCD, "--db", self.node.db, "--broker", uris or f.uris or f.mq.uris(),
                "--tls-cert", c.cert, "--tls-key", c.key, "--tls-ca", c.ca,
                "--metrics", self.metrics_path, "--foreground", "--log-level", "info",
                "--snapshot-interval", f.spec.snapshot_interval]
        if f.syncd_has_option("--metrics-interval"):
            argv += ["--metrics-interval", "200ms"]
        return argv + self.extra

    def start(self, uris=None):
        for a in self.node.fleet.mq.addrs:
            self.host.check_route(a, "lan0")
        return self.spawn(self.argv(uris))

    def metrics(self):
        try:
            with open(self.metrics_path) as f:
                return parse_metrics(f.read())
        except OSError:
            return {}

    def metric(self, name, **labels):
        return self.metrics().get((name, frozenset(labels.items())))

    def metrics_family(self, name):
        """{frozenset(labels): value} of one metric."""
        return {lab: v for (n, lab), v in self.metrics().items() if n == name}


class DnsNode:
    """A DNS node: knotd + mod-haltgslb reading an LMDB that only its
    haltgslb-syncd writes (the policy loaded by haltgslb-ctl load)."""

    def __init__(self, fleet, name):
        self.fleet, self.name = fleet, name
        self.addr = fleet.spec.dns_addr(name)
        self.host = fleet.net.host(name, lan=[self.addr])
        self.dir = os.path.join(fleet.workdir, "dns-" + name)
        os.makedirs(self.dir, exist_ok=True)
        self.db = os.path.join(self.dir, "db")
        ctl_load(self.db, fleet.policy_path)
        self.cert = fleet.pki.clients[name]
        kdir = os.path.join(self.dir, "knotd")
        os.makedirs(kdir, exist_ok=True)
        self.knotd = FleetKnotd(kdir, self.host, self.addr, self.db, fleet.policy_path)
        self.syncd = Syncd(self)

    def start(self):
        self.knotd.start()
        self.syncd.start()
        return self

    def records(self):
        return measurements(self.db)

    def cursors(self):
        return cursors(self.db)

    def stream_pos(self):
        return self.cursors().get(STREAM_KEY)

    def status(self):
        r = subprocess.run([CTL, "status", "--db", self.db], capture_output=True, text=True,
                           timeout=30)
        return r.stdout

    def prober_freshness(self):
        """{prober: 'fresh'|'stale'|'NO DATA'...} from `haltgslb-ctl status`."""
        out = {}
        for line in self.status().split("probers:", 1)[-1].splitlines():
            m = re.match(r"^\s+(\S+)\s+\(.*\)\s+.*\s(fresh|stale|STALE|NO DATA)\s*$", line)
            if m:
                out[m.group(1)] = m.group(2).lower()
        return out


class Client:
    """The client host: queries the DNS nodes with a client subnet."""

    def __init__(self, fleet, addr="10.210.0.31"):
        self.fleet, self.addr = fleet, addr
        self.host = fleet.net.host("cl", lan=[addr])

    def check_routes(self, nodes):
        for n in nodes:
            self.host.check_route(n.addr, "lan0")

    def query(self, node, where, name=NAME, timeout=1.0):
        return udp_query(self.host, node.addr, name, "A", LOCATIONS[where], timeout)

    def answer(self, node, where, name=NAME, timeout=1.0):
        """(sorted addresses, TTL, rcode text); ([], None, 'TIMEOUT') when
        nothing came back in time."""
        try:
            r = self.query(node, where, name, timeout)
        except dns.exception.Timeout:
            return ([], None, "TIMEOUT")
        addrs = sorted(rd.address for rr in r.answer if rr.rdtype == dns.rdatatype.A for rd in rr)
        ttl = r.answer[0].ttl if r.answer else None
        return (addrs, ttl, dns.rcode.to_text(r.rcode()))


class Pki:
    """The fleet CA (broker, prober and DNS-node certificates) and a foreign
    CA that issues a prober certificate with a valid-looking CN."""

    def __init__(self, workdir, spec):
        self.ca = pki.CA(workdir, "haltgslb fleet CA")
        self.foreign = pki.CA(workdir, "foreign CA")
        self.server = self.ca.server("broker", hosts=["localhost"], ips=MQ_ADDRS)
        ids = list(spec.probers) + list(spec.idle_probers) + spec.dns + spec.spare_dns
        self.clients = {cn: self.ca.client(cn) for cn in ids}
        self.foreign_clients = {cn: self.foreign.client(cn) for cn in spec.idle_probers}


class Fleet:
    """Build, run and tear down the whole topology."""

    def __init__(self, workdir, spec=None):
        self.workdir = workdir
        self.spec = spec or Spec()
        self.net = None
        self.mq = None
        self.endpoints, self.probers, self.dns = {}, {}, {}
        self.client = None
        self.uris = None             # broker URIs daemons get (None: every node in order)
        self._syncd_help = None
        os.makedirs(workdir, exist_ok=True)
        os.chmod(workdir, 0o755)
        self.policy_path = os.path.join(workdir, "policy.yaml")
        with open(self.policy_path, "w") as f:
            f.write(self.spec.policy())
        self.pki = Pki(os.path.join(workdir, "pki"), self.spec)

    def syncd_has_option(self, opt):
        if self._syncd_help is None:
            r = subprocess.run([SYNCD, "--help"], capture_output=True, text=True, timeout=10)
            self._syncd_help = r.stdout + r.stderr
        return opt in self._syncd_help

    # --- building ------------------------------------------------------
    def start(self, wait=True):
        """Build everything and (wait) until the DNS nodes answer from every
        prober's data. Raises (after close()) on any failure."""
        try:
            self._build(wait)
        except BaseException:
            # What the daemons did wrong (a sanitizer report, an exit on
            # SIGTERM that was not 0) often says why it did not come up.
            for p in self.close():
                print("fleet start failed; also: %s" % p)
            raise
        return self

    def _build(self, wait):
        fleetnet.sweep_stale()
        spec = self.spec
        self.net = fleetnet.Net(os.path.join(self.workdir, "net"), RELAY)
        self.mq = BrokerHost(self, spec.broker_nodes)
        self.mq.start()                      # boots while the rest is built
        for eid, (addr, _) in spec.endpoints.items():
            self.endpoints[eid] = EndpointHost(self, eid, addr).start()
        for pid, (addr, _, rtt) in spec.probers.items():
            p = ProberHost(self, pid, addr)
            self.probers[pid] = p
            for eid, ms in rtt.items():
                self.net.link(p.host, self.endpoints[eid].host, delay_ms=ms / 2.0)
        for name in spec.dns:
            self.dns[name] = DnsNode(self, name)
        self.client = Client(self)
        self.client.check_routes(self.dns.values())
        for e in self.endpoints.values():
            e.wait_listening()
        for n in self.dns.values():
            n.knotd.start()
        self.mq.wait_ready()
        if len(self.mq.nodes) > 1:
            # Everyone starts on the stream's leader: killing it then
            # takes the probers' and the consumers' connections down too.
            self.uris = self.mq.uris(first=self.mq.addr_of(self.mq.stream_leader()))
        for p in self.probers.values():
            p.start()
        for n in self.dns.values():
            n.syncd.start()
        if wait:
            self.wait_converged(timeout=30)

    def add_dns(self, name):
        """A DNS node that was not there before (a spare of the spec)."""
        n = DnsNode(self, name)
        self.dns[name] = n
        self.client.check_routes([n])
        return n

    # --- what the DNS nodes say ----------------------------------------
    def expected(self):
        """{where: address} when every prober is fresh and every endpoint up."""
        near = {"fra": "eu", "sin": "ap"}
        return {w: self.spec.endpoints[self.spec.fastest(p)][0] for w, p in near.items()}

    def answers(self, nodes=None):
        """{(node, where): (addresses, ttl, rcode)}."""
        nodes = nodes or list(self.dns.values())
        return {(n.name, w): self.client.answer(n, w) for n in nodes for w in LOCATIONS}

    def all_up(self, node):
        """The node holds an 'up' record of every endpoint by every prober."""
        recs = node.records()
        return all(recs.get((e, p), {}).get("state") == "up"
                   for p in self.probers for e in self.spec.endpoints)

    def converged(self, nodes=None, want=None):
        """The baseline: every node answers every location with its fastest
        endpoint at the normal TTL and holds every prober's 'up' records."""
        nodes = nodes or list(self.dns.values())
        want = want or self.expected()
        got = self.answers(nodes)
        ok = all(a == ([want[w]], 30, "NOERROR") for (_, w), a in got.items())
        return got if ok and all(self.all_up(n) for n in nodes) else None

    def wait_converged(self, timeout=20, nodes=None):
        """Until every node answers every location with its fastest endpoint
        at the normal TTL (fresh data, all up)."""
        got = wait_for(lambda: self.converged(nodes), timeout, step=0.2)
        if not got:
            raise AssertionError("DNS nodes did not converge in %.0f s: %s\n%s"
                                 % (timeout, self.answers(nodes), self.tails()))
        return got

    # --- diagnostics and teardown --------------------------------------
    def daemons(self):
        out = []
        for p in self.probers.values():
            out.append(("prober " + p.id, p.daemon))
        for n in self.dns.values():
            out.append(("syncd " + n.name, n.syncd))
        return out

    def tails(self, lines=40):
        text = []
        for label, d in self.daemons():
            tail = d.logtext().splitlines()[-lines:]
            text.append("--- %s (%s)\n%s" % (label, d.log, "\n".join(tail)))
        for n in self.dns.values():
            tail = n.knotd.logtext().splitlines()[-lines // 2:]
            text.append("--- knotd %s\n%s" % (n.name, "\n".join(tail)))
        return "\n".join(text)

    def close(self):
        """Stop everything; returns the problems found (sanitizer reports,
        daemons that did not exit 0 on SIGTERM)."""
        problems = []
        for label, d in self.daemons():
            d.stop()
            bad = [rc for rc in d.exits if rc != 0]
            if bad:
                problems.append("%s exited %s on SIGTERM" % (label, bad))
            for r in d.sanitizer_reports():
                problems.append("%s sanitizer report:\n%s" % (label, r))
        for n in self.dns.values():
            n.knotd.stop()
            for r in n.knotd.sanitizer_reports():
                problems.append("knotd %s sanitizer report:\n%s" % (n.name, r))
        for e in self.endpoints.values():
            e.server.kill()
        if self.mq is not None:
            self.mq.close()
        if self.net is not None:
            self.net.close()
            self.net = None
        return problems

    def remove_workdir(self):
        shutil.rmtree(self.workdir, ignore_errors=True)


# --- measuring ------------------------------------------------------------
def watch(f, nodes, where, pred, t0, timeout, step=0.05):
    """Ask every node for `where` until pred(answer) holds on each (or
    `timeout` s after t0 pass). Returns ({node: seconds after t0},
    {node: [(t, answer) each time the answer changed]})."""
    done, timeline = {}, {n.name: [] for n in nodes}
    while len(done) < len(nodes) and time.monotonic() - t0 <= timeout:
        for n in nodes:
            if n.name in done:
                continue
            a = f.client.answer(n, where)
            t = time.monotonic() - t0
            tl = timeline[n.name]
            if not tl or tl[-1][1] != a:
                tl.append((round(t, 3), a))
            if pred(a):
                done[n.name] = t
        time.sleep(step)
    return done, timeline


def print_timelines(what, done, timeline, bound=None):
    for node, tl in sorted(timeline.items()):
        t = done.get(node)
        print("  %s %s: %s%s; answers seen: %s" % (
            what, node, "%.3f s" % t if t is not None else "NOT within the wait",
            " (bound %.1f s)" % bound if bound else "", tl))


def prober_seqs(node):
    """{prober: (epoch, seq, messages, duplicates, gaps)} from a node's cursors."""
    out = {}
    for k, c in node.cursors().items():
        if not k.startswith("@"):
            out[k] = (c["epoch"], c["seq"], c["messages"], c["duplicates"], c["gaps"])
    return out
