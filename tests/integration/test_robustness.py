# SPDX-License-Identifier: GPL-3.0-or-later
"""Malformed ECS options, truncated packets and TCP never crash knotd (the
fixture fails the test on any sanitizer / valgrind report)."""
import random
import socket
import struct

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.rcode

from conftest import TIMEOUT, ZONE, addresses

FRA, AMS = "198.51.100.10", "198.51.100.20"


def query_after_flood(knotd, *args, **kwargs):
    """A query right after a burst of junk may be dropped by the kernel while
    knotd (slow under valgrind) drains a full socket buffer; a resolver would
    retry, so do we. Three losses in a row is a real failure."""
    kwargs.setdefault("timeout", 5)
    for attempt in range(3):
        try:
            return knotd.query(*args, **kwargs)
        except dns.exception.Timeout:
            if attempt == 2:
                raise

# Raw ECS option payloads: family, source, scope, address bytes.
BAD_ECS = [
    b"",                                             # empty
    b"\x00\x01",                                     # too short
    b"\x00\x01\x18\x00",                             # /24 without address bytes
    b"\x00\x01\x21\x00" + b"\x0a" * 5,               # source /33 for IPv4
    b"\x00\x02\x81\x00" + b"\x20" * 17,              # source /129 for IPv6
    b"\x00\x03\x18\x00\x0a\x01\x00",                 # unknown family
    b"\x00\x01\x18\x00\x0a\x01\x00\xff",             # more bytes than the prefix
    b"\x00\x01\x10\x00\x0a\x01\x01",                 # bits set past the prefix
    b"\x00\x01\x00\x00",                             # source /0 -> resolver's address, scope 0
    b"\x00\x01\x18\x18\x0a\x01\x00",                 # scope set in a query
    b"\x00\x02\x30\x00" + b"\x20\x01\x0d\xb8\x00\x01",  # IPv6 /48
]


def _raw(knotd, wire):
    """Send raw wire, return the raw reply (dnspython may refuse to parse an
    echoed malformed option, so only the header is looked at)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        s.sendto(wire, ("127.0.0.1", knotd.port))
        return s.recvfrom(65535)[0]


def test_malformed_ecs(knotd):
    for payload in BAD_ECS:
        opt = dns.edns.GenericOption(dns.edns.ECS, payload)
        reply = _raw(knotd, knotd.make("global." + ZONE, "A", opts=[opt]).to_wire())
        rcode = reply[3] & 0x0F
        assert rcode in (dns.rcode.NOERROR, dns.rcode.FORMERR), (payload, rcode)
    r = knotd.query("global." + ZONE, "A", opts=[dns.edns.GenericOption(dns.edns.ECS,
                                                                        b"\x00\x01\x00\x00")])
    for opt in r.options:
        if isinstance(opt, dns.edns.ECSOption):
            assert opt.scopelen == 0
    assert addresses(knotd.query("global." + ZONE, "A", ecs="10.1.0.0/24")) == [FRA, AMS]


def test_truncated_and_garbage_packets(knotd):
    rnd = random.Random(4)
    wire = knotd.make("global." + ZONE, "A", ecs="10.1.0.0/24").to_wire()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.05)
    for cut in range(len(wire)):
        s.sendto(wire[:cut], ("127.0.0.1", knotd.port))
    for _ in range(300):
        b = bytearray(wire)
        for _ in range(rnd.randint(1, 6)):
            b[rnd.randrange(len(b))] = rnd.randrange(256)
        s.sendto(bytes(b), ("127.0.0.1", knotd.port))
    s.close()
    assert addresses(query_after_flood(knotd, "global." + ZONE, "A", ecs="10.1.0.0/24")) == [FRA, AMS]


def test_tcp(knotd):
    for _ in range(20):
        r = knotd.query("global." + ZONE, "A", ecs="10.1.0.0/24", tcp=True)
        assert r.rcode() == dns.rcode.NOERROR and addresses(r) == [FRA, AMS]
    # A TCP stream cut in the middle of a message.
    wire = knotd.make("global." + ZONE, "AAAA", ecs="10.1.0.0/24").to_wire()
    with socket.create_connection(("127.0.0.1", knotd.port), timeout=2) as c:
        c.sendall(struct.pack("!H", len(wire)) + wire[:10])
    assert addresses(knotd.query("nearest." + ZONE, "A", ecs="10.1.0.0/24", tcp=True)) == [FRA]


# big.gslb (policy.yaml): 24 AAAA records, about 720 bytes on the wire.
BIG6 = ["2001:db8:40::%x" % (base + i) for base in (0x1, 0x11, 0x21) for i in range(8)]


def _udp_reply(knotd, q):
    """The raw UDP reply to q (its size is what TC is about)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(TIMEOUT * (10 if knotd.valgrind else 1))
        s.sendto(q.to_wire(), ("127.0.0.1", knotd.port))
        return s.recvfrom(65535)[0]


def test_small_udp_buffer_truncates(knotd):
    """A module answer too big for the client's UDP buffer sets TC instead of
    failing or being cut silently; over TCP the same query gets all of it."""
    full = knotd.query("big." + ZONE, "AAAA", tcp=True)
    assert full.rcode() == dns.rcode.NOERROR and full.flags & dns.flags.AA
    assert not full.flags & dns.flags.TC
    assert addresses(full, "AAAA") == sorted(BIG6)
    assert len(full.to_wire()) > 512, len(full.to_wire())

    before = knotd.stats()
    # EDNS with a 512-byte buffer, then no EDNS at all (512 by RFC 1035).
    for edns in (512, None):
        q = knotd.make("big." + ZONE, "AAAA")
        if edns is None:
            q.use_edns(False)
        else:
            q.use_edns(0, payload=edns)
        wire = _udp_reply(knotd, q)
        r = dns.message.from_wire(wire)
        assert len(wire) <= 512, (edns, len(wire))
        assert r.rcode() == dns.rcode.NOERROR, (edns, r.to_text())
        assert r.flags & dns.flags.TC, (edns, r.to_text())
        assert len(addresses(r, "AAAA")) < len(BIG6), (edns, r.to_text())
    # The module made those answers (a pass-through would count here too).
    after = knotd.stats()
    assert after.get("answer[AAAA]", 0) - before.get("answer[AAAA]", 0) == 2, (before, after)
    assert not {k: v for k, v in after.items() if k.startswith("pass-through")}, after

    # A buffer big enough: no TC, everything over UDP.
    r = knotd.query("big." + ZONE, "AAAA")
    assert not r.flags & dns.flags.TC
    assert addresses(r, "AAAA") == sorted(BIG6)
