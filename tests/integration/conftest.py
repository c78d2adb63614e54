# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures for mod-haltgslb integration tests: a real knotd with the freshly
built module, its own rundir/storage under a tmp dir, on 127.0.0.1 and a free
unprivileged port.

Environment: top_builddir (default: the repo root) holds knot-module/.libs/
haltgslb.so, haltgslb-ctl and tests/data/*.mmdb (built by `make check`);
top_srcdir (default: the repo root) holds this directory.

When the module was built with --enable-sanitizers, knotd runs with the ASan
and UBSan runtimes preloaded, LeakSanitizer on (lsan.supp lists the only
leaks allowed, each outside haltgslb), and every test fails if a sanitizer
reported anything. HG_VALGRIND=1 runs knotd under valgrind instead (plain
build). Either way a test also fails when knotd does not exit 0 within its
timeout after SIGTERM, exited before that on its own, or wrote to stderr.
"""
import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import time

import dns.edns
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SRCDIR = os.path.abspath(os.environ.get("top_srcdir", REPO))


def _default_builddir():
    """The current directory when it is a build tree (pytest run from
    build-NAME/), else the repo root (in-tree build)."""
    if os.path.exists(os.path.join(os.getcwd(), "knot-module", "haltgslb.la")):
        return os.getcwd()
    return REPO


BUILDDIR = os.path.abspath(os.environ.get("top_builddir") or _default_builddir())
DATADIR = os.environ.get("HG_TEST_DATA", os.path.join(BUILDDIR, "tests", "data"))

MODULE = os.path.join(BUILDDIR, "knot-module", ".libs", "haltgslb.so")
CTL = os.path.join(BUILDDIR, "haltgslb-ctl")
CITY = os.path.join(DATADIR, "test-city.mmdb")
ASN = os.path.join(DATADIR, "test-asn.mmdb")
POLICY = os.path.join(SRCDIR, "tests", "integration", "policy.yaml")
ZONE = "gslb.example.net."

LSAN_SUPP = os.path.join(HERE, "lsan.supp")

KNOTD = shutil.which("knotd") or "/usr/sbin/knotd"
KNOTC = shutil.which("knotc") or "/usr/sbin/knotc"
KEYMGR = shutil.which("keymgr") or "/usr/sbin/keymgr"
TIMEOUT = 2.0


def _sanitizer_preload():
    """The ASan/UBSan runtimes the module links, to preload into knotd."""
    try:
        out = subprocess.run(["ldd", MODULE], capture_output=True, text=True,
                             timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    libs = []
    for lib in ("libasan", "libubsan"):
        m = re.search(r"\s(%s\S*)\s=>\s(\S+)" % lib, out)
        if m:
            libs.append(m.group(2))
    return libs


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1 right now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                try:
                    u.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port")


def ctl(*args, check=True):
    """Run haltgslb-ctl (options before positional arguments)."""
    res = subprocess.run([CTL] + list(args), capture_output=True, text=True, timeout=30)
    if check and res.returncode != 0:
        raise AssertionError("haltgslb-ctl %s failed (%d): %s%s" %
                             (" ".join(args), res.returncode, res.stdout, res.stderr))
    return res


def zone_text(policy=POLICY):
    """Zone file: SOA/NS, a static name, and the policy's fallback records."""
    lines = [
        "$ORIGIN %s" % ZONE,
        "$TTL 300",
        "@ SOA ns1 hostmaster 1 3600 600 86400 120",
        "@ NS ns1",
        "ns1 A 127.0.0.1",
        "static A 192.0.2.99",
        "static AAAA 2001:db8:99::99",
        "txt TXT \"static\"",
        # CNAME-only GSLB names need a fallback record by hand.
        "cdn CNAME app.cdn-b.example.org.",
        "alias CNAME static",
    ]
    out = ctl("zone-records", policy).stdout
    for line in out.splitlines():
        line = line.split(";", 1)[0].strip()
        if line:
            lines.append(line)
    return "\n".join(lines) + "\n"


class ProcessLogs:
    """Log and sanitizer-report readers shared by the daemons the tests run
    (knotd here, the prober in test_e2e_prober.py): they need .log and
    .asan_dir attributes."""

    def logtext(self):
        try:
            with open(self.log) as f:
                return f.read()
        except OSError:
            return ""

    def sanitizer_reports(self):
        out = []
        for path in sorted(glob.glob(os.path.join(self.asan_dir, "*"))):
            with open(path) as f:
                out.append(f.read())
        return out


class Knotd(ProcessLogs):
    """One knotd instance with mod-haltgslb; start() / stop() / reload()."""

    def __init__(self, tmpdir, db=None, geoip=CITY, asn=ASN, dnssec=False, ecs=True,
                 extra_mod="", valgrind=None, policy=None, lsan_extra=()):
        self.dir = str(tmpdir)
        # Suppressions for this knotd only, each a leak the test itself
        # provokes and names (lsan.supp stays for the whole suite).
        self.lsan_extra = tuple(lsan_extra)
        self.port = free_port()
        self.db = db or os.path.join(self.dir, "db")
        self.rundir = os.path.join(self.dir, "run")
        self.storage = os.path.join(self.dir, "storage")
        self.conf = os.path.join(self.dir, "knot.conf")
        self.log = os.path.join(self.dir, "knotd.log")
        self.sock = os.path.join(self.rundir, "knot.sock")
        self.asan_dir = os.path.join(self.dir, "sanitizer")
        self.vg_log = os.path.join(self.dir, "valgrind.log")
        self.stderr_path = os.path.join(self.dir, "knotd.stderr")
        self.stop_problems = []
        self.returncode = None
        self.geoip, self.asn, self.dnssec, self.ecs = geoip, asn, dnssec, ecs
        self.extra_mod = extra_mod
        self.valgrind = (os.environ.get("HG_VALGRIND") == "1") if valgrind is None else valgrind
        self.proc = None
        for d in (self.rundir, self.storage, self.asan_dir):
            os.makedirs(d, exist_ok=True)
        with open(os.path.join(self.storage, "gslb.zone"), "w") as f:
            f.write(zone_text(policy or POLICY))
        self.write_conf()

    def mod_section(self, geoip=None):
        geoip = self.geoip if geoip is None else geoip
        lines = ["mod-haltgslb:", "  - id: default", "    database: %s" % self.db]
        if geoip:
            lines.append("    geoip: %s" % geoip)
        if self.asn:
            lines.append("    asn-db: %s" % self.asn)
        if self.extra_mod:
            lines.append(self.extra_mod)
        return "\n".join(lines)

    def write_conf(self, geoip=None):
        zone_extra = "    dnssec-signing: on\n" if self.dnssec else ""
        text = f"""server:
    rundir: {self.rundir}
    listen: 127.0.0.1@{self.port}
    edns-client-subnet: {"on" if self.ecs else "off"}
    udp-workers: 2
    tcp-workers: 2
    background-workers: 1
log:
  - target: {self.log}
    any: info
database:
    storage: {self.storage}
module:
  - id: mod-haltgslb
    file: {MODULE}
{self.mod_section(geoip)}
template:
  - id: default
    storage: {self.storage}
zone:
  - domain: {ZONE}
    file: gslb.zone
    module: mod-haltgslb/default
{zone_extra}"""
        with open(self.conf, "w") as f:
            f.write(text)

    def env(self):
        env = dict(os.environ)
        preload = _sanitizer_preload()
        if preload and not self.valgrind:
            env["LD_PRELOAD"] = ":".join(preload)
            # knotd itself is not instrumented, but LeakSanitizer only needs
            # the preloaded allocator: it checks every knotd of the suite at
            # exit (valgrind runs only the robustness file). A report fails
            # the test (sanitizer_reports) and knotd exits 1.
            env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0:log_path=%s/asan" % self.asan_dir
            supp = LSAN_SUPP
            if self.lsan_extra:
                supp = os.path.join(self.dir, "lsan.supp")
                with open(LSAN_SUPP) as f, open(supp, "w") as out:
                    out.write(f.read() + "".join(line + "\n" for line in self.lsan_extra))
            env["LSAN_OPTIONS"] = "suppressions=%s:print_suppressions=0" % supp
            env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=0:log_path=%s/ubsan" % self.asan_dir
        return env

    def make_keys(self):
        """The module loads the zone's keys when it loads, before knotd's
        first signing would create them: create them beforehand."""
        for args in (["ksk=yes"], ["ksk=no"]):
            subprocess.run([KEYMGR, "-c", self.conf, ZONE, "generate", "algorithm=ECDSAP256SHA256"]
                           + args, check=True, capture_output=True, timeout=30,
                           env=self.knotc_env())

    def start(self, wait=True):
        if self.dnssec and not os.path.exists(os.path.join(self.storage, "keys")):
            self.make_keys()
        cmd = [KNOTD, "-c", self.conf]
        if self.valgrind:
            cmd = ["valgrind", "--error-exitcode=99", "--leak-check=full",
                   "--errors-for-leak-kinds=definite", "--log-file=%s" % self.vg_log,
                   "--suppressions=%s" % os.path.join(HERE, "valgrind.supp")] + cmd
        with open(self.stderr_path, "w") as err:
            self.proc = subprocess.Popen(cmd, env=self.env(), stdout=subprocess.DEVNULL,
                                         stderr=err)
        if wait:
            self.wait_ready(60 if self.valgrind else 15)
        return self

    def wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("knotd exited (%d):\n%s" % (self.proc.returncode,
                                                                 self.logtext()))
            try:
                r = self.query("ns1." + ZONE, "A", timeout=0.5)
                if r.rcode() == dns.rcode.NOERROR and r.answer:
                    return
            except (dns.exception.Timeout, OSError):
                pass
            time.sleep(0.1)
        raise AssertionError("knotd did not answer in %ds:\n%s" % (timeout, self.logtext()))

    def knotc_env(self):
        """knotc loads the module too (conf-check). With the ASan runtime
        preloaded, knotc deadlocks in libp11-kit's exit handler after a failed
        check, so it runs uninstrumented and lets the module's libasan load
        late; sanitizing knotd is what matters."""
        env = dict(os.environ)
        env.pop("LD_PRELOAD", None)
        env["ASAN_OPTIONS"] = "verify_asan_link_order=0:detect_leaks=0"
        return env

    def knotc(self, *args, check=True, timeout=30):
        res = subprocess.run([KNOTC, "-c", self.conf, "-s", self.sock, "-t", "10"] + list(args),
                             capture_output=True, text=True, timeout=timeout,
                             env=self.knotc_env())
        if check and res.returncode != 0:
            raise AssertionError("knotc %s failed: %s%s" % (args, res.stdout, res.stderr))
        return res

    def stderr_text(self):
        try:
            with open(self.stderr_path) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        """SIGTERM and wait. What went wrong at shutdown (a hang, a crash, an
        exit status other than 0, anything on stderr) is kept in
        stop_problems for the fixture to fail the test with."""
        if self.proc is None:
            return
        timeout = 60 if self.valgrind else 15
        if self.proc.poll() is not None:
            self.stop_problems.append("knotd had already exited (status %d) before the test "
                                      "stopped it" % self.proc.returncode)
        else:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.stop_problems.append("knotd did not exit within %d s of SIGTERM "
                                          "(hang at shutdown); killed" % timeout)
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.returncode = self.proc.returncode
        if self.returncode != 0:
            how = ("killed by signal %d" % -self.returncode if self.returncode < 0
                   else "status %d" % self.returncode)
            self.stop_problems.append("knotd exited with %s, not 0" % how)
        err = self.stderr_text()
        if err.strip():
            self.stop_problems.append("knotd wrote to stderr:\n" + err[-6000:])
        self.proc = None

    # ---- queries ----

    def make(self, name, rdtype, ecs=None, dnssec=False, opts=None):
        options = list(opts or [])
        if ecs is not None:
            addr, plen = ecs.split("/")
            options.append(dns.edns.ECSOption(addr, int(plen)))
        q = dns.message.make_query(name, rdtype, use_edns=0, options=options,
                                   want_dnssec=dnssec, payload=4096)
        return q

    def query(self, name, rdtype="A", ecs=None, source="127.0.0.1", dnssec=False,
              tcp=False, timeout=None, opts=None):
        if timeout is None:
            # Under valgrind knotd runs ~20x slower and a burst of garbage
            # packets can queue up ahead of the query.
            timeout = TIMEOUT * (10 if self.valgrind else 1)
        q = self.make(name, rdtype, ecs=ecs, dnssec=dnssec, opts=opts)
        fn = dns.query.tcp if tcp else dns.query.udp
        return fn(q, "127.0.0.1", port=self.port, source=source, timeout=timeout)

    def stats(self):
        """mod-haltgslb counters as {'answer[A]': n, 'pass-through[no-db]': n, ...}."""
        res = self.knotc("zone-stats", ZONE, "mod-haltgslb", check=False)
        counters = {}
        for line in res.stdout.splitlines():
            # [gslb.example.net.] mod-haltgslb.answer[A] = 3
            m = re.match(r"\[.*\]\s+mod-haltgslb\.([\w-]+)(?:\[([\w-]+)\])?\s*=\s*(\d+)", line)
            if m:
                key = m.group(1) + ("[%s]" % m.group(2) if m.group(2) else "")
                counters[key] = int(m.group(3))
        return counters


# ---- answer helpers ----

def addresses(resp, rdtype="A"):
    t = dns.rdatatype.from_text(rdtype)
    return sorted(rd.address for rr in resp.answer if rr.rdtype == t for rd in rr)


def answer_ttl(resp):
    return resp.answer[0].ttl if resp.answer else None


def ecs_scope(resp):
    for opt in resp.options:
        if isinstance(opt, dns.edns.ECSOption):
            return opt.scopelen
    return None


def has_soa(resp):
    return any(rr.rdtype == dns.rdatatype.SOA for rr in resp.authority)



def wait_dnskey(k):
    """The signed zone's DNSKEY RRset, once knotd has signed it (20 s at most)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        r = k.query(ZONE, "DNSKEY", dnssec=True)
        keys = [rr for rr in r.answer if rr.rdtype == dns.rdatatype.DNSKEY]
        if keys:
            return keys[0]
        time.sleep(0.2)
    raise AssertionError("zone not signed:\n" + k.logtext())

# ---- fixtures ----

@pytest.fixture
def measured_db(tmp_path):
    """A database with the test policy and every endpoint measured up."""
    db = str(tmp_path / "db")
    ctl("load", "--db", db, POLICY)
    measure_all(db)
    return db


# RTT seen by each prober: (prober, endpoint) -> ms. Nearby endpoints are
# fast; the EU pair is within 20 ms of each other, as are the AP pair.
RTT = {
    "eu-fra": {"waf-fra-aws": 5, "waf-ams-gcp": 12, "waf-sin-aws": 160, "waf-jkt-azure": 170,
               "waf-iad-aws": 90, "cdn-b": 60, "waf-v4": 50, "static-target": 50,
               "big-1": 40, "big-2": 40, "big-3": 40},
    "ap-sin": {"waf-fra-aws": 160, "waf-ams-gcp": 165, "waf-sin-aws": 5, "waf-jkt-azure": 20,
               "waf-iad-aws": 220, "cdn-b": 60, "waf-v4": 50, "static-target": 50,
               "big-1": 40, "big-2": 40, "big-3": 40},
    "us-iad": {"waf-fra-aws": 90, "waf-ams-gcp": 85, "waf-sin-aws": 220, "waf-jkt-azure": 230,
               "waf-iad-aws": 5, "cdn-b": 60, "waf-v4": 50, "static-target": 50,
               "big-1": 40, "big-2": 40, "big-3": 40},
}


def measure_all(db, down=()):
    for prober, eps in RTT.items():
        for ep, rtt in eps.items():
            state = "--down" if ep in down else "--up"
            ctl("measure", "--prober", prober, "--db", db, state, "--rtt", "%dms" % rtt, ep)


@pytest.fixture
def knotd_factory(tmp_path):
    """Start knotd instances; each is stopped and checked at teardown."""
    started = []

    def make(**kwargs):
        sub = tmp_path / ("knotd%d" % len(started))
        sub.mkdir()
        k = Knotd(sub, **kwargs)
        started.append(k)
        return k

    yield make
    problems = []
    for k in started:
        k.stop()
        problems.extend("%s: %s" % (k.dir, p) for p in k.stop_problems)
        reports = k.sanitizer_reports()
        if reports:
            problems.append("sanitizer reports:\n" + "\n".join(reports))
        if k.valgrind and k.returncode is not None:
            # The ERROR SUMMARY is written when knotd exits: no log means
            # valgrind never ran (or wrote elsewhere) and nothing was checked.
            try:
                with open(k.vg_log) as f:
                    vg = f.read()
            except OSError as e:
                problems.append("valgrind log %s missing (%s): knotd was not checked" %
                                (k.vg_log, e))
            else:
                m = re.search(r"ERROR SUMMARY: (\d+) errors", vg)
                if not m or int(m.group(1)) != 0:
                    problems.append("valgrind:\n" + vg[-6000:])
        print("---- knotd log (%s) ----\n%s" % (k.dir, k.logtext()))
    assert not problems, "\n".join(problems)


@pytest.fixture
def knotd(knotd_factory, measured_db):
    """A running knotd answering from the measured test database."""
    return knotd_factory(db=measured_db).start()
