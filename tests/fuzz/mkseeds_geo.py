#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Write the seeds of the geo fuzz target (tests/fuzz/fuzz_geo.c) into
tests/fuzz/corpus/geo/. Each seed is the target's input format: a flags
byte, a node count byte, the tree's records, then a data section in the
MaxMind DB data format (encoded here, including pointers).

    tests/fuzz/mkseeds_geo.py [DIR]
"""
import os
import struct
import sys


def ctrl(t, size):
    """Control byte(s) of an item of type t and size (sizes < 29 only)."""
    assert size < 29
    if t <= 7:
        return bytes([t << 5 | size])
    return bytes([size, t - 7])


def s(text):
    b = text.encode()
    return ctrl(2, len(b)) + b


def dbl(v):
    return ctrl(3, 8) + struct.pack(">d", v)


def flt(v):
    return ctrl(15, 4) + struct.pack(">f", v)


def u(t, v, n):
    return ctrl(t, n) + v.to_bytes(n, "big")


def u16(v):
    return u(5, v, 2)


def u32(v):
    return u(6, v, 4 if v > 0xffffff else 3 if v > 0xffff else 2 if v > 0xff else 1)


def u64(v):
    return u(9, v, 8)


def i32(v):
    return ctrl(8, 4) + struct.pack(">i", v)


def mp(*pairs):
    out = ctrl(7, len(pairs))
    for k, v in pairs:
        out += (s(k) if isinstance(k, str) else k) + v
    return out


def arr(*items):
    return ctrl(11, len(items)) + b"".join(items)


def ptr(off):
    """A pointer item to data section offset off (the 1- to 4-byte forms)."""
    if off < 2048:
        return bytes([0x20 | (off >> 8), off & 0xff])
    if off < 2048 + 524288:
        v = off - 2048
        return bytes([0x28 | (v >> 16), (v >> 8) & 0xff, v & 0xff])
    if off < 2048 + 524288 + 134217728:
        v = off - 526336
        return bytes([0x30 | (v >> 24), (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff])
    return bytes([0x38]) + off.to_bytes(4, "big")


def city(cont, country, sub, lat, lon, asn=None):
    pairs = [("continent", mp(("code", s(cont)), ("names", mp(("en", s("Europe")))))),
             ("country", mp(("iso_code", s(country)))),
             ("subdivisions", arr(mp(("iso_code", s(sub))))),
             ("location", mp(("latitude", dbl(lat)), ("longitude", dbl(lon)),
                             ("accuracy_radius", u16(20))))]
    if asn is not None:
        pairs.append(("autonomous_system_number", u32(asn)))
    return mp(*pairs)


def seed(flags, records, data):
    """records: list of (left, right) selectors per node; a selector is
    ("node", i), ("empty",), ("bad",) or ("data", offset)."""
    n = len(records)
    span = n + 2 + len(data)
    out = bytes([flags, n - 1])
    for node in records:
        for r in node:
            v = {"node": lambda: r[1], "empty": lambda: n, "bad": lambda: n + 1,
                 "data": lambda: n + 2 + r[1]}[r[0]]()
            assert v < span
            out += struct.pack(">H", v)
    return out + data


V6, R24, R28, R32, ASN = 1, 0, 2, 4, 8


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "corpus", "geo")
    os.makedirs(d, exist_ok=True)
    seeds = {}

    # Two records, an IPv6 tree: left half -> DE/HE Frankfurt with an ASN,
    # right half -> node 1 (left: JP record, right: empty).
    de = city("EU", "DE", "HE", 50.11, 8.68, asn=3320)
    jp = city("AS", "JP", "13", 35.68, 139.69, asn=2516)
    seeds["city-v6-two-records"] = seed(V6 | R24 | ASN,
                                        [[("data", 0), ("node", 1)],
                                         [("data", len(de)), ("empty",)]], de + jp)
    # IPv4 tree, 28-bit records, a record with float coordinates.
    us = mp(("continent", mp(("code", s("NA")))), ("country", mp(("iso_code", s("US")))),
            ("location", mp(("latitude", flt(38.95)), ("longitude", flt(-77.45)))))
    seeds["city-v4-r28-float"] = seed(R28, [[("node", 1), ("data", 0)],
                                            [("empty",), ("data", 0)]], us)
    # Deduplicated data as real databases have it: the keys and the country
    # map stored once, the records pointing at them (32-bit records).
    shared = s("country") + mp(("iso_code", s("FR")))   # offsets 0 and 8
    rec = mp((ptr(0), ptr(8)), ("location", mp((s("latitude"), dbl(48.85)),
                                                ("longitude", dbl(2.35)))))
    seeds["city-pointers-r32"] = seed(V6 | R32, [[("data", len(shared)), ("node", 1)],
                                                 [("node", 0), ("data", len(shared))]],
                                      shared + rec)
    # ASN as uint64 and int32, a subdivision without a country.
    odd = mp(("autonomous_system_number", u64(65000)), ("subdivisions", arr(mp(("iso_code",
                                                                              s("XX"))))))
    neg = mp(("autonomous_system_number", i32(-5)))
    seeds["asn-odd-types"] = seed(V6 | ASN, [[("data", 0), ("data", len(odd))]], odd + neg)
    # Out-of-range location, codes too long or not alphanumeric, wrong types.
    bad = mp(("continent", mp(("code", s("EUR")))), ("country", mp(("iso_code", s("D!")))),
             ("location", mp(("latitude", dbl(91.0)), ("longitude", s("8.6")))))
    seeds["bad-values"] = seed(V6, [[("data", 0), ("data", 0)]], bad)
    # Damaged data: a pointer to itself, a pointer past the end, a map cut
    # short, a tree record into the separator, a tree loop.
    seeds["bad-pointer-loop"] = seed(V6 | ASN, [[("data", 0), ("data", 2)]],
                                     ptr(0) + mp(("country", ptr(0))))
    seeds["bad-pointer-past-end"] = seed(0, [[("data", 0), ("empty",)]],
                                         mp(("country", ptr(60000))))
    seeds["bad-truncated-map"] = seed(V6, [[("data", 0), ("bad",)]], city("EU", "DE", "HE",
                                                                          1.0, 2.0)[:23])
    seeds["tree-loop"] = seed(V6 | R28, [[("node", 1), ("node", 1)], [("node", 0), ("node", 0)]],
                              b"")
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    print("%d seeds in %s" % (len(seeds), d))


if __name__ == "__main__":
    main()
