# SPDX-License-Identifier: GPL-3.0-or-later
"""Deployment test: the Debian packages and the Ansible roles on real
systemd hosts (systemd-nspawn containers of tests/deploy/lab.py), as root.

The hosts install only from a local apt repository holding the freshly
built .debs (scripts/build-debs.sh, HG_DEB_DIR, default build/deb) and the
Debian packages they need. ansible/site.yml converges them from the
controller (this machine), a second run must change nothing, then from a
client namespace on the lab bridge:

- answers steer by client subnet (ECS) on every DNS node;
- an endpoint stopped on its host disappears from every node's answers
  within fall x interval + 1 s;
- a rebooted DNS node comes back answering;
- a policy change rolled out with site.yml reaches every node;
- (broker layout) a certificate rotation with site.yml -e
  haltgslb_tls_rotate=true gives every host new certificates and
  replication goes on with them.

Hosts: 2 DNS nodes, 2 endpoint hosts running an HTTP server, and in the
embedded layout (no replication packages yet) each DNS node runs its own
prober; with haltgslb-syncd built, 2 prober hosts and a broker as well.

Environment: top_srcdir (the repository), top_builddir (a plain build:
haltgslb-ctl for the controller's validation, tests/data/test-city.mmdb),
HG_DEB_DIR, HG_LAB_DIR (default build/lab: rootfs and package cache, the
run's hosts and logs). Stage timings go to HG_LAB_DIR/timings.txt.
"""
import glob
import json
import os
import re
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import lab as L  # noqa: E402

TOP = os.path.abspath(os.environ.get("top_srcdir", os.path.join(HERE, "..", "..")))
BUILDDIR = os.path.abspath(os.environ.get("top_builddir", os.path.join(TOP, "build", "plain")))
DATADIR = os.environ.get("HG_TEST_DATA", os.path.join(BUILDDIR, "tests", "data"))
DEBDIR = os.path.abspath(os.environ.get("HG_DEB_DIR", os.path.join(TOP, "build", "deb")))
LABDIR = os.path.abspath(os.environ.get("HG_LAB_DIR", os.path.join(TOP, "build", "lab")))
ANSIBLE = os.path.join(TOP, "ansible")
CLIENT_NS = "hgl-client"
CLIENT_ADDR = "10.99.12.200"
POLICY = os.path.join(HERE, "policy.yaml")
POLICY_V2 = os.path.join(HERE, "policy-v2.yaml")
NAME = "www.gslb.example.net"
NAME_V2 = "api.gslb.example.net"
# ECS client subnets (tests/geo/test-geo.txt) and the endpoint nearest each.
FRA_CLIENT, JKT_CLIENT = "10.1.0.0/24", "10.0.0.0/24"
EP_FRA, EP_JKT = "10.99.12.31", "10.99.12.32"
# policy.yaml's check: interval 1 s, fall 2.
FALL_TIMES_INTERVAL = 2.0
# Debian packages the roles install besides ours (their dependencies are
# resolved by build_repo).
DEBIAN_PACKAGES = ["knot", "procps", "rabbitmq-server"]

ENDPOINT_UNIT = """[Unit]
Description=lab endpoint: HTTP on port 80 (the WAF the probers check)
[Service]
ExecStart=/usr/bin/python3 -m http.server 80 --bind 0.0.0.0 --directory /srv/www
[Install]
WantedBy=multi-user.target
"""

TIMINGS = []


def timing(what, seconds):
    TIMINGS.append((what, seconds))
    L.log("%s: %.1f s" % (what, seconds))


def our_debs():
    return sorted(d for d in glob.glob(os.path.join(DEBDIR, "*.deb")) if "-dbgsym_" not in d)


def deb_runs(package, binary, *args):
    """Output of a binary of one of our .debs, run on this machine (the
    same Debian release as the lab's hosts)."""
    deb = [d for d in our_debs() if os.path.basename(d).startswith(package + "_")]
    if not deb:
        return ""
    out = os.path.join(LABDIR, "work", "bin")
    os.makedirs(out, exist_ok=True)
    subprocess.run(["dpkg-deb", "-x", deb[0], out], check=True)
    p = subprocess.run([os.path.join(out, binary.lstrip("/"))] + list(args),
                       capture_output=True, text=True, timeout=10)
    return p.stdout + p.stderr


