# SPDX-License-Identifier: GPL-3.0-or-later
"""One rabbitmq-server node (Debian 12: 3.10.8) on 127.0.0.1, configured only
from `haltgslb-ctl broker-config` output, checked with AMQP clients that
present TLS client certificates (pika, SASL EXTERNAL).

Run as root under the heavy lock (with the other broker tests), with the
per-test bound scripts/test.sh uses (python3-pytest-timeout; signal method
and the test function only, so a test that runs out still fails and its
fixtures still stop the nodes and their epmd):
  flock /tmp/hg-heavy.lock env top_srcdir=$PWD top_builddir=$PWD/build/asan \\
      /usr/bin/python3 -m pytest -q -p timeout --timeout=300 --timeout_method=signal \\
      -o timeout_func_only=true tests/broker
The node, and the epmd it started, are stopped at the end of the module.
"""
import json
import os
import socket
import time

import pika
import pytest

import broker
from conftest import AP, CTL, DNS, DNS_NODES, EU, POLICY, PROBERS, FailureWatch, refused, \
    wait_for


@pytest.fixture(scope="module")
def single(request, pkiset, tmp_path_factory):
    watch = FailureWatch(request)
    tmp = str(tmp_path_factory.mktemp("single"))
    amqps, dist, epmd = broker.free_ports(3)
    conf = broker.broker_config(CTL, os.path.join(tmp, "conf"), POLICY, DNS_NODES, amqps,
                                pkiset.server, node_name="hgb1@localhost", dist_port=dist,
                                epmd_port=epmd, listen=["127.0.0.1"],
                                extra=["--cluster-name", "hg-test.fleet-1"])
    b = broker.Broker([broker.Node(conf, os.path.join(tmp, "node"))])
    b.start(timeout=40)
    yield b
    if watch.failed():
        print(b.logs())
    b.close()
    assert broker.epmd_listen_addresses(epmd) == [], "epmd still running after close()"


def conn(b, pk, cn, **kw):
    return broker.connect(b.nodes[0].port, pk.clients[cn] if cn else None, pk.ca.cert, **kw)


def tls_refused(b, attempt, alert):
    """The TLS handshake fails, and the broker logs the alert it sent (with
    TLS 1.3 the client may see only an EOF, never the alert)."""
    n = b.nodes[0]
    mark = n.log_mark()
    with pytest.raises(pika.exceptions.AMQPConnectionError) as e:
        attempt()
    assert "SSL" in repr(e.value), repr(e.value)
    assert wait_for(lambda: alert in n.log_since(mark), 5), n.log_since(mark)


def test_foreign_ca_client_refused(single, pkiset):
    tls_refused(single, lambda: broker.connect(single.nodes[0].port, pkiset.foreign_prober,
                                               pkiset.ca.cert), "Fatal - Unknown CA")


def test_no_client_cert_refused(single, pkiset):
    tls_refused(single, lambda: conn(single, pkiset, None), "Fatal - Certificate required")


def test_plain_tcp_refused(single):
    """No plain AMQP: the only listener speaks TLS, so an AMQP header sent
    in clear gets no AMQP answer, and no TCP listener exists at all."""
    with socket.create_connection(("127.0.0.1", single.nodes[0].port), timeout=5) as s:
        s.sendall(b"AMQP\x00\x00\x09\x01")
        try:
            reply = s.recv(64)
        except (ConnectionResetError, socket.timeout):
            reply = b""
    assert not reply.startswith(b"\x01\x00\x00"), "a plain AMQP connection.start came back"
    assert single.nodes[0].eval("application:get_env(rabbit, tcp_listeners).") == "{ok,[]}"


