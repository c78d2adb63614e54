# SPDX-License-Identifier: GPL-3.0-or-later
"""haltgslb-prober publishing to a real rabbitmq-server (3.10), configured
only from `haltgslb-ctl broker-config` of tests/broker/policy_pub.yaml.

The prober runs here, in the root namespace, and probes two TCP endpoints
on loopback addresses only (127.0.0.21 with a listener this test runs,
127.0.0.22 with none: refused), each checked to route via `lo` first. What
it publishes is read back from the stream with a DNS node's certificate
(pika) and decoded by tests/broker/hg_feed_dump (the project's decoder).

Run as root under the heavy lock, with the other broker tests:
  flock /tmp/hg-heavy.lock env top_srcdir=$PWD top_builddir=$PWD/build/asan \\
      /usr/bin/python3 -m pytest -q tests/broker/test_prober_publish.py
"""
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time

import pytest

import broker
from conftest import BUILD, CTL, SRC, FailureWatch, wait_for

PROBER = os.path.join(BUILD, "haltgslb-prober")
DUMP = os.path.join(BUILD, "haltgslb-dump")
FEED_DUMP = os.path.join(BUILD, "tests", "broker", "hg_feed_dump")
POLICY_TEMPLATE = os.path.join(SRC, "tests", "broker", "policy_pub.yaml")
TEMPLATE_PORT = "18090"
ID, OTHER = "pub-a", "pub-b"
UP_ADDR, DOWN_ADDR = "127.0.0.21", "127.0.0.22"
UNNAMED_ADDR = "127.0.0.2"      # the broker listens there too; its certificate does not name it
INTERVAL, RISE, FALL = 0.2, 2, 2          # policy_pub.yaml
CONTENT_TYPE = "application/x-haltgslb-feed"
UP, DOWN = 1, 2


def check_loopback(addr):
    out = subprocess.run(["ip", "route", "get", addr], capture_output=True, text=True,
                         timeout=10, check=True).stdout
    assert re.search(r"^local %s dev lo\b" % re.escape(addr), out, re.M), out


class Listener:
    """A TCP server on (addr, port) that accepts and closes: the endpoint
    is up while it runs, refused once stopped."""

    def __init__(self, addr, port):
        self.addr, self.port = addr, port
        self.sock = None
        self.thread = None

    def start(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.addr, self.port))
        s.listen(64)
        s.settimeout(0.2)
        self.sock = s
        self.thread = threading.Thread(target=self._run, args=(s,), daemon=True)
        self.thread.start()

    def _run(self, s):
        while self.sock is s:
            try:
                c, _ = s.accept()
                c.close()
            except (socket.timeout, OSError):
                continue

    def stop(self):
        s, self.sock = self.sock, None
        if s is not None:
            s.close()
            self.thread.join(5)


class Env:
    pass


@pytest.fixture(scope="module")
def env(request, pkiset, tmp_path_factory):
    for tool in (PROBER, DUMP, FEED_DUMP):
        if not os.path.exists(tool):
            pytest.fail("missing %s (make check builds hg_feed_dump)" % tool)
    for addr in (UP_ADDR, DOWN_ADDR, "127.0.0.1", UNNAMED_ADDR):
        check_loopback(addr)
    watch = FailureWatch(request)
    e = Env()
    e.tmp = str(tmp_path_factory.mktemp("pub"))
    e.pki = pkiset
    e.cert = pkiset.ca.client(ID)
    e.other = pkiset.ca.client(OTHER)
    e.foreign = pkiset.foreign.client(ID)
    e.dns = pkiset.clients["dns-1"]
    (e.ep_port,) = broker.free_ports(1, host=UP_ADDR)
    with open(POLICY_TEMPLATE) as f:
        text = f.read().replace(TEMPLATE_PORT, str(e.ep_port))
    e.policy = os.path.join(e.tmp, "policy.yaml")
    with open(e.policy, "w") as f:
        f.write(text)
    amqps, dist, epmd = broker.free_ports(3)
    conf = broker.broker_config(CTL, os.path.join(e.tmp, "conf"), e.policy, ["dns-1"], amqps,
                                pkiset.server, node_name="hgpub@localhost", dist_port=dist,
                                epmd_port=epmd, listen=["127.0.0.1", UNNAMED_ADDR])
    e.broker = broker.Broker([broker.Node(conf, os.path.join(e.tmp, "node"))])
    e.broker.start(timeout=60)
    e.node = e.broker.nodes[0]
    e.uri = "amqps://127.0.0.1:%d" % e.node.port
    e.listener = Listener(UP_ADDR, e.ep_port)
    e.runs = 0
    yield e
    e.listener.stop()
    if watch.failed():
        print(e.broker.logs())
    e.broker.close()


