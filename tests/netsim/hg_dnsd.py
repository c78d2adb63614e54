#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""A tiny authoritative DNS server for tests (UDP and TCP, dnspython).

    hg_dnsd.py --bind ADDR [--port 53] --zone ZONE.json --log QUERIES.log

ZONE.json maps names to what they answer:

    {"fast.hg.test.": {"a": ["10.200.1.2"], "aaaa": [], "ttl": 2, "delay": 0},
     "slow.hg.test.": {"a": ["10.200.1.2"], "ttl": 300, "delay": 2.5},
     "alias.hg.test.": {"cname": "fast.hg.test.", "ttl": 60}}

A name with "delay" answers that many seconds late, without holding up
any other query (asyncio). A missing type is NODATA, an unknown name
NXDOMAIN (both with an SOA, minimum 1 s); "rcode": "SERVFAIL" answers that.
A CNAME is followed inside the zone. SIGHUP re-reads ZONE.json, so a test
can move a name. Every query is appended to QUERIES.log as
"MONOTONIC_SECONDS NAME TYPE" (flushed at once). Prints "ready" on stdout
when both sockets are bound.
"""
import argparse
import asyncio
import json
import signal
import sys
import time

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

SOA = "ns.hg.test. hostmaster.hg.test. 1 60 60 600 1"


class Zone:
    def __init__(self, path):
        self.path = path
        self.names = {}
        self.load()

    def load(self):
        with open(self.path) as f:
            raw = json.load(f)
        self.names = {dns.name.from_text(k).canonicalize(): v for k, v in raw.items()}

    def answer(self, query):
        """(response, delay seconds) for a query message."""
        resp = dns.message.make_response(query)
        resp.flags |= dns.flags.AA
        if not query.question:
            resp.set_rcode(dns.rcode.FORMERR)
            return resp, 0
        q = query.question[0]
        name, rdtype = q.name, q.rdtype
        entry = self.names.get(name.canonicalize())
        delay = entry.get("delay", 0) if entry else 0
        for _ in range(8):   # CNAME chain inside the zone
            if entry is None:
                resp.set_rcode(dns.rcode.NXDOMAIN)
                break
            if entry.get("rcode"):
                resp.set_rcode(dns.rcode.from_text(entry["rcode"]))
                return resp, delay
            ttl = int(entry.get("ttl", 60))
            if "cname" in entry and rdtype != dns.rdatatype.CNAME:
                target = dns.name.from_text(entry["cname"])
                resp.answer.append(dns.rrset.from_text(name, ttl, "IN", "CNAME",
                                                       target.to_text()))
                name, entry = target, self.names.get(target.canonicalize())
                continue
            key = {dns.rdatatype.A: "a", dns.rdatatype.AAAA: "aaaa"}.get(rdtype)
            values = entry.get(key, []) if key else []
            if values:
                resp.answer.append(dns.rrset.from_text(name, ttl, "IN", rdtype, *values))
                return resp, delay
            break   # NODATA
        resp.authority.append(dns.rrset.from_text("hg.test.", 1, "IN", "SOA", SOA))
        return resp, delay


class Server:
    def __init__(self, zone, log):
        self.zone = zone
        self.log = log

    def handle(self, wire):
        try:
            query = dns.message.from_wire(wire)
        except Exception:   # noqa: BLE001 - garbage is simply not answered
            return None, 0
        if query.question:
            q = query.question[0]
            self.log.write("%.6f %s %s\n" % (time.monotonic(), q.name.to_text().lower(),
                                             dns.rdatatype.to_text(q.rdtype)))
            self.log.flush()
        resp, delay = self.zone.answer(query)
        return resp, delay


class Udp(asyncio.DatagramProtocol):
    def __init__(self, server):
        self.server = server
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        resp, delay = self.server.handle(data)
        if resp is None:
            return
        wire = resp.to_wire(max_size=512)
        loop = asyncio.get_running_loop()
        loop.call_later(delay, self.transport.sendto, wire, addr)


async def tcp_client(server, reader, writer):
    try:
        while True:
            head = await reader.readexactly(2)
            data = await reader.readexactly(int.from_bytes(head, "big"))
            resp, delay = server.handle(data)
            if resp is None:
                break
            await asyncio.sleep(delay)
            wire = resp.to_wire()
            writer.write(len(wire).to_bytes(2, "big") + wire)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bind", required=True)
    ap.add_argument("--port", type=int, default=53)
    ap.add_argument("--zone", required=True)
    ap.add_argument("--log", required=True)
    args = ap.parse_args()
    zone = Zone(args.zone)
    server = Server(zone, open(args.log, "a"))
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGHUP, zone.load)
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, stop.set_result, None)
    await loop.create_datagram_endpoint(lambda: Udp(server), local_addr=(args.bind, args.port))
    tcp = await asyncio.start_server(lambda r, w: tcp_client(server, r, w), args.bind,
                                     args.port)
    print("ready", flush=True)
    await stop
    tcp.close()


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
