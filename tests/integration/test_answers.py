# SPDX-License-Identifier: GPL-3.0-or-later
"""mod-haltgslb answers: per country through ECS and the source address, ECS
scope, AAAA, CNAME, NODATA, other qtypes and names, counters."""
import json

import dns.rcode
import dns.rdatatype
import pytest

from conftest import (ASN, CITY, ZONE, addresses, answer_ttl, ctl, ecs_scope, has_soa)

FRA, AMS, SIN, JKT, IAD = "198.51.100.10", "198.51.100.20", "203.0.113.10", "203.0.113.20", "192.0.2.10"
FRA6, AMS6, SIN6, IAD6 = "2001:db8:10::10", "2001:db8:10::20", "2001:db8:20::10", "2001:db8:30::10"

# name, qtype, ECS (client subnet), expected addresses, expected scope.
# Clients (tests/geo/test-geo.txt): 10.1/16 DE, 10.0/16 ID, 10.2/16 SG, 10.3/16 US,
# 2001:db8:1::/48 DE, 2001:db8:4::/48 US.
ECS_CASES = [
    # global: geofence (ID -> jkt, EU -> eu pool), lowest-latency from the vantage, first 2
    ("global", "A",    "10.1.0.0/24",     [FRA, AMS], 16),
    ("global", "A",    "10.0.0.0/24",     [JKT],      16),
    ("global", "A",    "10.2.0.0/24",     [SIN, JKT], 16),
    ("global", "A",    "10.3.0.0/24",     [IAD],      16),
    ("global", "A",    "10.0.0.0/12",     [JKT],      12),   # scope capped by the source prefix
    ("global", "AAAA", "10.1.0.0/24",     [FRA6, AMS6], 16),
    ("global", "AAAA", "10.3.0.0/24",     [IAD6],     16),
    ("global", "A",    "2001:db8:1::/56", [FRA, AMS], 48),
    # nearest: great-circle distance, first 1
    ("nearest", "A",    "10.1.0.0/24",    [FRA],      16),
    ("nearest", "A",    "10.0.0.0/24",    [JKT],      16),
    ("nearest", "A",    "10.2.0.0/24",    [SIN],      16),
    ("nearest", "A",    "10.3.0.0/24",    [IAD],      16),
    ("nearest", "AAAA", "10.0.0.0/24",    [SIN6],     16),   # jkt has no IPv6
    ("nearest", "AAAA", "2001:db8:4::/56", [IAD6],    48),
    # dr: priority, client-independent -> scope 0
    ("dr",      "A",    "10.0.0.0/24",    [FRA],      0),
    ("dr",      "AAAA", "10.3.0.0/24",    [FRA6],     0),
    # all: every healthy address, client-independent
    ("all",     "A",    "10.2.0.0/24",    sorted([FRA, AMS, SIN, JKT, IAD]), 0),
    ("all",     "AAAA", "10.2.0.0/24",    sorted([FRA6, AMS6, SIN6, IAD6]), 0),
]


@pytest.mark.parametrize("name,qtype,ecs,expect,scope", ECS_CASES,
                         ids=["%s-%s-%s" % (c[0], c[1], c[2]) for c in ECS_CASES])
def test_ecs_answer(knotd, name, qtype, ecs, expect, scope):
    r = knotd.query("%s.%s" % (name, ZONE), qtype, ecs=ecs)
    assert r.rcode() == dns.rcode.NOERROR
    assert r.flags & dns.flags.AA
    assert addresses(r, qtype) == sorted(expect)
    assert ecs_scope(r) == scope
    assert answer_ttl(r) == 30


# name, source address, expected A answer (no ECS in the query).
SOURCE_CASES = [
    ("global",  "127.1.0.1", [FRA, AMS]),   # DE
    ("global",  "127.2.0.1", [JKT]),        # ID
    ("global",  "127.3.0.1", [SIN, JKT]),   # SG
    ("global",  "127.4.0.1", [IAD]),        # US
    ("nearest", "127.1.0.1", [FRA]),
    ("nearest", "127.2.0.1", [JKT]),
    ("nearest", "127.3.0.1", [SIN]),
    ("nearest", "127.4.0.1", [IAD]),
    ("dr",      "127.4.0.1", [FRA]),
]