class Prober:
    """One haltgslb-prober run in the foreground with its own fresh DB."""

    def __init__(self, e, cert=None, uri=None, snapshot="2s", ca=None, extra=()):
        e.runs += 1
        self.dir = os.path.join(e.tmp, "run%d" % e.runs)
        os.makedirs(self.dir)
        self.db = os.path.join(self.dir, "db")
        self.metrics = os.path.join(self.dir, "metrics.prom")
        self.logpath = os.path.join(self.dir, "prober.log")
        subprocess.run([CTL, "load", e.policy, "--db", self.db], check=True, capture_output=True)
        cert = cert or e.cert
        self.cmd = [PROBER, "--id", ID, "--db", self.db, "--foreground", "--metrics", self.metrics,
                    "--log-level", "info", "--broker", uri or e.uri, "--tls-cert", cert.cert,
                    "--tls-key", cert.key, "--tls-ca", ca or e.pki.ca.cert]
        if snapshot is not None:   # None: the default
            self.cmd += ["--snapshot-interval", snapshot]
        self.cmd += list(extra)
        # HG_VALGRIND=1 (with top_builddir = a plain build): under valgrind,
        # exit 99 on any error or leak; the timing bounds are then not met.
        self.vg_log = os.path.join(self.dir, "valgrind.log")
        if os.environ.get("HG_VALGRIND") == "1":
            self.cmd = ["valgrind", "--error-exitcode=99", "--leak-check=full",
                        "--errors-for-leak-kinds=definite,indirect", "--track-fds=no",
                        "--log-file=" + self.vg_log] + self.cmd
        self.logf = open(self.logpath, "w")
        self.proc = subprocess.Popen(self.cmd, stdout=self.logf, stderr=subprocess.STDOUT)
        self.epoch = None

    def log(self):
        with open(self.logpath) as f:
            return f.read()

    def wait_log(self, pattern, timeout=15, count=1):
        """Wait until `pattern` matched `count` times; returns the matches."""
        got = wait_for(lambda: len(re.findall(pattern, self.log())) >= count, timeout, 0.05)
        assert got, "no %r (x%d) in the prober log:\n%s" % (pattern, count, self.log())
        return re.findall(pattern, self.log())

    def started(self):
        m = self.wait_log(r"publishing to \S+ as %s \(epoch (\d+)" % ID)
        self.epoch = int(m[0])
        return self

    def metric(self, name, labels=""):
        """The value of one series of the metrics file (None if absent)."""
        try:
            with open(self.metrics) as f:
                text = f.read()
        except OSError:
            return None
        m = re.search(r"^%s\{prober=\"%s\"%s\} (\S+)$" % (re.escape(name), ID, labels), text,
                      re.M)
        return float(m.group(1)) if m else None

    def stop(self, timeout=10):
        """SIGTERM; returns (exit status, seconds it took)."""
        t0 = time.monotonic()
        if self.logf.closed:
            return self.proc.wait(), 0.0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.logf.close()
        return rc, time.monotonic() - t0

    def measurements(self):
        out = subprocess.run([DUMP, "--db", self.db, "--json", "measurements"], check=True,
                             capture_output=True, text=True).stdout
        return {m["endpoint"]: m for m in json.loads(out)["measurements"] if m["prober"] == ID}


