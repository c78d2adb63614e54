# SPDX-License-Identifier: GPL-3.0-or-later
"""Network namespaces for multi-host tests: hosts on a private LAN, and
userspace delay/loss links between chosen pairs of hosts.

    net = Net(workdir, relay_bin)              # the switch: a namespace with a bridge
    mq = net.host("mq", lan=["10.210.0.2"])    # a host: a namespace, lan0 on the bridge
    eu = net.host("eu", lan=["10.210.0.11"])
    ea = net.host("ea", service=["10.220.0.1"])  # no LAN; its service address on lo
    net.link(eu, ea, delay_ms=5)               # hg_tunrelay; eu routes 10.220.0.1 over it
    eu.check_route("10.220.0.1", "t-ea")       # `ip route get` from the sender, or raise
    p = eu.spawn(["haltgslb-prober", ...], log=PATH)
    s = eu.socket(socket.AF_INET, socket.SOCK_DGRAM)   # a socket inside eu's namespace
    net.cut(eu); net.heal(eu)                  # eu's LAN port down / up at the switch
    net.close()                                # processes, relays, namespaces: all gone

Nothing is created in the root namespace except, for a moment, the TUN
devices hg_tunrelay makes before they move to their hosts; no namespace has
a default route, so nothing can be routed out of the machine. The LAN is
one bridge (no IP forwarding anywhere). Every link k has 10.240.k.1/30 on
its first host and 10.240.k.2/30 on the second; the second host's service
addresses are routed over it from the first.

Names carry the test process's pid (hgf<pid>-<host>): sweep_stale() removes
what a killed run left behind. Processes are started with PR_SET_PDEATHSIG
(SIGKILL when the test process dies) and stopped by close().
"""
import ctypes
import ipaddress
import os
import re
import signal
import socket
import subprocess
import time

PREFIX = "hgf"
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL("libc.so.6", use_errno=True)


class NetError(RuntimeError):
    pass


def sh(*cmd, check=True, timeout=30):
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise NetError("%s failed (%d): %s%s" % (" ".join(map(str, cmd)), r.returncode,
                                                r.stdout, r.stderr))
    return r


def _die_with_parent():
    """In the child: SIGKILL when the test process dies (kept across exec)."""
    _libc.prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG


def sweep_stale():
    """Delete namespaces (and so their links) left by test runs that died."""
    for ns in os.listdir("/run/netns") if os.path.isdir("/run/netns") else []:
        m = re.match(r"^%s(\d+)-" % PREFIX, ns)
        if m and not os.path.exists("/proc/%s" % m.group(1)):
            sh("ip", "netns", "del", ns, check=False)


def stop_process(p, sig=signal.SIGTERM, timeout=10):
    """Signal our child and reap it, SIGKILL after `timeout`; its exit status."""
    if p.poll() is None:
        if sig == signal.SIGTERM:
            p.send_signal(signal.SIGCONT)     # a frozen process must run to stop
        p.send_signal(sig)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(10)
    return p.returncode


