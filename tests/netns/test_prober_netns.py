# SPDX-License-Identifier: GPL-3.0-or-later
"""haltgslb-prober in real network namespaces linked by hg_tunrelay.

Run as root: `make check` runs it through tests/netns/prober.sh, or by hand
  top_builddir=BUILD top_srcdir=SRC python3 -m pytest -v tests/netns
Traffic goes only between namespaces the tests create (10.200.N.0/24,
fd00:200:N::/64), checked with `ip route get` before the prober starts.
"""
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

import pytest

SRC = os.environ.get("top_srcdir", os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("top_builddir", SRC)
sys.path.insert(0, os.path.join(SRC, "tests", "netsim"))
import netsim  # noqa: E402

PROBER = os.path.join(BUILD, "haltgslb-prober")
CTL = os.path.join(BUILD, "haltgslb-ctl")
RELAY = os.path.join(BUILD, "tests", "netsim", "hg_tunrelay")
HTTPD = [sys.executable, os.path.join(SRC, "tests", "netsim", "hg_httpd.py")]

if os.geteuid() != 0 or not os.path.exists("/dev/net/tun"):
    pytest.skip("needs root and /dev/net/tun", allow_module_level=True)
for _b in (PROBER, CTL, RELAY):
    if not os.path.exists(_b):
        pytest.skip("not built: " + _b, allow_module_level=True)

# hg_rec_measure_t (lmdb-schema/schema.h), packed little-endian, 68 bytes.
MEASURE = struct.Struct("<HBBQQIIIIHHHHQQQ")
FIELDS = ("layout state fail_class ts_ms changed_ms rtt_last_us rtt_ewma_us rtt_median_us "
          "ttfb_us loss_bp window consec_ok consec_fail probes_total probes_failed seq").split()
UP, DOWN = 1, 2
FAIL = {"timeout": 1, "refused": 2, "tls": 3, "http-status": 4, "body": 5, "unreachable": 6}


def measurements(db):
    """{(endpoint, prober): record dict}, read with LMDB's own mdb_dump."""
    out = subprocess.run(["mdb_dump", "-s", "measurements", db], capture_output=True,
                         text=True, check=True).stdout.splitlines()
    body = out[out.index("HEADER=END") + 1:out.index("DATA=END")]
    res = {}
    for k, v in zip(body[0::2], body[1::2]):
        ep, pr = bytes.fromhex(k.strip()).split(b"\0")
        res[(ep.decode(), pr.decode())] = dict(zip(FIELDS, MEASURE.unpack(bytes.fromhex(v.strip()))))
    return res


def wait_for(pred, timeout, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = pred()
        if got:
            return got
        time.sleep(step)
    return pred()


class Env:
    """A topology, a work dir, a DB loaded with the test's policy, the prober."""

    def __init__(self, idx, **link):
        self.dir = tempfile.mkdtemp(prefix="hg-netns-")
        os.chmod(self.dir, 0o755)
        self.db = os.path.join(self.dir, "db")
        self.policy = os.path.join(self.dir, "policy.yaml")
        self.topo = netsim.Topo(RELAY, self.dir, idx, **link)
        self.prober = None

    def load(self, endpoints, probers="p1"):
        text = POLICY_HEAD.format(probers="".join(
            "  - id: %s\n    location: {lat: 50, lon: 8}\n" % p for p in probers.split()))
        text += "".join("      - " + e + "\n" for e in endpoints)
        text += POLICY_TAIL
        with open(self.policy, "w") as f:
            f.write(text)
        subprocess.run([CTL, "load", "--db", self.db, self.policy], check=True,
                       capture_output=True)

    def start(self, *extra):
        self.topo.check_routes()
        self.log = os.path.join(self.dir, "prober.log")
        self.prober = self.topo.spawn(
            self.topo.ns_p, [PROBER, "--id", "p1", "--db", self.db,
                             "--foreground", "--log-level", "info"] + list(extra), log=self.log)

    def m(self, ep):
        return measurements(self.db).get((ep, "p1"))

    def close(self):
        self.topo.close()
        shutil.rmtree(self.dir, ignore_errors=True)


POLICY_HEAD = """version: 1
defaults:
  check: {{type: tcp, port: 8080, interval: 200ms, timeout: 1s, rise: 2, fall: 3}}
probers:
{probers}pools:
  - id: p
    endpoints:
"""
POLICY_TAIL = """names:
  - name: t.example.net.
    pools: [p]
    chain: [up, first: 1]
"""

_idx = [0]


@pytest.fixture
def env_factory():
    made = []

    def make(**link):
        _idx[0] += 1
        e = Env(_idx[0], **link)
        made.append(e)
        return e
    yield make
    for e in made:
        if e.prober is not None and e.prober.poll() is None and hasattr(e, "log"):
            pass
        e.close()


def http_server(env, port, *args):
    return env.topo.spawn(env.topo.ns_e, HTTPD + ["--bind", env.topo.e4, "--port", str(port)]
                          + list(args))


def wait_listen(env, port, addr=None):
    addr = addr or env.topo.e4
    ok = wait_for(lambda: env.topo.ns(env.topo.ns_e, "ss", "-Hltn", "sport = :%d" % port,
                                      check=False).stdout.strip(), 5)
    assert ok, "server on port %d did not start" % port


def make_ca(d, name):
    key, pem = os.path.join(d, name + ".key"), os.path.join(d, name + ".pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", pem,
                    "-days", "2", "-subj", "/CN=" + name], check=True, capture_output=True)
    return key, pem


def make_cert(d, ca_key, ca_pem, host):
    key, csr, pem = (os.path.join(d, "srv." + x) for x in ("key", "csr", "pem"))
    ext = os.path.join(d, "ext.cnf")
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:%s\n" % host)
    subprocess.run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=" + host],
                   check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", ca_pem, "-CAkey", ca_key,
                    "-CAcreateserial", "-out", pem, "-days", "2", "-extfile", ext],
                   check=True, capture_output=True)
    return key, pem


