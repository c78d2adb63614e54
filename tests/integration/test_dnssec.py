# SPDX-License-Identifier: GPL-3.0-or-later
"""DNSSEC: with a zone signed by knotd, the module's answers carry RRSIGs made
with the zone's keys and validate against its DNSKEY."""
import time

import dns.dnssec
import dns.name
import dns.rcode
import dns.rdatatype
import pytest

from conftest import ZONE, addresses, ecs_scope, wait_dnskey

ORIGIN = dns.name.from_text(ZONE)


def _validate(r, keys, rdtype):
    rrset = [rr for rr in r.answer if rr.rdtype == rdtype][0]
    sigs = [rr for rr in r.answer if rr.rdtype == dns.rdatatype.RRSIG and rr.covers == rdtype]
    assert sigs, r.to_text()
    dns.dnssec.validate(rrset, sigs[0], {ORIGIN: keys})
    return rrset


@pytest.fixture
def signed(knotd_factory, measured_db):
    return knotd_factory(db=measured_db, dnssec=True).start()


FRA, AMS, SIN, JKT, IAD = "198.51.100.10", "198.51.100.20", "203.0.113.10", "203.0.113.20", "192.0.2.10"
FRA6, IAD6 = "2001:db8:10::10", "2001:db8:30::10"


# name, qtype, ECS, the module's answer, its ECS scope (None: no ECS asked).
# The zone holds every address of each name (zone-records) and knotd signs
# them too: a pass-through would validate just as well, so the answer, the
# scope and the module's counters are what show the module answered.
@pytest.mark.parametrize("name,qtype,ecs,expect,scope", [
    ("global", "A", "10.1.0.0/24", [FRA, AMS], 16),
    ("global", "A", "10.0.0.0/24", [JKT], 16),
    ("global", "AAAA", "10.3.0.0/24", [IAD6], 16),
    ("nearest", "A", "10.2.0.0/24", [SIN], 16),
    ("all", "A", None, [FRA, AMS, SIN, JKT, IAD], None),    # the zone's set too: counters tell
    ("dr", "AAAA", None, [FRA6], None),
])
def test_answers_validate(signed, name, qtype, ecs, expect, scope):
    keys = wait_dnskey(signed)
    before = signed.stats()
    for _ in range(2):                     # miss (signs) then hit (cache)
        r = signed.query("%s.%s" % (name, ZONE), qtype, ecs=ecs, dnssec=True)
        assert r.rcode() == dns.rcode.NOERROR
        rrset = _validate(r, keys, dns.rdatatype.from_text(qtype))
        assert addresses(r, qtype) == sorted(expect), r.to_text()
        assert rrset.ttl == 30
        assert ecs_scope(r) == scope, r.to_text()
    after = signed.stats()
    key = "answer[%s]" % qtype
    assert after.get(key, 0) - before.get(key, 0) == 2, (before, after)
    passed = {k: v - before.get(k, 0) for k, v in after.items() if k.startswith("pass-through")}
    assert not any(passed.values()), passed
    assert "cannot sign" not in signed.logtext()


def test_cname_validates(signed):
    keys = wait_dnskey(signed)
    r = signed.query("alias." + ZONE, "A", dnssec=True)
    _validate(r, keys, dns.rdatatype.CNAME)
    _validate(r, keys, dns.rdatatype.A)     # the followed target, signed by the zone
    assert addresses(r) == ["192.0.2.99"]


def test_no_do_no_rrsig(signed):
    wait_dnskey(signed)
    r = signed.query("global." + ZONE, "A", ecs="10.1.0.0/24", dnssec=False)
    assert r.answer and all(rr.rdtype != dns.rdatatype.RRSIG for rr in r.answer)


def test_degraded_ttl_signed(signed):
    """The RRSIG's original TTL follows the answer's TTL (cache key has it)."""
    keys = wait_dnskey(signed)
    from conftest import measure_all
    measure_all(signed.db, down=("waf-fra-aws",))
    r = signed.query("nearest." + ZONE, "A", ecs="10.1.0.0/24", dnssec=True)
    rrset = _validate(r, keys, dns.rdatatype.A)
    assert rrset.ttl == 10
