# SPDX-License-Identifier: GPL-3.0-or-later
"""kill -9 soak (issue 11, point 8): every writer of the database killed at
random with SIGKILL while a client queries knotd without pause.

Writers: haltgslb-prober (probing loopback listeners that flap, so it
commits a batch every 100 ms), and haltgslb-ctl `load` (two policies in
turn), `measure` and `drain`/`undrain` in a loop, each SIGKILLed after a
random delay that often lands inside its write transaction. knotd with
mod-haltgslb answers the whole time. (haltgslb-syncd is not part of it
yet: it has not landed.)

What every answer must be: the two policies give each name disjoint
address sets and distinct TTLs, so an answer names the state it came
from. An answer for (name, qtype) is right when rcode is NOERROR, its
answer section is one RRset of qtype, not empty, and its addresses are a
subset of the name's endpoint addresses of that family in ONE of the two
policies, and its TTL is that policy's ttl or degraded-ttl (mixing the two
would be a read across two committed states). The zone file the module
falls back to holds the first policy's records with its TTL, so a
pass-through answer meets the same rule. SERVFAIL, timeouts, other rcodes,
and answers outside the rule are all counted and must be 0. At the end
mdb_stat reads every database, haltgslb-dump opens it through the store's
meta-page and file checks, and a last load and query work.

Bounded: SOAK_SECONDS (default 60) of chaos. Loopback only (127.0.40.0/24,
checked with `ip route get`).
"""
import os
import random
import signal
import socket
import subprocess
import threading
import time

import dns.edns
import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

from conftest import BUILDDIR, CITY, ZONE, ctl
from test_e2e_prober import check_loopback, free_port_on

PROBER = os.path.join(BUILDDIR, "haltgslb-prober")
CTL = os.path.join(BUILDDIR, "haltgslb-ctl")
DUMP = os.path.join(BUILDDIR, "haltgslb-dump")
SOAK_SECONDS = float(os.environ.get("SOAK_SECONDS", "60"))
NAMES = ["s1." + ZONE, "s2." + ZONE]
ENDPOINTS = 4                     # per name and policy
# policy -> (ttl, degraded-ttl); the addresses of policy P, name N, endpoint E
# are 127.0.40.(P*64 + N*16 + E) and 2001:db8:40:P::N:E.
TTLS = {1: (31, 7), 2: (42, 9)}


def v4(p, n, e):
    return "127.0.40.%d" % (p * 64 + n * 16 + e + 1)


def v6(p, n, e):
    return "2001:db8:40:%d::%d:%d" % (p, n + 1, e + 1)


def policy_text(p, port):
    ttl, dttl = TTLS[p]
    out = ["version: 1", "defaults:", "  ttl: %d" % ttl, "  degraded-ttl: %d" % dttl,
           "  quorum: 0.5", "  stale-after: 30s",
           "  check: {type: tcp, port: %d, interval: 100ms, timeout: 80ms, rise: 1, fall: 1}"
           % port,
           "probers:", "  - id: soak-p", "    location: {lat: 50, lon: 8}",
           "  - id: soak-ctl", "    location: {lat: 40, lon: -74}", "pools:"]
    for n in range(len(NAMES)):
        out += ["  - id: pool%d" % n, "    endpoints:"]
        for e in range(ENDPOINTS):
            out.append("      - {id: ep%d-%d, address: [%s, \"%s\"], location: {lat: %d, lon: %d}}"
                       % (n, e, v4(p, n, e), v6(p, n, e), 10 * e, 20 * e))
    out.append("names:")
    for n, name in enumerate(NAMES):
        chain = "[up]" if n == 0 else "[up, nearest, first: 2]"
        out += ["  - name: %s" % name, "    pools: [pool%d]" % n, "    chain: %s" % chain]
    return "\n".join(out) + "\n"


def allowed():
    """(name, qtype) -> [(addresses, ttls)] per policy."""
    res = {}
    for n, name in enumerate(NAMES):
        for qt, fn in (("A", v4), ("AAAA", v6)):
            res[(name, qt)] = [({fn(p, n, e) for e in range(ENDPOINTS)}, set(TTLS[p]))
                               for p in TTLS]
    return res


