# SPDX-License-Identifier: GPL-3.0-or-later
"""The database map grows instead of filling (issue 13, point 4): a load
grows a tiny initial map; at the ceiling a write fails naming the limit and
nothing of it is written; knotd, whose own ceiling is smaller than the
data grows to, keeps answering (never SERVFAIL) and serves the new data."""
import os
import subprocess
import time

import dns.rcode

from conftest import CTL, POLICY, ZONE, addresses, ctl, measure_all

FRA, AMS = "198.51.100.10", "198.51.100.20"


def ctl_env(env, *args):
    """haltgslb-ctl with extra environment variables."""
    e = dict(os.environ)
    e.update(env)
    return subprocess.run([CTL] + list(args), capture_output=True, text=True, timeout=120,
                          env=e)


def bulk_policy(path, n):
    """The test policy plus n names over pool eu (chain up, first 2)."""
    with open(POLICY) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(text)
        if not text.endswith("\n"):
            f.write("\n")
        for i in range(n):
            f.write("  - {name: bulk%d.%s, pools: [eu], chain: [up, {first: 2}]}\n" % (i, ZONE))
    return path


def generation(db):
    out = ctl("status", "--db", db).stdout
    for line in out.splitlines():
        if line.startswith("policy: generation "):
            return int(line.split()[2])
    raise AssertionError(out)


def test_load_grows_a_tiny_map(tmp_path):
    db = str(tmp_path / "db")
    res = ctl_env({"HG_STORE_MAPSIZE": "65536"}, "load", "--db", db,
                  bulk_policy(str(tmp_path / "p.yaml"), 3000))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "map grown to" in res.stderr, res.stderr
    assert os.path.getsize(os.path.join(db, "data.mdb")) > 65536
    out = ctl("explain", "bulk2999." + ZONE, "--client", "127.1.0.1", "--geoip",
              os.path.join(os.environ.get("HG_TEST_DATA", ""), "test-city.mmdb"),
              "--db", db, check=False)
    assert out.returncode == 0, out.stdout + out.stderr


def test_ceiling_refuses_whole_write(tmp_path):
    db = str(tmp_path / "db")
    ctl("load", "--db", db, POLICY)
    before = generation(db)
    res = ctl_env({"HG_STORE_MAPSIZE": "65536", "HG_STORE_MAPSIZE_MAX": "524288"}, "load",
                  "--db", db, bulk_policy(str(tmp_path / "big.yaml"), 20000))
    assert res.returncode != 0
    assert "limit of 524288 bytes" in res.stderr and "HG_STORE_MAPSIZE_MAX" in res.stderr, \
        res.stderr
    assert "the database is unchanged" in res.stderr, res.stderr
    assert generation(db) == before
    assert "bulk0." not in ctl("status", "--db", db).stdout
    # The same load under a higher ceiling goes through.
    res = ctl_env({"HG_STORE_MAPSIZE_MAX": "268435456"}, "load", "--db", db,
                  str(tmp_path / "big.yaml"))
    assert res.returncode == 0, res.stdout + res.stderr
    assert generation(db) == before + 1


def test_knotd_follows_growth(knotd_factory, tmp_path, monkeypatch):
    db = str(tmp_path / "db")
    ctl("load", "--db", db, POLICY)
    measure_all(db)
    # knotd maps at most 2 MiB; the writers below grow the data past it.
    monkeypatch.setenv("HG_STORE_MAPSIZE_MAX", "2097152")
    k = knotd_factory(db=db).start()
    monkeypatch.delenv("HG_STORE_MAPSIZE_MAX")
    assert addresses(k.query("dr." + ZONE, "A")) == [FRA]
    size0 = os.path.getsize(os.path.join(db, "data.mdb"))
    assert size0 < 2097152, size0
    big = bulk_policy(str(tmp_path / "big.yaml"), 20000)
    loader = subprocess.Popen([CTL, "load", "--db", db, big], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    # Queries while the data grows and knotd's map follows: never SERVFAIL.
    rcodes = set()
    while loader.poll() is None:
        rcodes.add(k.query("dr." + ZONE, "A").rcode())
    out = loader.stdout.read()
    assert loader.returncode == 0, out
    measure_all(db)
    assert os.path.getsize(os.path.join(db, "data.mdb")) > 2097152
    # The new names are answered by the module once the map followed (the
    # checker remaps within its interval when workers were busy).
    deadline = time.monotonic() + 10
    got = None
    while time.monotonic() < deadline:
        r = k.query("bulk19999." + ZONE, "A")
        # Until knotd reads the new policy the name is not in its zone.
        assert r.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN), r
        got = addresses(r)
        if got:
            break
        time.sleep(0.2)
    assert got == sorted([FRA, AMS]), (got, k.logtext())
    assert rcodes == {dns.rcode.NOERROR}, rcodes
    rcodes.add(k.query("dr." + ZONE, "A").rcode())
    assert addresses(k.query("dr." + ZONE, "A")) == [FRA]
    stats = k.stats()
    assert stats.get("pass-through[error]", 0) == 0, stats


def test_warning_before_the_ceiling(tmp_path):
    """From 80 % of the ceiling every writer warns (once per process) while
    its writes still go through; past the ceiling the write fails loudly."""
    db = str(tmp_path / "db")
    env = {"HG_STORE_MAPSIZE_MAX": "2097152"}
    res = ctl_env(env, "load", "--db", db, bulk_policy(str(tmp_path / "p.yaml"), 6500))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "of its 2097152 bytes limit" in res.stderr, res.stderr
    assert "raise HG_STORE_MAPSIZE_MAX before writes fail" in res.stderr, res.stderr
    # A measurement near the ceiling is stored, with the warning again.
    res = ctl_env(env, "measure", "waf-fra-aws", "--prober", "eu-fra", "--up", "--rtt", "5ms",
                  "--db", db)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "before writes fail" in res.stderr, res.stderr
    # Past it: refused whole, said so, nothing changed.
    before = generation(db)
    res = ctl_env(env, "load", "--db", db, bulk_policy(str(tmp_path / "q.yaml"), 12000))
    assert res.returncode != 0
    assert "limit of 2097152 bytes" in res.stderr and "the database is unchanged" in res.stderr, \
        res.stderr
    assert generation(db) == before