def test_guest_refused(single, pkiset):
    # PLAIN is not offered at all ...
    with pytest.raises(pika.exceptions.AuthenticationError):
        conn(single, pkiset, EU, credentials=pika.PlainCredentials("guest", "guest"))
    # ... and a valid certificate with CN=guest finds no such user.
    with pytest.raises(pika.exceptions.ProbableAuthenticationError) as e:
        conn(single, pkiset, "guest")
    assert "ACCESS_REFUSED" in repr(e.value), repr(e.value)
    users = single.nodes[0].ctl("list_users", "--formatter", "json")
    assert '"guest"' not in users
    for u in PROBERS + DNS_NODES:
        assert '"%s"' % u in users


def test_prober_publishes_with_own_key_into_stream(single, pkiset):
    body = b"eu-fra batch %f" % time.time()
    with conn(single, pkiset, EU) as c:
        broker.publish(c, EU, body, user_id=EU)
    with conn(single, pkiset, DNS) as c:
        got = broker.consume(c, 1000, "first", timeout=5)
    mine = [g for g in got if g[3] == body]
    assert len(mine) == 1, got
    offset, user_id, key, _ = mine[0]
    assert (user_id, key) == (EU, EU)
    assert isinstance(offset, int)


def test_prober_other_routing_key_refused(single, pkiset):
    with conn(single, pkiset, EU) as c:
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as e:
            broker.publish(c, AP, b"forged", user_id=EU)
        text = refused(e, 403)
        assert "ACCESS_REFUSED" in text and "'%s'" % AP in text, text
        # The connection survives; its own key still works on a new channel.
        broker.publish(c, EU, b"still fine", user_id=EU)


def test_spoofed_user_id_refused(single, pkiset):
    with conn(single, pkiset, EU) as c:
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as e:
            broker.publish(c, EU, b"spoofed", user_id=AP)
        assert "PRECONDITION_FAILED" in refused(e, 406)


def test_prober_reads_nothing(single, pkiset):
    with conn(single, pkiset, EU) as c:
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as e:
            broker.consume(c, 1, "first", timeout=2)
        refused(e, 403)


def test_dns_node_consumes_from_offset_and_cannot_publish(single, pkiset):
    bodies = [b"offset test %d %f" % (i, time.time()) for i in range(3)]
    with conn(single, pkiset, AP) as c:
        for b in bodies:
            broker.publish(c, AP, b, user_id=AP)
    with conn(single, pkiset, DNS_NODES[1]) as c:
        everything = broker.consume(c, 1000, "first", timeout=3)
        offsets = {g[3]: g[0] for g in everything}
        assert all(b in offsets for b in bodies), everything
        # From the second one's offset: exactly the second and the third.
        start = offsets[bodies[1]]
        tail = broker.consume(c, 2, start, timeout=5)
        assert [g[3] for g in tail] == bodies[1:], tail
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as e:
            broker.publish(c, DNS_NODES[1], b"from a dns node", user_id=DNS_NODES[1])
        refused(e, 403)


def test_dns_node_cannot_configure(single, pkiset):
    with conn(single, pkiset, DNS) as c:
        attempts = [
            lambda ch: ch.queue_declare("dns-own-queue", durable=True),
            lambda ch: ch.queue_delete(broker.STREAM),
            lambda ch: ch.exchange_declare("dns-exchange", "topic"),
            lambda ch: ch.exchange_delete(broker.EXCHANGE),
            lambda ch: ch.queue_bind(broker.STREAM, broker.EXCHANGE, "x"),
        ]
        for attempt in attempts:
            ch = c.channel()
            with pytest.raises(pika.exceptions.ChannelClosedByBroker) as e:
                attempt(ch)
            refused(e, 403)
    # Nothing changed: still one stream and one exchange of ours.
    queues = single.nodes[0].ctl("list_queues", "name", "type", "--formatter", "json")
    assert '"dns-own-queue"' not in queues and '"%s"' % broker.STREAM in queues


