#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""One AMQP action against the fleet's broker, run inside a host's network
namespace (ip netns exec HOST python3 amqp_tool.py ...); prints one JSON
line: {"ok": true} or {"ok": false, "code": 403, "error": "..."}.

  amqp_tool.py --host A --port N --cert F --key F --ca F connect
  amqp_tool.py ... publish --routing-key RK [--user-id U | --no-user-id] --body-hex HEX

publish waits for the broker's confirm: ok means the broker took the
message; a refusal comes back as the channel's close code (403
ACCESS_REFUSED for a routing key outside the user's topic permission, 406
PRECONDITION_FAILED for a user_id that is not the user's own).
"""
import argparse
import json
import os
import ssl
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "netsim"))
import broker  # noqa: E402
import pika    # noqa: E402


class Who:
    def __init__(self, cert, key):
        self.cert, self.key = cert, key


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--ca", required=True)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("connect")
    p = sub.add_parser("publish")
    p.add_argument("--routing-key", required=True)
    p.add_argument("--user-id")
    p.add_argument("--no-user-id", action="store_true")
    p.add_argument("--body-hex", required=True)
    a = ap.parse_args()
    out = {"ok": False}
    try:
        conn = broker.connect(a.port, Who(a.cert, a.key), a.ca, host=a.host,
                              server_hostname=a.host)
        try:
            if a.cmd == "publish":
                user_id = None if a.no_user_id else a.user_id
                broker.publish(conn, a.routing_key, bytes.fromhex(a.body_hex), user_id=user_id)
            out = {"ok": True}
        finally:
            try:
                conn.close()
            except Exception:   # the broker may have closed it already
                pass
    except pika.exceptions.ChannelClosedByBroker as e:
        out = {"ok": False, "code": e.reply_code, "error": e.reply_text}
    except (pika.exceptions.AMQPError, ssl.SSLError, OSError) as e:
        out = {"ok": False, "code": None, "error": "%s: %s" % (type(e).__name__, e)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