@pytest.mark.parametrize("name,source,expect", SOURCE_CASES,
                         ids=["%s-%s" % (c[0], c[1]) for c in SOURCE_CASES])
def test_source_answer(knotd, name, source, expect):
    r = knotd.query("%s.%s" % (name, ZONE), "A", source=source)
    assert r.rcode() == dns.rcode.NOERROR
    assert addresses(r) == sorted(expect)
    assert ecs_scope(r) is None          # no ECS asked, none given


def wire_addresses(resp, rdtype):
    """The answer's addresses in the order they are on the wire."""
    t = dns.rdatatype.from_text(rdtype)
    return [rd.address for rr in resp.answer if rr.rdtype == t for rd in rr]


# Chains whose order is random (weighted-shuffle) or rotates per query
# (round-robin): the module and explain agree on the set, not the order.
UNORDERED = {"global", "all"}


def test_matches_explain(knotd):
    """The module and `haltgslb-ctl explain` run the same selection: the same
    addresses (in the same order where the chain fixes one), the same ECS
    scope and the same TTL."""
    for name, qtype, ecs, expect, scope in ECS_CASES:
        qname = "%s.%s" % (name, ZONE)
        r = knotd.query(qname, qtype, ecs=ecs)
        doc = json.loads(ctl("explain", "--client", "127.0.0.1", "--ecs", ecs, "--geoip", CITY,
                             "--asn-db", ASN, "--db", knotd.db, "--type", qtype, "--json",
                             qname).stdout)
        ans = doc["answer"]
        got, want = wire_addresses(r, qtype), ans["addresses"]
        case = (name, qtype, ecs, got, ans)
        if name in UNORDERED:
            assert sorted(got) == sorted(want), case
        else:
            assert got == want, case
        assert sorted(got) == sorted(expect), case          # and both are the expected answer
        assert ecs_scope(r) == ans["scope"] == scope, case
        assert answer_ttl(r) == ans["ttl"], case


def test_canary_sticky(knotd):
    """weighted {sticky}: one endpoint per client /24, the same for every
    query and every host of that /24 (by ECS and by source address); across
    many /24s both endpoints get clients, split near the weights 100:50."""
    seen = {FRA: 0, AMS: 0}
    for i in range(150):
        ecs = "10.200.%d.0/24" % i
        r = knotd.query("canary." + ZONE, "A", ecs=ecs)
        first = addresses(r)
        assert len(first) == 1 and first[0] in seen, (ecs, first)
        assert ecs_scope(r) == 24, (ecs, r.to_text())
        assert answer_ttl(r) == 60
        assert addresses(knotd.query("canary." + ZONE, "A", ecs=ecs)) == first, ecs
        seen[first[0]] += 1
        # Without ECS the source address is the client: any host of a /24
        # gets that /24's endpoint.
        by_src = [addresses(knotd.query("canary." + ZONE, "A", source="127.9.%d.%d" % (i, h)))
                  for h in (1, 77, 254)]
        assert by_src[0] == by_src[1] == by_src[2] and by_src[0][0] in seen, (i, by_src)
    # 2/3 of 150 is 100; the hash is fixed, so this is exact run to run.
    assert 80 <= seen[FRA] <= 120 and seen[AMS] == 150 - seen[FRA], seen


def test_cname_out_of_zone(knotd):
    r = knotd.query("cdn." + ZONE, "A", ecs="10.1.0.0/24")
    assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA
    assert len(r.answer) == 1 and r.answer[0].rdtype == dns.rdatatype.CNAME
    assert r.answer[0][0].target.to_text() == "app.cdn-b.example.org."


def test_cname_followed_in_zone(knotd):
    r = knotd.query("alias." + ZONE, "A")
    assert r.rcode() == dns.rcode.NOERROR
    types = [rr.rdtype for rr in r.answer]
    assert types == [dns.rdatatype.CNAME, dns.rdatatype.A], r.to_text()
    assert r.answer[0][0].target.to_text() == "static." + ZONE
    assert addresses(r) == ["192.0.2.99"]