@pytest.fixture
def probers():
    """Starts probers; every one still running at the end is stopped."""
    started = []

    def start(*args, **kw):
        p = Prober(*args, **kw)
        started.append(p)
        return p
    yield start
    for p in started:
        p.stop()


def read_stream(e, epoch, idle=1.5, timeout=30):
    """Every message of the stream from the first, decoded; only those of
    `epoch` are returned, in stream order, each a dict of the decoded feed
    message plus the AMQP routing key and properties."""
    conn = broker.connect(e.node.port, e.dns, e.pki.ca.cert)
    ch = conn.channel()
    ch.basic_qos(prefetch_count=500)
    got, last = [], [time.monotonic()]

    def on_message(chan, method, props, body):
        got.append({"offset": (props.headers or {}).get("x-stream-offset"),
                    "routing_key": method.routing_key, "user_id": props.user_id,
                    "content_type": props.content_type, "delivery_mode": props.delivery_mode,
                    "type": props.type, "message_id": props.message_id, "body": body})
        chan.basic_ack(method.delivery_tag)
        last[0] = time.monotonic()

    ch.basic_consume(broker.STREAM, on_message, arguments={"x-stream-offset": "first"})
    end = time.monotonic() + timeout
    while time.monotonic() < end and time.monotonic() - last[0] < idle:
        conn.process_data_events(time_limit=0.1)
    conn.close()
    d = os.path.join(e.tmp, "stream-%d" % time.monotonic_ns())
    os.makedirs(d)
    files = []
    for i, m in enumerate(got):
        files.append(os.path.join(d, "%06d" % i))
        with open(files[-1], "wb") as f:
            f.write(m.pop("body"))
    out = []
    for i in range(0, len(files), 500):
        r = subprocess.run([FEED_DUMP] + files[i:i + 500], capture_output=True, text=True)
        assert r.returncode == 0, "a published message does not decode: %s" % r.stdout[-2000:]
        out += [json.loads(line) for line in r.stdout.splitlines()]
    msgs = []
    for amqp, feed in zip(got, out):
        feed.update(amqp)
        if feed["epoch"] == epoch:
            msgs.append(feed)
    return msgs


def records(msg):
    return {r["endpoint"]: r for r in msg["records"]}


def now_ms():
    return int(time.time() * 1000)


# ---------------------------------------------------------------------------