class Host:
    """One network namespace: a host of the test topology."""

    def __init__(self, net, name, lan=(), service=()):
        self.net, self.name = net, name
        self.ns = "%s%d-%s" % (PREFIX, os.getpid(), name)
        self.lan = list(lan)
        self.service = list(service)
        self.addr = self.lan[0] if self.lan else None
        self.procs = []

    def run(self, *cmd, check=True, timeout=30):
        """Run a command inside the namespace and wait for it."""
        return sh("ip", "netns", "exec", self.ns, *cmd, check=check, timeout=timeout)

    def spawn(self, cmd, log=None, env=None, **kw):
        """Start a command inside the namespace (stdout+stderr to `log`)."""
        out = open(log, "ab") if log else subprocess.DEVNULL
        try:
            p = subprocess.Popen(["ip", "netns", "exec", self.ns] + [str(c) for c in cmd],
                                 stdout=out, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, env=env,
                                 preexec_fn=_die_with_parent, **kw)
        finally:
            if log:
                out.close()
        self.procs.append(p)
        return p

    def route(self, addr):
        """`ip route get ADDR` from this namespace: (device, source address)."""
        r = self.run("ip", "route", "get", addr, check=False)
        out = r.stdout + r.stderr       # "Network is unreachable": no device
        dev = re.search(r"\bdev (\S+)", out)
        src = re.search(r"\bsrc (\S+)", out)
        return (dev.group(1) if dev else None, src.group(1) if src else None, out.strip())

    def check_route(self, addr, dev):
        """Raise unless this namespace sends to `addr` through its own `dev`."""
        got, _, out = self.route(addr)
        if got != dev:
            raise NetError("%s: route to %s is not via %s: %s" % (self.name, addr, dev, out))
        return out

    def socket(self, family=socket.AF_INET, type=socket.SOCK_DGRAM):
        """A socket created inside this namespace (it stays there)."""
        return socket_in(self.ns, family, type)

    def can_connect(self, addr, port, timeout=1.0):
        """True when a TCP connection from here to addr:port succeeds."""
        s = self.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.settimeout(timeout)
            s.connect((addr, port))
            return True
        except OSError:
            return False
        finally:
            s.close()

    def wait_connect(self, addr, port, timeout=10):
        """Poll until addr:port accepts a TCP connection from here."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.can_connect(addr, port, timeout=0.5):
                return True
            time.sleep(0.05)
        return False

    def stop_all(self):
        for p in reversed(self.procs):
            stop_process(p, timeout=10)
        self.procs = []


def socket_in(ns, family, type):
    """Create a socket in namespace `ns` by switching this thread there for
    the call (setns(2) acts on the calling thread only)."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open("/run/netns/" + ns, os.O_RDONLY)
        try:
            if _libc.setns(target, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns(%s)" % ns)
            try:
                return socket.socket(family, type)
            finally:
                if _libc.setns(own, CLONE_NEWNET) != 0:
                    # Carrying on in the wrong namespace would send test
                    # traffic from the wrong place: stop right here.
                    os._exit(99)
        finally:
            os.close(target)
    finally:
        os.close(own)


class Link:
    """A hg_tunrelay between two hosts with a one-way delay and loss."""

    def __init__(self, net, idx, a, b, delay_ms, loss_ab, loss_ba):
        self.net, self.idx, self.a, self.b = net, idx, a, b
        self.dev_a, self.dev_b = "t-" + b.name, "t-" + a.name
        self.addr_a, self.addr_b = "10.240.%d.1" % idx, "10.240.%d.2" % idx
        self.ctl = os.path.join(net.workdir, "link%d.ctl" % idx)
        self.stats_path = os.path.join(net.workdir, "link%d.stats" % idx)
        self.delay_ms = delay_ms
        with open(self.ctl, "w") as f:
            f.write("delay_us %d\nloss_ab %f\nloss_ba %f\n"
                    % (delay_ms * 1000, loss_ab, loss_ba))
        tmp_a = "hgt%d%da" % (os.getpid() % 100000, idx)
        tmp_b = "hgt%d%db" % (os.getpid() % 100000, idx)
        self.relay = subprocess.Popen(
            [net.relay_bin, "--a", tmp_a, "--b", tmp_b, "--ctl", self.ctl,
             "--stats", self.stats_path, "--seed", str(1000 + idx)],
            stdout=subprocess.PIPE, text=True, preexec_fn=_die_with_parent)
        if self.relay.stdout.readline().strip() != "ready":
            raise NetError("hg_tunrelay for link %s-%s did not start" % (a.name, b.name))
        for tmp, dev, host, addr in ((tmp_a, self.dev_a, a, self.addr_a),
                                     (tmp_b, self.dev_b, b, self.addr_b)):
            sh("ip", "link", "set", tmp, "netns", host.ns)
            host.run("ip", "link", "set", tmp, "name", dev)
            host.run("ip", "addr", "add", addr + "/30", "dev", dev)
            host.run("ip", "link", "set", dev, "up")
        for svc in b.service:
            a.run("ip", "route", "add", svc + "/32", "dev", self.dev_a, "src", self.addr_a)

    def set(self, delay_ms=None, loss_ab=None, loss_ba=None):
        """Change the link at run time (the relay re-reads its ctl file)."""
        lines = []
        if delay_ms is not None:
            lines.append("delay_us %d" % (delay_ms * 1000))
            self.delay_ms = delay_ms
        if loss_ab is not None:
            lines.append("loss_ab %f" % loss_ab)
        if loss_ba is not None:
            lines.append("loss_ba %f" % loss_ba)
        with open(self.ctl, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.relay.send_signal(signal.SIGUSR1)

    def close(self):
        if self.relay is not None:
            stop_process(self.relay, timeout=5)
            self.relay.stdout.close()
            self.relay = None


class Net:
    """The switch (a namespace with bridge br0), hosts and links."""

    def __init__(self, workdir, relay_bin, lan_prefix=24):
        self.workdir, self.relay_bin, self.lan_prefix = workdir, relay_bin, lan_prefix
        self.hosts, self.links, self.namespaces = {}, [], []
        self.switch_ns = "%s%d-sw" % (PREFIX, os.getpid())
        os.makedirs(workdir, exist_ok=True)
        try:
            self._add_ns(self.switch_ns)
            for cmd in (("ip", "link", "add", "br0", "type", "bridge", "stp_state", "0",
                         "forward_delay", "0"),
                        ("ip", "link", "set", "br0", "up")):
                sh("ip", "netns", "exec", self.switch_ns, *cmd)
        except BaseException:
            self.close()
            raise

    def _add_ns(self, ns):
        sh("ip", "netns", "add", ns)
        self.namespaces.append(ns)
        sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")

    def host(self, name, lan=(), service=()):
        """A new host; `lan` addresses go on lan0 (a bridge port), `service`
        addresses on lo (reached over links)."""
        if len("p-" + name) > 15 or not re.match(r"^[a-z0-9]+$", name) or name in self.hosts:
            raise NetError("bad or duplicate host name %r" % name)
        h = Host(self, name, lan, service)
        self._add_ns(h.ns)
        self.hosts[name] = h
        if lan:
            sh("ip", "link", "add", "lan0", "netns", h.ns, "type", "veth",
               "peer", "name", "p-" + name, "netns", self.switch_ns)
            sh("ip", "netns", "exec", self.switch_ns, "ip", "link", "set", "p-" + name,
               "master", "br0")
            sh("ip", "netns", "exec", self.switch_ns, "ip", "link", "set", "p-" + name, "up")
            for a in lan:
                h.run("ip", "addr", "add", "%s/%d" % (a, self.lan_prefix), "dev", "lan0")
            h.run("ip", "link", "set", "lan0", "up")
        for a in service:
            h.run("ip", "addr", "add", a + "/32", "dev", "lo")
        # ICMP ping sockets for probers, per namespace (the host is untouched).
        h.run("sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647")
        if h.run("ip", "route", "show", "default").stdout.strip():
            raise NetError("%s has a default route" % name)
        return h

    def link(self, a, b, delay_ms=0, loss_ab=0.0, loss_ba=0.0):
        """A delay/loss link from host a to host b (one-way delay each way)."""
        ln = Link(self, len(self.links) + 1, a, b, delay_ms, loss_ab, loss_ba)
        self.links.append(ln)
        return ln

    def link_between(self, a, b):
        for ln in self.links:
            if ln.a is a and ln.b is b:
                return ln
        raise KeyError((a.name, b.name))

    def _port(self, host, state):
        sh("ip", "netns", "exec", self.switch_ns, "ip", "link", "set", "p-" + host.name, state)

    def cut(self, host):
        """Take host's LAN port down at the switch: its packets vanish (its
        own link stays up, as when a network between two sites fails)."""
        self._port(host, "down")

    def heal(self, host):
        self._port(host, "up")

    def close(self):
        """Stop every process, relay and namespace (safe to call twice)."""
        for h in self.hosts.values():
            h.stop_all()
        for ln in self.links:
            ln.close()
        for ns in reversed(self.namespaces):
            sh("ip", "netns", "del", ns, check=False)
        self.namespaces = []


def in_net(addr, net):
    return ipaddress.ip_address(addr) in ipaddress.ip_network(net)
