# SPDX-License-Identifier: GPL-3.0-or-later
"""A 3-node RabbitMQ cluster on 127.0.0.1 formed from `haltgslb-ctl
broker-config` output alone (classic config peer discovery): the stream gets
a replica on every node; a frozen node is noticed within about net_ticktime
and the cluster heals by itself (pause_minority); kill -9 of the stream
leader loses no confirmed message."""
import json
import os
import ssl
import time

import pika
import pytest

import broker
from conftest import AP, CTL, DNS, DNS_NODES, EU, POLICY, FailureWatch, wait_for


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
    b.start(timeout=90)
    yield b
    if watch.failed():
        print(b.logs())
    b.close()
    assert broker.epmd_listen_addresses(epmd) == [], "epmd still running after close()"


def stream_members(node):
    q = json.loads(node.ctl("list_queues", "name", "leader", "members", "online",
                            "--formatter", "json"))
    return [x for x in q if x["name"] == broker.STREAM]


def test_cluster_forms_with_stream_on_every_node(cluster):
    names = sorted(n.name for n in cluster.nodes)
    status = json.loads(cluster.nodes[0].ctl("cluster_status", "--formatter", "json"))
    assert sorted(status["running_nodes"]) == names, status
    assert sorted(status["disk_nodes"]) == names, status
    (q,) = stream_members(cluster.nodes[1])
    assert sorted(q["members"]) == names and sorted(q["online"]) == names, q
    for n in cluster.nodes:
        assert n.eval("net_kernel:get_net_ticktime().") == "10"
        assert n.eval("application:get_env(rabbit, cluster_partition_handling).") == \
            "{ok,pause_minority}"


def test_cluster_frozen_node_heals(cluster, pkiset):
    """SIGSTOP a node (not the stream leader): the others notice within about
    net_ticktime and keep confirming; SIGCONT: it pauses as the minority,
    then rejoins by itself, no partition left."""
    (q,) = stream_members(cluster.nodes[0])
    victim = next(n for n in cluster.nodes if n.name != q["leader"])
    others = [n for n in cluster.nodes if n is not victim]
    victim.freeze()
    t0 = time.monotonic()
    try:
        gone = wait_for(lambda: victim.name not in others[0].eval("rabbit_nodes:all_running()."),
                        30, step=1)
        detected = time.monotonic() - t0
        assert gone, "frozen node still counted as running after 30 s"
        print("frozen node %s seen down after %.1f s" % (victim.name, detected))
        assert detected < 25
        c = broker.connect(others[0].port, pkiset.clients[EU], pkiset.ca.cert)
        t1 = time.monotonic()
        broker.publish(c, EU, b"during the freeze", user_id=EU)
        print("publish confirmed %.2f s into the freeze window" % (time.monotonic() - t1))
        c.close()
    finally:
        victim.freeze(False)
    names = sorted(n.name for n in cluster.nodes)

    def healed():
        for n in cluster.nodes:
            try:
                if n.eval("rabbit_node_monitor:partitions().") != "[]":
                    return False
                if sorted(n.eval("rabbit_nodes:all_running().").strip("[]").split(",")) != names:
                    return False
            except broker.BrokerError:
                return False
        return True
    t2 = time.monotonic()
    assert wait_for(healed, 60, step=1), "cluster not healed 60 s after SIGCONT"
    print("healed %.1f s after SIGCONT" % (time.monotonic() - t2))
    (q,) = wait_for(lambda: [x for x in stream_members(others[0])
                             if sorted(x["online"]) == names], 30, step=1)
    assert sorted(q["online"]) == names, q


def test_cluster_kill_leader_loses_nothing(cluster, pkiset):
    (q,) = stream_members(cluster.nodes[0])
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
                broker.publish(c, AP, after[0], user_id=AP)
            return True
        except (pika.exceptions.AMQPError, ssl.SSLError, OSError):
            return False
    assert wait_for(publish_after, 30, step=0.2), "no confirmed publish 30 s after kill -9"
    print("first confirm after kill -9 of the leader: %.2f s" % (time.monotonic() - t0))
    with broker.connect(survivors[0].port, pkiset.clients[AP], pkiset.ca.cert) as c:
        for body in after[1:]:
            broker.publish(c, AP, body, user_id=AP)
    with broker.connect(survivors[1].port, pkiset.clients[DNS], pkiset.ca.cert) as c:
        got = [g[3] for g in broker.consume(c, 10000, "first", timeout=5)]
    missing = [b for b in before + after if b not in got]
    assert not missing, missing
    (q,) = stream_members(survivors[0])
    assert q["leader"] != leader.name, q
