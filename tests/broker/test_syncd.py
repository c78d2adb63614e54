# SPDX-License-Identifier: GPL-3.0-or-later
"""haltgslb-syncd against a real rabbitmq-server (configured only by
`haltgslb-ctl broker-config`), with feed messages from the project's encoder
published over TLS + EXTERNAL by the probers' own certificates.

The tests run in file order on one broker and one long-running DNS node
("A"); counters are compared before/after each step.
"""
import shutil
import signal
import time

import pika
import pytest

from syncd_env import cursors, data_state, deliveries, dump, env, iso_ms, \
    measurements, now_ms, stream_pos, wait_for  # noqa: F401 (env: the fixture)

# The probers' clock is far in the past on purpose: syncd must stamp by
# its own clock, never by the prober's.
PROBER_CLOCK = 1000000000000
S = {}   # state shared by the steps: node A, the epoch, the seq


@pytest.fixture(scope="module")
def node_a(env):
    a = env.syncd("a").start()
    a.wait_consuming()
    S["epoch"] = now_ms()
    S["seq"] = 0
    yield a


def next_msg(env, kind="batch", recs=(), prober="eu-fra", seq=None):
    if seq is None:
        S["seq"] += 1
        seq = S["seq"]
    return env.feed.msg(kind, prober, S["epoch"], seq, PROBER_CLOCK + seq * 1000, recs)


def publish_and_wait(env, node, body, n=1, **kw):
    """Publish and wait until the node consumed it (its stored stream
    position counts every delivery: applied, duplicate or dropped)."""
    before = deliveries(node.db)
    env.publish(body, **kw)
    assert wait_for(lambda: deliveries(node.db) >= before + n, 10), \
        "not consumed:\n" + node.log()[-3000:]


def test_apply(env, node_a):
    before = now_ms()
    body = next_msg(env, recs=[("ep-a", "up", 12000, 100), ("ep-b", "down", None, 0)])
    publish_and_wait(env, node_a, body)
    after = now_ms()
    m = measurements(node_a.db)
    a, b = m[("ep-a", "eu-fra")], m[("ep-b", "eu-fra")]
    assert a["state"] == "up" and a["rtt_median_us"] == 12000 and a["loss_bp"] == 100
    assert b["state"] == "down" and b["rtt_median_us"] is None
    # Freshness by the node's clock: stamped at arrival, the prober's own
    # (ancient) times are not what counts.
    assert before - 50 <= iso_ms(a["ts"]) <= after + 50, a
    assert iso_ms(a["changed"]) == PROBER_CLOCK + S["seq"] * 1000, "changed_ms is the prober's"
    views = {v: d for v, d in env_views(node_a.db).items()}
    cell = views["www.example.net."]["ep-a"]["eu-fra"]
    assert cell["state"] == "up" and cell["rtt_us"] == 12000
    assert before - 50 <= iso_ms(cell["ts"]) <= after + 50
    c = cursors(node_a.db)["eu-fra"]
    assert c["epoch"] == S["epoch"] and c["seq"] == S["seq"]
    assert c["messages"] == 1 and c["records"] == 2 and c["duplicates"] == 0
    pos = stream_pos(node_a.db)
    assert pos is not None and pos["cluster"] != "", pos
    node_a.wait_metric("haltgslb_syncd_records_applied_total", 2, prober="eu-fra")
    node_a.wait_metric("haltgslb_syncd_messages_applied_total", 1, prober="eu-fra",
                       kind="batch")
    assert node_a.metric("haltgslb_syncd_connected") == 1
    assert node_a.metric("haltgslb_syncd_prober_fresh", prober="eu-fra") == 1
    assert node_a.metric("haltgslb_syncd_prober_fresh", prober="ap-sin") == 0
    assert node_a.metric("haltgslb_syncd_stream_offset") == pos["offset"]
    S["applied"] = body


def env_views(db):
    """{name: {endpoint: {prober: cell}}}: the cells each view reads, from
    the endpoint set it references (schema 2)."""
    sets = dump(db, "sets")
    out = {}
    for name, v in dump(db, "views").items():
        s = sets[str(v["set"])]
        out[name] = {e["id"]: {c["prober"]: c for c in e["cells"]} for e in s["endpoints"]}
    return out


