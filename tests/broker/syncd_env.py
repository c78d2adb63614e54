# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures of the haltgslb-syncd tests (tests/broker/test_syncd.py) against
a real rabbitmq-server configured only by `haltgslb-ctl broker-config`: a
PKI, the broker, a feed encoder (tests/broker/hg_feedmsg, the real C
encoder), publishers (pika, TLS client certificates, SASL EXTERNAL) and
syncd processes. The test module imports the `env` fixture from here.

Run as root under the heavy lock:
  flock /tmp/hg-heavy.lock env top_srcdir=$PWD top_builddir=$PWD/build/asan \\
      /usr/bin/python3 -m pytest -q -p timeout --timeout=300 tests/broker/test_syncd.py
"""
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import time

import pytest

SRC = os.path.abspath(os.environ.get("top_srcdir",
                                     os.path.join(os.path.dirname(__file__), "..", "..")))
BUILD = os.path.abspath(os.environ.get("top_builddir", SRC))
sys.path.insert(0, os.path.join(SRC, "tests", "netsim"))

import broker  # noqa: E402
import pki     # noqa: E402

CTL = os.path.join(BUILD, "haltgslb-ctl")
DUMP = os.path.join(BUILD, "haltgslb-dump")
SYNCD = os.path.join(BUILD, "haltgslb-syncd")
PROBER = os.path.join(BUILD, "haltgslb-prober")
FEEDMSG = os.path.join(BUILD, "tests", "broker", "hg_feedmsg")
POLICY = os.path.join(SRC, "tests", "broker", "policy_syncd.yaml")
PROBERS = ("eu-fra", "ap-sin")
DNS_NODES = ("dns-1", "dns-2", "dns-3")
STREAM_KEY = "@stream:" + broker.STREAM

# tests/broker/conftest.py turns SIGTERM into KeyboardInterrupt, so a stopped
# run still tears down the broker, its epmd and the syncds.


def require_tools():
    """Missing pieces fail the tests (never skip them to green)."""
    missing = [p for p in (CTL, DUMP, SYNCD, PROBER, FEEDMSG,
                           os.path.join(broker.RMQ_BIN, "rabbitmq-server"), "/usr/bin/epmd")
               if not os.path.exists(p)]
    if missing:
        pytest.fail("missing: %s (build haltgslb and its check programs: make check; "
                    "run scripts/install-deps.sh)" % ", ".join(missing))
    if os.geteuid() != 0:
        pytest.fail("the syncd tests run rabbitmq-server: run as root")
    try:
        import pika  # noqa: F401
    except ImportError:
        pytest.fail("python3-pika is not installed (scripts/install-deps.sh)")


def wait_for(pred, timeout, step=0.05):
    """Poll pred() until it returns something true or `timeout` s pass."""
    end = time.monotonic() + timeout
    while True:
        got = pred()
        if got or time.monotonic() > end:
            return got
        time.sleep(step)


def now_ms():
    return int(time.time() * 1000)


# --- the feed -----------------------------------------------------------
class Feed:
    """Feed messages made by the project's encoder (one helper process)."""

    def __init__(self):
        self.p = subprocess.Popen([FEEDMSG], stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def msg(self, kind, prober, epoch, seq, sent_ms=None, recs=()):
        """recs: (endpoint, "up"|"down"|"unknown", rtt_us or None, loss_bp)."""
        sent_ms = now_ms() if sent_ms is None else sent_ms
        words = [kind, prober, str(epoch), str(seq), str(sent_ms)]
        words += ["%s=%s/%s/%d" % (ep, st, "none" if rtt is None else rtt, loss)
                  for ep, st, rtt, loss in recs]
        self.p.stdin.write((" ".join(words) + "\n").encode())
        self.p.stdin.flush()
        hdr = self.p.stdout.read(4)
        assert len(hdr) == 4, "hg_feedmsg refused: %s" % words
        n = struct.unpack("<I", hdr)[0]
        return self.p.stdout.read(n)

    def close(self):
        self.p.stdin.close()
        self.p.wait(5)


# --- the database -------------------------------------------------------
def dump(db, what):
    r = subprocess.run([DUMP, "--db", db, "--json", what], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)[what]


def measurements(db):
    """{(endpoint, prober): record} of the database."""
    return {(m["endpoint"], m["prober"]): m for m in dump(db, "measurements")}


def cursors(db):
    return dump(db, "cursors")


def stream_pos(db):
    return cursors(db).get(STREAM_KEY)


def deliveries(db):
    p = stream_pos(db)
    return p["deliveries"] if p else 0


def data_state(db):
    """What a dropped message must not change: measurements, views with
    the endpoint sets holding their cells, and the probers' cursors (the
    stream position may move)."""
    cur = {k: v for k, v in cursors(db).items() if k != STREAM_KEY}
    return measurements(db), (dump(db, "views"), dump(db, "sets")), cur


def iso_ms(text):
    """'2026-12-01T20:06:20.625Z' -> Unix ms."""
    import datetime
    t = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")
    return int(t.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)


def load_policy(db, policy=POLICY):
    r = subprocess.run([CTL, "load", policy, "--db", db], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr


# --- syncd --------------------------------------------------------------
class Syncd:
    """One haltgslb-syncd process (foreground, log and metrics in workdir)."""

    def __init__(self, workdir, db, uris, client, ca, extra=()):
        self.workdir, self.db, self.uris = workdir, db, uris
        self.client, self.ca, self.extra = client, ca, list(extra)
        os.makedirs(workdir, exist_ok=True)
        self.log_path = os.path.join(workdir, "syncd.log")
        self.metrics_path = os.path.join(workdir, "syncd.prom")
        self.proc = None
        self._log = None

    def argv(self):
        return [SYNCD, "--foreground", "--db", self.db, "--broker", self.uris,
                "--tls-cert", self.client.cert, "--tls-key", self.client.key,
                "--tls-ca", self.ca, "--metrics", self.metrics_path,
                "--metrics-interval", "100ms", "--log-level", "info"] + self.extra

    def start(self):
        self._log = open(self.log_path, "ab")
        env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
                   UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
        self.proc = subprocess.Popen(self.argv(), stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env)
        return self

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def wait_log(self, pattern, timeout=15, count=1):
        """Until `pattern` (a regex) appears `count` times in the log."""
        ok = wait_for(lambda: len(re.findall(pattern, self.log())) >= count, timeout)
        assert ok, "no %r in the syncd log after %s s:\n%s" % (pattern, timeout, self.log())

    def wait_consuming(self, count=1, timeout=20):
        self.wait_log(r"consuming \S+ on ", timeout, count)

    def metrics(self):
        """{(name, frozenset(labels)): value} of the last metrics file."""
        out = {}
        try:
            with open(self.metrics_path) as f:
                text = f.read()
        except OSError:
            return out
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            m = re.match(r'^([a-z_]+)(?:\{(.*)\})? (\S+)$', line)
            assert m, "malformed metrics line %r" % line
            labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
            out[(m.group(1), labels)] = float(m.group(3))
        return out

    def metric(self, name, **labels):
        return self.metrics().get((name, frozenset(labels.items())))

    def wait_metric(self, name, value, timeout=10, **labels):
        got = wait_for(lambda: self.metric(name, **labels) == value, timeout)
        assert got, "%s%s = %s, expected %s\n%s" % (name, labels, self.metric(name, **labels),
                                                     value, self.log()[-3000:])

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=20):
        """SIGTERM and wait; returns the exit status."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._log:
            self._log.close()
            self._log = None
        return self.proc.returncode if self.proc else None

    def kill(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait()
        if self._log:
            self._log.close()
            self._log = None


# --- the broker and its clients ------------------------------------------
class Env:
    """Broker, PKI, feed, publishers, and the syncds started by the tests."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.ca = pki.CA(os.path.join(tmp, "pki"), "haltgslb test CA")
        self.server = self.ca.server("broker", hosts=["localhost"], ips=["127.0.0.1"])
        self.clients = {cn: self.ca.client(cn) for cn in PROBERS + DNS_NODES}
        amqps, dist, epmd = broker.free_ports(3)
        conf = broker.broker_config(CTL, os.path.join(tmp, "conf"), POLICY, DNS_NODES, amqps,
                                    self.server, node_name="hgsyncd@localhost",
                                    dist_port=dist, epmd_port=epmd, listen=["127.0.0.1"])
        self.epmd = epmd
        self.broker = broker.Broker([broker.Node(conf, os.path.join(tmp, "node"))])
        self.port = None
        self.feed = None
        self.pubs = {}
        self.syncds = []

    def start(self):
        self.broker.start(timeout=60)
        self.port = self.broker.nodes[0].port
        self.uri = "amqps://localhost:%d" % self.port
        self.feed = Feed()
        return self

    def publisher(self, prober):
        if prober not in self.pubs:
            self.pubs[prober] = broker.connect(self.port, self.clients[prober], self.ca.cert)
        return self.pubs[prober]

    def publish(self, body, prober="eu-fra", routing_key=None, user_id="self"):
        """Publish with publisher confirms as `prober`; user_id "self" = the
        prober id, None = no user_id property."""
        import pika
        conn = self.publisher(prober)
        ch = conn.channel()
        ch.confirm_delivery()
        props = pika.BasicProperties(user_id=prober if user_id == "self" else user_id,
                                     delivery_mode=2)
        ch.basic_publish(broker.EXCHANGE, routing_key or prober, body, props)
        ch.close()

    def db(self, name):
        path = os.path.join(self.tmp, name)
        if not os.path.exists(path):
            load_policy(path)
        return path

    def syncd(self, name, node="dns-1", uris=None, extra=()):
        """A syncd of DNS node `node` with its own copy of the node's TLS
        files (so a test can rotate them)."""
        work = os.path.join(self.tmp, name)
        os.makedirs(work, exist_ok=True)
        src = self.clients[node]
        tls = pki.Cert(src.cn, os.path.join(work, node + ".pem"), os.path.join(work, node + ".key"),
                       src.ca)
        shutil.copy(src.cert, tls.cert)
        shutil.copy(src.key, tls.key)
        s = Syncd(work, self.db(name + ".db"), uris or self.uri, tls, self.ca.cert, extra)
        self.syncds.append(s)
        return s

    def close(self):
        for s in self.syncds:
            s.kill()
        for c in self.pubs.values():
            try:
                c.close()
            except Exception:
                pass
        if self.feed:
            self.feed.close()
        self.broker.close()


@pytest.fixture(scope="module")
def env(request, tmp_path_factory):
    require_tools()
    tmp = str(tmp_path_factory.mktemp("syncd"))
    e = Env(tmp)
    failed_before = request.session.testsfailed
    e.start()
    yield e
    if request.session.testsfailed > failed_before:
        print(e.broker.logs())
        for s in e.syncds:
            print("--- %s\n%s" % (s.log_path, s.log()[-4000:]))
    e.close()
    assert broker.epmd_listen_addresses(e.epmd) == [], "epmd still running after close()"
    shutil.rmtree(tmp, ignore_errors=True)
