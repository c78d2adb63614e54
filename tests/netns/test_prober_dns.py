# SPDX-License-Identifier: GPL-3.0-or-later
"""haltgslb-prober and the DNS: CNAME endpoints resolved without ever
stalling the event loop (issue 11, point 3).

The prober runs in its namespace with its own resolv.conf (`ip netns exec`
bind-mounts /etc/netns/NS/resolv.conf) pointing at tests/netsim/hg_dnsd.py
in the endpoint's namespace: some names answer at once with short TTLs,
others 2.5 s late. Run as root, like test_prober_netns.py (scripts/test.sh).
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from test_prober_netns import (CTL, HTTPD, PROBER, RELAY, SRC, UP, DOWN, FAIL,  # noqa: E402
                               make_ca, make_cert, measurements, wait_for)
import netsim  # noqa: E402  (test_prober_netns put tests/netsim on sys.path)

DNSD = [sys.executable, os.path.join(SRC, "tests", "netsim", "hg_dnsd.py")]
SLOW = 2.5           # seconds the slow names take to answer
N_SLOW_TCP, N_SLOW_HTTP = 20, 3

POLICY = """version: 1
defaults:
  check: {{type: tcp, port: 8080, interval: 1s, timeout: 1s, rise: 2, fall: 3}}
probers:
  - id: p1
    location: {{lat: 50, lon: 8}}
pools:
  - id: p
    endpoints:
{endpoints}names:
  - name: t.example.net.
    pools: [p]
    chain: [up, first: 1]
