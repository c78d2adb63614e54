# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 10 point 6, against a real knotd: a strict geofence is never
widened by the name's fallback. Its clients get the rule's own fallback (a
pool of the same region) or NODATA; clients outside the fence keep the
name's fallback."""
import dns.flags
import dns.rcode

from conftest import POLICY, ZONE, addresses, answer_ttl, ctl, has_soa, measure_all

FRA, AMS, SIN, JKT, IAD = "198.51.100.10", "198.51.100.20", "203.0.113.10", "203.0.113.20", "192.0.2.10"
ID, DE, US = "10.0.0.0/24", "10.1.0.0/24", "10.3.0.0/24"     # tests/geo/test-geo.txt
ALL5 = sorted([FRA, AMS, SIN, JKT, IAD])

FENCED = """
  - name: fenced.gslb.example.net.           # test: strict geofences
    pools: [eu, ap, us]
    chain:
      - up
      - geofence:
          - match: {country: [ID]}
            endpoints: [waf-jkt-azure]
            strict: true
            fallback: pool:ap                # the rule's own: a pool of the region
          - match: {continent: [EU]}
            pools: [eu]
            strict: true                     # fallback none (default): NODATA
    fallback: all                            # for everyone else
"""


def start(knotd_factory, tmp_path):
    policy = tmp_path / "fenced.yaml"
    policy.write_text(open(POLICY).read() + FENCED)
    db = str(tmp_path / "fdb")
    ctl("load", "--db", db, str(policy))
    measure_all(db)
    return knotd_factory(db=db, policy=str(policy)).start()


def test_strict_geofence_holds_in_the_fallback(knotd_factory, tmp_path):
    k = start(knotd_factory, tmp_path)
    q = lambda ecs: k.query("fenced." + ZONE, "A", ecs=ecs)

    assert addresses(q(ID)) == [JKT]
    assert addresses(q(DE)) == sorted([FRA, AMS])

    # The fence's target is down: the rule's pool (ap) answers, its up
    # endpoint only, never the name's fallback all.
    measure_all(k.db, down=("waf-jkt-azure",))
    r = q(ID)
    assert addresses(r) == [SIN] and answer_ttl(r) == 10
    assert k.stats().get("fallback", 0) >= 1

    # The whole EU pool down: EU clients get NODATA (the rule has no
    # fallback), not the five addresses of the name's fallback.
    measure_all(k.db, down=("waf-fra-aws", "waf-ams-gcp"))
    r = q(DE)
    assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA
    assert not r.answer and has_soa(r), "a strict fence must not be widened by fallback: all"

    # Everything down: fenced clients stay in their fence (ID: the ap pool,
    # failing open inside it; EU: NODATA); unfenced clients get the name's
    # fallback all as before.
    measure_all(k.db, down=("waf-fra-aws", "waf-ams-gcp", "waf-sin-aws", "waf-jkt-azure",
                            "waf-iad-aws"))
    assert addresses(q(ID)) == sorted([SIN, JKT])
    assert not q(DE).answer
    r = q(US)
    assert addresses(r) == ALL5 and answer_ttl(r) == 10

    # A drained endpoint is never answered to a fenced client, even by the
    # rule's fallback (the name's fallback all would answer it).
    measure_all(k.db, down=("waf-jkt-azure",))
    ctl("drain", "--db", k.db, "waf-sin-aws")
    assert addresses(q(ID)) == [JKT]           # ap fails open without the drained sin

    measure_all(k.db)
    ctl("undrain", "--db", k.db, "waf-sin-aws")
    r = q(ID)
    assert addresses(r) == [JKT] and answer_ttl(r) == 30


def test_explain_says_which_fallback(tmp_path):
    """explain names the fence's fallback, not the name's."""
    policy = tmp_path / "fenced.yaml"
    policy.write_text(open(POLICY).read() + FENCED)
    db = str(tmp_path / "edb")
    ctl("load", "--db", db, str(policy))
    measure_all(db, down=("waf-jkt-azure", "waf-fra-aws", "waf-ams-gcp"))
    from conftest import CITY
    out = ctl("explain", "--db", db, "--geoip", CITY, "--client", "127.2.0.1",
              "fenced." + ZONE).stdout                         # 127.2/16: ID
    assert "strict geofence rule 1: its fallback pool #1 (not the name's fallback all)" in out, out
    out = ctl("explain", "--db", db, "--geoip", CITY, "--client", "127.1.0.1",
              "fenced." + ZONE).stdout                         # 127.1/16: DE
    assert "strict geofence rule 2: its fallback none: NODATA (not the name's fallback all)" in out, out