def fleet_layout():
    """'broker' once the packages replicate (haltgslb-syncd is built and the
    prober publishes with --broker), else 'embedded' (each DNS node probes
    for itself); HG_DEPLOY_LAYOUT forces one."""
    forced = os.environ.get("HG_DEPLOY_LAYOUT")
    if forced:
        assert forced in ("broker", "embedded"), "HG_DEPLOY_LAYOUT=" + forced
        return forced
    names = [os.path.basename(d).split("_")[0] for d in our_debs()]
    publishes = "--broker" in deb_runs("haltgslb-prober", "/usr/sbin/haltgslb-prober", "--help")
    return "broker" if "haltgslb-syncd" in names and publishes else "embedded"


def hosts_for(layout):
    endpoint_files = {
        "/etc/systemd/system/hg-endpoint.service": (ENDPOINT_UNIT, 0o644),
        "/srv/www/healthz": ("OK\n", 0o644),
    }
    endpoint_links = {"/etc/systemd/system/multi-user.target.wants/hg-endpoint.service":
                      "/etc/systemd/system/hg-endpoint.service"}
    hosts = [L.Host("dns1", "10.99.12.11"), L.Host("dns2", "10.99.12.12"),
             L.Host("ep1", EP_FRA, endpoint_files, endpoint_links),
             L.Host("ep2", EP_JKT, endpoint_files, endpoint_links)]
    if layout == "broker":
        hosts += [L.Host("broker1", "10.99.12.5"), L.Host("pr1", "10.99.12.21"),
                  L.Host("pr2", "10.99.12.22")]
    return hosts


def write_inventory(path, lab, layout):
    """The lab's inventory: every host by address, the lab's apt source, the
    controller's haltgslb-ctl and the test's policy and geo database."""
    os.makedirs(os.path.join(path, "group_vars"), exist_ok=True)
    os.makedirs(os.path.join(path, "host_vars"), exist_ok=True)
    if layout == "broker":
        groups = {"haltgslb_broker": ["broker1"], "haltgslb_dns_nodes": ["dns1", "dns2"],
                  "haltgslb_probers": ["pr1", "pr2"]}
        prober_of = {"pr1": "pr-fra", "pr2": "pr-jkt"}
    else:
        groups = {"haltgslb_broker": [], "haltgslb_dns_nodes": ["dns1", "dns2"],
                  "haltgslb_probers": ["dns1", "dns2"]}
        prober_of = {"dns1": "pr-fra", "dns2": "pr-jkt"}
    inv = {"all": {"children": {g: {"hosts": {h: {"ansible_host": lab.hosts[h].addr}
                                              for h in hs}} for g, hs in groups.items()}}}
    with open(os.path.join(path, "hosts.yml"), "w") as f:
        json.dump(inv, f, indent=1)         # JSON is YAML
    allvars = {
        "ansible_user": "root",
        "ansible_ssh_private_key_file": lab.key,
        "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
                                   " -o LogLevel=ERROR",
        "haltgslb_apt_source": "deb [trusted=yes] file:/srv/repo ./",
        "haltgslb_replication": layout,
        "haltgslb_policy_file": POLICY,
        "haltgslb_ctl_controller": os.path.join(BUILDDIR, "haltgslb-ctl"),
        "haltgslb_tls_dir": os.path.join(path, "tls"),
        "haltgslb_dns_geoip_src": os.path.join(DATADIR, "test-city.mmdb"),
        "haltgslb_dns_geoip": "/usr/share/GeoIP/test-city.mmdb",
        "haltgslb_dns_zone_ns": ["ns1", "ns2"],
        "haltgslb_dns_zone_extra_records": ["ns1 A 10.99.12.11", "ns2 A 10.99.12.12"],
    }
    if layout == "broker":
        allvars["haltgslb_broker_uris"] = ["amqps://10.99.12.5:5671"]
    with open(os.path.join(path, "group_vars", "all.yml"), "w") as f:
        json.dump(allvars, f, indent=1)
    for h, pid in prober_of.items():
        with open(os.path.join(path, "host_vars", h + ".yml"), "w") as f:
            json.dump({"haltgslb_prober_id": pid}, f)


