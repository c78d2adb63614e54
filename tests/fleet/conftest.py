# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures of the fleet tests: one topology per module (fleet.py), shared
by the tests that do not destroy it; each test leaves it as it found it.

Run as root under the heavy lock (scripts/test.sh does):
  flock /tmp/hg-heavy.lock env top_srcdir=$PWD top_builddir=$PWD/build/asan \\
      HG_TEST_DATA=$PWD/build/asan/tests/data /usr/bin/python3 -m pytest -q -s tests/fleet
"""
import os
import signal
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fleet  # noqa: E402


def _terminated(signum, frame):
    # pytest tears fixtures down on KeyboardInterrupt, not on a bare SIGTERM:
    # a stopped run must still remove its namespaces and stop its brokers.
    raise KeyboardInterrupt("SIGTERM")


signal.signal(signal.SIGTERM, _terminated)


def require_tools():
    """Missing pieces fail the tests (never skip them to green)."""
    missing = [p for p in fleet.required_binaries() if not os.path.exists(p)]
    if missing:
        pytest.fail("missing: %s (build haltgslb with `make` and `make check`; "
                    "run scripts/install-deps.sh)" % ", ".join(missing))
    if os.geteuid() != 0 or not os.path.exists("/dev/net/tun"):
        pytest.fail("the fleet tests need root and /dev/net/tun (network namespaces, TUN links)")
    try:
        import pika  # noqa: F401
    except ImportError:
        pytest.fail("python3-pika is not installed (scripts/install-deps.sh)")


def build(request, tmp_path_factory, name, spec):
    require_tools()
    failed_before = request.session.testsfailed
    f = fleet.Fleet(str(tmp_path_factory.mktemp(name)), spec)
    f.start()
    return f, failed_before


def teardown(request, f, failed_before):
    failed = request.session.testsfailed > failed_before
    if failed:
        print(f.tails(80))
        if f.mq is not None:
            print(f.mq.broker.logs())
    problems = f.close()
    if failed or problems:
        print("fleet work directory kept: %s" % f.workdir)
    else:
        f.remove_workdir()
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="module")
def fl(request, tmp_path_factory):
    """The default fleet: broker, probers eu and ap, endpoints ep-a..c,
    DNS nodes d1 and d2 (d3 spare), a client."""
    f, before = build(request, tmp_path_factory, "fleet", fleet.Spec())
    yield f
    teardown(request, f, before)


@pytest.fixture(scope="module")
def cluster_fleet(request, tmp_path_factory):
    """The fleet on a 3-node RabbitMQ cluster, with one DNS node."""
    f, before = build(request, tmp_path_factory, "cluster",
                      fleet.Spec(broker_nodes=3, dns=("d1",), spare_dns=()))
    yield f
    teardown(request, f, before)