def test_publishes_batches_snapshots_heartbeats(env, probers):
    """One clean run: every message is well formed and addressed, sequence
    numbers go 1, 2, 3 ...; a snapshot first, then one every interval; a
    heartbeat every second; batches when a decision-relevant field changes
    (ep-up going down and up again), never for an endpoint whose counters
    and probe times alone move (ep-down stays refused)."""
    env.listener.start()
    p = probers(env).started()
    p.wait_log(r"publisher: connected to %s" % re.escape(env.uri))
    # The broker's view of the connection: TLS with our client
    # certificate, logged in by SASL EXTERNAL as the certificate's CN.
    conns = [line.split("\t") for line in env.node.ctl(
        "list_connections", "user", "auth_mechanism", "ssl", "peer_cert_subject",
        "--no-table-headers").splitlines() if line.startswith(ID + "\t")]
    assert len(conns) == 1, conns
    user, mech, ssl, subject = conns[0]
    assert (mech, ssl) == ("EXTERNAL", "true") and "CN=%s" % ID in subject, conns
    wait_for(lambda: p.measurements().get("ep-up", {}).get("state") == "up", 10, 0.1)
    assert p.measurements()["ep-up"]["state"] == "up", p.measurements()
    time.sleep(1.0)
    t_down = now_ms()
    env.listener.stop()
    assert wait_for(lambda: p.measurements()["ep-up"]["state"] == "down", 5, 0.05)
    time.sleep(1.0)
    t_up = now_ms()
    env.listener.start()
    assert wait_for(lambda: p.measurements()["ep-up"]["state"] == "up", 5, 0.05)
    time.sleep(5.0)   # stable: two snapshot intervals
    commits = p.metric("haltgslb_prober_batches_total", ',result="ok"')
    rc, took = p.stop()
    env.listener.stop()
    assert rc == 0 and took < 3, (rc, took, p.log())
    assert "publisher: stopped, every message confirmed" in p.log(), p.log()
    final = p.measurements()

    msgs = read_stream(env, p.epoch)
    assert len(msgs) > 10
    for m in msgs:
        assert m["routing_key"] == ID and m["user_id"] == ID and m["prober"] == ID, m
        assert m["content_type"] == CONTENT_TYPE and m["delivery_mode"] == 2, m
        assert m["type"] == m["kind"] and m["message_id"] == "%s/%d/%d" % (ID, p.epoch, m["seq"])
    seqs = [m["seq"] for m in msgs]
    assert seqs == list(range(1, len(msgs) + 1)), "sequence numbers not 1, 2, 3...: %s" % seqs
    assert msgs[0]["kind"] == "snapshot", "the first message after connecting is a snapshot"

    snaps = [m for m in msgs if m["kind"] == "snapshot"]
    gaps = [b["sent_ms"] - a["sent_ms"] for a, b in zip(snaps[1:], snaps[2:])]
    assert len(snaps) >= 5 and all(1800 <= g <= 2600 for g in gaps), \
        "snapshots not every 2 s: %s" % gaps
    last = records(snaps[-1])
    assert set(last) == {"ep-up", "ep-down"}, last
    for ep in last:   # the last snapshot is what LMDB held (give or take the last probes)
        assert last[ep]["state"] == {"up": UP, "down": DOWN}[final[ep]["state"]]
        assert 0 <= final[ep]["probes_total"] - last[ep]["probes_total"] <= 30

    beats = [m["sent_ms"] for m in msgs if m["kind"] == "heartbeat"]
    gaps = [b - a for a, b in zip(beats, beats[1:])]
    span = (msgs[-1]["sent_ms"] - msgs[0]["sent_ms"]) / 1000.0
    assert abs(len(beats) - span) <= 2, "%d heartbeats in %.1f s" % (len(beats), span)
    assert gaps and max(gaps) <= 1500 and 900 <= sum(gaps) / len(gaps) <= 1100, gaps

    batches = [m for m in msgs if m["kind"] == "batch"]
    up_states = [(m["sent_ms"], records(m)["ep-up"]["state"]) for m in batches
                 if "ep-up" in records(m)]
    changes = [s for i, (_, s) in enumerate(up_states) if i == 0 or s != up_states[i - 1][1]]
    assert changes[-3:] == [UP, DOWN, UP], "ep-up's state in batches: %s" % up_states
    went_down = min(t for t, s in up_states if s == DOWN and t > t_down)
    came_up = min(t for t, s in up_states if s == UP and t > t_up)
    limit = (FALL * INTERVAL + 1.0) * 1000
    assert went_down - t_down <= limit and came_up - t_up <= limit, \
        "batches %d ms / %d ms after the change" % (went_down - t_down, came_up - t_up)
    # ep-down is refused all along: its counters grow (see the snapshots)
    # but after it went down it is never in a batch again.
    down_batches = [m["seq"] for m in batches if "ep-down" in records(m)]
    first_down = min(m["seq"] for m in batches if records(m).get("ep-down", {}).get("state") == DOWN)
    assert [s for s in down_batches if s > first_down] == [], down_batches
    grew = records(snaps[-1])["ep-down"]["probes_total"] - records(snaps[1])["ep-down"]["probes_total"]
    assert grew >= 20, "ep-down's probes did not advance between snapshots (%d)" % grew
    # Changes only: far fewer batch messages than LMDB commits.
    assert len(batches) * 3 <= commits, "%d batches for %d commits" % (len(batches), commits)


