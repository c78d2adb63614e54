# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 10 point 1, against a real knotd: a vantage that sees an endpoint
down never ranks it in lowest-latency or max-loss by the figures its down
cell still carries, while the global quorum keeps the endpoint up for the
other regions."""
import dns.rcode

from conftest import POLICY, ZONE, addresses, answer_ttl, ctl, measure_all

FRA, AMS, SIN, JKT, IAD = "198.51.100.10", "198.51.100.20", "203.0.113.10", "203.0.113.20", "192.0.2.10"
DE, SG = "10.1.0.0/24", "10.2.0.0/24"      # tests/geo/test-geo.txt

# A name whose answer is the one endpoint lowest-latency ranks first, and
# one where max-loss alone judges the vantage (no latency step).
EXTRA_NAMES = """
  - name: lat.gslb.example.net.              # test: the best by latency only
    pools: [eu, us]
    chain: [up, lowest-latency: {tolerance: 5ms}, first: 1]

  - name: loss.gslb.example.net.             # test: max-loss alone
    pools: [eu]
    chain: [up, max-loss: 2%]
"""


def vantage_policy(tmp_path):
    p = tmp_path / "vantage.yaml"
    p.write_text(open(POLICY).read() + EXTRA_NAMES)
    return str(p)


def start(knotd_factory, tmp_path):
    policy = vantage_policy(tmp_path)
    db = str(tmp_path / "vdb")
    ctl("load", "--db", db, policy)
    measure_all(db)
    return knotd_factory(db=db, policy=policy).start()


def fra_down_from_eu_fra(db):
    """The issue's repro: eu-fra sees fra down, its cell still says 5 ms
    (and 0 % loss); ap-sin and us-iad still see it up (quorum: up)."""
    ctl("measure", "--prober", "eu-fra", "--db", db, "--down", "--rtt", "5ms", "waf-fra-aws")


def test_vantage_down_never_ranks_first(knotd_factory, tmp_path):
    k = start(knotd_factory, tmp_path)
    q = lambda name, ecs: k.query("%s.%s" % (name, ZONE), "A", ecs=ecs)

    r = q("lat", DE)
    assert addresses(r) == [FRA] and answer_ttl(r) == 30

    fra_down_from_eu_fra(k.db)
    r = q("lat", DE)
    assert r.rcode() == dns.rcode.NOERROR
    assert addresses(r) == [AMS], "a DE client must not get fra first"
    assert answer_ttl(r) == 10                 # degraded: a partial failure shaped it
    assert k.stats().get("degraded", 0) >= 1

    # The reference name: the EU geofence leaves fra and ams, lowest-latency
    # keeps only ams for DE (fra down from its vantage) on every draw.
    for _ in range(8):
        r = q("global", DE)
        assert addresses(r) == [AMS]
    # max-loss alone: fra's cell says 0 % loss, but it is down from eu-fra.
    assert addresses(q("loss", DE)) == [AMS]

    # Other regions keep fra: the quorum (2 of 3) still sees it up.
    assert addresses(q("all", SG)) == sorted([FRA, AMS, SIN, JKT, IAD])
    r = q("global", SG)
    assert addresses(r) == sorted([SIN, JKT]) and answer_ttl(r) == 30

    # eu-fra sees it again: fra first again, normal TTL.
    measure_all(k.db)
    r = q("lat", DE)
    assert addresses(r) == [FRA] and answer_ttl(r) == 30
    assert addresses(q("loss", DE)) == sorted([FRA, AMS])


def test_vantage_all_down_keeps_the_quorum_answer(knotd_factory, tmp_path):
    """Both EU endpoints down from eu-fra but up for the others: the
    latency step has nothing to rank and changes nothing (the `up` quorum
    decides), the answer is degraded, never empty."""
    k = start(knotd_factory, tmp_path)
    fra_down_from_eu_fra(k.db)
    ctl("measure", "--prober", "eu-fra", "--db", k.db, "--down", "--rtt", "1ms", "waf-ams-gcp")
    r = k.query("loss." + ZONE, "A", ecs=DE)
    assert addresses(r) == sorted([FRA, AMS]) and answer_ttl(r) == 10