def test_republished_message_is_a_duplicate(env, node_a):
    """A publisher republishing after a failover: same bytes, new offset."""
    state = data_state(node_a.db)
    publish_and_wait(env, node_a, S["applied"])
    after = data_state(node_a.db)
    assert after[0] == state[0] and after[1] == state[1], "a duplicate changed records or views"
    assert after[2]["eu-fra"]["duplicates"] == 1
    assert after[2]["eu-fra"]["messages"] == 1 and after[2]["eu-fra"]["records"] == 2
    node_a.wait_metric("haltgslb_syncd_duplicates_total", 1, prober="eu-fra")
    node_a.wait_metric("haltgslb_syncd_records_applied_total", 2, prober="eu-fra")


def test_gap_and_unknown_endpoint(env, node_a):
    S["seq"] += 2          # two sequence numbers never published
    body = next_msg(env, recs=[("ep-c", "up", 30000, 0), ("ep-zzz", "up", 1, 0)])
    publish_and_wait(env, node_a, body)
    c = cursors(node_a.db)["eu-fra"]
    assert c["gaps"] == 2 and c["records"] == 3
    m = measurements(node_a.db)
    assert m[("ep-c", "eu-fra")]["rtt_median_us"] == 30000
    assert not any(ep == "ep-zzz" for ep, _ in m)
    node_a.wait_metric("haltgslb_syncd_gaps_total", 2, prober="eu-fra")
    node_a.wait_metric("haltgslb_syncd_records_skipped_total", 1, prober="eu-fra")


def rejected(node, prober, reason, value):
    node.wait_metric("haltgslb_syncd_messages_rejected_total", value, prober=prober,
                     reason=reason)


def test_message_without_user_id_rejected(env, node_a):
    state = data_state(node_a.db)
    publish_and_wait(env, node_a, next_msg(env, recs=[("ep-a", "down", None, 0)]), user_id=None)
    assert data_state(node_a.db) == state, "a message without user_id changed the database"
    rejected(node_a, "(none)", "no_user_id", 1)
    assert "no_user_id" in node_a.log()


def test_forged_prober_rejected(env, node_a):
    """Prober A's credentials cannot publish records for prober B: the broker
    refuses a spoofed user_id, and syncd drops a message whose prober id is
    not its user_id."""
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as e:
        env.publish(next_msg(env, prober="ap-sin"), prober="eu-fra", user_id="ap-sin")
    assert e.value.reply_code == 406, repr(e.value)
    env.pubs.pop("eu-fra").close()     # that channel's connection is kept clean
    state = data_state(node_a.db)
    forged = env.feed.msg("batch", "ap-sin", S["epoch"], 1, PROBER_CLOCK,
                          [("ep-a", "down", None, 0)])
    publish_and_wait(env, node_a, forged, prober="eu-fra")   # user_id eu-fra, key eu-fra
    assert data_state(node_a.db) == state, "a forged message changed the database"
    assert "ap-sin" not in cursors(node_a.db)
    rejected(node_a, "eu-fra", "user_id_mismatch", 1)


def varint(v):
    out = b""
    while True:
        b, v = v & 0x7f, v >> 7
        out += bytes([b | (0x80 if v else 0)])
        if not v:
            return out


def too_many_records(prober, epoch, seq):
    """A batch header announcing 70,000 records (limit 65,536), by hand."""
    import struct
    return (b"HGF\x01\x01" + bytes([len(prober)]) + prober.encode() + struct.pack("<Q", epoch)
            + varint(seq) + varint(PROBER_CLOCK) + varint(70000))


@pytest.mark.parametrize("what,reason", [
    ("truncated", "truncated"), ("garbage", "magic"), ("trailing", "trailing_bytes"),
    ("too-many-records", "too_many_records"),
])
def test_malformed_rejected(env, node_a, what, reason):
    good = next_msg(env, recs=[("ep-b", "up", 5000, 0)])
    body = {"truncated": good[:-4], "garbage": b"\x00" * len(good),
            "trailing": good + b"\x01",
            "too-many-records": too_many_records("eu-fra", S["epoch"], S["seq"] + 1)}[what]
    state = data_state(node_a.db)
    publish_and_wait(env, node_a, body)
    assert data_state(node_a.db) == state, "a %s message changed the database" % what
    rejected(node_a, "eu-fra", reason, 1)