def test_broker_down_probing_goes_on(env, probers):
    """No broker at the URI: the prober probes and writes its LMDB as
    always, says once that no broker is reachable, retries with backoff, and
    SIGTERM still exits at once."""
    (port,) = broker.free_ports(1)   # nothing listens there
    p = probers(env, uri="amqps://127.0.0.1:%d" % port).started()
    p.wait_log(r"publisher: no broker reachable: amqps://127\.0\.0\.1:%d: TCP connection "
               r"failed: Connection refused" % port)
    assert wait_for(lambda: "ep-down" in p.measurements(), 5, 0.1)
    before = p.measurements()["ep-down"]
    time.sleep(5.5)
    after = p.measurements()["ep-down"]
    assert after["probes_total"] >= before["probes_total"] + 15, (before, after)
    assert after["ts"] > before["ts"], (before, after)
    fails = p.metric("haltgslb_prober_broker_connect_failures_total")
    assert p.metric("haltgslb_prober_broker_connected") == 0
    # backoff 0.25-0.5, 0.5-1, 1-2, 2-4 s ...: a handful of rounds, not hundreds
    assert fails is not None and 2 <= fails <= 8, fails
    assert len(re.findall(r"no broker reachable", p.log())) == 1, p.log()
    rc, took = p.stop()
    assert rc == 0 and took < 1.5, (rc, took, p.log())


def test_wrong_cn_refused_at_startup(env, probers):
    """The certificate of another prober: a clear startup error, exit 1."""
    p = probers(env, cert=env.other)
    rc = p.proc.wait(10)
    assert rc == 1, p.log()
    assert ("--tls-cert %s: its subject CN is '%s', not the prober id '%s' (--id)"
            % (env.other.cert, OTHER, ID)) in p.log(), p.log()


def test_foreign_ca_refused_logged_with_backoff(env, probers):
    """A certificate (right CN) from a CA the broker does not trust: the TLS
    handshake is refused, logged once as a refusal with the reason, retried
    with backoff; nothing is published, probing goes on."""
    mark = env.node.log_mark()
    p = probers(env, cert=env.foreign).started()
    lines = p.wait_log(r"error: publisher: refused by the broker: (.*) \(retrying")
    # The broker's alert, or (when its reset overtakes the alert) its EOF
    # right after the handshake: both name our certificate as the cause.
    assert re.fullmatch(re.escape(env.uri) + r": login failed: TLS error: (tlsv1 alert unknown ca "
                        r"\(the broker does not accept our client certificate\)|the broker ended "
                        r"the TLS session .* does the broker accept our client certificate\?)",
                        lines[0]), lines
    time.sleep(6)
    fails = p.metric("haltgslb_prober_broker_connect_failures_total")
    assert fails is not None and 3 <= fails <= 9, fails
    assert len(re.findall(r"refused by the broker", p.log())) == 1, p.log()
    assert p.measurements()["ep-down"]["probes_total"] >= 25
    assert "Unknown CA" in env.node.log_since(mark)
    rc, _ = p.stop()
    assert rc == 0
    assert read_stream(env, p.epoch, idle=1.0) == []


def test_broker_certificate_verified(env, probers):
    """The prober checks the broker too: a certificate from a CA it was not
    given, or one that does not name the address in the URI, fails the
    handshake on our side (a reachability problem, warning, not a refusal)."""
    p = probers(env, ca=env.pki.foreign.cert).started()
    m = p.wait_log(r"warning: publisher: no broker reachable: (.*) \(retrying")
    assert m[0] == ("%s: TLS handshake failed: broker certificate chain rejected: self-signed "
                    "certificate in certificate chain (not issued by the CA file)" % env.uri), m
    p.stop()
    uri = "amqps://%s:%d" % (UNNAMED_ADDR, env.node.port)
    p = probers(env, uri=uri).started()
    m = p.wait_log(r"warning: publisher: no broker reachable: (.*) \(retrying")
    assert m[0] == ("%s: TLS handshake failed: broker certificate rejected: IP address mismatch "
                    "(it does not name %s)" % (uri, UNNAMED_ADDR)), m
    # The same broker by a name its certificate holds: accepted.
    p.stop()
    p = probers(env, uri="amqps://localhost:%d" % env.node.port).started()
    p.wait_log(r"publisher: connected to amqps://localhost:%d" % env.node.port)
    p.stop()


