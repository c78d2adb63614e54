#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""End-to-end replication benchmark (prints figures; not a test). As root,
under the heavy lock, on a plain (not sanitizer) build:

  flock /tmp/hg-heavy.lock make -C build/plain bench-replication

The fleet of tests/fleet (network namespaces, a real rabbitmq-server from
`haltgslb-ctl broker-config`, TLS everywhere) with one prober "eu" and one
DNS node on the LAN bridge (local links, no added delay):

1. Latency, commit on the prober -> view patched on the DNS node, over
   BATCHES (default 1,000) batches. FLIP endpoints (default 10), each a
   real HTTP server whose status alternates 200/500, probed every 500 ms
   with rise 1 / fall 1: every probe changes the endpoint's health, so
   every prober commit carries changes. tests/bench/bench_replication_watch
   sees each commit in the prober's own LMDB and times it until the node's
   view of fast.gslb.example.net. shows every state it changed.
2. Records/s one syncd applies: the prober restarted with
   --snapshot-interval 1s publishes snapshots of its whole keyspace (the
   FLIP endpoints plus BULK endpoints, default 2,000, in pools and
   names of 50: nobody answers them) until the stream holds RECORDS (default
   100,000) more records; the prober stops; a fresh DNS node's syncd then
   replays them from the stream (its --snapshot-interval 600s makes it
   start 605 s back) and the watcher times its cursor from the first
   record applied to the last.
"""
import os
import subprocess
import sys
import time

SRC = os.path.abspath(os.environ.get("top_srcdir", os.path.join(os.path.dirname(__file__), "..", "..")))
BUILD = os.path.abspath(os.environ.get("top_builddir", SRC))
sys.path.insert(0, os.path.join(SRC, "tests", "fleet"))
import fleet  # noqa: E402

WATCH = os.path.join(BUILD, "tests", "bench", "bench_replication_watch")
BATCHES = int(os.environ.get("BATCHES", 1000))
FLIP = int(os.environ.get("FLIP", 10))
BULK = int(os.environ.get("BULK", 2000))
RECORDS = int(os.environ.get("RECORDS", 100000))


def spec():
    flips = {"fl-%02d" % i: ("10.220.0.%d" % (i + 1), (50.11, 8.68)) for i in range(FLIP)}
    bulk = {"bulk-%04d" % i: "10.250.%d.%d" % (i // 250, i % 250 + 1) for i in range(BULK)}
    return fleet.Spec(
        probers={"eu": ("10.210.0.11", (50.11, 8.68), {e: 0 for e in flips})},
        # A name holds at most 64 endpoints (the policy compiler's limit): pools of 50.
        endpoints=flips, bulk_endpoints=bulk, bulk_pools=max(1, (BULK + 49) // 50),
        idle_probers={}, dns=("d1",), spare_dns=("d2",),
        interval="500ms", timeout="300ms", rise=1, fall=1, stale_after="10s",
        snapshot_interval="30s", server_args=["--status-cycle", "200,500"])


def watch(*args, timeout):
    r = subprocess.run([WATCH] + list(args), capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError("bench_replication_watch %s failed: %s%s" % (args[0], r.stdout, r.stderr))
    return r.stdout.strip()


def cursor_records(node, prober):
    c = node.cursors().get(prober)
    return c["records"] if c else 0


def main():
    if os.geteuid() != 0:
        sys.exit("bench_replication: run as root (network namespaces, rabbitmq-server)")
    missing = [p for p in fleet.required_binaries() + [WATCH] if not os.path.exists(p)]
    if missing:
        sys.exit("bench_replication: missing %s" % ", ".join(missing))
    work = os.path.join(BUILD, "bench-replication")
    subprocess.run(["rm", "-rf", work], check=True)
    f = fleet.Fleet(work, spec())
    print("fleet: broker, prober eu (%d flipping + %d bulk endpoints), DNS node d1; %d CPUs"
          % (FLIP, BULK, os.cpu_count()))
    t0 = time.monotonic()
    f.start(wait=False)
    try:
        eu, d1 = f.probers["eu"], f.dns["d1"]
        ok = fleet.wait_for(lambda: "eu" in d1.cursors(), 60, step=0.5)
        if not ok:
            raise RuntimeError("d1 never heard of eu:\n" + f.tails())
        print("fleet up in %.1f s" % (time.monotonic() - t0))
        # 1. latency
        out = watch("latency", "--prober-db", eu.db, "--node-db", d1.db, "--prober", "eu",
                    "--name", fleet.NAME, "--batches", str(BATCHES), "--timeout-s", "900",
                    timeout=960)
        print("1. " + out)
        m = eu.metrics()
        pub = {dict(k[1]).get("kind"): v for k, v in m.items()
               if k[0] == "haltgslb_prober_published_messages_total"}
        print("   prober published messages by kind: %s" % pub)
        # 2. records/s of one syncd replaying the stream
        eu.daemon.stop()
        f.spec.snapshot_interval = "1s"
        base = cursor_records(d1, "eu")
        eu.start()
        t1 = time.monotonic()
        ok = fleet.wait_for(lambda: cursor_records(d1, "eu") >= base + RECORDS, 600, step=0.5)
        if not ok:
            raise RuntimeError("the stream did not reach %d records: %d" % (RECORDS, cursor_records(d1, "eu") - base))
        eu.daemon.stop()
        print("2. the prober published %d records in snapshots of %d records in %.1f s"
              % (cursor_records(d1, "eu") - base, FLIP + BULK, time.monotonic() - t1))
        d2 = f.add_dns("d2")
        d2.syncd.extra = ["--snapshot-interval", "600s"]
        d2.syncd.start()
        out = watch("rate", "--node-db", d2.db, "--prober", "eu", "--idle-ms", "3000",
                    "--timeout-s", "600", timeout=660)
        print("   fresh DNS node replaying the stream: " + out)
        print("   its cursor: %s" % d2.cursors().get("eu"))
    finally:
        problems = f.close()
    if problems:
        sys.exit("\n".join(problems))
    subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