def test_drop_logged_once_per_cause(env, node_a):
    """Three more truncated messages: counted, but the cause was logged
    already (by test_malformed_rejected) and is not again within a minute;
    every cause seen so far was logged exactly once."""
    import re
    good = next_msg(env, recs=[("ep-b", "up", 5000, 0)])
    state = data_state(node_a.db)
    for _ in range(3):
        publish_and_wait(env, node_a, good[:-4])
    assert data_state(node_a.db) == state
    rejected(node_a, "eu-fra", "truncated", 4)
    log = node_a.log()
    for reason in ("truncated", "magic", "trailing_bytes", "too_many_records", "no_user_id",
                   "user_id_mismatch"):
        lines = re.findall(r"dropped message at offset \d+ .*\): %s\b" % reason, log)
        assert len(lines) == 1, (reason, lines)


def test_oversized_message_never_reaches_the_node(env, node_a):
    """broker-config caps messages at the feed's 16 MiB: a bigger one is
    refused by the broker (syncd's own too_big check is a unit test)."""
    state, n = data_state(node_a.db), deliveries(node_a.db)
    good = next_msg(env, recs=[("ep-b", "up", 5000, 0)])
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as e:
        env.publish(good + b"\x00" * (16 * 1024 * 1024 + 1 - len(good)))
    assert e.value.reply_code == 406 and "max size" in e.value.reply_text, repr(e.value)
    time.sleep(0.5)
    assert deliveries(node_a.db) == n and data_state(node_a.db) == state


def test_heartbeats_keep_a_prober_fresh_and_silence_makes_it_stale(env, node_a):
    """Re-stamped by arrival (every stale-after/4 = 1 s); stale within
    stale-after (4 s on fast.example.net.) of the last message."""
    publish_and_wait(env, node_a, next_msg(env, recs=[("ep-a", "up", 11000, 0)]))
    t0 = iso_ms(env_views(node_a.db)["fast.example.net."]["ep-a"]["eu-fra"]["ts"])
    end = time.monotonic() + 3.0
    while time.monotonic() < end:
        publish_and_wait(env, node_a, next_msg(env, kind="heartbeat"))
        time.sleep(0.4)
    last = now_ms()
    ts = iso_ms(env_views(node_a.db)["fast.example.net."]["ep-a"]["eu-fra"]["ts"])
    assert ts >= t0 + 1000, "heartbeats did not re-stamp the cell (%d -> %d)" % (t0, ts)
    assert last - ts <= 1500, "cell stamp %d ms old while heartbeats arrive" % (last - ts)
    restamps = node_a.metric("haltgslb_syncd_restamps_total", prober="eu-fra")
    assert restamps is not None and 2 <= restamps <= 6, restamps
    # Silence: by stale-after + 1 s after the last message the cell is stale.
    stale_at = wait_for(lambda: now_ms() - iso_ms(env_views(node_a.db)["fast.example.net."]
                                                  ["ep-a"]["eu-fra"]["ts"]) > 4000, 6)
    assert stale_at, "cell still fresh 6 s after the last message"
    assert now_ms() - last <= 5000 + 300, "went stale later than stale-after + 1 s"
    node_a.wait_metric("haltgslb_syncd_prober_fresh", 0, prober="eu-fra", timeout=6)


def test_restart_resumes_from_the_stored_offset(env, node_a):
    """kill -9, three messages published while down, restart: exactly those
    three applied, nothing twice (this process's counters and the stored
    totals both say so)."""
    before = cursors(node_a.db)["eu-fra"]
    pos = stream_pos(node_a.db)
    node_a.kill()
    bodies = [next_msg(env, recs=[("ep-b", "up", 20000 + i, 0)]) for i in range(3)]
    for b in bodies:
        env.publish(b)
    node_a.start()
    node_a.wait_consuming(count=2)
    assert "offset %d (after the stored one)" % (pos["offset"] + 1) in node_a.log()
    assert wait_for(lambda: cursors(node_a.db)["eu-fra"]["seq"] == S["seq"], 10)
    after = cursors(node_a.db)["eu-fra"]
    assert after["messages"] == before["messages"] + 3
    assert after["records"] == before["records"] + 3
    assert after["duplicates"] == before["duplicates"] and after["gaps"] == before["gaps"]
    assert measurements(node_a.db)[("ep-b", "eu-fra")]["rtt_median_us"] == 20002
    node_a.wait_metric("haltgslb_syncd_messages_applied_total", 3, prober="eu-fra", kind="batch")
    node_a.wait_metric("haltgslb_syncd_records_applied_total", 3, prober="eu-fra")
    assert node_a.metric("haltgslb_syncd_duplicates_total", prober="eu-fra") == 0
    assert node_a.metric("haltgslb_syncd_deliveries_total") == 3, "consumed more than the 3 new"