def test_alarm_blocks_then_resumes(env, probers):
    """A memory alarm: the broker blocks publishers (connection.blocked);
    the prober holds its messages, keeps probing, says so once; when the
    alarm clears publishing resumes, a snapshot first if batches were
    dropped or a snapshot fell due meanwhile."""
    p = probers(env).started()
    p.wait_log(r"publisher: connected to")
    try:
        env.node.ctl("set_vm_memory_high_watermark", "absolute", "1")
        p.wait_log(r"warning: publisher: %s blocks publishers" % re.escape(env.uri))
        t_blocked = now_ms()
        before = p.measurements()["ep-down"]["probes_total"]
        time.sleep(4)
        assert p.measurements()["ep-down"]["probes_total"] >= before + 15
        assert wait_for(lambda: p.metric("haltgslb_prober_broker_blocked") == 1, 6, 0.2)
    finally:
        t_clear = now_ms()   # the broker cannot unblock before this
        env.node.ctl("set_vm_memory_high_watermark", "absolute", str(512 * 1024 * 1024))
    p.wait_log(r"publisher: %s accepts messages again" % re.escape(env.uri))
    time.sleep(2.5)
    rc, _ = p.stop()
    assert rc == 0
    msgs = read_stream(env, p.epoch)
    held = [m for m in msgs if t_blocked < m["sent_ms"] < t_clear]
    assert held == [], "published while blocked (%d .. %d): %s" % (
        t_blocked, t_clear, [(m["kind"], m["seq"], m["sent_ms"]) for m in msgs])
    after = [m for m in msgs if m["sent_ms"] >= t_clear]
    assert after and after[0]["kind"] == "snapshot", [(m["kind"], m["seq"]) for m in after]
    assert [m["seq"] for m in msgs] == list(range(1, len(msgs) + 1))


def test_sigterm_during_alarm_is_bounded(env, probers):
    """SIGTERM while the broker blocks publishers: the publisher cannot
    flush; the prober still exits 0 within the 2 s flush bound (+1 s)."""
    p = probers(env).started()
    p.wait_log(r"publisher: connected to")
    try:
        env.node.ctl("set_vm_memory_high_watermark", "absolute", "1")
        p.wait_log(r"publisher: %s blocks publishers" % re.escape(env.uri))
        rc, took = p.stop()
    finally:
        env.node.ctl("set_vm_memory_high_watermark", "absolute", str(512 * 1024 * 1024))
    assert rc == 0 and took < 3.5, (rc, took, p.log())


def test_broker_restart_republishes_unconfirmed(env, probers):
    """The broker hangs (SIGSTOP: publishes are not confirmed), then dies
    (kill -9) and comes back: the prober reconnects, republishes every
    unconfirmed message in order with its original sequence number, then a
    snapshot; the stream holds every sequence number."""
    p = probers(env).started()
    p.wait_log(r"publisher: connected to")
    time.sleep(2)
    env.node.freeze(True)
    time.sleep(2.5)            # ~2 heartbeats published, none confirmed
    env.node.kill()
    p.wait_log(r"publisher: lost the broker: %s" % re.escape(env.uri))
    # No broker at all now: probing and the prober's LMDB go on.
    before = p.measurements()["ep-down"]
    time.sleep(2)
    after = p.measurements()["ep-down"]
    assert after["probes_total"] >= before["probes_total"] + 5 and after["ts"] > before["ts"]
    env.node.start()
    env.node.wait_ready(60)
    m = p.wait_log(r"publisher: connected to \S+ as %s \(epoch \d+, seq (\d+); (\d+) unconfirmed"
                   % ID, timeout=30, count=2)
    last_seq, republished = int(m[1][0]), int(m[1][1])
    assert republished >= 2, p.log()
    time.sleep(2)
    rc, _ = p.stop()
    assert rc == 0
    assert p.metric("haltgslb_prober_republished_messages_total") == republished
    msgs = read_stream(env, p.epoch)
    seqs = [m["seq"] for m in msgs]
    assert set(seqs) == set(range(1, max(seqs) + 1)), "gaps: %s" % seqs
    # After the reconnect: the republished messages in order, then the snapshot.
    resent = list(range(last_seq - republished + 1, last_seq + 1))
    i = max(k for k, s in enumerate(seqs) if s == resent[0])
    assert seqs[i:i + republished + 1] == resent + [last_seq + 1], seqs
    assert msgs[i + republished]["kind"] == "snapshot", msgs[i + republished]


