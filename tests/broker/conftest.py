# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures of the broker tests: tool checks, a PKI, and FailureWatch (a
broker fixture prints the node logs when one of its tests failed)."""
import os
import shutil
import signal
import sys
import time

import pytest

SRC = os.path.abspath(os.environ.get("top_srcdir",
                                     os.path.join(os.path.dirname(__file__), "..", "..")))
BUILD = os.path.abspath(os.environ.get("top_builddir", SRC))
sys.path.insert(0, os.path.join(SRC, "tests", "netsim"))

import broker  # noqa: E402
import pki     # noqa: E402

CTL = os.path.join(BUILD, "haltgslb-ctl")
POLICY = os.path.join(SRC, "tests", "unit", "policies", "reference.yaml")
PROBERS = ("eu-fra", "ap-sin", "us-iad")       # the probers of POLICY
DNS_NODES = ("dns-1", "dns-2")
EU, AP, DNS = PROBERS[0], PROBERS[1], DNS_NODES[0]


def _terminated(signum, frame):
    # pytest tears fixtures down on KeyboardInterrupt, not on a bare SIGTERM:
    # a stopped run must still stop its brokers and their epmd.
    raise KeyboardInterrupt("SIGTERM")


signal.signal(signal.SIGTERM, _terminated)


def require_tools():
    """Missing pieces fail the tests (never skip them to green)."""
    missing = [p for p in (CTL, os.path.join(broker.RMQ_BIN, "rabbitmq-server"),
                           "/usr/bin/epmd") if not os.path.exists(p)]
    if missing:
        pytest.fail("missing: %s (build haltgslb; run scripts/install-deps.sh)"
                    % ", ".join(missing))
    if os.geteuid() != 0:
        pytest.fail("the broker tests run rabbitmq-server and network namespaces: run as root")
    try:
        import pika  # noqa: F401
    except ImportError:
        pytest.fail("python3-pika is not installed (scripts/install-deps.sh)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test's report ends with the log tails of the brokers it used
    (any broker.Broker among its fixtures), whatever it was waiting for: the
    module fixtures' teardown output would only be shown with the module's
    last test."""
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and call.when in ("setup", "call"):
        for name, value in getattr(item, "funcargs", {}).items():
            if isinstance(value, broker.Broker):
                try:
                    text = value.logs()
                except Exception as e:          # the report must not fail
                    text = "(logs unavailable: %r)" % e
                rep.sections.append(("broker logs (fixture %s)" % name, text))


class FailureWatch:
    """Remembers how many tests had failed when a fixture was set up, so its
    teardown can print the broker's logs only if one of its tests failed."""

    def __init__(self, request):
        self.session = request.session
        self.before = request.session.testsfailed

    def failed(self):
        return self.session.testsfailed > self.before


class Pki:
    """The test CA, a foreign CA, and every certificate the tests present."""

    def __init__(self, workdir, server_ips=("127.0.0.1",)):
        self.ca = pki.CA(workdir, "haltgslb test CA")
        self.foreign = pki.CA(workdir, "foreign CA")
        self.server = self.ca.server("broker", hosts=["localhost"], ips=list(server_ips))
        self.clients = {cn: self.ca.client(cn) for cn in PROBERS + DNS_NODES + ("guest",)}
        self.foreign_prober = self.foreign.client(PROBERS[0])


@pytest.fixture(scope="session")
def pkiset(tmp_path_factory):
    require_tools()
    d = tmp_path_factory.mktemp("pki")
    yield Pki(str(d))
    shutil.rmtree(str(d), ignore_errors=True)


def refused(exc_info, code):
    """The broker closed the channel with `code` (403 ACCESS_REFUSED, 406 ...)."""
    import pika
    e = exc_info.value
    assert isinstance(e, pika.exceptions.ChannelClosedByBroker), repr(e)
    assert e.reply_code == code, repr(e)
    return e.reply_text


def wait_for(pred, timeout, step=0.2):
    """Poll pred() until it returns something true or `timeout` s pass."""
    end = time.monotonic() + timeout
    while True:
        got = pred()
        if got or time.monotonic() > end:
            return got
        time.sleep(step)
