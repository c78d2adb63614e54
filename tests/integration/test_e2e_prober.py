# SPDX-License-Identifier: GPL-3.0-or-later
"""End to end on one host: knotd + mod-haltgslb + haltgslb-prober + real HTTP
servers. Stopping the primary endpoint's server changes the DNS answer within
fall x interval + 1 s, and restarting it brings the answer back.

Policy: tests/integration/policy_e2e.yaml (port replaced by a free one). The
endpoints live on 127.0.10.1 (primary) and 127.0.10.2 (backup); all of
127.0.0.0/8 is local on Linux, and each address is checked to route via `lo`
before anything is sent. No traffic leaves 127.0.0.0/8.

Nothing is synthetic here: the only writer of measurements is the prober, so
the test fails if the prober, the store (measurements + views written in one
transaction) or the module's reading of them is broken.
"""
import ipaddress
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import BUILDDIR, SRCDIR, ZONE, ProcessLogs, addresses, answer_ttl, ctl

HERE = os.path.dirname(os.path.abspath(__file__))
POLICY_TEMPLATE = os.path.join(HERE, "policy_e2e.yaml")
PROBER = os.path.join(BUILDDIR, "haltgslb-prober")
HTTPD = os.path.join(SRCDIR, "tests", "netsim", "hg_httpd.py")

NAME = "e2e." + ZONE
PROBER_ID = "e2e-local"
A, B = "127.0.10.1", "127.0.10.2"            # primary (priority 1), backup (2)
TEMPLATE_PORT = 18080
# Must match policy_e2e.yaml.
INTERVAL, RISE, FALL = 0.200, 2, 3
TTL, DEGRADED_TTL = 30, 10
POLL = 0.05                                   # DNS poll period
FAILOVER_MAX = FALL * INTERVAL + 1.0          # the acceptance bound
RECOVERY_MAX = RISE * INTERVAL + 1.0


def wait_for(pred, timeout, step=POLL):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = pred()
        if got:
            return got
        time.sleep(step)
    return pred()


def check_loopback(addr):
    """addr is in 127/8 and the kernel delivers it locally through lo."""
    assert ipaddress.ip_address(addr) in ipaddress.ip_network("127.0.0.0/8")
    out = subprocess.run(["ip", "route", "get", addr], capture_output=True, text=True,
                         timeout=10, check=True).stdout
    assert re.search(r"^local %s dev lo\b" % re.escape(addr), out, re.M), \
        "%s does not route via lo: %s" % (addr, out)


def free_port_on(addrs):
    """A TCP port free on every address of addrs right now."""
    for _ in range(50):
        socks = []
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.bind((addrs[0], 0))
            port = s.getsockname()[1]
            for a in addrs[1:]:
                t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(t)
                t.bind((a, port))
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no port free on %s" % (addrs,))


def listening(addr, port):
    try:
        with socket.create_connection((addr, port), timeout=0.2):
            return True
    except OSError:
        return False


def stop_proc(proc, sig=signal.SIGTERM, timeout=10):
    """Signal our own child and reap it; SIGKILL if it does not exit in time."""
    if proc is None or proc.poll() is not None:
        return None if proc is None else proc.returncode
    if sig == signal.SIGTERM:
        # A frozen (SIGSTOPped) process must run again to die of SIGTERM.
        proc.send_signal(signal.SIGCONT)
    proc.send_signal(sig)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(timeout=10)


class HttpServer:
    """tests/netsim/hg_httpd.py on one loopback address."""

    def __init__(self, addr, port, logdir):
        self.addr, self.port, self.proc = addr, port, None
        self.log = os.path.join(logdir, "httpd-%s.log" % addr)

    def start(self):
        assert self.proc is None or self.proc.poll() is not None
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen([sys.executable, HTTPD, "--bind", self.addr,
                                          "--port", str(self.port), "--body", "OK\n"],
                                         stdout=subprocess.DEVNULL, stderr=log)
        ok = wait_for(lambda: self.proc.poll() is None and listening(self.addr, self.port),
                      10, step=0.01)
        assert ok, "HTTP server on %s:%d did not start" % (self.addr, self.port)

    def stop(self):
        """Kill it (connections are refused from now on)."""
        stop_proc(self.proc, signal.SIGKILL)
        self.proc = None

    def freeze(self):
        """SIGSTOP: the kernel still completes handshakes, nobody answers."""
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self):
        self.proc.send_signal(signal.SIGCONT)