def test_full_queue_drops_counted_then_snapshot(env, probers):
    """The hand-over queue full (--publish-queue 2, the broker blocking
    publishers while ep-up flaps): the probe loop drops the oldest batches
    instead of waiting, counts them, says so once; once the broker takes
    messages again the first one is a snapshot (not due by the interval:
    60 s) carrying the state LMDB holds, and the sequence has no gap."""
    p = probers(env, snapshot="60s", extra=["--publish-queue", "2"]).started()
    p.wait_log(r"publisher: connected to")
    env.listener.start()
    assert wait_for(lambda: p.measurements().get("ep-up", {}).get("state") == "up", 10, 0.1)
    try:
        env.node.ctl("set_vm_memory_high_watermark", "absolute", "1")
        p.wait_log(r"publisher: %s blocks publishers" % re.escape(env.uri))
        probes = p.measurements()["ep-down"]["probes_total"]
        end = time.monotonic() + 4
        while time.monotonic() < end:      # flap: loss and state change every few probes
            env.listener.stop()
            time.sleep(0.5)
            env.listener.start()
            time.sleep(0.5)
        assert wait_for(lambda: p.measurements()["ep-up"]["state"] == "up", 5, 0.05)
        p.wait_log(r"warning: publisher: 2 batches wait for the broker \(slow, blocked or away\): "
                   r"dropping the oldest; a snapshot follows")
        # The loop did not wait on the broker: probing and LMDB went on.
        assert p.measurements()["ep-down"]["probes_total"] >= probes + 15
        assert wait_for(lambda: (p.metric("haltgslb_prober_publish_dropped_batches_total") or 0)
                        >= 1, 6, 0.2)
        dropped = p.metric("haltgslb_prober_publish_dropped_batches_total")
        assert p.metric("haltgslb_prober_publish_queue_batches") <= 2
    finally:
        t_clear = now_ms()
        env.node.ctl("set_vm_memory_high_watermark", "absolute", str(512 * 1024 * 1024))
    p.wait_log(r"publisher: %s accepts messages again" % re.escape(env.uri))
    time.sleep(1.5)
    state = p.measurements()["ep-up"]["state"]
    rc, _ = p.stop()
    env.listener.stop()
    assert rc == 0
    assert len(re.findall(r"dropping the oldest", p.log())) == 1, p.log()
    msgs = read_stream(env, p.epoch)
    assert [m["seq"] for m in msgs] == list(range(1, len(msgs) + 1))
    after = [m for m in msgs if m["sent_ms"] >= t_clear]
    assert after and after[0]["kind"] == "snapshot", [(m["kind"], m["seq"]) for m in after]
    assert records(after[0])["ep-up"]["state"] == {"up": UP, "down": DOWN}[state], after[0]
    snaps = [m["seq"] for m in msgs if m["kind"] == "snapshot"]
    assert len(snaps) == 2, "snapshots: at connect and after the drop, none more: %s" % snaps
    assert dropped >= 1


