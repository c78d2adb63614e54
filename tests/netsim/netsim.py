# SPDX-License-Identifier: GPL-3.0-or-later
"""Network-namespace topologies for haltgslb tests.

A Topo is two namespaces, the prober's (hgpN) and the endpoint's (hgeN),
linked by hg_tunrelay (one TUN device moved into each namespace), with
10.200.N.1/24 + fd00:200:N::1/64 on the prober side and .2 / ::2 on the
endpoint side. Traffic stays between the two namespaces: before anything is
sent, check_routes() proves with `ip route get` that the endpoint addresses
are reached through the topology's own device. close() removes everything
(also called by the fixtures on failure).
"""
import os
import signal
import subprocess
import time


def sh(*cmd, check=True, **kw):
    return subprocess.run(list(cmd), check=check, capture_output=True, text=True, **kw)


class Topo:
    def __init__(self, relay_bin, workdir, idx, delay_us=0, loss_ab=0.0, loss_ba=0.0):
        tag = "%d%d" % (os.getpid() % 10000, idx)
        self.idx = idx
        self.ns_p, self.ns_e = "hgp" + tag, "hge" + tag
        self.dev_p, self.dev_e = "hgtp" + tag, "hgte" + tag
        self.p4, self.e4 = "10.200.%d.1" % idx, "10.200.%d.2" % idx
        self.p6, self.e6 = "fd00:200:%x::1" % idx, "fd00:200:%x::2" % idx
        self.workdir = workdir
        self.ctl = os.path.join(workdir, "relay%d.ctl" % idx)
        self.stats_path = os.path.join(workdir, "relay%d.stats" % idx)
        self.procs = []
        self.relay = None
        self.namespaces = []
        self.etc_dirs = []
        with open(self.ctl, "w") as f:
            f.write("delay_us %d\nloss_ab %f\nloss_ba %f\n" % (delay_us, loss_ab, loss_ba))
        try:
            self._build(relay_bin)
        except BaseException:
            self.close()
            raise

    def _build(self, relay_bin):
        for ns in (self.ns_p, self.ns_e):
            sh("ip", "netns", "add", ns)
            self.namespaces.append(ns)
        self.relay = subprocess.Popen(
            [relay_bin, "--a", self.dev_p, "--b", self.dev_e, "--ctl", self.ctl,
             "--stats", self.stats_path, "--seed", str(1000 + self.idx)],
            stdout=subprocess.PIPE, text=True)
        if self.relay.stdout.readline().strip() != "ready":
            raise RuntimeError("hg_tunrelay did not start")
        for dev, ns, a4, a6 in ((self.dev_p, self.ns_p, self.p4, self.p6),
                                (self.dev_e, self.ns_e, self.e4, self.e6)):
            sh("ip", "link", "set", dev, "netns", ns)
            self.ns(ns, "ip", "link", "set", "lo", "up")
            self.ns(ns, "ip", "addr", "add", a4 + "/24", "dev", dev)
            self.ns(ns, "ip", "-6", "addr", "add", a6 + "/64", "dev", dev, "nodad")
            self.ns(ns, "ip", "link", "set", dev, "up")
        # Ping sockets for the prober; per namespace, the host is untouched.
        self.ns(self.ns_p, "sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647")

    def ns(self, ns, *cmd, check=True):
        return sh("ip", "netns", "exec", ns, *cmd, check=check)

    def check_routes(self):
        """Fail unless the endpoint's addresses go through our own device."""
        for addr in (self.e4, self.e6):
            out = self.ns(self.ns_p, "ip", "route", "get", addr).stdout
            if ("dev %s " % self.dev_p) not in out + " ":
                raise RuntimeError("route to %s is not via %s: %s" % (addr, self.dev_p, out))

    def set_resolver(self, ns, addr, options=""):
        """Give processes started in namespace ns (through `ip netns exec`,
        which bind-mounts /etc/netns/NS/resolv.conf over /etc/resolv.conf)
        their own resolv.conf with `nameserver addr`. Removed by close()."""
        d = os.path.join("/etc/netns", ns)
        os.makedirs(d, exist_ok=True)
        if d not in self.etc_dirs:
            self.etc_dirs.append(d)
        with open(os.path.join(d, "resolv.conf"), "w") as f:
            f.write("nameserver %s\n%s" % (addr, ("options %s\n" % options) if options else ""))

    def spawn(self, ns, cmd, log=None):
        out = open(log, "w") if log else subprocess.DEVNULL
        p = subprocess.Popen(["ip", "netns", "exec", ns] + list(cmd), stdout=out,
                             stderr=subprocess.STDOUT)
        self.procs.append(p)
        return p

    def set_link(self, delay_us=None, loss_ab=None, loss_ba=None, reset=False):
        lines = []
        if delay_us is not None:
            lines.append("delay_us %d" % delay_us)
        if loss_ab is not None:
            lines.append("loss_ab %f" % loss_ab)
        if loss_ba is not None:
            lines.append("loss_ba %f" % loss_ba)
        if reset:
            lines.append("reset 1")
        with open(self.ctl, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.relay.send_signal(signal.SIGUSR1)
        time.sleep(0.1)

    def stats(self):
        """Counters of the relay: {'ab_echo': .., 'ab_echo_dropped': ..}."""
        if os.path.exists(self.stats_path):
            os.unlink(self.stats_path)
        self.relay.send_signal(signal.SIGUSR2)
        for _ in range(50):
            if os.path.exists(self.stats_path):
                break
            time.sleep(0.02)
        with open(self.stats_path) as f:
            return {k: int(v) for k, v in (line.split() for line in f)}

    @staticmethod
    def stop(p, sig=signal.SIGTERM, timeout=10):
        if p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        return p.returncode

    def close(self):
        for p in self.procs:
            self.stop(p, timeout=5)
        if self.relay is not None:
            self.stop(self.relay, timeout=5)
            self.relay.stdout.close()
        for ns in self.namespaces:
            sh("ip", "netns", "del", ns, check=False)
        self.namespaces = []
        for d in self.etc_dirs:
            for f in os.listdir(d):
                os.unlink(os.path.join(d, f))
            os.rmdir(d)
        if self.etc_dirs:
            try:
                os.rmdir("/etc/netns")   # only when no other namespace uses it
            except OSError:
                pass
        self.etc_dirs = []
