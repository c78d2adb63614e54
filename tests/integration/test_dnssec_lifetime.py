# SPDX-License-Identifier: GPL-3.0-or-later
"""DNSSEC signature cache vs. knotd's module signing context.

knotd stamps module signatures with the time its DNSSEC context was created
(module load), not the time of signing: inception is that time minus 90
minutes, expiration that time plus rrsig-lifetime. The cache must judge a
signature by what is left of it *now* (and never hand out one that expires
while resolvers may still cache the answer); re-signing cannot produce a
later expiration. With rrsig-lifetime below the 90-minute back-dating, the
old "half of inception..expiration" refresh point is already in the past at
load: every DO query then re-signed under the mutex, logged a warning and
fell back to the zone's records."""
import time

import dns.dnssec
import dns.name
import dns.rcode
import dns.rdatatype
import pytest

from conftest import POLICY, ZONE, addresses, ctl, ecs_scope, measure_all, wait_dnskey

ORIGIN = dns.name.from_text(ZONE)
FRA, AMS = "198.51.100.10", "198.51.100.20"


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


def test_short_lifetime_still_signs_from_module(knotd_factory, measured_db):
    k = _with_policy(knotd_factory(db=measured_db, dnssec=True), 1800, 600).start()
    keys = wait_dnskey(k)
    now = int(time.time())
    for _ in range(3):
        r = k.query("global." + ZONE, "A", ecs="10.1.0.0/24", dnssec=True)
        assert r.rcode() == dns.rcode.NOERROR
        # The module's answer (DE client), not the zone's static fallback.
        assert addresses(r) == sorted([FRA, AMS]), r.to_text()
        rrset = [rr for rr in r.answer if rr.rdtype == dns.rdatatype.A][0]
        sigs = [rr for rr in r.answer if rr.rdtype == dns.rdatatype.RRSIG]
        assert sigs, r.to_text()
        dns.dnssec.validate(rrset, sigs[0], {ORIGIN: keys})
        # Valid for at least as long as a resolver may cache the answer.
        assert sigs[0][0].expiration > now + rrset.ttl
    stats = k.stats()
    assert stats.get("answer[A]", 0) == 3, stats
    assert stats.get("pass-through[error]", 0) == 0, stats
    assert "cannot sign" not in k.logtext()


def test_expiring_context_falls_back_quietly(knotd_factory, tmp_path):
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
    wait_dnskey(k)
    for _ in range(4):
        r = k.query("global." + ZONE, "A", ecs="10.1.0.0/24", dnssec=True)
        assert r.rcode() == dns.rcode.NOERROR and r.answer
        assert len(addresses(r)) == 5, r.to_text()     # the zone's static records
        # ... which do not depend on the client: scope 0, not the chain's /16.
        assert ecs_scope(r) == 0, r.to_text()
    stats = k.stats()
    assert stats.get("answer[A]", 0) == 0, stats
    assert stats.get("pass-through[error]", 0) == 4, stats
    log = k.logtext()
    assert log.count("cannot sign") == 0, log
    assert log.count("expire within the answer TTL") == 1, log
