# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet on a 3-node RabbitMQ cluster (one broker namespace, a node per
address, the stream replicated on all three), probers eu and ap, one DNS
node. Every daemon lists the stream's leader first, so kill -9 of the
leader takes the probers' connections and syncd's consumer down with it:
nothing is lost (sequence numbers without a gap, every message applied
once) and syncd applies messages again within 2 s."""
import re
import time

import fleet
from fleet import prober_seqs, print_timelines, wait_for, watch

ADDR = {eid: addr for eid, (addr, _) in fleet.Spec().endpoints.items()}

RESUME_BOUND = 2.0


def test_cluster_kill9_stream_leader_loses_nothing(cluster_fleet):
    f = cluster_fleet
    f.wait_converged(timeout=10)
    d1 = f.dns["d1"]
    leader = f.mq.stream_leader()
    assert leader is not None, f.mq.stream_members()
    assert f.uris.startswith("amqps://%s:" % f.mq.addr_of(leader)), f.uris
    print("stream leader %s at %s; daemons' URIs %s" % (leader.name, f.mq.addr_of(leader), f.uris))
    assert re.search(r"consuming \S+ on amqps://%s:" % re.escape(f.mq.addr_of(leader)),
                     d1.syncd.logtext()), d1.syncd.logtext()
    before = prober_seqs(d1)
    t0 = time.monotonic()
    leader.kill()
    f.endpoints["ep-a"].kill()        # a change to carry through the failover
    resumed = {}

    def all_resumed():
        now = prober_seqs(d1)
        for p in f.probers:
            if p not in resumed and now[p][1] > before[p][1]:
                resumed[p] = time.monotonic() - t0
        return len(resumed) == len(f.probers)
    assert wait_for(all_resumed, 15, step=0.02), (resumed, prober_seqs(d1), d1.syncd.logtext())
    print("kill -9 of the leader: syncd applied each prober's next message after %s"
          % {p: "%.3f s" % t for p, t in sorted(resumed.items())})
    done, tl = watch(f, [d1], "fra", lambda a: a[0] == [ADDR["ep-c"]], t0, 15)
    print_timelines("ep-a (killed with the leader) gone from", done, tl)
    assert "d1" in done, tl
    # Settle: a few more messages from everyone, then compare counters.
    mid = prober_seqs(d1)
    assert wait_for(lambda: all(prober_seqs(d1)[p][1] >= mid[p][1] + 3 for p in f.probers), 15)
    after = prober_seqs(d1)
    new_leader = f.mq.stream_members()
    print("  new stream leader %s, online %s" % (new_leader["leader"], new_leader["online"]))
    assert new_leader["leader"] != leader.name
    for p, pr in f.probers.items():
        e0, s0, m0, dup0, gap0 = before[p]
        e1, s1, m1, dup1, gap1 = after[p]
        pubs = [line for line in pr.daemon.logtext().splitlines() if "publisher" in line]
        print("  %s: seq %d -> %d, messages +%d, duplicates +%d, gaps +%d; publisher log: %s"
              % (p, s0, s1, m1 - m0, dup1 - dup0, gap1 - gap0, pubs[-2:]))
        assert e1 == e0, "prober %s restarted" % p
        assert gap1 == gap0, "messages lost (a gap in %s's sequence)" % p
        assert m1 - m0 == s1 - s0, "not every message applied exactly once: %s" % ((before[p], after[p]),)
        assert dup1 == dup0, "duplicates +%d: a replay after the failover" % (dup1 - dup0)
        own = pr.records()
        recs = d1.records()
        assert {e: own[e]["state"] for e in own} == {e: recs[(e, p)]["state"] for e in own}
    # (URI, cluster name the node reports, where the consumer started).
    # broker-config writes one cluster_name for the cluster, so every node
    # reports the same one and syncd resumes on the other node after its
    # stored offset: no replay by time.
    starts = re.findall(r"consuming \S+ on (\S+) \(cluster '([^']*)'\) from (.*)", d1.syncd.logtext())
    print("  syncd consumer starts: %s" % starts)
    assert len(starts) >= 2 and starts[-1][0] != starts[0][0], starts
    assert {c for _, c, _ in starts} == {"haltgslb-" + min(n.name for n in f.mq.nodes)}, starts
    assert all(re.fullmatch(r"offset \d+ \(after the stored one\)", fr) for _, _, fr in starts[1:]), \
        "a consumer after the failover did not resume after its offset: %s" % starts
    assert "time" not in " ".join(fr for _, _, fr in starts[1:]), starts
    assert max(resumed.values()) <= RESUME_BOUND, resumed
    f.endpoints["ep-a"].start()
    f.wait_converged(timeout=15)
