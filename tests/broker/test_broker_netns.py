# SPDX-License-Identifier: GPL-3.0-or-later
"""A broker node inside its own network namespace, listening on that
namespace's address, reached from here over a veth pair the test creates
(10.201.X.0/30, checked with `ip route get` before any traffic). This is how
the multi-host replication test runs its broker."""
import os
import subprocess

import broker
from conftest import CTL, DNS, DNS_NODES, EU, POLICY, FailureWatch


class VethNs:
    """A namespace and a veth pair: 10.201.X.1 here, 10.201.X.2 inside."""

    def __init__(self):
        tag = os.getpid() % 100000
        x = tag % 250 + 1
        self.ns, self.dev, self.peer = "hgbr%d" % tag, "hgbr%da" % tag, "hgbr%db" % tag
        self.here, self.there = "10.201.%d.1" % x, "10.201.%d.2" % x
        self.created = []

        def sh(*cmd):
            subprocess.run(cmd, check=True, capture_output=True, text=True)
        try:
            sh("ip", "netns", "add", self.ns)
            self.created.append("ns")
            sh("ip", "link", "add", self.dev, "type", "veth", "peer", "name", self.peer)
            self.created.append("veth")
            sh("ip", "link", "set", self.peer, "netns", self.ns)
            sh("ip", "addr", "add", self.here + "/30", "dev", self.dev)
            sh("ip", "link", "set", self.dev, "up")
            for cmd in (["ip", "link", "set", "lo", "up"],
                        ["ip", "addr", "add", self.there + "/30", "dev", self.peer],
                        ["ip", "link", "set", self.peer, "up"]):
                sh("ip", "netns", "exec", self.ns, *cmd)
            route = subprocess.run(["ip", "route", "get", self.there], capture_output=True,
                                   text=True, check=True).stdout
            if "dev %s " % self.dev not in route + " ":
                raise RuntimeError("route to %s is not via %s: %s" % (self.there, self.dev, route))
        except BaseException:
            self.close()
            raise

    def close(self):
        if "veth" in self.created:
            subprocess.run(["ip", "link", "del", self.dev], capture_output=True)
        if "ns" in self.created:
            subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)
        self.created = []


def test_broker_in_network_namespace(request, pkiset, tmp_path_factory):
    watch = FailureWatch(request)
    tmp = str(tmp_path_factory.mktemp("netns"))
    net = VethNs()
    b = None
    try:
        server = pkiset.ca.server("broker-ns", hosts=["localhost"], ips=[net.there])
        conf = broker.broker_config(CTL, os.path.join(tmp, "conf"), POLICY, DNS_NODES, 5671,
                                    server, node_name="hgbns@localhost", epmd_port=4369,
                                    listen=[net.there])
        b = broker.Broker([broker.Node(conf, os.path.join(tmp, "node"), netns=net.ns)])
        b.start(timeout=40)
        body = b"from the root namespace"
        with broker.connect(5671, pkiset.clients[EU], pkiset.ca.cert, host=net.there,
                            server_hostname=net.there) as c:
            broker.publish(c, EU, body, user_id=EU)
        with broker.connect(5671, pkiset.clients[DNS], pkiset.ca.cert, host=net.there,
                            server_hostname=net.there) as c:
            got = broker.consume(c, 1, "first", timeout=5)
        assert [g[3] for g in got] == [body]
        # Inside the namespace: AMQPS on its address only, epmd on loopback
        # only (a single node: the default --cluster-address).
        assert broker.epmd_listen_addresses(4369, net.ns) == ["127.0.0.1", "[::1]"]
        assert b.nodes[0].eval("application:get_env(rabbit, ssl_listeners).") == \
            '{ok,[{"%s",5671}]}' % net.there
    finally:
        if b is not None:
            if watch.failed():
                print(b.logs())
            b.close()
            assert broker.epmd_listen_addresses(4369, net.ns) == []
        net.close()