class Prober(ProcessLogs):
    def __init__(self, policy, db, workdir):
        self.policy, self.db, self.proc = policy, db, None
        self.log = os.path.join(workdir, "prober.log")
        self.asan_dir = os.path.join(workdir, "prober-sanitizer")
        os.makedirs(self.asan_dir, exist_ok=True)

    def start(self):
        env = dict(os.environ)
        env.pop("LD_PRELOAD", None)
        env["ASAN_OPTIONS"] = "log_path=%s/asan" % self.asan_dir
        env["UBSAN_OPTIONS"] = "print_stacktrace=1:log_path=%s/ubsan" % self.asan_dir
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen([PROBER, "--id", PROBER_ID, "--db", self.db, "--foreground",
                                          "--log-level", "info"],
                                         stdout=log, stderr=subprocess.STDOUT, env=env)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM; returns the exit status (0 expected)."""
        rc = stop_proc(self.proc, signal.SIGTERM, timeout=15)
        self.proc = None
        return rc


def endpoint_states(db):
    """{endpoint id: health word} from `haltgslb-ctl status`."""
    out = ctl("status", "--db", db).stdout
    return dict(re.findall(r"^\s+(e2e-[ab])\s+\S+\s+(\w+)", out, re.M))


@pytest.fixture
def e2e(tmp_path, knotd_factory):
    """Policy loaded, both HTTP servers up, knotd with the module on the DB.
    The prober is created but not started. Everything is stopped at teardown."""
    for addr in (A, B):
        check_loopback(addr)
    assert os.access(PROBER, os.X_OK), "haltgslb-prober not built: " + PROBER
    port = free_port_on([A, B])
    with open(POLICY_TEMPLATE) as f:
        text = f.read()
    assert "port: %d" % TEMPLATE_PORT in text
    policy = tmp_path / "policy.yaml"
    policy.write_text(text.replace("port: %d" % TEMPLATE_PORT, "port: %d" % port))
    db = str(tmp_path / "db")
    ctl("load", "--db", db, str(policy))

    class Env:
        pass
    env = Env()
    env.db, env.policy, env.port = db, str(policy), port
    env.servers = {A: HttpServer(A, port, str(tmp_path)), B: HttpServer(B, port, str(tmp_path))}
    env.prober = Prober(str(policy), db, str(tmp_path))
    try:
        for s in env.servers.values():
            s.start()
        # Timing test: knotd never runs under valgrind here.
        env.knotd = knotd_factory(db=db, policy=str(policy), valgrind=False).start()
        yield env
    finally:
        rc = env.prober.stop()
        for s in env.servers.values():
            s.stop()
        print("---- prober log ----\n" + env.prober.logtext())
        reports = env.prober.sanitizer_reports()
    # The prober must have run clean and stopped cleanly on SIGTERM.
    assert not reports, "prober sanitizer reports:\n" + "\n".join(reports)
    assert rc in (None, 0), "prober exited %s on SIGTERM" % rc


def answer(knotd):
    r = knotd.query(NAME, "A", timeout=1.0)
    return addresses(r), answer_ttl(r)


def poll_until(knotd, prober, pred, timeout):
    """Query every POLL seconds until pred((addrs, ttl)); returns
    (seconds from now, last answer, timeline) where timeline lists every
    distinct answer seen with its time."""
    t0 = time.monotonic()
    timeline = []
    while True:
        got = answer(knotd)
        t = time.monotonic() - t0
        if not timeline or timeline[-1][1] != got:
            timeline.append((round(t, 3), got))
        if pred(got):
            return t, got, timeline
        assert prober.alive(), "prober died:\n" + prober.logtext()
        if t > timeout:
            raise AssertionError("no matching answer within %.1fs; answers seen: %s"
                                 % (timeout, timeline))
        time.sleep(POLL)


def wait_healthy(env):
    """Prober data fresh and both endpoints up: A answered with the normal TTL."""
    t, got, timeline = poll_until(env.knotd, env.prober, lambda g: g == ([A], TTL), 15)
    both_up = {"e2e-a": "up", "e2e-b": "up"}
    assert wait_for(lambda: endpoint_states(env.db) == both_up, 5), \
        "endpoints not both up: %s" % endpoint_states(env.db)
    return t


@pytest.mark.parametrize("how", ["killed", "frozen"])
def test_prober_failover_and_recovery(e2e, how):
    """knotd + module + prober: the answer moves off the primary within
    fall x interval + 1 s of its server stopping (killed: refused; frozen:
    timeouts), with the degraded TTL, and comes back after rise successes."""
    knotd, prober, srv_a = e2e.knotd, e2e.prober, e2e.servers[A]

    # The module answers from the DB before any measurement: no fresh data
    # is "unknown", kept but degraded. (Pass-through would give A and B, TTL 30.)
    assert answer(knotd) == ([A], DEGRADED_TTL)

    prober.start()
    t_up = wait_healthy(e2e)
    print("prober data up after %.3fs" % t_up)
    # Steady: the healthy answer holds (no flapping) for a few intervals.
    for _ in range(10):
        assert answer(knotd) == ([A], TTL)
        time.sleep(POLL)

    # ---- the primary's server stops ----
    t0 = time.monotonic()
    if how == "killed":
        srv_a.stop()
    else:
        srv_a.freeze()
    _, got, timeline = poll_until(knotd, prober, lambda g: A not in g[0], FAILOVER_MAX + 2)
    t_fail = time.monotonic() - t0
    print("failover (%s): answer without %s after %.3fs (bound %.1fs); answers: %s"
          % (how, A, t_fail, FAILOVER_MAX, timeline))
    assert got == ([B], DEGRADED_TTL), "expected the backup with the degraded TTL: %s" % (got,)
    assert t_fail <= FAILOVER_MAX, "failover took %.3fs > %.1fs" % (t_fail, FAILOVER_MAX)
    # fall consecutive failures need at least fall-1 intervals (minus jitter).
    assert t_fail >= (FALL - 1) * INTERVAL * 0.9, \
        "down after %.3fs: sooner than %d failures allow" % (t_fail, FALL)
    assert endpoint_states(e2e.db) == {"e2e-a": "down", "e2e-b": "up"}
    # It stays failed over while the server is down.
    for _ in range(10):
        assert answer(knotd) == ([B], DEGRADED_TTL)
        time.sleep(POLL)

    # ---- the server comes back ----
    if how == "killed":
        srv_a.start()
    else:
        srv_a.thaw()
    t1 = time.monotonic()
    _, got, timeline = poll_until(knotd, prober, lambda g: g == ([A], TTL), RECOVERY_MAX + 2)
    t_rec = time.monotonic() - t1
    print("recovery (%s): %s answered again after %.3fs (bound %.1fs); answers: %s"
          % (how, A, t_rec, RECOVERY_MAX, timeline))
    assert t_rec <= RECOVERY_MAX, "recovery took %.3fs > %.1fs" % (t_rec, RECOVERY_MAX)
    assert endpoint_states(e2e.db)["e2e-a"] == "up"
    for _ in range(10):
        assert answer(knotd) == ([A], TTL)
        time.sleep(POLL)

    log = prober.logtext()
    cls = "refused" if how == "killed" else "timeout"
    assert re.search(r"e2e-a .*up -> down \(%d consecutive failures, last: %s\)" % (FALL, cls),
                     log), log
    assert re.search(r"e2e-a.*down -> up", log), log
    stats = knotd.stats()
    assert stats.get("degraded", 0) > 0, stats
    assert not stats.get("fallback"), stats
