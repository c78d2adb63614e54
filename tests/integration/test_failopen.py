# SPDX-License-Identifier: GPL-3.0-or-later
"""Fail open: no database -> zone records, counted; database appears -> the
module answers within 2 s, without a reload."""
import os
import re
import time

import dns.rcode

from conftest import POLICY, ZONE, addresses, ctl, measure_all

ZONE_FALLBACK = sorted(["198.51.100.10", "198.51.100.20", "192.0.2.10"])   # dr's records


def test_missing_db_then_created(knotd_factory, tmp_path):
    db = str(tmp_path / "later-db")
    k = knotd_factory(db=db).start()
    r = k.query("dr." + ZONE, "A")
    assert r.rcode() == dns.rcode.NOERROR
    assert addresses(r) == ZONE_FALLBACK          # the zone's static records
    assert r.answer[0].ttl == 30
    assert k.stats().get("pass-through[no-db]", 0) >= 1
    assert "serving zone records" in k.logtext()

    ctl("load", "--db", db, POLICY)
    measure_all(db)
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        if addresses(k.query("dr." + ZONE, "A")) == ["198.51.100.10"]:
            break
        time.sleep(0.05)
    assert addresses(k.query("dr." + ZONE, "A")) == ["198.51.100.10"]
    assert "is valid, answering from it" in k.logtext()


def test_unknown_schema_fails_open(knotd_factory, tmp_path):
    """A database of another schema version is refused, never crashes knotd."""
    db = str(tmp_path / "db")
    ctl("load", "--db", db, POLICY)
    import lmdb_bump  # noqa: F401  (helper below rewrites the version)
    lmdb_bump.set_schema_version(db, 999)
    k = knotd_factory(db=db).start()
    before = k.stats()
    assert addresses(k.query("dr." + ZONE, "A")) == ZONE_FALLBACK
    assert "unknown schema version" in k.logtext()
    assert_module_passed_through(k, before, 1)


def test_schema1_fails_open_until_load_upgrades(knotd_factory, tmp_path):
    """Issue 13: a schema-1 database (the previous layout) is refused by the
    module, which answers the zone's records; `haltgslb-ctl load` upgrades it
    in place and the module answers from it without a reload."""
    db = str(tmp_path / "db")
    ctl("load", "--db", db, POLICY)
    import lmdb_bump
    lmdb_bump.set_schema_version(db, 1)
    k = knotd_factory(db=db).start()
    r = k.query("dr." + ZONE, "A")
    assert r.rcode() == dns.rcode.NOERROR and addresses(r) == ZONE_FALLBACK
    assert k.stats().get("pass-through[no-db]", 0) >= 1
    assert "unknown schema version" in k.logtext()
    out = ctl("load", "--db", db, POLICY).stdout
    assert "upgraded %s from schema version 1 to 2" % db in out, out
    measure_all(db)
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        if addresses(k.query("dr." + ZONE, "A")) == ["198.51.100.10"]:
            break
        time.sleep(0.05)
    assert addresses(k.query("dr." + ZONE, "A")) == ["198.51.100.10"]
    assert "is valid, answering from it" in k.logtext()


def test_unreadable_db_dir_fails_open(knotd_factory, tmp_path):
    db = tmp_path / "notadb"
    db.mkdir()
    (db / "data.mdb").write_bytes(b"garbage" * 100)
    k = knotd_factory(db=str(db)).start()
    before = k.stats()
    r = k.query("dr." + ZONE, "A")
    assert r.rcode() == dns.rcode.NOERROR and addresses(r) == ZONE_FALLBACK
    assert os.path.exists(str(db / "data.mdb"))
    # The zone would answer the same without the module: its log line and
    # counters show it was there, refused the file and stepped aside.
    assert re.search(r"database '%s' is [^(]+ \(.*\), serving zone records" % re.escape(str(db)),
                     k.logtext()), k.logtext()
    assert_module_passed_through(k, before, 1)
    assert (db / "data.mdb").read_bytes() == b"garbage" * 100     # read-only: untouched


def assert_module_passed_through(k, before, queries):
    """Since the counters were `before`, the module saw `queries` queries and
    passed them to the zone for want of a database (pass-through[no-db];
    without a database every A/AAAA query is one, the fixture's readiness
    probe included), with no answer of its own."""
    c = k.stats()
    assert c.get("pass-through[no-db]", 0) - before.get("pass-through[no-db]", 0) == queries, (before, c)
    assert not c.get("answer[A]") and not c.get("answer[AAAA]"), c