def test_snapshot_interval_default_30s(env, probers):
    """Without --snapshot-interval the prober says (and keeps) 30 s: one
    snapshot at connect, none more in the next 5 s; heartbeats go on."""
    p = probers(env, snapshot=None)
    m = p.wait_log(r"publishing to \S+ as %s \(epoch (\d+), snapshot every (\d+) ms" % ID)
    p.epoch, every = int(m[0][0]), int(m[0][1])
    assert every == 30000, p.log()
    p.wait_log(r"publisher: connected to")
    time.sleep(5)
    rc, _ = p.stop()
    assert rc == 0
    msgs = read_stream(env, p.epoch)
    kinds = [m["kind"] for m in msgs]
    assert kinds.count("snapshot") == 1 and kinds[0] == "snapshot", kinds
    assert kinds.count("heartbeat") >= 4, kinds


def test_live_consumer_latency(env, probers):
    """A DNS node's consumer attached to the stream sees each message
    shortly after the prober encoded it (same host: one clock). Prints the
    figures (p50/p99 per kind, bytes per batch record); asserts only that
    every message arrives within 1 s (heartbeats are what keeps a prober
    fresh on the nodes)."""
    env.listener.start()
    p = probers(env).started()
    p.wait_log(r"publisher: connected to")
    conn = broker.connect(env.node.port, env.dns, env.pki.ca.cert)
    ch = conn.channel()
    ch.basic_qos(prefetch_count=500)
    got = []

    def on_message(chan, method, props, body):
        got.append((now_ms(), body))
        chan.basic_ack(method.delivery_tag)

    ch.basic_consume(broker.STREAM, on_message, arguments={"x-stream-offset": "next"})
    flips, end = 0, time.monotonic() + 10
    while time.monotonic() < end:
        conn.process_data_events(time_limit=0.05)
        if time.monotonic() > end - 10 + 0.7 * (flips + 1):
            flips += 1
            (env.listener.stop if flips % 2 else env.listener.start)()
    env.listener.stop()
    conn.process_data_events(time_limit=1.0)
    conn.close()
    p.stop()
    d = os.path.join(p.dir, "live")
    os.makedirs(d)
    files = []
    for i, (_, body) in enumerate(got):
        files.append(os.path.join(d, "%06d" % i))
        with open(files[-1], "wb") as f:
            f.write(body)
    r = subprocess.run([FEED_DUMP] + files, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-2000:]
    lat = {}
    sizes = []
    for (t, body), line in zip(got, r.stdout.splitlines()):
        m = json.loads(line)
        if m["epoch"] != p.epoch:
            continue
        lat.setdefault(m["kind"], []).append(t - m["sent_ms"])
        if m["kind"] == "batch":
            sizes.append((len(body), len(m["records"])))
    assert lat.get("heartbeat") and lat.get("batch"), lat
    for kind, v in sorted(lat.items()):
        v.sort()
        print("\npublish -> live consumer, %s: n=%d p50=%d ms p99=%d ms max=%d ms"
              % (kind, len(v), v[len(v) // 2], v[min(len(v) - 1, int(len(v) * 0.99))], v[-1]))
        assert v[-1] <= 1000, (kind, v)
    print("batch messages: %d, %.1f bytes on average, %.2f records each"
          % (len(sizes), sum(s for s, _ in sizes) / len(sizes),
             sum(n for _, n in sizes) / len(sizes)))


def test_uri_list_moves_to_a_live_broker(env, probers):
    """--broker lists a dead node first: the round moves on to the live
    one in the same attempt; publishing starts with a snapshot there."""
    (dead,) = broker.free_ports(1)
    uri = "amqps://127.0.0.1:%d,%s" % (dead, env.uri)
    p = probers(env, uri=uri).started()
    p.wait_log(r"publisher: connected to %s as %s" % (re.escape(env.uri), ID))
    time.sleep(1.5)
    assert p.metric("haltgslb_prober_broker_connect_failures_total") == 0
    assert "no broker reachable" not in p.log(), p.log()
    rc, _ = p.stop()
    assert rc == 0
    msgs = read_stream(env, p.epoch)
    assert msgs and msgs[0]["kind"] == "snapshot", msgs[:1]