class Flapper(threading.Thread):
    """TCP listeners on every endpoint address of both policies; half of
    them close and reopen every 0.3-0.9 s, so the prober's verdicts (and
    batches) keep changing."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.addrs = [fn(p, n, e) for p in TTLS for n in range(len(NAMES))
                      for e in range(ENDPOINTS) for fn in (v4,)]
        self.socks = {}
        self.stop = threading.Event()
        for a in self.addrs:
            self.open(a)

    def open(self, a):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((a, self.port))
        s.listen(128)
        s.setblocking(False)
        self.socks[a] = s

    def run(self):
        rng = random.Random(7)
        while not self.stop.wait(rng.uniform(0.3, 0.9)):
            for a in rng.sample(self.addrs, len(self.addrs) // 2):
                s = self.socks.pop(a, None)
                if s is not None:
                    s.close()
                else:
                    self.open(a)
            for s in self.socks.values():   # accept and drop what queued
                try:
                    while True:
                        c, _ = s.accept()
                        c.close()
                except (BlockingIOError, OSError):
                    pass

    def close(self):
        self.stop.set()
        self.join(5)
        for s in self.socks.values():
            s.close()


class Client(threading.Thread):
    """Queries every (name, qtype), with and without ECS, as fast as knotd
    answers; classifies each answer."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.stop = threading.Event()
        self.rules = allowed()
        self.counts = {"ok": 0, "servfail": 0, "timeout": 0, "rcode": 0, "wrong": 0}
        self.seen_policy = {1: 0, 2: 0}
        self.sizes = set()
        self.bad = []
        self.error = None

    def judge(self, name, qt, r):
        if r.rcode() == dns.rcode.SERVFAIL:
            return "servfail", None
        if r.rcode() != dns.rcode.NOERROR:
            return "rcode", None
        rrs = [rr for rr in r.answer if rr.rdtype == dns.rdatatype.from_text(qt)]
        if len(r.answer) != 1 or len(rrs) != 1 or len(rrs[0]) == 0:
            return "wrong", None
        got = {rd.address for rd in rrs[0]}
        for p, (addrs, ttls) in enumerate(self.rules[(name, qt)], start=1):
            if got <= addrs and rrs[0].ttl in ttls:
                return "ok", (p, len(got))
        return "wrong", None

    def run(self):
        try:
            self.query_loop()
        except Exception as e:   # noqa: BLE001 - reported by the test
            self.error = repr(e)

    def query_loop(self):
        i = 0
        qs = [(name, qt, ecs) for name in NAMES for qt in ("A", "AAAA")
              for ecs in (None, "198.51.100.0/24")]
        while not self.stop.is_set():
            name, qt, ecs = qs[i % len(qs)]
            i += 1
            opts = []
            if ecs:
                opts = [dns.edns.ECSOption(ecs.split("/")[0], int(ecs.split("/")[1]))]
            q = dns.message.make_query(name, qt, use_edns=0, options=opts)
            try:
                r = dns.query.udp(q, "127.0.0.1", port=self.port, timeout=2.0)
            except dns.exception.Timeout:
                self.counts["timeout"] += 1
                continue
            verdict, info = self.judge(name, qt, r)
            self.counts[verdict] += 1
            if verdict == "ok":
                self.seen_policy[info[0]] += 1
                self.sizes.add(info[1])
            elif len(self.bad) < 20:
                self.bad.append((name, qt, ecs, r.to_text()))


def spawn(cmd, log):
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)


