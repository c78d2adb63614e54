#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Inputs of tests/bench/bench_scale.sh (not a test): geo mapping, policies,
zone files, mod-geoip configuration and query files.

  bench_scale_gen.py geo OUT.txt N          N client networks (10.0.0.0/8, /24 each),
                                            every one its own mmdb record
  bench_scale_gen.py policy OUT.yaml P      query-cost policy: P probers, endpoint
                                            sets of 10 and 64, 4 chain kinds x 1000 names
  bench_scale_gen.py fillpolicy OUT.yaml P  same probers and pools, one name: loaded
                                            first so measurements patch one view
  bench_scale_gen.py scale OUT.yaml N       N names over 10 endpoints, 5 probers
  bench_scale_gen.py zone OUT.zone ORIGIN N [static]   zone file (N static names)
  bench_scale_gen.py geoipconf OUT.conf ORIGIN N       mod-geoip views for N names
  bench_scale_gen.py queries OUT.bin KIND ...          dnsperf -B input (see below)

Query files are dnsperf's binary input (-B: 2-byte length, DNS message). Every
query carries ECS. 'hot' repeats one name and one client network; 'cold'
takes a different name (of NAMES) and a different client network (of the
geo mapping's networks, in a shuffled order) for every query.
"""
import math
import random
import struct
import sys

# (country, continent, subdivision, lat, lon): the client locations.
COUNTRIES = [
    ("DE", "EU", "DE-HE", 50.1, 8.7), ("FR", "EU", "FR-IDF", 48.9, 2.3),
    ("GB", "EU", "GB-ENG", 51.5, -0.1), ("NL", "EU", "NL-NH", 52.4, 4.9),
    ("PL", "EU", "PL-MZ", 52.2, 21.0), ("ES", "EU", "ES-MD", 40.4, -3.7),
    ("IT", "EU", "IT-25", 45.5, 9.2), ("SE", "EU", "SE-AB", 59.3, 18.1),
    ("US", "NA", "US-VA", 38.9, -77.4), ("US", "NA", "US-CA", 37.3, -121.9),
    ("US", "NA", "US-TX", 32.8, -96.8), ("CA", "NA", "CA-ON", 43.7, -79.4),
    ("MX", "NA", "MX-CMX", 19.4, -99.1), ("BR", "SA", "BR-SP", -23.5, -46.6),
    ("AR", "SA", "AR-C", -34.6, -58.4), ("CL", "SA", "CL-RM", -33.4, -70.6),
    ("ID", "AS", "ID-JK", -6.2, 106.8), ("SG", "AS", "SG-01", 1.3, 103.8),
    ("JP", "AS", "JP-13", 35.7, 139.7), ("IN", "AS", "IN-MH", 19.1, 72.9),
    ("KR", "AS", "KR-11", 37.6, 127.0), ("AU", "OC", "AU-NSW", -33.9, 151.2),
    ("ZA", "AF", "ZA-GT", -26.2, 28.0), ("NG", "AF", "NG-LA", 6.5, 3.4),
    ("EG", "AF", "EG-C", 30.0, 31.2), ("TR", "AS", "TR-34", 41.0, 29.0),
]

# Prober and endpoint sites (lat, lon).
SITES = [
    ("fra", 50.11, 8.68), ("sin", 1.35, 103.82), ("iad", 38.95, -77.45),
    ("sjc", 37.34, -121.89), ("gru", -23.55, -46.63), ("ams", 52.37, 4.90),
    ("lon", 51.51, -0.13), ("tyo", 35.68, 139.69), ("syd", -33.87, 151.21),
    ("bom", 19.08, 72.88), ("jnb", -26.20, 28.05), ("waw", 52.23, 21.01),
    ("mad", 40.42, -3.70), ("yyz", 43.65, -79.38), ("mex", 19.43, -99.13),
    ("scl", -33.45, -70.67), ("icn", 37.57, 126.98), ("jkt", -6.21, 106.85),
    ("ist", 41.01, 28.98), ("dfw", 32.78, -96.80),
]

KINDS = {
    # The chain kinds the issue lists, as the reference policy writes them.
    "nearest": "[up, {geofence: %s}, nearest, {first: 1}]",
    "latency": "[up, {geofence: %s}, {lowest-latency: {tolerance: 20ms}}, {first: 2}]",
    "sticky": "[up, {weighted: {sticky: true}}, {first: 1}]",
    "multi": "[up, round-robin, {first: 8}]",
}
NAMES_PER_CONFIG = 1000


def continent_of(cc):
    for c in COUNTRIES:
        if c[0] == cc:
            return c[1]
    return "EU"


def geo(out, n):
    rnd = random.Random(13)
    with open(out, "w") as f:
        f.write("# bench_scale: %d client networks, one record each\n" % n)
        for i in range(n):
            cc, cont, sub, lat, lon = COUNTRIES[i % len(COUNTRIES)]
            # A distinct position per network: every network is its own
            # record (mmdb data records are deduplicated by content).
            la = max(-89.9, min(89.9, lat + rnd.uniform(-3, 3)))
            lo = max(-179.9, min(179.9, lon + rnd.uniform(-3, 3)))
            f.write("10.%d.%d.0/24 %s %s %s %.5f %.5f %d\n" %
                    (i >> 8 & 255, i & 255, cont, cc, sub, la, lo, 64500 + i % 1000))


def endpoint_sites(n):
    """n endpoints over the sites, in pools by continent-ish region."""
    eps = []
    for i in range(n):
        name, lat, lon = SITES[i % len(SITES)]
        # Spread copies of a site a little so distances differ.
        k = i // len(SITES)
        eps.append(("%s-%d" % (name, k), lat + 0.3 * k, lon + 0.3 * k))
    return eps


def region(lat, lon):
    if lon < -30:
        return "am"
    if lon > 60 or lat < -10:
        return "ap"
    return "eu"


def pools_yaml(set_name, n, f):
    """Pools <set>-eu/-ap/-am with n endpoints; returns the pool ids."""
    by_region = {"eu": [], "ap": [], "am": []}
    for idx, (name, lat, lon) in enumerate(endpoint_sites(n)):
        by_region[region(lat, lon)].append((idx, name, lat, lon))
    ids = []
    for reg in ("eu", "ap", "am"):
        if not by_region[reg]:
            continue
        pid = "%s-%s" % (set_name, reg)
        ids.append(pid)
        f.write("  - id: %s\n    endpoints:\n" % pid)
        for idx, name, lat, lon in by_region[reg]:
            a, b = divmod(idx, 256)
            f.write("      - id: %s-%s\n        address: [198.%d.%d.%d, \"2001:db8:%x:%x::1\"]\n"
                    "        location: {lat: %.2f, lon: %.2f}\n        weight: %d\n" %
                    (set_name, name, 18 + (1 if n > 10 else 0), a, b + 1,
                     n, idx, lat, lon, 10 + idx % 7 * 10))
    return ids


def header(f, probers, stale="1h"):
    f.write("version: 1\ndefaults:\n  ttl: 30\n  degraded-ttl: 10\n  quorum: 0.5\n"
            "  stale-after: %s\n  check: {type: tcp, port: 443, interval: 5s, timeout: 2s}\n"
            "probers:\n" % stale)
    for name, lat, lon in SITES[:probers]:
        f.write("  - id: p-%s\n    location: {lat: %.2f, lon: %.2f}\n" % (name, lat, lon))


def geofence(set_name, pools):
    eu = [p for p in pools if p.endswith("-eu")]
    rules = ["{match: {country: [ID]}, endpoints: [%s-sin-0]}" % set_name] if \
        any(True for p in pools if p.endswith("-ap")) else []
    if eu:
        rules.append("{match: {continent: [EU]}, pools: [%s]}" % eu[0])
    return "[%s]" % ", ".join(rules)


def policy(out, probers, n_names=NAMES_PER_CONFIG):
    with open(out, "w") as f:
        header(f, probers)
        f.write("pools:\n")
        sets = {"s10": pools_yaml("s10", 10, f), "s64": pools_yaml("s64", 64, f)}
        f.write("names:\n")
        for size in ("s10", "s64"):
            for kind, chain in KINDS.items():
                ch = chain % geofence(size, sets[size]) if "%s" in chain else chain
                for i in range(n_names):
                    f.write("  - {name: n%d.%s%s.p%d.bench., pools: [%s], chain: %s}\n" %
                            (i, kind, size[1:], probers, ", ".join(sets[size]), ch))


def scale(out, n):
    """n names over the same 10 endpoints (one endpoint set), 5 probers."""
    with open(out, "w") as f:
        header(f, 5)
        f.write("pools:\n")
        pools = pools_yaml("s10", 10, f)
        f.write("names:\n")
        chains = [KINDS["nearest"] % geofence("s10", pools), KINDS["latency"] % geofence("s10", pools),
                  KINDS["sticky"], KINDS["multi"]]
        for i in range(n):
            f.write("  - {name: app%d.scale.bench., pools: [%s], chain: %s}\n" %
                    (i, ", ".join(pools), chains[i % len(chains)]))


def zone(out, origin, n, static):
    with open(out, "w") as f:
        f.write("$ORIGIN %s\n$TTL 300\n@ SOA ns.%s hostmaster.%s 1 3600 900 604800 300\n"
                "@ NS ns.%s\nns A 192.0.2.53\n" % (origin, origin, origin, origin))
        if static:
            for i in range(n):
                f.write("s%d A 192.0.2.%d\n" % (i, 1 + i % 250))
                # Eight addresses: Knot's own cost of the multi chain's answer size.
                for k in range(8):
                    f.write("m%d A 198.18.%d.%d\n" % (i, k, 1 + i % 250))


def geoipconf(out, origin, n):
    """mod-geoip (geodb mode, keys continent/code and country/iso_code): one
    view per continent and one per country, for every name, like a
    geofence that answers by country and falls back to the continent."""
    with open(out, "w") as f:
        conts = sorted(set(c[1] for c in COUNTRIES))
        ccs = sorted(set((c[1], c[0]) for c in COUNTRIES))
        for i in range(n):
            f.write("g%d.%s:\n" % (i, origin))
            for k, (cont, cc) in enumerate(ccs):
                f.write("  - geo: \"%s;%s\"\n    A: 198.51.100.%d\n" % (cont, cc, 1 + k))
            for k, cont in enumerate(conts):
                f.write("  - geo: \"%s;*\"\n    A: 198.51.101.%d\n" % (cont, 1 + k))


def wire_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def query(qid, name, net):
    """A query for NAME A with ECS NET/24 (no RD, EDNS 1232)."""
    ecs = struct.pack("!HBB", 1, 24, 0) + bytes(net[:3])
    opt = struct.pack("!HH", 8, len(ecs)) + ecs
    msg = struct.pack("!HHHHHH", qid & 0xffff, 0, 1, 0, 0, 1)
    msg += wire_name(name) + struct.pack("!HH", 1, 1)
    msg += b"\0" + struct.pack("!HHIH", 41, 1232, 0, len(opt)) + opt
    return struct.pack("!H", len(msg)) + msg


def networks(mapping):
    nets = []
    with open(mapping) as f:
        for line in f:
            line = line.split("#")[0].split()
            if line:
                nets.append([int(x) for x in line[0].split("/")[0].split(".")])
    return nets


def queries(out, how, pattern, count, mapping, hot_net):
    """PATTERN: a name with {i} replaced by the name index (0..999), or a
    fixed name. hot: name index 0 and HOT_NET every time."""
    nets = networks(mapping)
    random.Random(7).shuffle(nets)
    hot = [int(x) for x in hot_net.split(".")]
    with open(out, "wb") as f:
        for q in range(count):
            if how == "hot":
                f.write(query(q, pattern.replace("{i}", "0"), hot))
            else:
                # A different name and a different network every query.
                f.write(query(q, pattern.replace("{i}", str(q * 7919 % NAMES_PER_CONFIG)),
                              nets[q % len(nets)]))


def names_file(out, pattern, n):
    with open(out, "w") as f:
        for i in range(n):
            f.write("%s A\n" % pattern.replace("{i}", str(i)))


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "geo":
        geo(argv[2], int(argv[3]))
    elif cmd == "policy":
        policy(argv[2], int(argv[3]))
    elif cmd == "fillpolicy":
        policy(argv[2], int(argv[3]), n_names=1)
    elif cmd == "scale":
        scale(argv[2], int(argv[3]))
    elif cmd == "zone":
        zone(argv[2], argv[3], int(argv[4]), len(argv) > 5 and argv[5] == "static")
    elif cmd == "geoipconf":
        geoipconf(argv[2], argv[3], int(argv[4]))
    elif cmd == "queries":
        queries(argv[2], argv[3], argv[4], int(argv[5]), argv[6], argv[7])
    elif cmd == "names":
        names_file(argv[2], argv[3], int(argv[4]))
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
