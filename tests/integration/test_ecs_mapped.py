# SPDX-License-Identifier: GPL-3.0-or-later
"""ECS of family IPv6 carrying an IPv4-mapped address (::ffff:a.b.c.d).

The module locates such a client by its IPv4 address, but the prefix
lengths of the option count all 128 bits: the source prefix it uses is the
option's minus 96, and the scope it returns must be given back in the
option's (IPv6) bits. A /16 scope in an IPv6 option would tell the resolver
the answer is good for all of 0::/16, every v4-mapped client included."""
import dns.rcode
import pytest

from conftest import ZONE, addresses, ecs_scope

FRA, AMS, JKT = "198.51.100.10", "198.51.100.20", "203.0.113.20"


@pytest.mark.parametrize("ecs,expect,scope", [
    ("::ffff:10.1.0.0/120", [FRA, AMS], 96 + 16),     # DE, geo network /16
    ("::ffff:10.0.0.0/120", [JKT], 96 + 16),          # ID
    ("::ffff:10.0.0.0/108", [JKT], 96 + 12),          # capped by the v4 source /12
])
def test_v4_mapped_ecs(knotd, ecs, expect, scope):
    r = knotd.query("global." + ZONE, "A", ecs=ecs)
    assert r.rcode() == dns.rcode.NOERROR
    assert addresses(r) == sorted(expect), r.to_text()
    assert ecs_scope(r) == scope, r.to_text()


def test_v4_mapped_ecs_client_independent(knotd):
    r = knotd.query("all." + ZONE, "A", ecs="::ffff:10.2.0.0/120")
    assert r.rcode() == dns.rcode.NOERROR
    assert ecs_scope(r) == 0