def within_rtt(us, true_ms):
    lo, hi = true_ms * 0.85 - 1, true_ms * 1.15 + 1
    return lo <= us / 1000.0 <= hi


# ---------------------------------------------------------------------------


def test_rtt_median_40ms(env_factory):
    """20 ms each way: stored median RTT within +-15% (+1 ms) of 40 ms, for
    tcp, http, https (handshake time) and icmp over IPv4 and IPv6."""
    env = env_factory(delay_us=20000)
    ca_key, ca_pem = make_ca(env.dir, "testca")
    key, pem = make_cert(env.dir, ca_key, ca_pem, "app.test")
    e4, e6 = env.topo.e4, env.topo.e6
    env.load([
        "{id: tcp4, address: [%s]}" % e4,
        "{id: tcp6, address: [\"%s\"]}" % e6,
        "{id: http4, address: [%s], check: {type: http, path: /, expect: [200]}}" % e4,
        "{id: https4, address: [%s], check: {type: https, port: 8443, host: app.test, ca: %s}}"
        % (e4, pem.replace("srv.pem", "testca.pem")),
        "{id: icmp4, address: [%s], check: {type: icmp}}" % e4,
        "{id: icmp6, address: [\"%s\"], check: {type: icmp}}" % e6,
    ])
    http_server(env, 8080)
    env.topo.spawn(env.topo.ns_e, HTTPD + ["--bind", e6, "--port", "8080"])
    http_server(env, 8443, "--cert", pem, "--key", key)
    wait_listen(env, 8080)
    wait_listen(env, 8443)
    env.start()
    eps = ("tcp4", "tcp6", "http4", "https4", "icmp4", "icmp6")
    got = wait_for(lambda: all((env.m(e) or {}).get("window", 0) >= 15 for e in eps) and
                   {e: env.m(e) for e in eps}, 20, 0.2)
    assert got, "not enough probes: %s" % {e: env.m(e) for e in eps}
    for e in eps:
        m = got[e]
        print("%s median %.2f ms ewma %.2f ms over %d probes" % (
            e, m["rtt_median_us"] / 1000.0, m["rtt_ewma_us"] / 1000.0, m["window"]))
        assert m["state"] == UP, (e, m)
        assert within_rtt(m["rtt_median_us"], 40), (e, m["rtt_median_us"])
    # ttfb is stored apart from the RTT: one more round trip for the request
    assert got["http4"]["ttfb_us"] >= 35000
    assert netsim.Topo.stop(env.prober) == 0


def test_loss_10pct(env_factory):
    """10% loss on the way to the endpoint, >= 200 ICMP probes: stored loss
    within 5 percentage points of what the relay dropped."""
    env = env_factory(loss_ab=10.0)
    env.load(["{id: icmp4, address: [%s], check: {type: icmp, interval: 50ms, timeout: 150ms}}"
              % env.topo.e4])
    env.start("--window", "1000")
    m = wait_for(lambda: (env.m("icmp4") or {}).get("probes_total", 0) >= 220 and env.m("icmp4"),
                 60, 0.25)
    assert m, env.m("icmp4")
    assert netsim.Topo.stop(env.prober) == 0
    m = env.m("icmp4")
    st = env.topo.stats()
    seen = 100.0 * st["ab_echo_dropped"] / st["ab_echo"]
    stored = m["loss_bp"] / 100.0
    print("probes %d relay echo %d dropped %d (%.2f%%) stored %.2f%%" % (
        m["probes_total"], st["ab_echo"], st["ab_echo_dropped"], seen, stored))
    assert m["window"] >= 200
    assert abs(stored - seen) <= 5.0
    assert 3.0 <= seen <= 17.0   # the relay did drop about 10%


