# SPDX-License-Identifier: GPL-3.0-or-later
"""knotc reload keeps serving; a broken module section is refused by
conf-check (naming the item) and by reload, and the old config keeps serving."""
import dns.rcode

from conftest import ZONE, addresses

FRA = "198.51.100.10"


def test_reload_keeps_answering(knotd):
    assert addresses(knotd.query("dr." + ZONE, "A")) == [FRA]
    knotd.knotc("reload")
    assert addresses(knotd.query("dr." + ZONE, "A")) == [FRA]
    knotd.knotc("zone-reload", ZONE)
    assert addresses(knotd.query("dr." + ZONE, "A")) == [FRA]
    knotd.query("dr." + ZONE, "A")
    assert knotd.stats().get("answer[A]", 0) >= 1


# broken module section -> expected words in knotc conf-check's message
BAD_SECTIONS = [
    ("geoip: /nonexistent/city.mmdb", "'geoip'"),
    ("asn-db: /nonexistent/asn.mmdb", "'asn-db'"),
    ("check-interval: 5", "check-interval"),
    ("dnssec: maybe", "dnssec"),
    ("no-such-item: 1", "no-such-item"),
]


def _bad_conf(knotd, text, item):
    key = item.split(":")[0]
    lines = [l for l in text.splitlines() if not l.strip().startswith(key + ":")]
    out = []
    for l in lines:
        out.append(l)
        if l.strip().startswith("database: " + knotd.db):
            out.append("    " + item)
    return "\n".join(out) + "\n"


def test_bad_module_section_refused(knotd):
    good = open(knotd.conf).read()
    for item, word in BAD_SECTIONS:
        bad = _bad_conf(knotd, good, item)
        with open(knotd.conf, "w") as f:
            f.write(bad)
        res = knotd.knotc("conf-check", check=False)
        assert res.returncode != 0, (item, res.stdout, res.stderr)
        assert word in (res.stdout + res.stderr), (item, res.stdout, res.stderr)
        res = knotd.knotc("reload", check=False)
        assert res.returncode != 0, (item, res.stdout, res.stderr)
        r = knotd.query("dr." + ZONE, "A")          # the old config keeps serving
        assert r.rcode() == dns.rcode.NOERROR and addresses(r) == [FRA]
    with open(knotd.conf, "w") as f:
        f.write(good)
    knotd.knotc("reload")
    assert addresses(knotd.query("dr." + ZONE, "A")) == [FRA]


def test_missing_database_item_refused(knotd):
    text = open(knotd.conf).read()
    with open(knotd.conf, "w") as f:
        f.write("\n".join(l for l in text.splitlines() if "database: " + knotd.db not in l) + "\n")
    res = knotd.knotc("conf-check", check=False)
    assert res.returncode != 0 and "'database'" in res.stdout + res.stderr