class Fleet:
    def __init__(self, lab, inventory, layout):
        self.lab, self.inventory, self.layout = lab, inventory, layout
        self.dns = ["dns1", "dns2"]

    def playbook(self, *extra, timeout=600):
        """Run site.yml; returns (rc, output, recap {host: {ok, changed, ...}})."""
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ANSIBLE, "ansible.cfg"),
                   ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
                   ANSIBLE_LOCAL_TEMP=os.path.join(LABDIR, "ansible-tmp"),
                   ANSIBLE_PYTHON_INTERPRETER="/usr/bin/python3")
        cmd = ["ansible-playbook", "-i", self.inventory, os.path.join(ANSIBLE, "site.yml")]
        p = subprocess.run(cmd + list(extra), cwd=ANSIBLE, env=env, capture_output=True,
                           text=True, timeout=timeout)
        out = p.stdout + p.stderr
        n = len(glob.glob(os.path.join(LABDIR, "ansible-run-*.log")))
        with open(os.path.join(LABDIR, "ansible-run-%d.log" % (n + 1)), "w") as f:
            f.write(" ".join(cmd + list(extra)) + "\n" + out)
        recap = {}
        for m in re.finditer(r"^(\S+)\s+:\s+((?:\w+=\d+\s*)+)$", out, re.M):
            recap[m.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
        return p.returncode, out, recap

    def query(self, node, name, subnet):
        """Addresses node answers for name to a client in subnet (ECS), sorted."""
        p = self.lab.netns_exec(CLIENT_NS, [
            "kdig", "@" + self.lab.hosts[node].addr, name, "A", "+subnet=" + subnet,
            "+short", "+time=1", "+retry=0"], check=False, timeout=5)
        return sorted(line for line in p.stdout.split() if re.match(r"^\d+\.\d+\.\d+\.\d+$", line))

    def diagnose(self, node, name, subnet):
        """What a failed answer check shows: the full answer, the node's
        status, knotd's and the daemons' last log lines."""
        addr = self.lab.hosts[node].addr
        parts = [self.lab.netns_exec(CLIENT_NS, ["kdig", "@" + addr, name, "A",
                                                 "+subnet=" + subnet, "+time=1", "+retry=0"],
                                     check=False, timeout=5).stdout]
        for cmd in ("haltgslb-ctl status --db /var/lib/haltgslb",
                    "ls -la /var/lib/haltgslb",
                    "systemctl --no-pager status knot haltgslb-prober haltgslb-syncd | head -40",
                    "journalctl --no-pager -n 40 -u knot -u haltgslb-prober -u haltgslb-syncd"):
            p = self.lab.ssh(node, cmd, check=False, timeout=20)
            parts.append("--- %s: %s\n%s%s" % (node, cmd, p.stdout, p.stderr))
        return "\n".join(parts)

    def generation(self, host):
        out = self.lab.ssh(host, "haltgslb-ctl status --db /var/lib/haltgslb --json").stdout
        return json.loads(out)["policy"]["generation"]


@pytest.fixture(scope="module")
def fleet():
    debs = our_debs()
    assert debs, "no .debs in %s: build them with scripts/build-debs.sh" % DEBDIR
    assert os.path.exists(os.path.join(BUILDDIR, "haltgslb-ctl")), "no haltgslb-ctl in " + BUILDDIR
    assert os.path.exists(os.path.join(DATADIR, "test-city.mmdb")), "no test-city.mmdb in " + DATADIR
    layout = fleet_layout()
    L.log("layout: %s, packages: %s" % (layout, " ".join(os.path.basename(d) for d in debs)))
    t0 = time.monotonic()
    rootfs = L.ensure_rootfs(os.path.join(LABDIR, "cache"))
    timing("rootfs (debootstrap, or the cached one)", time.monotonic() - t0)
    t0 = time.monotonic()
    repo = os.path.join(LABDIR, "repo")
    L.build_repo(repo, rootfs, os.path.join(LABDIR, "work"), debs, DEBIAN_PACKAGES)
    timing("local apt repository", time.monotonic() - t0)
    lab = L.Lab(os.path.join(LABDIR, "run"), hosts_for(layout))
    try:
        t0 = time.monotonic()
        lab.up(rootfs, repo, {CLIENT_NS: CLIENT_ADDR})
        lab.check_routes()
        timing("boot %d hosts" % len(lab.hosts), time.monotonic() - t0)
        inventory = os.path.join(LABDIR, "run", "inventory")
        write_inventory(inventory, lab, layout)
        yield Fleet(lab, inventory, layout)
    finally:
        t0 = time.monotonic()
        if os.environ.get("HG_LAB_KEEP") == "1":   # debugging: python3 tests/deploy/lab.py down DIR
            L.log("HG_LAB_KEEP=1: hosts left running in %s" % lab.workdir)
            return
        lab.down()
        timing("teardown", time.monotonic() - t0)
        with open(os.path.join(LABDIR, "timings.txt"), "w") as f:
            f.write("".join("%-44s %6.1f s\n" % t for t in TIMINGS))


def wait_answer(fleet, node, name, subnet, want, timeout):
    try:
        return L.wait_until("%s to answer %s for %s with %s" % (node, name, subnet, want),
                            lambda: fleet.query(node, name, subnet) == want, timeout, 0.1)
    except L.LabError as e:
        raise AssertionError("%s\n%s" % (e, fleet.diagnose(node, name, subnet))) from None


def test_converge(fleet):
    t0 = time.monotonic()
    rc, out, recap = fleet.playbook()
    timing("site.yml, first run", time.monotonic() - t0)
    assert rc == 0, out[-6000:]
    assert set(recap) >= set(h for h in fleet.lab.hosts if not h.startswith("ep")), recap
    assert all(r["failed"] == 0 and r["unreachable"] == 0 for r in recap.values()), recap
    for node in fleet.dns:
        assert re.search(r"%s serves policy generation 1 \(sha256" % node, out), out[-3000:]


def test_users_and_modes(fleet):
    """The packages' user, the database directory and files with the
    documented modes (docs/install.md), the units enabled."""
    def stat(host, path):
        return fleet.lab.ssh(host, "stat -c '%U:%G %a' " + path).stdout.strip()
    for node in fleet.dns:   # knot-module-haltgslb: group knot, setgid
        assert stat(node, "/var/lib/haltgslb") == "haltgslb:knot 2750", node
        assert stat(node, "/var/lib/haltgslb/data.mdb") == "haltgslb:knot 640", node
        assert stat(node, "/var/lib/haltgslb/lock.mdb") == "haltgslb:knot 660", node
    probers = ["pr1", "pr2"] if fleet.layout == "broker" else []
    for host in probers:
        assert stat(host, "/var/lib/haltgslb") == "haltgslb:haltgslb 750", host
    units = {h: ["haltgslb-prober.service"] for h in probers or fleet.dns}
    if fleet.layout == "broker":
        for node in fleet.dns:
            units.setdefault(node, []).append("haltgslb-syncd.service")
    for host, names in sorted(units.items()):
        for unit in names:
            out = fleet.lab.ssh(host, "systemctl is-enabled %s; systemctl is-active %s"
                                % (unit, unit), check=False).stdout.split()
            assert out == ["enabled", "active"], (host, unit, out)


def test_idempotent(fleet):
    t0 = time.monotonic()
    rc, out, recap = fleet.playbook()
    timing("site.yml, second run", time.monotonic() - t0)
    assert rc == 0, out[-6000:]
    changed = {h: r["changed"] for h, r in recap.items() if r["changed"]}
    assert not changed, "second run changed something: %s\n%s" % (
        changed, "\n".join(l for l in out.splitlines() if l.startswith("changed:"))[-4000:])


def test_steering_by_client_subnet(fleet):
    # The module answers one address (first: 1) per client location; the
    # zone's static records would be both.
    for node in fleet.dns:
        wait_answer(fleet, node, NAME, FRA_CLIENT, [EP_FRA], 30)
        wait_answer(fleet, node, NAME, JKT_CLIENT, [EP_JKT], 5)


def test_endpoint_stopped_disappears(fleet):
    for node in fleet.dns:  # both endpoints seen up first
        wait_answer(fleet, node, NAME, FRA_CLIENT, [EP_FRA], 30)
    fleet.lab.ssh("ep1", "systemctl stop hg-endpoint")
    stopped = time.monotonic()
    budget = FALL_TIMES_INTERVAL + 1.0
    pending = set(fleet.dns)
    took = {}
    while pending and time.monotonic() - stopped < budget + 5:
        for node in sorted(pending):
            if fleet.query(node, NAME, FRA_CLIENT) == [EP_JKT]:
                took[node] = time.monotonic() - stopped
                pending.discard(node)
        time.sleep(0.05)
    for node, t in sorted(took.items()):
        timing("ep-fra stopped -> gone from %s" % node, t)
    fleet.lab.ssh("ep1", "systemctl start hg-endpoint")
    assert not pending, "still answering the stopped endpoint after %.1f s: %s" % (
        budget + 5, sorted(pending))
    assert all(t <= budget for t in took.values()), \
        "over fall x interval + 1 s = %.1f s: %s" % (budget, took)
    for node in fleet.dns:  # and back once it answers again
        wait_answer(fleet, node, NAME, FRA_CLIENT, [EP_FRA], 15)


def test_dns_node_reboot(fleet):
    # /run is a tmpfs: the marker is gone only if the host really booted again.
    fleet.lab.ssh("dns1", "touch /run/hg-before-reboot")
    t0 = time.monotonic()
    fleet.lab.reboot("dns1")
    marker = fleet.lab.ssh("dns1", "test -e /run/hg-before-reboot", check=False).returncode
    assert marker != 0, "dns1 did not reboot (/run/hg-before-reboot still there)"
    wait_answer(fleet, "dns1", NAME, FRA_CLIENT, [EP_FRA], 60)
    wait_answer(fleet, "dns1", NAME, JKT_CLIENT, [EP_JKT], 5)
    timing("dns1 reboot -> answering again", time.monotonic() - t0)
    units = ["knot.service"] + (["haltgslb-syncd.service"] if fleet.layout == "broker"
                                else ["haltgslb-prober.service"])
    for unit in units:
        state = fleet.lab.ssh("dns1", "systemctl is-active " + unit, check=False).stdout.strip()
        assert state == "active", "%s after the reboot: %s" % (unit, state)


def test_policy_rollout(fleet):
    before = {h: fleet.generation(h) for h in fleet.dns}
    t0 = time.monotonic()
    rc, out, recap = fleet.playbook("-e", "haltgslb_policy_file=" + POLICY_V2)
    timing("site.yml, policy change", time.monotonic() - t0)
    assert rc == 0, out[-6000:]
    for node in fleet.dns:
        assert fleet.generation(node) == before[node] + 1, (node, before)
        assert re.search(r"%s serves policy generation %d \(sha256" % (node, before[node] + 1), out)
        wait_answer(fleet, node, NAME_V2, FRA_CLIENT, [EP_FRA], 10)
        wait_answer(fleet, node, NAME_V2, JKT_CLIENT, [EP_JKT], 5)


def cert_serials(fleet):
    """{host: serial} of every host's haltgslb certificates."""
    out = {}
    for host, name in (("dns1", "syncd"), ("dns2", "syncd"), ("pr1", "prober"),
                       ("pr2", "prober"), ("broker1", "broker")):
        # (no openssl on the hosts: Python's own certificate decoder)
        p = fleet.lab.ssh(host, "python3 -c 'import ssl, sys; print(ssl._ssl._test_decode_cert"
                                "(sys.argv[1])[\"serialNumber\"])' /etc/haltgslb/tls/%s.crt" % name)
        out[host] = p.stdout.strip()
        assert out[host], (host, p.stderr)
    return out


def test_certificate_rotation(fleet):
    if fleet.layout == "embedded":
        # No broker, no certificates: none may be deployed.
        for node in fleet.dns:
            p = fleet.lab.ssh(node, "test -e /etc/haltgslb/tls", check=False)
            assert p.returncode != 0, "%s: /etc/haltgslb/tls exists in the embedded layout" % node
        return
    before = cert_serials(fleet)
    t0 = time.monotonic()
    # (policy-v2 is what the fleet serves since test_policy_rollout)
    rc, out, recap = fleet.playbook("-e", "haltgslb_policy_file=" + POLICY_V2,
                                    "-e", "haltgslb_tls_rotate=true")
    timing("site.yml, certificate rotation", time.monotonic() - t0)
    assert rc == 0, out[-6000:]
    after = cert_serials(fleet)
    same = [h for h in before if before[h] == after[h]]
    assert not same, "certificates not rotated on %s" % same
    # Replication works with the new certificates: an endpoint stopped
    # leaves both nodes' answers (the services restarted and reconnected).
    for node in fleet.dns:
        wait_answer(fleet, node, NAME, JKT_CLIENT, [EP_JKT], 30)
    fleet.lab.ssh("ep2", "systemctl stop hg-endpoint")
    try:
        for node in fleet.dns:
            wait_answer(fleet, node, NAME, JKT_CLIENT, [EP_FRA], FALL_TIMES_INTERVAL + 5)
    finally:
        fleet.lab.ssh("ep2", "systemctl start hg-endpoint")
    for node in fleet.dns:
        wait_answer(fleet, node, NAME, JKT_CLIENT, [EP_JKT], 15)