def test_fall_rise_exact(env_factory):
    """Server stopped: down exactly at the fall-th failure; restarted: up
    exactly at the rise-th success."""
    env = env_factory()
    env.load(["{id: web, address: [%s], check: {type: http, path: /, rise: 2, fall: 3}}"
              % env.topo.e4])
    srv = http_server(env, 8080)
    wait_listen(env, 8080)
    env.start()
    assert wait_for(lambda: (env.m("web") or {}).get("state") == UP, 10)
    netsim.Topo.stop(srv)
    seen = []

    def down():
        m = env.m("web")
        seen.append((m["consec_fail"], m["consec_ok"], m["state"], m["probes_total"]))
        return m["state"] == DOWN
    assert wait_for(down, 10, 0.03)
    fails = [s for s in seen if s[0] > 0]
    assert all((st == DOWN) == (cf >= 3) for cf, _, st, _ in fails), seen
    assert fails[-1][0] == 3 and fails[-1][2] == DOWN, seen
    assert env.m("web")["fail_class"] == FAIL["refused"]
    assert any(cf == 2 and st == UP for cf, _, st, _ in fails), seen

    http_server(env, 8080)
    seen.clear()

    def up():
        m = env.m("web")
        seen.append((m["consec_fail"], m["consec_ok"], m["state"], m["probes_total"]))
        return m["state"] == UP
    assert wait_for(up, 10, 0.03)
    oks = [s for s in seen if s[1] > 0]
    assert all((st == UP) == (co >= 2) for _, co, st, _ in oks), seen
    assert oks[-1][1] == 2, seen
    assert netsim.Topo.stop(env.prober) == 0


NGINX_CONF = """user root;
daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/nginx-error.log;
events {{ worker_connections 64; }}
http {{
  access_log {d}/nginx-access.log;
  client_body_temp_path {d}/t1; proxy_temp_path {d}/t2; fastcgi_temp_path {d}/t3;
  uwsgi_temp_path {d}/t4; scgi_temp_path {d}/t5;
  server {{
    listen {addr}:9443 ssl http2;
    listen {addr}:9080 http2;
    ssl_certificate {pem}; ssl_certificate_key {key};
    location / {{ return 200 "h2 ok\\n"; }}
  }}
}}
"""


def test_fail_classes_tls_http2(env_factory):
    """Wrong status, missing body text, unknown CA: each down with its class;
    the good HTTPS, HTTP/2 over TLS and cleartext HTTP/2 endpoints stay up."""
    env = env_factory()
    ca_key, ca_pem = make_ca(env.dir, "testca")
    _, other_pem = make_ca(env.dir, "otherca")
    key, pem = make_cert(env.dir, ca_key, ca_pem, "app.test")
    e4 = env.topo.e4
    env.load([
        "{id: status, address: [%s], check: {type: http, port: 8081, path: /, expect: [200, 204]}}" % e4,
        "{id: body, address: [%s], check: {type: http, port: 8082, path: /, body: \"MISSING\"}}" % e4,
        "{id: bodyok, address: [%s], check: {type: http, port: 8082, path: /, body: \"hello\"}}" % e4,
        "{id: badca, address: [%s], check: {type: https, port: 8443, host: app.test, ca: %s}}" % (e4, other_pem),
        "{id: goodca, address: [%s], check: {type: https, port: 8443, host: app.test, ca: %s}}" % (e4, ca_pem),
        "{id: noverify, address: [%s], check: {type: https, port: 8443, host: app.test, tls-verify: false}}" % e4,
        "{id: h2tls, address: [%s], check: {type: https, port: 9443, host: app.test, ca: %s, http2: true, body: \"h2 ok\"}}" % (e4, ca_pem),
        "{id: h2c, address: [%s], check: {type: http, port: 9080, http2: true, path: /}}" % e4,
        "{id: refused, address: [%s], check: {type: tcp, port: 9}}" % e4,
    ])
    http_server(env, 8081, "--status", "500")
    http_server(env, 8082, "--body", "well hello there")
    http_server(env, 8443, "--cert", pem, "--key", key)
    conf = os.path.join(env.dir, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(d=env.dir, addr=e4, pem=pem, key=key))
    env.topo.spawn(env.topo.ns_e, ["nginx", "-c", conf, "-e", os.path.join(env.dir, "nginx-e.log")])
    for port in (8081, 8082, 8443, 9443, 9080):
        wait_listen(env, port)
    env.start()
    want = {"status": (DOWN, "http-status"), "body": (DOWN, "body"), "badca": (DOWN, "tls"),
            "refused": (DOWN, "refused"), "bodyok": (UP, None), "goodca": (UP, None),
            "noverify": (UP, None), "h2tls": (UP, None), "h2c": (UP, None)}

    def settled():
        ms = measurements(env.db)
        return all(ms.get((e, "p1"), {}).get("state") == s for e, (s, _) in want.items()) and ms
    ms = wait_for(settled, 15, 0.2)
    assert ms, {e: (measurements(env.db).get((e, "p1")) or {}).get("state") for e in want}
    for e, (s, cls) in want.items():
        if cls:
            assert ms[(e, "p1")]["fail_class"] == FAIL[cls], (e, ms[(e, "p1")])
        else:
            assert ms[(e, "p1")]["probes_failed"] == 0, (e, ms[(e, "p1")])
    with open(os.path.join(env.dir, "nginx-access.log")) as f:
        log = f.read()
    assert "HTTP/2.0" in log and "HTTP/1.1" not in log, log[-500:]
    assert netsim.Topo.stop(env.prober) == 0


