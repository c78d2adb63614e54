# SPDX-License-Identifier: GPL-3.0-or-later
"""A 3-node RabbitMQ cluster on 127.0.0.1 formed from `haltgslb-ctl
broker-config` output alone (classic config peer discovery): the stream gets
a replica on every node; a frozen node is noticed within about net_ticktime
and the cluster heals by itself once it runs again (pause_if_all_down with
autoheal); kill -9 of the stream leader loses no confirmed message, and the
killed node rejoins when restarted.

Every wait has a bound derived from the broker's settings (below); the
fixture and the tests fail with the reason (Broker.not_formed) and the
nodes' logs instead of waiting longer."""
import os
import re
import ssl
import time

import pika
import pytest

import broker
from conftest import AP, CTL, DNS, DNS_NODES, EU, POLICY, FailureWatch, wait_for

NET_TICKTIME = 10      # broker-config's default
# Three cold nodes booting at once on 2 cores, then joining one at a time
# (classic config: the first lock holder waits out its 10 x 0.5 s discovery
# window, then each next node joins under the cluster-wide lock), then the
# stream's 3 replicas starting. Measured: 15-20 s idle, up to ~45 s with both
# cores busy (docs/replication.md, "A 3-node cluster"); 120 s is that with
# room for a slower CI machine, not a hang.
FORM_TIMEOUT = 120
# A frozen node is dropped after net_ticktime +/- 25 % (4 missed ticks of
# net_ticktime/4), plus one poll of the CLI.
DETECT_TIMEOUT = 1.25 * NET_TICKTIME + 10
# Healing restarts at most the rabbit application of the side that lost
# (autoheal) or resumes a paused node: less work than forming the cluster
# from cold, so the same bound.
HEAL_TIMEOUT = FORM_TIMEOUT
# A new stream leader is elected ~0.3 s after its old one is killed; the
# survivors first see the node gone at once (its sockets close), so 30 s is
# only the bound of a loaded machine.
FAILOVER_TIMEOUT = 30


@pytest.fixture(scope="module")
def cluster(request, pkiset, tmp_path_factory):
    watch = FailureWatch(request)
    tmp = str(tmp_path_factory.mktemp("cluster"))
    ports = broker.free_ports(7)
    epmd = ports[6]
    names = ["hgc%d@localhost" % i for i in (1, 2, 3)]
    nodes = []
    for i, name in enumerate(names):
        conf = broker.broker_config(
            CTL, os.path.join(tmp, "conf%d" % i), POLICY, DNS_NODES, ports[i], pkiset.server,
            node_name=name, dist_port=ports[3 + i], epmd_port=epmd, cluster_nodes=names,
            listen=["127.0.0.1"])
        nodes.append(broker.Node(conf, os.path.join(tmp, "node%d" % i)))
    b = broker.Broker(nodes)
    t0 = time.monotonic()
    b.start(timeout=FORM_TIMEOUT)
    print("cluster formed, stream on 3 nodes, %.1f s after start" % (time.monotonic() - t0))
    yield b
    if watch.failed():
        print(b.logs())
    b.close()
    assert broker.epmd_listen_addresses(epmd) == [], "epmd still running after close()"


def formed(cluster):
    """Each test starts from a whole cluster (a failed test before must not
    make this one fail for another reason)."""
    cluster.wait_formed(HEAL_TIMEOUT)
    return cluster.stream_state(cluster.nodes[0])


def test_cluster_forms_with_stream_on_every_node(cluster):
    names = sorted(n.name for n in cluster.nodes)
    assert cluster.not_formed() is None
    q = cluster.stream_state(cluster.nodes[1])
    assert sorted(q["members"]) == names and sorted(q["online"]) == names, q
    for n in cluster.nodes:
        assert n.eval("net_kernel:get_net_ticktime().") == str(NET_TICKTIME)
        # {ok,{pause_if_all_down,[Peer, ...],autoheal}}: the two peers (in no
        # particular order), never the node itself.
        got = "".join(n.eval("application:get_env(rabbit, cluster_partition_handling).").split())
        m = re.match(r"^\{ok,\{pause_if_all_down,\[([^\]]*)\],autoheal\}\}$", got)
        assert m, got
        assert sorted(x.strip("'") for x in m.group(1).split(",")) == \
            [x for x in names if x != n.name], got


