# SPDX-License-Identifier: GPL-3.0-or-later
"""DNSSEC: with a zone signed by knotd, the module's answers carry RRSIGs made
with the zone's keys and validate against its DNSKEY."""
import time

import dns.dnssec
import dns.name
import dns.rcode
import dns.rdatatype
import pytest

from conftest import ZONE, addresses, wait_dnskey

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


@pytest.mark.parametrize("name,qtype,ecs", [
    ("global", "A", "10.1.0.0/24"),
    ("global", "A", "10.0.0.0/24"),
    ("global", "AAAA", "10.3.0.0/24"),
    ("nearest", "A", "10.2.0.0/24"),
    ("all", "A", None),
    ("dr", "AAAA", None),
])
def test_answers_validate(signed, name, qtype, ecs):
    keys = wait_dnskey(signed)
    for _ in range(2):                     # miss (signs) then hit (cache)
        r = signed.query("%s.%s" % (name, ZONE), qtype, ecs=ecs, dnssec=True)
        assert r.rcode() == dns.rcode.NOERROR
        _validate(r, keys, dns.rdatatype.from_text(qtype))


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