def test_sigterm_stops_cleanly_and_restarts(env, node_a):
    publish_and_wait(env, node_a, next_msg(env, kind="heartbeat"))
    pos = stream_pos(node_a.db)
    assert node_a.stop() == 0, node_a.log()[-3000:]
    assert "stopping" in node_a.log() and "haltgslb-syncd stopped" in node_a.log()
    assert stream_pos(node_a.db)["offset"] == pos["offset"]
    node_a.start()
    node_a.wait_consuming(count=3)


def test_sighup_rotated_certificate_reconnects(env, node_a):
    """A renewed certificate (same CN) copied over the files + SIGHUP: syncd
    reconnects with it and goes on consuming."""
    new = env.ca.client("dns-1")          # a new key pair and certificate, same CN
    assert open(new.cert).read() != open(node_a.client.cert).read()
    shutil.copy(new.cert, node_a.client.cert)
    shutil.copy(new.key, node_a.client.key)
    node_a.signal(signal.SIGHUP)
    node_a.wait_log("TLS files changed: reconnecting")
    node_a.wait_consuming(count=4)
    publish_and_wait(env, node_a, next_msg(env, recs=[("ep-a", "up", 9999, 0)]))
    assert measurements(node_a.db)[("ep-a", "eu-fra")]["rtt_median_us"] == 9999
    # A SIGHUP without changes does not reconnect.
    node_a.signal(signal.SIGHUP)
    node_a.wait_log("configuration reloaded", count=2)
    time.sleep(0.5)
    assert node_a.log().count("reconnecting") == 1


def test_fresh_node_converges_from_the_stream_alone(env, node_a):
    """A node without a cursor starts one snapshot interval (+5 s) back: it
    does not replay the older history, and the snapshot makes it equal to
    the node that saw everything."""
    time.sleep(7)   # everything so far is older than 1 s + 5 s
    snap = next_msg(env, kind="snapshot", recs=[("ep-a", "up", 8000, 0),
                                                ("ep-b", "down", None, 300)])
    publish_and_wait(env, node_a, snap)
    hb = next_msg(env, kind="heartbeat")
    publish_and_wait(env, node_a, hb)
    b = env.syncd("b", node="dns-2", extra=["--snapshot-interval", "1s"]).start()
    b.wait_consuming()
    assert "no stored position" in b.log()
    assert wait_for(lambda: (cursors(b.db).get("eu-fra") or {}).get("seq") == S["seq"], 15), \
        b.log()
    cb = cursors(b.db)["eu-fra"]
    assert cb["messages"] == 2, "the new node replayed older history: %s" % cb
    ma, mb = measurements(node_a.db), measurements(b.db)
    assert set(ma) == set(mb) == {("ep-a", "eu-fra"), ("ep-b", "eu-fra")}, (ma, mb)
    for k in ma:
        strip = lambda r: {f: v for f, v in r.items() if f != "ts"}  # noqa: E731
        assert strip(ma[k]) == strip(mb[k]), k
    assert stream_pos(b.db)["offset"] == stream_pos(node_a.db)["offset"]
    assert b.stop() == 0


def test_broker_list_moves_past_a_dead_node(env):
    """The first URI has no broker: syncd tries the next one."""
    import broker as brk
    dead = brk.free_ports(1)[0]
    c = env.syncd("c", node="dns-3",
                  uris="amqps://127.0.0.1:%d,%s" % (dead, env.uri)).start()
    c.wait_consuming()
    assert env.uri in c.log().split("consuming", 1)[1].splitlines()[0]
    assert c.stop() == 0, c.log()



