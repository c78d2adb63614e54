# SPDX-License-Identifier: GPL-3.0-or-later
"""Data changes are visible to the next query, without a knotd reload."""
import dns.rcode

from conftest import ZONE, addresses, answer_ttl, ctl, measure_all

FRA, AMS = "198.51.100.10", "198.51.100.20"


def test_measurement_down_changes_answer(knotd):
    q = lambda: knotd.query("nearest." + ZONE, "A", ecs="10.1.0.0/24")
    r = q()
    assert addresses(r) == [FRA] and answer_ttl(r) == 30

    measure_all(knotd.db, down=("waf-fra-aws",))
    r = q()
    assert addresses(r) == [AMS]
    assert answer_ttl(r) == 10            # degraded-ttl
    assert knotd.stats().get("degraded") == 1

    measure_all(knotd.db)                 # recovered
    r = q()
    assert addresses(r) == [FRA] and answer_ttl(r) == 30


def test_drain_and_undrain(knotd):
    q = lambda: addresses(knotd.query("dr." + ZONE, "A"))
    assert q() == [FRA]
    ctl("drain", "--db", knotd.db, "waf-fra-aws")
    assert q() == [AMS]
    ctl("drain", "--db", knotd.db, "waf-ams-gcp")
    assert q() == ["192.0.2.10"]          # priority 2 pool takes over
    ctl("undrain", "--db", knotd.db, "waf-fra-aws")
    ctl("undrain", "--db", knotd.db, "waf-ams-gcp")
    assert q() == [FRA]


def test_all_down_uses_fallback(knotd):
    """Every endpoint down: fallback all, counted, never SERVFAIL."""
    measure_all(knotd.db, down=tuple(["waf-fra-aws", "waf-ams-gcp", "waf-sin-aws",
                                      "waf-jkt-azure", "waf-iad-aws"]))
    r = knotd.query("all." + ZONE, "A")
    assert r.rcode() == dns.rcode.NOERROR
    assert len(addresses(r)) == 5
    assert answer_ttl(r) == 10
    assert knotd.stats().get("fallback") == 1


def test_policy_reload_visible(knotd, tmp_path):
    """A policy load is one transaction and visible to the next query."""
    src = open(__import__("conftest").POLICY).read()
    changed = src.replace("chain: [up, priority, first: 1]", "chain: [up, priority, first: 2]")
    assert changed != src
    p = tmp_path / "changed.yaml"
    p.write_text(changed)
    assert addresses(knotd.query("dr." + ZONE, "A")) == [FRA]
    ctl("load", "--db", knotd.db, str(p))
    assert addresses(knotd.query("dr." + ZONE, "A")) == sorted([FRA, AMS])
