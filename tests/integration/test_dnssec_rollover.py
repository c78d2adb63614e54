# SPDX-License-Identifier: GPL-3.0-or-later
"""DNSSEC: the module follows the keys that sign the zone now.

knotd creates and rolls keys on its own schedule. The module signs with
the keys whose signatures cover the zone's SOA (read from the zone at each
signed answer), loaded from knotd's keystore when they change, so:
- a zone whose keys knotd creates at its first load gets GSLB answers
  signed by the module, without a reload;
- through a ZSK rollover every answer validates against the DNSKEY RRset
  the zone serves at that moment, and stays the module's answer;
- when the keys cannot be loaded, DNSSEC queries get the zone's signed
  records, the module logs it once, and recovers when the keys are back.
"""
import os
import time

import dns.dnssec
import dns.name
import dns.rcode
import dns.rdatatype

from conftest import ZONE, addresses, wait_dnskey

ORIGIN = dns.name.from_text(ZONE)
FRA, AMS = "198.51.100.10", "198.51.100.20"
DE_CLIENT = "10.1.0.0/24"              # the module answers FRA + AMS, the zone all five
ROLL_TIMEOUT = 60

# Short rollover timers: each step of a ZSK rollover (publish, switch the
# signer, remove the old key) follows the previous one after ~3 s.
ROLL_POLICY = """policy:
  - id: roll
    algorithm: ecdsap256sha256
    dnskey-ttl: 2
    zone-max-ttl: 2
    propagation-delay: 1
"""


def _no_pregenerated_keys(k):
    """Let knotd create the zone's keys when it loads the zone (after the
    module has loaded), as on a real first start."""
    k.make_keys = lambda: None
    return k


def _with_policy(k, policy_text, policy_id):
    with open(k.conf) as f:
        text = f.read()
    text = text.replace("template:\n", policy_text + "template:\n", 1)
    text = text.replace("    dnssec-signing: on\n",
                        "    dnssec-signing: on\n    dnssec-policy: %s\n" % policy_id, 1)
    with open(k.conf, "w") as f:
        f.write(text)
    return k


def _zsk_tags(dnskey):
    return {dns.dnssec.key_id(rd) for rd in dnskey if not rd.flags & 0x0001}


def _soa_signers(k):
    r = k.query(ZONE, "SOA", dnssec=True)
    return {rd.key_tag for rr in r.answer if rr.rdtype == dns.rdatatype.RRSIG for rd in rr}


def _module_answer(k):
    """The GSLB answer for a DE client: (rrset, rrsig), asserting it is the
    module's (two addresses), not the zone's static fallback (five)."""
    r = k.query("global." + ZONE, "A", ecs=DE_CLIENT, dnssec=True)
    assert r.rcode() == dns.rcode.NOERROR, r.to_text()
    assert addresses(r) == sorted([FRA, AMS]), r.to_text()
    rrset = [rr for rr in r.answer if rr.rdtype == dns.rdatatype.A][0]
    sigs = [rr for rr in r.answer if rr.rdtype == dns.rdatatype.RRSIG]
    assert sigs, r.to_text()
    return rrset, sigs[0]


def _current_dnskey(k):
    r = k.query(ZONE, "DNSKEY", dnssec=True)
    return [rr for rr in r.answer if rr.rdtype == dns.rdatatype.DNSKEY][0]


def test_first_start_without_keys(knotd_factory, measured_db):
    """No keys before knotd starts: knotd creates them at zone load, after
    the module loaded; the module's answers are signed without a reload."""
    k = _no_pregenerated_keys(knotd_factory(db=measured_db, dnssec=True))
    assert not os.path.exists(os.path.join(k.storage, "keys"))
    k.start()
    keys = wait_dnskey(k)
    for _ in range(3):
        rrset, sig = _module_answer(k)
        dns.dnssec.validate(rrset, sig, {ORIGIN: keys})
        assert {rd.key_tag for rd in sig} == _soa_signers(k)
    stats = k.stats()
    assert stats.get("answer[A]", 0) == 3, stats
    assert stats.get("pass-through[dnssec]", 0) == 0, stats
    assert stats.get("pass-through[error]", 0) == 0, stats
    assert "signing GSLB answers with key(s)" in k.logtext()


def test_zsk_rollover(knotd_factory, measured_db):
    """`knotc zone-key-rollover ZONE zsk` with short timers: before, during
    and after, every module answer validates against the DNSKEY RRset the
    zone serves right after it, and carries the module's addresses."""
    k = _with_policy(_no_pregenerated_keys(knotd_factory(db=measured_db, dnssec=True)),
                     ROLL_POLICY, "roll")
    k.start()
    keys = wait_dnskey(k)
    old = _zsk_tags(keys)
    assert len(old) == 1, keys
    rrset, sig = _module_answer(k)
    dns.dnssec.validate(rrset, sig, {ORIGIN: keys})
    assert {rd.key_tag for rd in sig} == old

    k.knotc("zone-key-rollover", ZONE, "zsk")
    seen_both = False          # old and new ZSK published at once
    signers = []               # the key tag of each answer's signature, in order
    queries = 1
    deadline = time.monotonic() + ROLL_TIMEOUT
    done_since = None
    while time.monotonic() < deadline:
        rrset, sig = _module_answer(k)
        queries += 1
        keys = _current_dnskey(k)
        # Never a signature by a key the zone no longer publishes.
        dns.dnssec.validate(rrset, sig, {ORIGIN: keys})
        zsks = _zsk_tags(keys)
        tags = {rd.key_tag for rd in sig}
        assert tags <= zsks, (tags, zsks)
        signers.append(tags)
        seen_both = seen_both or (old < zsks)
        # Done once the old key is gone and the module signs with the new.
        if not (old & zsks) and not (tags & old):
            done_since = done_since or time.monotonic()
            if time.monotonic() - done_since > 1.5:
                break
        time.sleep(0.2)
    else:
        raise AssertionError("rollover did not finish in %ds: signers %s, DNSKEY %s\n%s"
                             % (ROLL_TIMEOUT, signers[-5:], zsks, k.logtext()))
    assert seen_both, signers
    new = _zsk_tags(keys)
    assert len(new) == 1 and not (new & old), (old, new)
    assert signers[0] == old and signers[-1] == new, signers
    # The module switched when the zone did: one change, old then new.
    changes = sum(1 for a, b in zip(signers, signers[1:]) if a != b)
    assert changes == 1, signers
    assert {rd.key_tag for rd in sig} == _soa_signers(k)

    stats = k.stats()
    assert stats.get("answer[A]", 0) == queries, stats
    assert stats.get("pass-through[dnssec]", 0) == 0, stats
    assert stats.get("pass-through[error]", 0) == 0, stats
    log = k.logtext()
    assert log.count("signing GSLB answers with key(s)") == 2, log