"""


class DnsEnv:
    """Two namespaces, a DNS server and an HTTP server in the endpoint's,
    the prober in the other with resolv.conf pointing at that server."""

    _idx = [100]

    def __init__(self):
        DnsEnv._idx[0] += 1
        self.dir = tempfile.mkdtemp(prefix="hg-dns-")
        os.chmod(self.dir, 0o755)
        self.db = os.path.join(self.dir, "db")
        self.zone = os.path.join(self.dir, "zone.json")
        self.qlog = os.path.join(self.dir, "queries.log")
        self.topo = netsim.Topo(RELAY, self.dir, DnsEnv._idx[0])
        self.prober = None
        self.dnsd = None

    def write_zone(self, names):
        tmp = self.zone + ".tmp"
        with open(tmp, "w") as f:
            json.dump(names, f)
        os.rename(tmp, self.zone)
        if self.dnsd is not None:
            self.dnsd.send_signal(signal.SIGHUP)
            time.sleep(0.2)

    def start_servers(self):
        t = self.topo
        self.dnsd = t.spawn(t.ns_e, DNSD + ["--bind", t.e4, "--zone", self.zone,
                                           "--log", self.qlog],
                            log=os.path.join(self.dir, "dnsd.out"))
        t.spawn(t.ns_e, HTTPD + ["--bind", t.e4, "--port", "8080"])
        ca_key, self.ca = make_ca(self.dir, "testca")
        key, pem = make_cert(self.dir, ca_key, self.ca, "app.test")
        t.spawn(t.ns_e, HTTPD + ["--bind", t.e4, "--port", "8443", "--cert", pem, "--key", key])
        for proto, port in (("u", 53), ("t", 53), ("t", 8080), ("t", 8443)):
            ok = wait_for(lambda: t.ns(t.ns_e, "ss", "-Hl" + proto + "n", "sport = :%d" % port,
                                       check=False).stdout.strip(), 10)
            assert ok, "server on %s/%d did not start" % (proto, port)
        t.set_resolver(t.ns_p, t.e4, "timeout:5 attempts:2")

    def load(self, endpoints):
        path = os.path.join(self.dir, "policy.yaml")
        with open(path, "w") as f:
            f.write(POLICY.format(endpoints="".join("      - %s\n" % e for e in endpoints)))
        subprocess.run([CTL, "load", "--db", self.db, path], check=True,
                                     capture_output=True)

    def start_prober(self):
        self.topo.check_routes()
        self.log = os.path.join(self.dir, "prober.log")
        self.prober = self.topo.spawn(self.topo.ns_p, [
            PROBER, "--id", "p1", "--db", self.db, "--foreground", "--log-level", "info"],
            log=self.log)

    def m(self, ep):
        return measurements(self.db).get((ep, "p1"))

    def queries(self, name, qtype="A", since=0.0):
        """Times (monotonic) of the queries the server got for name/qtype."""
        if not os.path.exists(self.qlog):
            return []
        out = []
        with open(self.qlog) as f:
            for line in f:
                ts, qname, qt = line.split()
                if qname == name and qt == qtype and float(ts) >= since:
                    out.append(float(ts))
        return out

    def close(self):
        self.topo.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def env():
    e = DnsEnv()
    yield e
    e.close()


def slow_zone(e4, n_tcp=N_SLOW_TCP, n_http=N_SLOW_HTTP, ttl_slow=1):
    names = {"fast.hg.test.": {"a": [e4], "ttl": 2}}
    for i in range(n_tcp):
        names["slow%02d.hg.test." % i] = {"a": [e4], "ttl": ttl_slow, "delay": SLOW}
    for i in range(n_http):
        names["slowh%d.hg.test." % i] = {"a": [e4], "ttl": ttl_slow, "delay": SLOW}
    return names


def slow_endpoints(e4, ca, n_tcp=N_SLOW_TCP, n_http=N_SLOW_HTTP):
    eps = ["{id: ok, address: [%s]}" % e4,
           "{id: web, address: [%s], check: {type: http, path: /}}" % e4,
           "{id: webs, address: [%s], check: {type: https, port: 8443, host: app.test, ca: %s}}"
           % (e4, ca),
           "{id: fast, cname: fast.hg.test., check: {host: fast.hg.test, interval: 200ms}}"]
    eps += ["{id: slow%02d, cname: slow%02d.hg.test., check: {host: slow%02d.hg.test}}"
            % (i, i, i) for i in range(n_tcp)]
    eps += ["{id: slowh%d, cname: slowh%d.hg.test., check: {type: http, path: /, "
            "host: slowh%d.hg.test}}" % (i, i, i) for i in range(n_http)]
    return eps


# The three reports, each a case: one 2.5 s lookup cut a healthy
# endpoint's probes from 5 to 3 per 5 s; three marked a healthy HTTPS
# endpoint down; twenty stopped all writes for 40 s and SIGTERM went
# unanswered for 20 s. A resolver that blocks the loop fails every case
# (gaps of 2.5 s and more between probes, failed HTTPS probes, SIGTERM late).
@pytest.mark.parametrize("n_tcp,n_http", [(1, 0), (3, 0), (N_SLOW_TCP, N_SLOW_HTTP)],
                         ids=["one-slow-lookup", "three-slow-lookups", "twenty-slow-lookups"])
def test_slow_names_never_delay_other_probes(env, n_tcp, n_http):
    """n_tcp TCP (and n_http HTTP) CNAME endpoints whose names take 2.5 s to
    resolve (TTL 1 s, so they are re-resolved all the time) beside TCP,
    HTTP and HTTPS endpoints with addresses and one CNAME endpoint that
    resolves at once: the healthy endpoints keep every probe on schedule
    (1 s interval: a gap of at most 1.3 s between two stored probes, 6+
    probes in 7 s, RTTs of a loop that never stalls, no failed probe: the
    HTTPS one stays up), the writes go on, the fast name is queried once
    per TTL (2 s), each slow name has at most one query in flight, the
    slow endpoints come up from the late answers, and SIGTERM with the
    slow lookups in flight is answered within 1 s."""
    t = env.topo
    env.write_zone(slow_zone(t.e4, n_tcp, n_http))
    env.start_servers()
    env.load(slow_endpoints(t.e4, env.ca, n_tcp, n_http))
    env.start_prober()
    assert wait_for(lambda: (env.m("ok") or {}).get("probes_total", 0) >= 1, 5), \
        open(env.log).read()[-2000:]

    # Watch the stored records of the healthy endpoints for 7 s.
    t0 = time.monotonic()
    seen = {"ok": [], "web": [], "webs": []}
    while time.monotonic() - t0 < 7.0:
        ms = measurements(env.db)
        for ep in seen:
            m = ms.get((ep, "p1"))
            if m and (not seen[ep] or seen[ep][-1][1] != m["probes_total"]):
                seen[ep].append((time.monotonic(), m["probes_total"], m["rtt_last_us"],
                                 m["probes_failed"]))
        time.sleep(0.05)
    for ep, obs in seen.items():
        gaps = [b[0] - a[0] for a, b in zip(obs, obs[1:])]
        probes = obs[-1][1] - obs[0][1]
        print("%s: %d probes in 7 s, largest gap %.2f s, rtts %s" % (
            ep, probes, max(gaps or [0]), [o[2] for o in obs]))
        assert probes >= 6, (ep, obs)
        assert max(gaps) <= 1.3, (ep, gaps)
        assert all(o[2] < 100000 for o in obs), (ep, obs)   # RTT < 100 ms
        assert obs[-1][3] == obs[0][3], (ep, obs)           # no failed probe
    # The fast CNAME endpoint: up, its name resolved once per TTL, not per probe.
    fast = env.m("fast")
    assert fast["state"] == UP and fast["probes_failed"] == 0, fast
    q = env.queries("fast.hg.test.", since=t0)
    print("fast.hg.test: %d queries in 7 s over %d probes" % (len(q), fast["probes_total"]))
    assert 2 <= len(q) <= 5, q
    for ep in seen:
        assert env.m(ep)["state"] == UP, (ep, env.m(ep))
    # One query in flight per slow name at a time: 2.5 s each.
    for i in range(n_tcp):
        q = env.queries("slow%02d.hg.test." % i)
        assert all(b - a >= SLOW - 0.2 for a, b in zip(q, q[1:])), (i, q)
    # The late answers are used: every slow endpoint comes up.
    slow = ["slow%02d" % i for i in range(n_tcp)] + ["slowh%d" % i for i in range(n_http)]
    assert wait_for(lambda: all((env.m(e) or {}).get("state") == UP for e in slow), 15, 0.2), \
        {e: env.m(e) for e in slow}

    # SIGTERM while slow lookups are in flight: answered within 1 s.
    def in_flight():
        since = time.monotonic() - SLOW + 0.3
        return [i for i in range(n_tcp) if env.queries("slow%02d.hg.test." % i, since=since)]
    inflight = wait_for(lambda: len(in_flight()) >= min(n_tcp, 5) and in_flight(), 5, 0.02)
    assert inflight, in_flight()
    t1 = time.monotonic()
    env.prober.send_signal(signal.SIGTERM)
    rc = env.prober.wait(10)
    took = time.monotonic() - t1
    print("SIGTERM answered in %.3f s with %d slow lookups in flight" % (took, len(inflight)))
    assert rc == 0 and took < 1.0, (rc, took)


def test_cname_address_follows_ttl(env):
    """A CNAME endpoint is probed at the address its name resolves to, for
    the record's TTL (2 s): when the name moves to an address where nothing
    listens, the endpoint goes down (refused) within TTL + fall x interval;
    a name that does not exist fails with class 'resolve'."""
    t = env.topo
    env.write_zone({"move.hg.test.": {"a": [t.e4], "ttl": 2}})
    env.start_servers()
    env.load(["{id: move, cname: move.hg.test., check: {host: move.hg.test, interval: 200ms}}",
              "{id: ghost, cname: ghost.hg.test., check: {host: ghost.hg.test, interval: 200ms}}"])
    env.start_prober()
    assert wait_for(lambda: (env.m("move") or {}).get("state") == UP, 10), env.m("move")
    ghost = wait_for(lambda: (env.m("ghost") or {}).get("state") == DOWN and env.m("ghost"), 10)
    assert ghost and ghost["fail_class"] == FAIL_RESOLVE, env.m("ghost")
    # Moved to the endpoint namespace's IPv6 address: nothing listens there.
    env.write_zone({"move.hg.test.": {"aaaa": [t.e6], "ttl": 2}})
    t0 = time.monotonic()
    m = wait_for(lambda: (env.m("move") or {}).get("state") == DOWN and env.m("move"), 10, 0.05)
    took = time.monotonic() - t0
    print("down %.2f s after the move" % took)
    assert m and m["fail_class"] == FAIL["refused"], env.m("move")
    assert took <= 2 + 3 * 0.2 + 1.0, took
    with open(env.log) as f:
        log = f.read()
    assert "move.hg.test" in log and t.e6 in log, log[-2000:]
    assert netsim.Topo.stop(env.prober) == 0


FAIL_RESOLVE = 7   # enum hg_fail_class
