#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""haltgslb-syncd benchmark (prints figures; not a test). As root, under the
heavy lock:

  flock /tmp/hg-heavy.lock make -C build/plain bench-syncd

A private rabbitmq-server configured by `haltgslb-ctl broker-config`, one
prober publishing over TLS (tests/bench/bench_syncd), one syncd. Policy:
1,000 endpoints in 20 pools of 50, 20 names (one pool each), 2 probers.

0. the disk: fdatasync() of a 4 KiB write, median and p90 of 50 (every
   LMDB commit pays one or two: the per-transaction floor below);
1. records/s of the apply path alone (no broker), MESSAGES x RECORDS with
   1, 10 and 100 messages per transaction;
2. records/s one syncd applies from the stream: a backlog of
   BACKLOG x RECORDS published first, then syncd started (timed from its
   first commit to the last record; syncd commits a burst of up to --batch
   deliveries or 50 ms per transaction);
3. publish -> view-patched latency over BATCHES 1-record batches on loopback.

Environment: MESSAGES (500), BACKLOG (5000), RECORDS (200), BATCHES (1000).
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

SRC = os.path.abspath(os.environ.get("top_srcdir", os.path.join(os.path.dirname(__file__), "..", "..")))
BUILD = os.path.abspath(os.environ.get("top_builddir", SRC))
sys.path.insert(0, os.path.join(SRC, "tests", "netsim"))
import broker  # noqa: E402
import pki     # noqa: E402

CTL = os.path.join(BUILD, "haltgslb-ctl")
SYNCD = os.path.join(BUILD, "haltgslb-syncd")
BENCH = os.path.join(BUILD, "tests", "bench", "bench_syncd")
MESSAGES = int(os.environ.get("MESSAGES", 500))
BACKLOG = int(os.environ.get("BACKLOG", 5000))
RECORDS = int(os.environ.get("RECORDS", 200))
BATCHES = int(os.environ.get("BATCHES", 1000))


def policy(path):
    lines = ["version: 1", "defaults: {stale-after: 15s}", "probers:",
             "  - {id: bench-p1, location: {lat: 50.1, lon: 8.7}}",
             "  - {id: bench-p2, location: {lat: 1.3, lon: 103.8}}", "pools:"]
    for p in range(20):
        lines.append("  - id: pool-%02d" % p)
        lines.append("    endpoints:")
        for e in range(50):
            i = p * 50 + e
            lines.append("      - {id: ep-%05d, address: [10.%d.%d.%d]}" % (i, p, e // 250, e % 250 + 1))
    lines.append("names:")
    for p in range(20):
        lines.append("  - {name: n%02d.bench.example., pools: [pool-%02d], chain: [up, first: 2]}" % (p, p))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def fsync_latency(d, n=50):
    """fdatasync() of a 4 KiB write in directory d: (median, p90) in ms."""
    path = os.path.join(d, "fsync.probe")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    lat = []
    try:
        for i in range(n):
            os.pwrite(fd, os.urandom(4096), (i % 16) * 4096)
            t = time.monotonic()
            os.fdatasync(fd)
            lat.append((time.monotonic() - t) * 1000)
    finally:
        os.close(fd)
        os.unlink(path)
    lat.sort()
    return lat[n // 2], lat[n * 9 // 10]


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("%s failed: %s%s" % (cmd[0], r.stdout, r.stderr))
    return r.stdout.strip()


def main():
    for p in (CTL, SYNCD, BENCH):
        if not os.path.exists(p):
            sys.exit("missing %s (make bench-syncd builds it)" % p)
    tmp = tempfile.mkdtemp(prefix="bench_syncd.")
    try:
        pol = os.path.join(tmp, "policy.yaml")
        policy(pol)
        ca = pki.CA(os.path.join(tmp, "pki"), "bench CA")
        srv = ca.server("broker", hosts=["localhost"], ips=["127.0.0.1"])
        pub, dns = ca.client("bench-p1"), ca.client("dns-1")

        # 0. the disk
        print("fdatasync of 4 KiB in %s: median %.2f ms, p90 %.2f ms" % ((tmp,) + fsync_latency(tmp)))
        # 1. apply path alone
        for per_txn in (1, 10, 100):
            db0 = os.path.join(tmp, "apply%d.db" % per_txn)
            run([CTL, "load", pol, "--db", db0])
            print(run([BENCH, "apply", "--db", db0, "--messages", str(MESSAGES),
                       "--records", str(RECORDS), "--batches", str(per_txn)]))

        amqps, dist, epmd = broker.free_ports(3)
        conf = broker.broker_config(CTL, os.path.join(tmp, "conf"), pol, ["dns-1"], amqps, srv,
                                    node_name="hgbench@localhost", dist_port=dist,
                                    epmd_port=epmd, listen=["127.0.0.1"])
        with broker.Broker([broker.Node(conf, os.path.join(tmp, "node"))]) as b:
            uri = "amqps://localhost:%d" % b.nodes[0].port
            common = ["--broker", uri, "--tls-cert", pub.cert, "--tls-key", pub.key,
                      "--tls-ca", ca.cert, "--prober", "bench-p1"]
            db = os.path.join(tmp, "node.db")
            run([CTL, "load", pol, "--db", db])
            # 2. a backlog, then syncd
            print(run([BENCH, "backlog"] + common + ["--messages", str(BACKLOG),
                                                     "--records", str(RECORDS)]))
            log = open(os.path.join(tmp, "syncd.log"), "w")
            syncd = subprocess.Popen([SYNCD, "--foreground", "--db", db, "--broker", uri,
                                      "--tls-cert", dns.cert, "--tls-key", dns.key,
                                      "--tls-ca", ca.cert, "--snapshot-interval", "1h"],
                                     stdout=log, stderr=subprocess.STDOUT)
            try:
                print(run([BENCH, "wait", "--db", db, "--prober", "bench-p1",
                           "--records", str(BACKLOG * RECORDS)]))
                # 3. latency
                print(run([BENCH, "latency"] + common + ["--db", db, "--batches", str(BATCHES),
                                                         "--name", "n00.bench.example."]))
            finally:
                syncd.terminate()
                syncd.wait(20)
                log.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
