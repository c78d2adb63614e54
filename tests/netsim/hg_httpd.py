#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Small HTTP/HTTPS test server for the prober's namespace tests.

Answers every GET with --status and --body; with --cert/--key it speaks TLS.
With --cut-after N it sends only the first N bytes of that response (headers
first, Content-Length last) and closes the connection: a response cut off
inside its header block. With --status-cycle 200,500 the status of each
response is the next of the list in turn (a health check that flips on
every probe, for benchmarks).
"""
import argparse
import http.server
import itertools
import socketserver
import ssl
import threading


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--status", type=int, default=200)
    ap.add_argument("--body", default="OK\n")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--cut-after", type=int)
    ap.add_argument("--status-cycle", help="statuses answered in turn, e.g. 200,500")
    args = ap.parse_args()
    body = args.body.encode()
    cycle = itertools.cycle([int(x) for x in args.status_cycle.split(",")]) \
        if args.status_cycle else None
    cycle_lock = threading.Lock()

    def status():
        if cycle is None:
            return args.status
        with cycle_lock:
            return next(cycle)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            if args.cut_after is not None:
                whole = ("HTTP/1.1 %d OK\r\nContent-Type: text/plain\r\n"
                         "Content-Length: %d\r\n\r\n" % (args.status, len(body))).encode() + body
                self.wfile.write(whole[:args.cut_after])
                self.wfile.flush()
                self.close_connection = True
                return
            self.send_response(status())
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    family = socketserver.socket.AF_INET6 if ":" in args.bind else socketserver.socket.AF_INET
    Server.address_family = family
    srv = Server((args.bind, args.port), Handler)
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
