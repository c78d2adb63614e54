#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Write the seeds of the client fuzz target (tests/fuzz/fuzz_client.c) into
tests/fuzz/corpus/client/: a source-address header (kind, 16 address
bytes, server ECS flag) then a DNS query built with dnspython, the ECS
option written by hand where it must be malformed.

    tests/fuzz/mkseeds_client.py [DIR]
"""
import ipaddress
import os
import struct
import sys

import dns.edns
import dns.message

ECS = 8


def head(kind, addr, ecs_on=True):
    raw = ipaddress.ip_address(addr).packed
    return bytes([kind]) + raw.ljust(16, b"\0") + bytes([1 if ecs_on else 0])


def opt(code, data):
    return dns.edns.GenericOption(code, data)


def ecs_raw(family, source, scope, addr_bytes):
    return opt(ECS, struct.pack(">HBB", family, source, scope) + addr_bytes)


def query(options=(), edns=True, name="www.gslb.example.net.", qtype="A"):
    q = dns.message.make_query(name, qtype, use_edns=0 if edns else None,
                               options=list(options), payload=1232)
    q.id = 0x4849
    return q.to_wire()


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "corpus", "client")
    os.makedirs(d, exist_ok=True)
    v4, v6, mapped = head(0, "192.0.2.10"), head(1, "2001:db8::10"), head(2, "198.51.100.7")
    seeds = {
        "no-edns-v4": v4 + query(edns=False),
        "no-edns-v6": v6 + query(edns=False, qtype="AAAA"),
        "no-edns-mapped-source": mapped + query(edns=False),
        "edns-no-ecs": v4 + query(),
        "ecs-v4-24": v4 + query([dns.edns.ECSOption("203.0.113.0", 24)]),
        "ecs-v4-21": v6 + query([dns.edns.ECSOption("203.0.112.0", 21)]),
        "ecs-v6-56": v4 + query([dns.edns.ECSOption("2001:db8:aa00::", 56)], qtype="AAAA"),
        "ecs-v4-mapped-120": v4 + query([ecs_raw(2, 120, 0, ipaddress.ip_address(
            "::ffff:203.0.113.0").packed[:15])]),
        "ecs-source-0": v6 + query([ecs_raw(1, 0, 0, b"")]),
        "ecs-server-off": head(0, "192.0.2.10", ecs_on=False) +
            query([dns.edns.ECSOption("203.0.113.0", 24)]),
        # What RFC 7871 says a server should refuse and knotd lets through.
        "bad-ecs-extra-octet": v4 + query([ecs_raw(1, 24, 0, b"\xcb\x00\x71\x05")]),
        "bad-ecs-bits-past-prefix": v4 + query([ecs_raw(1, 21, 0, b"\xcb\x00\x77")]),
        "bad-ecs-scope-set": v4 + query([ecs_raw(1, 24, 16, b"\xcb\x00\x71")]),
        "bad-ecs-twice": v4 + query([dns.edns.ECSOption("203.0.113.0", 24),
                                     dns.edns.ECSOption("198.51.100.0", 24)]),
        "bad-ecs-with-others": v4 + query([opt(10, b"\x01" * 8),
                                           dns.edns.ECSOption("203.0.113.0", 24),
                                           opt(12, b"\0" * 4)]),
        # What knotd refuses itself (FORMERR before the module).
        "bad-ecs-family-3": v4 + query([ecs_raw(3, 8, 0, b"\x01")]),
        "bad-ecs-source-33": v4 + query([ecs_raw(1, 33, 0, b"\x01\x02\x03\x04\x05")]),
        "bad-ecs-short": v4 + query([opt(ECS, b"\x00\x01")]),
        "bad-truncated": v4 + query([dns.edns.ECSOption("203.0.113.0", 24)])[:-3],
    }
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    print("%d seeds in %s" % (len(seeds), d))


if __name__ == "__main__":
    main()