def test_keys_unavailable_falls_back_and_recovers(knotd_factory, measured_db):
    """Keystore unreadable (moved away): DNSSEC queries get the zone's
    signed records (they still validate), logged once however many queries
    and retries; with the keys back the module signs again, no reload."""
    k = _no_pregenerated_keys(knotd_factory(db=measured_db, dnssec=True)).start()
    keys = wait_dnskey(k)
    store = os.path.join(k.storage, "keys", "keys")
    assert os.path.isdir(store), os.listdir(os.path.join(k.storage, "keys"))
    os.rename(store, store + ".away")
    try:
        deadline = time.monotonic() + 7         # longer than the module's retry delay
        served = 0
        while time.monotonic() < deadline:
            r = k.query("global." + ZONE, "A", ecs=DE_CLIENT, dnssec=True)
            assert r.rcode() == dns.rcode.NOERROR
            assert len(addresses(r)) == 5, r.to_text()        # the zone's records
            rrset = [rr for rr in r.answer if rr.rdtype == dns.rdatatype.A][0]
            sig = [rr for rr in r.answer if rr.rdtype == dns.rdatatype.RRSIG][0]
            dns.dnssec.validate(rrset, sig, {ORIGIN: keys})
            served += 1
            time.sleep(0.3)
        # Queries without DO still get the module's answer.
        r = k.query("global." + ZONE, "A", ecs=DE_CLIENT)
        assert addresses(r) == sorted([FRA, AMS]), r.to_text()
    finally:
        os.rename(store + ".away", store)
    log = k.logtext()
    assert log.count("cannot load the zone's signing keys") == 1, log
    stats = k.stats()
    assert stats.get("pass-through[dnssec]", 0) == served, stats

    deadline = time.monotonic() + 10
    while True:
        r = k.query("global." + ZONE, "A", ecs=DE_CLIENT, dnssec=True)
        if addresses(r) == sorted([FRA, AMS]):
            break
        assert time.monotonic() < deadline, "module did not sign again:\n" + k.logtext()
        time.sleep(0.3)
    rrset, sig = _module_answer(k)
    dns.dnssec.validate(rrset, sig, {ORIGIN: keys})


def test_dnssec_off_on_signed_zone(knotd_factory, measured_db):
    """`dnssec: off` on a signed zone: an unsigned module answer would be
    bogus, so DNSSEC queries get the zone's signed records; others the
    module's answer."""
    k = knotd_factory(db=measured_db, dnssec=True, extra_mod="    dnssec: off").start()
    keys = wait_dnskey(k)
    r = k.query("global." + ZONE, "A", ecs=DE_CLIENT, dnssec=True)
    assert len(addresses(r)) == 5, r.to_text()
    rrset = [rr for rr in r.answer if rr.rdtype == dns.rdatatype.A][0]
    sig = [rr for rr in r.answer if rr.rdtype == dns.rdatatype.RRSIG][0]
    dns.dnssec.validate(rrset, sig, {ORIGIN: keys})
    r = k.query("global." + ZONE, "A", ecs=DE_CLIENT)
    assert addresses(r) == sorted([FRA, AMS]), r.to_text()
    stats = k.stats()
    assert stats.get("pass-through[dnssec]", 0) == 1, stats
    assert stats.get("answer[A]", 0) == 1, stats


def test_onlinesign_signs_module_answers(knotd_factory, measured_db):
    """A zone signed on the fly by mod-onlinesign (listed after the module):
    the zone's contents are unsigned, so the module leaves its answers to
    onlinesign, which signs them with its own current keys."""
    k = knotd_factory(db=measured_db, extra_mod="    dnssec: on")
    with open(k.conf) as f:
        text = f.read()
    text = text.replace("    module: mod-haltgslb/default\n",
                        "    module: [mod-haltgslb/default, mod-onlinesign]\n", 1)
    with open(k.conf, "w") as f:
        f.write(text)
    k.start()
    keys = wait_dnskey(k)
    for _ in range(2):
        rrset, sig = _module_answer(k)
        dns.dnssec.validate(rrset, sig, {ORIGIN: keys})
    stats = k.stats()
    assert stats.get("answer[A]", 0) == 2, stats
    assert stats.get("pass-through[dnssec]", 0) == 0, stats
