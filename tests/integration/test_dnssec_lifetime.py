# SPDX-License-Identifier: GPL-3.0-or-later
"""DNSSEC signature times of the module's answers.

The module stamps each signature with the time it is made: inception an
hour back (resolvers with lagging clocks), expiration rrsig-lifetime of the
zone's policy ahead. Before, knotd's module signing context stamped every
signature with the time of the module load, so signatures made days after
the load expired early, and once they would expire within the answer TTL
DNSSEC queries bypassed GSLB until `knotc reload`. A cached signature is
served only while it is still valid for as long as a resolver may cache the
answer. A lifetime not above the answer's TTL cannot give such signatures:
the zone's records answer and the module says so once."""
import time

import dns.dnssec
import dns.name
import dns.rcode
import dns.rdatatype
import pytest

from conftest import POLICY, ZONE, addresses, ctl, ecs_scope, measure_all, wait_dnskey

ORIGIN = dns.name.from_text(ZONE)
FRA, AMS = "198.51.100.10", "198.51.100.20"
INCEPT_BEFORE = 3600


def _with_policy(k, lifetime, refresh):
    with open(k.conf) as f:
        text = f.read()
    policy = ("policy:\n  - id: short\n    algorithm: ecdsap256sha256\n"
              "    rrsig-lifetime: %d\n    rrsig-refresh: %d\n    rrsig-pre-refresh: 0\n"
              "    propagation-delay: 0\n"
              % (lifetime, refresh))
    text = text.replace("template:\n", policy + "template:\n", 1)
    text = text.replace("    dnssec-signing: on\n",
                        "    dnssec-signing: on\n    dnssec-policy: short\n", 1)
    with open(k.conf, "w") as f:
        f.write(text)
    return k


def _signed_a(k, keys, name="global", ecs="10.1.0.0/24"):
    r = k.query("%s.%s" % (name, ZONE), "A", ecs=ecs, dnssec=True)
    assert r.rcode() == dns.rcode.NOERROR
    rrset = [rr for rr in r.answer if rr.rdtype == dns.rdatatype.A][0]
    sigs = [rr for rr in r.answer if rr.rdtype == dns.rdatatype.RRSIG]
    assert sigs, r.to_text()
    dns.dnssec.validate(rrset, sigs[0], {ORIGIN: keys})
    return r, rrset, sigs[0]


def test_short_lifetime_still_signs_from_module(knotd_factory, measured_db):
    k = _with_policy(knotd_factory(db=measured_db, dnssec=True), 1800, 600).start()
    keys = wait_dnskey(k)
    now = int(time.time())
    for _ in range(3):
        r, rrset, sigs = _signed_a(k, keys)
        # The module's answer (DE client), not the zone's static fallback.
        assert addresses(r) == sorted([FRA, AMS]), r.to_text()
        # Valid for at least as long as a resolver may cache the answer.
        assert sigs[0].expiration > now + rrset.ttl
    stats = k.stats()
    assert stats.get("answer[A]", 0) == 3, stats
    assert stats.get("pass-through[error]", 0) == 0, stats
    assert stats.get("pass-through[dnssec]", 0) == 0, stats
    assert "cannot sign" not in k.logtext()


def test_signature_times_follow_the_clock(knotd_factory, measured_db):
    """Inception and expiration come from the time of signing, not from the
    module load: a first signature made seconds after the start expires
    rrsig-lifetime after it was made."""
    lifetime = 1800
    k = _with_policy(knotd_factory(db=measured_db, dnssec=True), lifetime, 600).start()
    keys = wait_dnskey(k)
    loaded = int(time.time())
    time.sleep(3)
    for name, ecs in (("global", "10.1.0.0/24"), ("all", None)):
        before = int(time.time()) - 1     # knotd's coarse clock may lag a tick
        _, _, sigs = _signed_a(k, keys, name, ecs)
        after = int(time.time())
        sig = sigs[0]
        assert before + lifetime <= sig.expiration <= after + lifetime, (sig, before, after)
        assert before - INCEPT_BEFORE <= sig.inception <= after - INCEPT_BEFORE, sig
        # ... which the module load alone could not have given.
        assert sig.expiration >= loaded + 3 + lifetime
        assert sig.inception < before < sig.expiration
        time.sleep(1.5)
    # A cache hit serves the same signature, still inside its validity.
    _, _, again = _signed_a(k, keys, "all", None)
    assert again[0].expiration == sig.expiration


def test_lifetime_below_ttl_falls_back_quietly(knotd_factory, tmp_path):
    """Signatures that would expire within the answer's TTL are not served:
    the zone's own records answer, and the module says so once, instead of
    signing and warning on every query. (Answer TTL 3600 > rrsig-lifetime
    400; knotd itself needs rrsig-refresh above the zone's max TTL, so the
    zone file keeps the TTLs of the test policy.)"""
    with open(POLICY) as f:
        text = f.read()
    assert "  ttl: 30 " in text
    policy = str(tmp_path / "policy.yaml")
    with open(policy, "w") as f:
        f.write(text.replace("  ttl: 30 ", "  ttl: 3600 ", 1))
    db = str(tmp_path / "db")
    ctl("load", "--db", db, policy)
    measure_all(db)
    k = _with_policy(knotd_factory(db=db, dnssec=True), 400, 310).start()
    keys = wait_dnskey(k)
    for _ in range(4):
        r = k.query("global." + ZONE, "A", ecs="10.1.0.0/24", dnssec=True)
        assert r.rcode() == dns.rcode.NOERROR and r.answer
        assert len(addresses(r)) == 5, r.to_text()     # the zone's static records
        # ... which do not depend on the client: scope 0, not the chain's /16.
        assert ecs_scope(r) == 0, r.to_text()
        rrset = [rr for rr in r.answer if rr.rdtype == dns.rdatatype.A][0]
        sig = [rr for rr in r.answer if rr.rdtype == dns.rdatatype.RRSIG][0]
        dns.dnssec.validate(rrset, sig, {ORIGIN: keys})
    stats = k.stats()
    assert stats.get("answer[A]", 0) == 0, stats
    assert stats.get("pass-through[dnssec]", 0) == 4, stats
    assert stats.get("pass-through[error]", 0) == 0, stats
    log = k.logtext()
    assert log.count("cannot sign") == 0, log
    assert log.count("expire within the answer TTL") == 1, log