FAIL_OTHER = 8   # enum hg_fail_class: not a valid HTTP response among others


def test_cut_off_headers_fail(env_factory):
    """A response cut off inside its header block (status 200 and a header,
    or half a header, then the connection closes) is a failure of class
    'other', never up: libcurl alone reports such a transfer as a success."""
    env = env_factory()
    e4 = env.topo.e4
    head = len("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n")
    env.load([
        "{id: cutline, address: [%s], check: {type: http, port: 8081, path: /}}" % e4,
        "{id: cutmid, address: [%s], check: {type: http, port: 8082, path: /}}" % e4,
        "{id: whole, address: [%s], check: {type: http, port: 8083, path: /}}" % e4,
    ])
    http_server(env, 8081, "--cut-after", str(head))
    http_server(env, 8082, "--cut-after", str(head - 6))
    http_server(env, 8083)
    for port in (8081, 8082, 8083):
        wait_listen(env, port)
    env.start()
    want = {"cutline": DOWN, "cutmid": DOWN, "whole": UP}

    def settled():
        ms = measurements(env.db)
        return all(ms.get((e, "p1"), {}).get("state") == s for e, s in want.items()) and ms
    ms = wait_for(settled, 15, 0.2)
    assert ms, {e: measurements(env.db).get((e, "p1")) for e in want}
    for e in ("cutline", "cutmid"):
        m = ms[(e, "p1")]
        assert m["fail_class"] == FAIL_OTHER and m["probes_failed"] == m["probes_total"], (e, m)
    assert ms[("whole", "p1")]["probes_failed"] == 0, ms[("whole", "p1")]
    assert netsim.Topo.stop(env.prober) == 0


def test_sighup_add_remove_keeps_history(env_factory):
    env = env_factory()
    e4 = env.topo.e4
    keep, gone, new = ("{id: %s, address: [%s]}" % (n, e4) for n in ("keep", "gone", "new"))
    env.load([keep, gone])
    http_server(env, 8080)
    wait_listen(env, 8080)
    env.start("--window", "100")
    before = wait_for(lambda: (env.m("keep") or {}).get("window", 0) >= 8 and env.m("keep"), 10)
    assert before
    env.load([keep, new])
    env.prober.send_signal(signal.SIGHUP)
    assert wait_for(lambda: (env.m("new") or {}).get("probes_total", 0) >= 3, 10)
    gone_m = env.m("gone")
    time.sleep(0.6)
    after = env.m("keep")
    # the loss window is in memory only: it kept growing, it did not restart
    assert after["window"] > before["window"] + 2, (before, after)
    assert after["probes_total"] == after["window"]
    assert after["state"] == UP and after["changed_ms"] == before["changed_ms"]
    assert env.m("gone") == gone_m  # removed: not probed any more (or deleted)
    with open(env.log) as f:
        assert "removed 1" in f.read()
    assert netsim.Topo.stop(env.prober) == 0


def test_sigterm_consistent_db(env_factory):
    env = env_factory()
    e4 = env.topo.e4
    env.load(["{id: ep%02d, address: [%s], check: {interval: 100ms}}" % (i, e4) for i in range(40)])
    http_server(env, 8080)
    wait_listen(env, 8080)
    env.start()
    assert wait_for(lambda: len(measurements(env.db)) == 40, 10)
    time.sleep(1.0)
    assert netsim.Topo.stop(env.prober) == 0
    st = subprocess.run(["mdb_stat", "-a", env.db], capture_output=True, text=True)
    assert st.returncode == 0, st.stderr
    assert "measurements" in st.stdout
    ms = measurements(env.db)
    assert len(ms) == 40 and all(m["state"] == UP for m in ms.values())
    with open(env.log) as f:
        assert "stopped" in f.read()
