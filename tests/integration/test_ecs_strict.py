# SPDX-License-Identifier: GPL-3.0-or-later
"""ECS options checked the RFC 7871 way (raw wire options).

knotd's own parser reads only the first ECS option, ignores ADDRESS octets
beyond those the SOURCE PREFIX-LENGTH needs, clears the bits past the prefix
and zeroes a query's SCOPE PREFIX-LENGTH. RFC 7871 section 6 says a server
SHOULD answer FORMERR to too many address octets or bits set past the
prefix, and that SCOPE PREFIX-LENGTH MUST be 0 in queries; section 7.1.2
that a wrongly formatted option MUST get FORMERR. The module checks before
answering, counts each case in formerr[...] and leaves the malformed option
out of the FORMERR (knotd would echo it with the query's length, which a
strict parser rejects: the whole response then fails); a server without
edns-client-subnet ignores the option altogether, as the RFC asks of a
server that has not enabled ECS."""
import struct
import time

import dns.edns
import dns.message
import dns.query
import dns.rcode
import pytest

from conftest import ZONE, addresses, ecs_scope

FRA, AMS = "198.51.100.10", "198.51.100.20"
ECS = 8


def ecs_option(family, source, scope, address):
    return dns.edns.GenericOption(ECS, struct.pack("!HBB", family, source, scope) + address)


def control_ready(k, timeout=30):
    """knotd answers queries before its control socket listens (a race only
    a slow knotd, under valgrind, loses): wait for it before zone-stats."""
    deadline = time.monotonic() + timeout
    while k.knotc("status", check=False, timeout=15).returncode != 0:
        assert time.monotonic() < deadline, "knotc cannot reach knotd:\n" + k.logtext()
        time.sleep(0.2)
    return k


def raw_query(k, name, options, rdtype="A"):
    q = dns.message.make_query(name, rdtype, use_edns=0, options=options, payload=4096)
    return dns.query.udp(q, "127.0.0.1", port=k.port, timeout=2 * (10 if k.valgrind else 1))


# option fields, the module's counter for it (None: knotd's parser already
# rejects it, before the module runs).
FORMERR_CASES = [
    ("v4 /24 with 4 octets", [(1, 24, 0, bytes([10, 1, 0, 0]))], "ecs-address"),
    ("v4 /16 with 3 octets", [(1, 16, 0, bytes([10, 1, 0]))], "ecs-address"),
    ("v4 /0 with 1 octet", [(1, 0, 0, bytes([0]))], "ecs-address"),
    ("v6 /48 with 8 octets", [(2, 48, 0, bytes([0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0]))],
     "ecs-address"),
    ("v4 /20 bit 21 set", [(1, 20, 0, bytes([10, 1, 0x08]))], "ecs-bits"),
    ("v4 /23 last bit set", [(1, 23, 0, bytes([10, 1, 0x01]))], "ecs-bits"),
    ("v6 /44 bits past prefix", [(2, 44, 0, bytes([0x20, 0x01, 0x0d, 0xb8, 0, 0x1f]))],
     "ecs-bits"),
    ("v4 scope 16 in a query", [(1, 24, 16, bytes([10, 1, 0]))], "ecs-scope"),
    ("v6 scope 48 in a query", [(2, 56, 48, bytes([0x20, 0x01, 0x0d, 0xb8, 0, 1, 0]))],
     "ecs-scope"),
    ("two valid options", [(1, 24, 0, bytes([10, 1, 0])), (1, 24, 0, bytes([10, 0, 0]))],
     "ecs-multiple"),
    ("same option twice", [(1, 24, 0, bytes([10, 1, 0]))] * 2, "ecs-multiple"),
    # knotd's own checks: too few octets, unknown family, prefix too long.
    ("v4 /24 with 2 octets", [(1, 24, 0, bytes([10, 1]))], None),
    ("family 3", [(3, 8, 0, bytes([10]))], None),
    ("v4 /33", [(1, 33, 0, bytes([10, 1, 0, 0, 0]))], None),
    ("v6 /129", [(2, 129, 0, bytes(17))], None),
]


@pytest.mark.parametrize("case,opts,counter", FORMERR_CASES, ids=[c[0] for c in FORMERR_CASES])
def test_malformed_ecs_formerr(knotd, case, opts, counter):
    control_ready(knotd)
    options = [ecs_option(*o) for o in opts]
    for name in ("global." + ZONE, "static." + ZONE):    # GSLB name or not
        r = raw_query(knotd, name, options)
        assert r.rcode() == dns.rcode.FORMERR, (case, r.to_text())
        assert not r.answer, r.to_text()
        # An OPT record, but no echo of the malformed option.
        assert r.edns == 0, r.to_text()
        assert not any(o.otype == ECS for o in r.options), r.to_text()
    stats = knotd.stats()
    formerr = {key: n for key, n in stats.items() if key.startswith("formerr")}
    assert formerr == ({"formerr[%s]" % counter: 2} if counter else {}), stats
    assert stats.get("answer[A]", 0) == 0, stats


VALID_CASES = [
    # option fields, expected addresses, expected scope
    ((1, 24, 0, bytes([10, 1, 0])), [FRA, AMS], 16),
    ((1, 20, 0, bytes([10, 1, 0x00])), [FRA, AMS], 16),
    ((1, 12, 0, bytes([10, 0])), ["203.0.113.20"], 12),         # scope capped by the source
    ((2, 56, 0, bytes([0x20, 0x01, 0x0d, 0xb8, 0, 1, 0])), [FRA, AMS], 48),
    ((2, 44, 0, bytes([0x20, 0x01, 0x0d, 0xb8, 0, 0x10])), None, None),
    ((1, 0, 0, b""), None, 0),                                  # "don't use my address"
]


@pytest.mark.parametrize("opt,expect,scope", VALID_CASES,
                         ids=["fam%d-src%d" % (c[0][0], c[0][1]) for c in VALID_CASES])
def test_valid_ecs_answers(knotd, opt, expect, scope):
    control_ready(knotd)
    r = raw_query(knotd, "global." + ZONE, [ecs_option(*opt)])
    assert r.rcode() == dns.rcode.NOERROR, r.to_text()
    assert r.answer, r.to_text()
    if expect is not None:
        assert addresses(r) == sorted(expect), r.to_text()
    got = [o for o in r.options if isinstance(o, dns.edns.ECSOption)]
    assert len(got) == 1, r.to_text()
    # FAMILY, SOURCE PREFIX-LENGTH and ADDRESS echo the query's.
    assert got[0].srclen == opt[1], r.to_text()
    if scope is not None:
        assert ecs_scope(r) == scope, r.to_text()
    stats = knotd.stats()
    assert not any(key.startswith("formerr") for key in stats), stats
    assert stats.get("answer[A]", 0) == 1, stats


def test_ecs_off_ignores_malformed_option(knotd_factory, measured_db):
    """Without edns-client-subnet knotd ignores ECS, and so does the module:
    no FORMERR, no option in the answer, the source address decides."""
    k = control_ready(knotd_factory(db=measured_db, ecs=False).start())
    r = raw_query(k, "global." + ZONE, [ecs_option(1, 24, 16, bytes([10, 1, 0, 0]))])
    assert r.rcode() == dns.rcode.NOERROR, r.to_text()
    assert r.answer, r.to_text()
    assert ecs_scope(r) is None, r.to_text()
    stats = k.stats()
    assert not any(key.startswith("formerr") for key in stats), stats