def test_kill9_soak(knotd_factory, tmp_path):
    for a in (v4(1, 0, 0), v4(2, 1, ENDPOINTS - 1)):
        check_loopback(a)
    addrs = [v4(p, n, e) for p in TTLS for n in range(len(NAMES)) for e in range(ENDPOINTS)]
    port = free_port_on(addrs)
    pol = {}
    for p in TTLS:
        pol[p] = str(tmp_path / ("soak%d.yaml" % p))
        with open(pol[p], "w") as f:
            f.write(policy_text(p, port))
    db = str(tmp_path / "db")
    ctl("load", "--db", db, pol[1])
    k = knotd_factory(db=db, policy=pol[1], geoip=CITY).start()
    flap = Flapper(port)
    flap.start()
    client = Client(k.port)
    client.start()
    log = open(str(tmp_path / "writers.log"), "w")
    rng = random.Random(int(os.environ.get("SOAK_SEED", "11")))
    prober = None
    prober_until = 0.0
    kills = {"prober": 0, "load": 0, "measure": 0, "drain": 0}
    finished = dict.fromkeys(kills, 0)
    failed = []                   # writers that ended on their own, not with 0
    current = 1
    t_end = time.monotonic() + SOAK_SECONDS
    try:
        while time.monotonic() < t_end:
            now = time.monotonic()
            if prober is None or prober.poll() is not None:
                if prober is not None:
                    finished["prober"] += 1
                    failed.append(("prober", prober.returncode))
                prober = spawn([PROBER, "--id", "soak-p", "--db", db, "--foreground",
                                "--log-level", "warning"], log)
                prober_until = now + rng.uniform(0.3, 3.0)
            elif now >= prober_until:
                prober.send_signal(signal.SIGKILL)
                prober.wait()
                kills["prober"] += 1
                prober = None
                continue
            what = rng.choice(["load", "measure", "measure", "drain"])
            ep = "ep%d-%d" % (rng.randrange(len(NAMES)), rng.randrange(ENDPOINTS))
            if what == "load":
                current = 3 - current
                cmd = [CTL, "load", "--db", db, pol[current]]
            elif what == "measure":
                cmd = [CTL, "measure", ep, "--prober", "soak-ctl", "--db", db,
                       rng.choice(["--up", "--down"]), "--rtt", "%dms" % rng.randrange(1, 200)]
            else:
                cmd = [CTL, rng.choice(["drain", "undrain"]), ep, "--db", db]
            w = spawn(cmd, log)
            # Often inside its write transaction: these take ~5-60 ms here.
            delay = rng.uniform(0, 0.08)
            try:
                rc = w.wait(delay)
                finished[what] += 1
                if rc != 0:
                    failed.append((" ".join(cmd[1:3]), rc))
            except subprocess.TimeoutExpired:
                w.send_signal(signal.SIGKILL)
                w.wait()
                kills[what] += 1
    finally:
        if prober is not None and prober.poll() is None:
            prober.send_signal(signal.SIGKILL)
            prober.wait()
        time.sleep(0.5)
        client.stop.set()
        client.join(10)
        flap.close()
        log.close()
    print("kills %s, finished %s" % (kills, finished))
    print("answers %s, by policy %s, answer sizes %s" % (client.counts, client.seen_policy,
                                                          sorted(client.sizes)))
    stats = k.stats()
    print("module counters: %s" % {c: v for c, v in stats.items() if v})
    # A writer that starts after a kill finds the database as the last
    # commit left it: it never refuses it (as damaged) or fails on it.
    assert client.error is None, client.error
    assert not failed, (failed, open(str(tmp_path / "writers.log")).read()[-3000:])
    assert client.counts["servfail"] == 0, client.bad
    assert client.counts["timeout"] == 0, client.counts
    assert client.counts["rcode"] == 0, client.bad
    assert client.counts["wrong"] == 0, client.bad
    # The chaos did happen: kills inside every kind of writer, answers from
    # both policies, and answers of several sizes (verdicts changed).
    assert all(v >= 3 for v in kills.values()), kills
    assert finished["load"] >= 3 and finished["measure"] >= 3, finished
    assert min(client.seen_policy.values()) >= 50, client.seen_policy
    assert len(client.sizes) >= 2, client.sizes
    assert client.counts["ok"] >= 1000, client.counts
    # knotd answered from the database the whole time, never from the zone.
    assert not {c: v for c, v in stats.items() if c.startswith("pass-through") and v}, stats
    # The database after it all: LMDB's own reader sees every DB, the
    # store's open checks (meta pages, file size, modes) pass, and it still
    # takes a load and answers from it.
    st = subprocess.run(["mdb_stat", "-a", db], capture_output=True, text=True, timeout=30)
    assert st.returncode == 0, st.stderr
    for dbi in ("meta", "endpoints", "names", "measurements", "views", "overrides"):
        assert "Status of %s" % dbi in st.stdout, st.stdout
    dump = subprocess.run([DUMP, "--db", db], capture_output=True, text=True, timeout=60)
    assert dump.returncode == 0, dump.stderr[-2000:]
    ctl("load", "--db", db, pol[1])
    r = k.query(NAMES[0], "A")
    assert r.rcode() == dns.rcode.NOERROR and r.answer, r.to_text()