E2E_POLICY = """version: 1
defaults:
  stale-after: 3s
  check: {type: tcp, port: %d, interval: 200ms, timeout: 150ms, rise: 2, fall: 2}
probers:
  - {id: eu-fra, location: {lat: 50.11, lon: 8.68}}
  - {id: ap-sin, location: {lat: 1.35, lon: 103.82}}
pools:
  - id: lo
    endpoints:
      - {id: ep-up, address: [127.0.0.41], location: {lat: 50.1, lon: 8.7}}
      - {id: ep-down, address: [127.0.0.42], location: {lat: 52.4, lon: 4.9}}
names:
  - {name: e2e.example.net., pools: [lo], chain: [up, first: 1]}
"""


def test_real_prober_feeds_the_node(env, tmp_path):
    """haltgslb-prober --broker (prober ap-sin, probing two loopback
    addresses of this host: one listening, one refusing) -> the stream ->
    a syncd with its own database: the node gets the prober's verdicts, its
    view cells follow, and the prober stopped goes stale there."""
    import os
    import re
    import socket
    import subprocess
    import threading
    from syncd_env import PROBER, load_policy
    for addr in ("127.0.0.41", "127.0.0.42"):
        out = subprocess.run(["ip", "route", "get", addr], capture_output=True, text=True,
                             timeout=10, check=True).stdout
        assert re.search(r"^local %s dev lo\b" % re.escape(addr), out, re.M), out
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.41", 0))
    lsock.listen(64)
    lsock.settimeout(0.2)
    port = lsock.getsockname()[1]
    serving = [True]

    def accept_and_close():      # ep-up: accepts; ep-down: nothing listens (refused)
        while serving[0]:
            try:
                lsock.accept()[0].close()
            except OSError:
                continue
    acceptor = threading.Thread(target=accept_and_close, daemon=True)
    acceptor.start()
    pol = str(tmp_path / "e2e.yaml")
    with open(pol, "w") as f:
        f.write(E2E_POLICY % port)
    pdb = str(tmp_path / "prober.db")
    load_policy(pdb, pol)
    load_policy(os.path.join(env.tmp, "e2e.db"), pol)
    node = env.syncd("e2e", node="dns-2", extra=["--snapshot-interval", "2s"]).start()
    cert = env.clients["ap-sin"]
    plog = open(str(tmp_path / "prober.log"), "w")
    prober = subprocess.Popen([PROBER, "--id", "ap-sin", "--db", pdb, "--foreground",
                               "--log-level", "info", "--broker", env.uri, "--tls-cert", cert.cert,
                               "--tls-key", cert.key, "--tls-ca", env.ca.cert,
                               "--snapshot-interval", "2s"], stdout=plog, stderr=subprocess.STDOUT)
    try:
        node.wait_consuming()

        def verdicts():
            m = measurements(node.db)
            up, down = m.get(("ep-up", "ap-sin")), m.get(("ep-down", "ap-sin"))
            return up and down and up["state"] == "up" and down["state"] == "down"
        assert wait_for(verdicts, 20), "node: %s\nsyncd:\n%s\nprober:\n%s" % (
            measurements(node.db), node.log()[-3000:], open(plog.name).read()[-3000:])
        cells = env_views(node.db)["e2e.example.net."]
        assert cells["ep-up"]["ap-sin"]["state"] == "up"
        assert cells["ep-down"]["ap-sin"]["state"] == "down"
        c = cursors(node.db)["ap-sin"]
        assert c["messages"] >= 2 and c["records"] >= 2, c
        node.wait_metric("haltgslb_syncd_prober_fresh", 1, prober="ap-sin")
        assert node.metric("haltgslb_syncd_messages_rejected_total", prober="ap-sin",
                           reason="user_id_mismatch") is None
        # The prober stops: no more messages, stale on the node within
        # stale-after (3 s) + 1 s.
        prober.terminate()
        assert prober.wait(20) == 0, open(plog.name).read()[-3000:]
        node.wait_metric("haltgslb_syncd_prober_fresh", 0, prober="ap-sin", timeout=4 + 1)
    finally:
        if prober.poll() is None:
            prober.kill()
            prober.wait()
        plog.close()
        serving[0] = False
        acceptor.join(5)
        lsock.close()
        node.stop()