def test_cluster_frozen_node_heals(cluster, pkiset):
    """SIGSTOP a node (not the stream leader): the others notice within about
    net_ticktime and keep confirming; SIGCONT: it pauses, or autoheal merges
    the partition it left, and the cluster is whole again by itself: every
    node runs with every other one, no partition, the stream online on all
    three, and the message confirmed during the freeze readable on the node
    that missed it."""
    q = formed(cluster)
    victim = next(n for n in cluster.nodes if n.name != q["leader"])
    others = [n for n in cluster.nodes if n is not victim]
    victim.freeze()
    t0 = time.monotonic()
    try:
        gone = wait_for(lambda: victim.name not in others[0].eval("rabbit_nodes:all_running()."),
                        DETECT_TIMEOUT, step=1)
        detected = time.monotonic() - t0
        assert gone, "frozen node still counted as running after %.0f s" % DETECT_TIMEOUT
        print("frozen node %s seen down after %.1f s" % (victim.name, detected))
        body = b"during the freeze %f" % time.time()
        with broker.connect(others[0].port, pkiset.clients[EU], pkiset.ca.cert) as c:
            t1 = time.monotonic()
            broker.publish(c, EU, body, user_id=EU)
            print("publish confirmed %.2f s into the freeze window" % (time.monotonic() - t1))
    finally:
        victim.freeze(False)
    t2 = time.monotonic()
    healed = cluster.wait_formed(HEAL_TIMEOUT)
    print("healed %.1f s after SIGCONT" % healed)
    assert time.monotonic() - t2 < HEAL_TIMEOUT + broker.CTL_TIMEOUT
    # The victim's replica caught up with what was confirmed without it.
    with broker.connect(victim.port, pkiset.clients[DNS], pkiset.ca.cert) as c:
        got = [g[3] for g in broker.consume(c, 10000, "first", timeout=5)]
    assert body in got, "the message confirmed during the freeze is not on %s" % victim.name


def test_cluster_kill_leader_loses_nothing(cluster, pkiset):
    q = formed(cluster)
    leader = next(n for n in cluster.nodes if n.name == q["leader"])
    survivors = [n for n in cluster.nodes if n is not leader]
    before = [b"before kill %d" % i for i in range(20)]
    with broker.connect(leader.port, pkiset.clients[EU], pkiset.ca.cert) as c:
        for body in before:
            broker.publish(c, EU, body, user_id=EU)
    leader.kill()
    t0 = time.monotonic()
    after = [b"after kill %d" % i for i in range(20)]

    def publish_after():
        try:
            with broker.connect(survivors[0].port, pkiset.clients[AP], pkiset.ca.cert) as c:
                broker.publish(c, AP, after[0], user_id=AP, timeout=5)
            return True
        except (pika.exceptions.AMQPError, ssl.SSLError, OSError, broker.ConfirmTimeout):
            return False
    assert wait_for(publish_after, FAILOVER_TIMEOUT, step=0.2), \
        "no confirmed publish %.0f s after kill -9" % FAILOVER_TIMEOUT
    print("first confirm after kill -9 of the leader: %.2f s" % (time.monotonic() - t0))
    with broker.connect(survivors[0].port, pkiset.clients[AP], pkiset.ca.cert) as c:
        for body in after[1:]:
            broker.publish(c, AP, body, user_id=AP)
    with broker.connect(survivors[1].port, pkiset.clients[DNS], pkiset.ca.cert) as c:
        got = [g[3] for g in broker.consume(c, 10000, "first", timeout=5)]
    missing = [b for b in before + after if b not in got]
    assert not missing, missing
    q = cluster.stream_state(survivors[0])
    assert q["leader"] in [n.name for n in survivors], q
    # The killed node comes back (same data directory) and gets its replica
    # back: the cluster is whole again without anyone's help.
    t1 = time.monotonic()
    leader.start()
    leader.wait_ready(FORM_TIMEOUT)
    cluster.wait_formed(max(1.0, FORM_TIMEOUT - (time.monotonic() - t1)))
    print("killed node rejoined, stream online on 3 nodes, %.1f s after restart"
          % (time.monotonic() - t1))
    with broker.connect(leader.port, pkiset.clients[DNS], pkiset.ca.cert) as c:
        got = [g[3] for g in broker.consume(c, 10000, "first", timeout=5)]
    missing = [b for b in before + after if b not in got]
    assert not missing, "missing on the restarted node: %s" % missing