@pytest.mark.parametrize("qtype", ["TXT", "MX", "NS", "SRV", "CAA"])
def test_other_qtype_nodata(knotd, qtype):
    """Other qtypes of a GSLB name are the zone's (NODATA here): the module,
    loaded and answering A, leaves them alone and counts nothing."""
    assert addresses(knotd.query("global." + ZONE, "A", ecs="10.1.0.0/24")) == [FRA, AMS]
    before = knotd.stats()
    assert before.get("answer[A]") == 1, before
    r = knotd.query("global." + ZONE, qtype, ecs="10.1.0.0/24")
    assert r.rcode() == dns.rcode.NOERROR
    assert not r.answer
    assert has_soa(r)
    assert knotd.stats() == before


def test_aaaa_without_ipv6_is_nodata(knotd):
    """The zone has no AAAA for v4only either, so the counters and the
    answer's flags are what show that the module made this NODATA."""
    r = knotd.query("v4only." + ZONE, "AAAA")
    assert r.rcode() == dns.rcode.NOERROR and not r.answer and has_soa(r)
    assert r.flags & dns.flags.AA
    assert r.authority[0].ttl == 120      # min(SOA TTL, SOA minimum), as the module puts it
    c = knotd.stats()
    assert c.get("nodata") == 1, c
    assert not c.get("answer[AAAA]") and "pass-through[no-db]" not in c, c


def test_fallback_none_nodata(knotd):
    """Chain leaves nothing and fallback is none: NODATA, not the zone's records."""
    assert addresses(knotd.query("strict." + ZONE, "A")) == ["192.0.2.50"]
    ctl("drain", "--db", knotd.db, "waf-v4")
    r = knotd.query("strict." + ZONE, "A")
    assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA
    assert not r.answer and has_soa(r)
    assert r.authority[0].ttl == 120      # min(SOA TTL, SOA minimum)


def test_static_names_untouched(knotd):
    before = knotd.stats()
    assert addresses(knotd.query("static." + ZONE, "A")) == ["192.0.2.99"]
    assert addresses(knotd.query("static." + ZONE, "AAAA"), "AAAA") == ["2001:db8:99::99"]
    r = knotd.query("nonexistent." + ZONE, "A")
    assert r.rcode() == dns.rcode.NXDOMAIN
    assert knotd.stats() == before


def test_counters(knotd):
    for _ in range(3):
        knotd.query("global." + ZONE, "A", ecs="10.1.0.0/24")
    knotd.query("global." + ZONE, "AAAA", ecs="10.1.0.0/24")
    knotd.query("cdn." + ZONE, "A")
    c = knotd.stats()
    assert c.get("answer[A]") == 4
    assert c.get("answer[AAAA]") == 1
    assert c.get("cname") == 1
    assert "pass-through[no-db]" not in c


def test_mixed_case_qname(knotd):
    """Names match case-insensitively (the views are keyed lower-case), and
    the answer keeps the query's spelling, as Knot does for zone answers."""
    qname = "NeArEsT." + ZONE.upper()
    r = knotd.query(qname, "A", ecs="10.1.0.0/24")
    assert r.rcode() == dns.rcode.NOERROR
    assert addresses(r) == [FRA]
    assert ecs_scope(r) == 16
    assert r.answer[0].name.to_text() == qname


@pytest.mark.parametrize("source", ["127.1.0.1", "127.2.0.1", "127.3.0.1", "127.4.0.1"])
def test_source_every_chain_matches_explain(knotd, source):
    """Every chain of the reference policy, by the query's source address (no
    ECS): the module's answer is the one `haltgslb-ctl explain` computes for
    that client (as sets: weighted-shuffle and round-robin vary the order)."""
    for name in ("global", "nearest", "dr", "canary", "all"):
        qname = "%s.%s" % (name, ZONE)
        r = knotd.query(qname, "A", source=source)
        assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA
        doc = json.loads(ctl("explain", "--client", source, "--geoip", CITY, "--asn-db", ASN,
                             "--db", knotd.db, "--json", qname).stdout)
        assert addresses(r) == sorted(doc["answer"]["addresses"]), (name, source, doc)
        assert addresses(r), (name, source)