def test_settings_in_effect(single):
    n = single.nodes[0]
    assert n.eval("net_kernel:get_net_ticktime().") == "10"
    # --cluster-name: the name clients see (syncd keys its offset by it).
    assert n.eval("rabbit_nodes:cluster_name().") == '<<"hg-test.fleet-1">>'
    assert n.eval("application:get_env(rabbit, cluster_partition_handling).") == \
        "{ok,pause_minority}"
    assert n.eval("vm_memory_monitor:get_memory_limit().") == str(512 << 20)
    assert n.eval("rabbit_disk_monitor:get_disk_free_limit().") == "50000000"
    assert n.eval("application:get_env(rabbit, max_message_size).") == "{ok,16777216}"
    assert n.eval("application:get_env(rabbit, auth_mechanisms).") == "{ok,['EXTERNAL']}"
    assert n.eval("application:get_env(rabbit, ssl_cert_login_from).") == "{ok,common_name}"
    assert n.eval("application:get_env(rabbit, ssl_listeners).") == \
        '{ok,[{"127.0.0.1",%d}]}' % n.port
    ssl_opts = n.eval("application:get_env(rabbit, ssl_options).")
    assert "{verify,verify_peer}" in ssl_opts and "{fail_if_no_peer_cert,true}" in ssl_opts
    assert "rabbitmq_auth_mechanism_ssl" in n.eval("rabbit_plugins:active().")
    # The stream, its retention policy and the binding came from the definitions.
    (q,) = json.loads(n.ctl("list_queues", "name", "type", "policy", "arguments",
                            "--formatter", "json"))
    assert (q["name"], q["type"], q["policy"]) == \
        (broker.STREAM, "stream", "haltgslb-stream-retention"), q
    assert ["x-max-age", "longstr", "24h"] in q["arguments"], q
    assert ["x-stream-max-segment-size-bytes", "long", 100000000] in q["arguments"], q
    # What the stream itself applies (policy over arguments): 24 h, 5 GB.
    assert n.stream_retention() == "[{max_bytes,5000000000},{max_age,86400000}]"
    b = n.ctl("list_bindings", "source_name", "destination_name", "routing_key",
              "--formatter", "json")
    assert '{"source_name":"haltgslb","destination_name":"haltgslb.measurements",' \
           '"routing_key":"#"}' in b, b
    # epmd and the Erlang distribution listen on loopback only.
    assert broker.epmd_listen_addresses(n.epmd_port) == ["127.0.0.1", "[::1]"]
    listeners = n.ctl("listeners", tool="rabbitmq-diagnostics")
    assert "Interface: 127.0.0.1, port: %d, protocol: amqp/ssl" % n.port in listeners
    assert "protocol: clustering" in listeners
    assert all("127.0.0.1" in line for line in listeners.splitlines() if line.strip())


def test_regenerated_definitions_import_live(single, pkiset, tmp_path):
    """Adding a DNS node and changing the retention: regenerate, then
    `rabbitmqctl import_definitions` on the running broker (no restart).
    Runs last on this broker: it leaves dns-3 and a 12 h retention."""
    n = single.nodes[0]
    newcert = pkiset.ca.client("dns-3")
    with pytest.raises(pika.exceptions.ProbableAuthenticationError):
        broker.connect(n.port, newcert, pkiset.ca.cert)
    out = broker.broker_config(CTL, str(tmp_path / "conf2"), POLICY, DNS_NODES + ("dns-3",),
                               n.port, pkiset.server, node_name=n.name,
                               epmd_port=n.epmd_port, listen=["127.0.0.1"],
                               extra=["--retention", "12h"])
    n.ctl("import_definitions", os.path.join(out, "definitions.json"))
    with broker.connect(n.port, newcert, pkiset.ca.cert) as c:
        assert broker.consume(c, 1, "first", timeout=5), "dns-3 reads nothing"
    want = "[{max_bytes,5000000000},{max_age,43200000}]"
    assert wait_for(lambda: n.stream_retention() == want, 10), n.stream_retention()
