# SPDX-License-Identifier: GPL-3.0-or-later
"""A Python encoder of feed messages (format version 1, docs/replication.md
"Feed format"), for tests that publish what no honest prober would: a
record for another prober, a message without user_id, bulk traffic for a
benchmark. Written from the document, not from the C codec, so the two
check each other (test_fleet.py encodes the document's examples).

    body = encode("eu", epoch=1, seq=7, sent_ms=now_ms(), kind=BATCH,
                  records=[Record("ep-a", state=UP, rtt_median_us=10000)])
"""
import time

BATCH, SNAPSHOT, HEARTBEAT = 1, 2, 3
UNKNOWN, UP, DOWN = 0, 1, 2
RTT_NONE = 0xFFFFFFFF


def now_ms():
    return int(time.time() * 1000)


def varint(v):
    if v < 0 or v >= 1 << 64:
        raise ValueError("varint out of range: %d" % v)
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def zigzag(d):
    return varint(((d << 1) ^ (d >> 63)) & ((1 << 64) - 1))


def _rtt(v):
    return varint(0 if v == RTT_NONE else v + 1)


class Record:
    """One measurement record (hg_rec_measure_t fields; times in Unix ms)."""

    def __init__(self, endpoint, state=UP, fail_class=0, ts_ms=None, changed_ms=None,
                 rtt_last_us=RTT_NONE, rtt_ewma_us=RTT_NONE, rtt_median_us=RTT_NONE,
                 ttfb_us=RTT_NONE, loss_bp=0, window=20, consec_ok=0, consec_fail=0,
                 probes_total=0, probes_failed=0):
        self.endpoint = endpoint.encode() if isinstance(endpoint, str) else endpoint
        self.state, self.fail_class = state, fail_class
        self.ts_ms, self.changed_ms = ts_ms, changed_ms
        self.rtt_last_us, self.rtt_ewma_us = rtt_last_us, rtt_ewma_us
        self.rtt_median_us, self.ttfb_us = rtt_median_us, ttfb_us
        self.loss_bp, self.window = loss_bp, window
        self.consec_ok, self.consec_fail = consec_ok, consec_fail
        self.probes_total, self.probes_failed = probes_total, probes_failed


def encode(prober, epoch, seq, sent_ms, kind=BATCH, records=()):
    """The bytes of one message; records are sorted and front-coded here."""
    pid = prober.encode() if isinstance(prober, str) else prober
    recs = sorted(records, key=lambda r: r.endpoint)
    out = bytearray(b"HGF")
    out += bytes([1, kind, len(pid)]) + pid
    out += epoch.to_bytes(8, "little")
    out += varint(seq) + varint(sent_ms) + varint(len(recs))
    prev = b""
    for r in recs:
        shared = 0
        while shared < min(len(prev), len(r.endpoint)) and prev[shared] == r.endpoint[shared]:
            shared += 1
        suffix = r.endpoint[shared:]
        out += bytes([shared, len(suffix)]) + suffix
        out.append(r.state | (r.fail_class << 4))
        ts = sent_ms if r.ts_ms is None else r.ts_ms
        changed = ts if r.changed_ms is None else r.changed_ms
        out += zigzag(ts - sent_ms) + zigzag(changed - ts)
        out += _rtt(r.rtt_last_us) + _rtt(r.rtt_ewma_us) + _rtt(r.rtt_median_us) + _rtt(r.ttfb_us)
        out += varint(r.loss_bp) + varint(r.window) + varint(r.consec_ok) + varint(r.consec_fail)
        out += varint(r.probes_total) + varint(r.probes_failed)
        prev = r.endpoint
    return bytes(out)


# The examples of docs/replication.md ("Example"), byte for byte.
DOC_HEARTBEAT = bytes.fromhex(
    "484746" "01" "03" "06" "65752d667261" "0068e5cf8b010000" "2a" "e0a499ffbc31" "00")
DOC_BATCH_TAIL = bytes.fromhex(
    "000b7761662d6672612d617773" "11" "a30d" "ffb9b703"
    "dda601" "afa301" "8ea301" "9920" "0014d00500" "80d21f0c"
    "0803676370" "22" "a30d00" "00" "afa301" "8ea301" "9920" "dc0b140003" "80d21f0c")


def doc_examples():
    """(encoded, expected) pairs for the document's two examples."""
    epoch, sent = 1700000000000, 1700000060000
    hb = encode("eu-fra", epoch, 42, sent, HEARTBEAT)
    probed = sent - 850
    recs = [
        Record("waf-fra-aws", state=UP, fail_class=1, ts_ms=probed, changed_ms=probed - 3600000,
               rtt_last_us=21340, rtt_ewma_us=20910, rtt_median_us=20877, ttfb_us=4120,
               loss_bp=0, window=20, consec_ok=720, consec_fail=0,
               probes_total=518400, probes_failed=12),
        Record("waf-fra-gcp", state=DOWN, fail_class=2, ts_ms=probed, changed_ms=probed,
               rtt_last_us=RTT_NONE, rtt_ewma_us=20910, rtt_median_us=20877, ttfb_us=4120,
               loss_bp=1500, window=20, consec_ok=0, consec_fail=3,
               probes_total=518400, probes_failed=12),
    ]
    batch = encode("eu-fra", epoch, 43, sent, BATCH, recs)
    batch_head = DOC_HEARTBEAT[:4] + b"\x01" + DOC_HEARTBEAT[5:-8] + b"\x2b" + \
        DOC_HEARTBEAT[-7:-1] + b"\x02"
    return [(hb, DOC_HEARTBEAT), (batch, batch_head + DOC_BATCH_TAIL)]
