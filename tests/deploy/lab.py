# SPDX-License-Identifier: GPL-3.0-or-later
"""A lab of real systemd hosts for deployment tests (run as root).

Each host is a systemd-nspawn container booted from one cached debootstrap
rootfs (Debian 12 minbase + python3, ssh, systemd) through its own overlayfs,
in its own network namespace, with a veth on a private bridge of the root
namespace. Facts this relies on (tried on these machines):
../shared/notes/multi-host-lab.md.

    lab = Lab(workdir, [Host("dns1", "10.99.12.11"), ...])
    try:
        lab.up(repo_dir)            # bridge, namespaces, overlays, boot, ssh
        lab.ssh("dns1", "systemctl is-system-running --wait")
    finally:
        lab.down()                  # everything, also after a failure

- The rootfs is built once (debootstrap, ~60 s) and cached in
  WORKDIR/../cache (ensure_rootfs); hosts only write their overlay's upper
  directory.
- The guests have no route to any package registry: what they install
  comes from a local flat apt repository (build_repo) holding the given
  .debs plus the Debian packages they need and the rootfs lacks (resolved
  and downloaded by apt inside a throwaway overlay of the rootfs, cached by
  the list of what was asked), bind-mounted read-only at /srv/repo.
- A guest reboot makes nspawn exit 133: the host's supervisor thread boots
  it again on the same overlay and namespace.
- Every wait is bounded; down() stops nspawn with SIGTERM (SIGKILL after
  a timeout), unmounts, deletes namespaces, veths and the bridge. A state
  file lets a later run (or `lab.py down WORKDIR`) clean up after a run
  that was killed.

Addresses: the bridge is BRIDGE_ADDR/24 in 10.99.12.0/24, which
tests/geo/test-geo.txt leaves unmapped (lab hosts are "unknown" to the geo
database; clients are simulated with ECS).
"""
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

PREFIX = "hgl"                    # every namespace/link name starts with it
BRIDGE = PREFIX + "br0"
BRIDGE_ADDR = "10.99.12.1"
PREFIXLEN = 24
SUITE = "bookworm"
ROOTFS_INCLUDE = ["python3", "python3-apt", "openssh-server", "systemd", "systemd-sysv",
                  "dbus", "iproute2"]
NSPAWN_REBOOT = 133               # nspawn's exit status when the guest rebooted
# /proc/sys/net writable in the guest (its own network namespace only);
# with --network-namespace-path nspawn mounts it read-only otherwise.
NSPAWN_ENV = dict(os.environ, SYSTEMD_NSPAWN_API_VFS_WRITABLE="network")


class LabError(Exception):
    pass


def log(msg):
    print("[lab %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def run(cmd, check=True, timeout=120, input=None, env=None):
    """Run a command (list), capture its output; LabError on failure."""
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, input=input,
                           env=env)
    except subprocess.TimeoutExpired as e:
        raise LabError("timed out after %ss: %s" % (timeout, " ".join(cmd))) from e
    if check and p.returncode != 0:
        raise LabError("%s: exit %d\n%s%s" % (" ".join(cmd), p.returncode, p.stdout[-2000:],
                                              p.stderr[-2000:]))
    return p


def wait_until(what, fn, timeout, interval=0.5):
    """Call fn() until it returns a true value (returned) or timeout (LabError)."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            v = fn()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - the last error is reported on timeout
            last = e
        if time.monotonic() >= deadline:
            raise LabError("timed out after %ss waiting for %s%s" %
                           (timeout, what, (": %s" % last) if last else ""))
        time.sleep(interval)


def default_mirror():
    """The Debian mirror of the host's own apt sources (deb.debian.org if none)."""
    for path in ("/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"):
        try:
            text = open(path).read()
        except OSError:
            continue
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("URIs:") and "/debian" in line and "security" not in line:
                return line.split()[1]
            if line.startswith("deb ") and "/debian" in line and "security" not in line:
                return [w for w in line.split() if "://" in w][0]
    return "http://deb.debian.org/debian"


# --- the cached rootfs --------------------------------------------------------

def rootfs_id():
    return hashlib.sha256((SUITE + " " + ",".join(ROOTFS_INCLUDE)).encode()).hexdigest()[:12]


def ensure_rootfs(cache_dir, mirror=None, timeout=900):
    """Return the path of the cached minbase rootfs, building it if missing."""
    root = os.path.join(cache_dir, "rootfs-%s-%s" % (SUITE, rootfs_id()))
    stamp = root + ".complete"
    if os.path.exists(stamp):
        return root
    mirror = mirror or os.environ.get("HG_LAB_MIRROR") or default_mirror()
    if os.path.exists(root):
        shutil.rmtree(root)
    os.makedirs(cache_dir, exist_ok=True)
    log("debootstrap %s minbase into %s (from %s)" % (SUITE, root, mirror))
    t0 = time.monotonic()
    run(["debootstrap", "--variant=minbase", "--include=" + ",".join(ROOTFS_INCLUDE), SUITE,
         root, mirror], timeout=timeout)
    # Guests reach no registry: no source until a role adds the lab's own.
    # The mirror is kept aside for build_repo's resolver.
    with open(os.path.join(root, "etc/apt/sources.list.lab-mirror"), "w") as f:
        f.write("deb %s %s main\n" % (mirror, SUITE))
    open(os.path.join(root, "etc/apt/sources.list"), "w").close()
    for d in ("var/lib/apt/lists", "var/cache/apt/archives"):
        p = os.path.join(root, d)
        for name in os.listdir(p):
            fp = os.path.join(p, name)
            if os.path.isfile(fp) and name != "lock":
                os.unlink(fp)
    # No timers that would run apt or fstrim in the middle of a test.
    for unit in ("apt-daily.timer", "apt-daily-upgrade.timer", "fstrim.timer",
                 "e2scrub_all.timer", "e2scrub_reap.service"):
        link = os.path.join(root, "etc/systemd/system", unit)
        if not os.path.lexists(link):
            os.symlink("/dev/null", link)
    # Hosts share this image: a fresh machine id per boot of each overlay.
    open(os.path.join(root, "etc/machine-id"), "w").close()
    open(stamp, "w").write("%s\n" % time.ctime())
    log("rootfs ready in %.0f s" % (time.monotonic() - t0))
    return root


# --- the local apt repository ---------------------------------------------------

def _deb_field(deb, field):
    return run(["dpkg-deb", "-f", deb, field]).stdout.strip()


def build_repo(repo_dir, rootfs, work_dir, local_debs, packages, timeout=600):
    """Make repo_dir a flat apt repository: local_debs (paths) plus every
    Debian package that installing them and `packages` (names) needs and
    the rootfs lacks. Returns the list of file names in it.

    The Debian part is resolved by apt inside a throwaway overlay of the
    rootfs (with the mirror and the host's resolv.conf), downloaded there,
    and cached in WORKDIR's cache keyed by what was asked."""
    os.makedirs(repo_dir, exist_ok=True)
    for name in os.listdir(repo_dir):
        os.unlink(os.path.join(repo_dir, name))
    deps = sorted(set(packages)) + sorted(
        "%s:%s" % (_deb_field(d, "Package"), _deb_field(d, "Depends")) for d in local_debs)
    key = hashlib.sha256((rootfs_id() + "\n" + "\n".join(deps)).encode()).hexdigest()[:12]
    cache = os.path.join(os.path.dirname(rootfs), "debs-" + key)
    if not os.path.exists(cache + ".complete"):
        _download_closure(cache, rootfs, work_dir, local_debs, packages, timeout)
        open(cache + ".complete", "w").write("\n".join(deps) + "\n")
    names = []
    for src in [os.path.join(cache, n) for n in sorted(os.listdir(cache))] + list(local_debs):
        dst = os.path.join(repo_dir, os.path.basename(src))
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)
        names.append(os.path.basename(src))
    # Paths in Packages are relative to the repository: scan from inside it.
    scan = subprocess.run(["dpkg-scanpackages", "--multiversion", ".", "/dev/null"],
                          cwd=repo_dir, capture_output=True, text=True, timeout=120)
    if scan.returncode != 0:
        raise LabError("dpkg-scanpackages: %s" % scan.stderr)
    packages_txt = scan.stdout.encode()
    with open(os.path.join(repo_dir, "Packages"), "wb") as f:
        f.write(packages_txt)
    # apt refuses a repository without a Release file, even trusted=yes.
    with open(os.path.join(repo_dir, "Release"), "w") as f:
        f.write("Origin: haltgslb-lab\nLabel: haltgslb-lab\nSuite: lab\nCodename: lab\n"
                "Date: %s\nSHA256:\n %s %d Packages\n" %
                (time.strftime("%a, %d %b %Y %H:%M:%S UTC", time.gmtime()),
                 hashlib.sha256(packages_txt).hexdigest(), len(packages_txt)))
    log("repository %s: %d packages" % (repo_dir, len(names)))
    return names


def _download_closure(cache, rootfs, work_dir, local_debs, packages, timeout):
    log("resolving the Debian packages the guests need: %s + the deps of %d local .debs" %
        (" ".join(packages), len(local_debs)))
    t0 = time.monotonic()
    ov = Overlay(rootfs, os.path.join(work_dir, "resolver"))
    ov.mount()
    try:
        root = ov.merged
        shutil.copy(os.path.join(root, "etc/apt/sources.list.lab-mirror"),
                    os.path.join(root, "etc/apt/sources.list"))
        shutil.copy("/etc/resolv.conf", os.path.join(root, "etc/resolv.conf"))
        os.makedirs(os.path.join(root, "tmp/local"), exist_ok=True)
        locals_in = []
        for d in local_debs:
            shutil.copy(d, os.path.join(root, "tmp/local"))
            locals_in.append("/tmp/local/" + os.path.basename(d))
        archives = "/tmp/archives"
        os.makedirs(os.path.join(root, archives.lstrip("/"), "partial"), exist_ok=True)
        chroot = ["chroot", root, "env", "DEBIAN_FRONTEND=noninteractive", "LC_ALL=C"]
        run(chroot + ["apt-get", "-q", "update"], timeout=timeout)
        run(chroot + ["apt-get", "-q", "-y", "--download-only", "--no-install-recommends",
                      "-o", "Dir::Cache::archives=" + archives, "install"]
            + list(packages) + locals_in, timeout=timeout)
        src = os.path.join(root, archives.lstrip("/"))
        ours = {os.path.basename(d) for d in local_debs}
        tmp = cache + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        for name in os.listdir(src):
            if name.endswith(".deb") and name not in ours:
                shutil.copy2(os.path.join(src, name), tmp)
        shutil.rmtree(cache, ignore_errors=True)
        os.rename(tmp, cache)
        log("downloaded %d Debian packages in %.0f s" %
            (len(os.listdir(cache)), time.monotonic() - t0))
    finally:
        ov.unmount()
        shutil.rmtree(ov.base, ignore_errors=True)


# --- hosts ------------------------------------------------------------------------

class Overlay:
    def __init__(self, lower, base):
        self.lower, self.base = lower, base
        self.upper = os.path.join(base, "upper")
        self.work = os.path.join(base, "work")
        self.merged = os.path.join(base, "root")

    def mount(self):
        for d in (self.upper, self.work, self.merged):
            os.makedirs(d, exist_ok=True)
        run(["mount", "-t", "overlay", "overlay", "-o",
             "lowerdir=%s,upperdir=%s,workdir=%s" % (self.lower, self.upper, self.work),
             self.merged])

    def mounted(self):
        return os.path.ismount(self.merged)

    def unmount(self):
        if self.mounted():
            if run(["umount", self.merged], check=False).returncode != 0:
                run(["umount", "-l", self.merged], check=False)


class Host:
    """One booted guest: overlay, namespace, veth, nspawn under a supervisor
    thread that boots it again after a guest reboot (exit 133)."""

    def __init__(self, name, addr, files=None, links=None):
        self.name, self.addr = name, addr
        self.files = dict(files or {})      # guest path -> (content, mode) written before boot
        self.links = dict(links or {})      # guest path -> symlink target, made before boot
        self.netns = "%s-%s" % (PREFIX, name)
        self.proc = None
        self.boots = 0
        self.exit_code = None
        self._stop = threading.Event()
        self._thread = None
        self._lock = threading.Lock()

    def nspawn_cmd(self, repo_dir):
        return ["systemd-nspawn", "--boot", "--keep-unit", "--register=no",
                "--directory=" + self.overlay.merged, "--machine=" + self.name,
                "--hostname=" + self.name,
                "--network-namespace-path=/run/netns/" + self.netns,
                "--console=read-only", "--link-journal=no", "--resolv-conf=off",
                # Network sysctls (e.g. the prober role's ping_group_range)
                # are the guest's own namespace's: let it write them.
                "--capability=CAP_NET_ADMIN",
                "--bind-ro=%s:/srv/repo" % repo_dir]

    def start(self, repo_dir, log_path):
        cmd = self.nspawn_cmd(repo_dir)
        self._stop.clear()

        def supervise():
            while not self._stop.is_set():
                with open(log_path, "ab") as out, self._lock:
                    if self._stop.is_set():
                        break
                    self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                                 stderr=subprocess.STDOUT,
                                                 start_new_session=True, env=NSPAWN_ENV)
                    self.boots += 1
                rc = self.proc.wait()
                if rc != NSPAWN_REBOOT:
                    self.exit_code = rc
                    break
        self._thread = threading.Thread(target=supervise, name="nspawn-" + self.name,
                                        daemon=True)
        self._thread.start()
        wait_until("nspawn of %s to start" % self.name, lambda: self.proc is not None, 10, 0.1)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=20):
        self._stop.set()
        with self._lock:
            p = self.proc
        if p is not None and p.poll() is None:
            p.send_signal(signal.SIGTERM)   # nspawn: clean poweroff of the guest
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                log("%s: no poweroff within %ss, killing nspawn" % (self.name, timeout))
                p.kill()
                p.wait(10)
        if self._thread is not None:
            self._thread.join(10)


class Lab:
    def __init__(self, workdir, hosts, cache_dir=None):
        self.workdir = os.path.abspath(workdir)
        self.cache_dir = cache_dir or os.path.join(os.path.dirname(self.workdir), "cache")
        self.hosts = {h.name: h for h in hosts}
        self.key = os.path.join(self.workdir, "ssh", "id_ed25519")
        self.state_path = os.path.join(self.workdir, "state.json")
        self.state = {"mounts": [], "netns": [], "links": [], "pids": []}
        self.extra_netns = {}               # name -> address (client namespaces)
        self.rootfs = None

    # state for cleanup after a killed run
    def _save(self):
        with open(self.state_path + ".tmp", "w") as f:
            json.dump(self.state, f)
        os.replace(self.state_path + ".tmp", self.state_path)

    def ssh_base(self, host):
        return ["ssh", "-i", self.key, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
                "-o", "ConnectTimeout=3", "root@" + self.hosts[host].addr]

    def ssh(self, host, command, check=True, timeout=60):
        return run(self.ssh_base(host) + [command], check=check, timeout=timeout)

    def netns_exec(self, ns, cmd, check=True, timeout=30):
        return run(["ip", "netns", "exec", ns] + list(cmd), check=check, timeout=timeout)

    def up(self, rootfs, repo_dir, client_netns=None):
        """Bridge, a namespace + overlay + booted nspawn per host, ssh up.
        client_netns: {name: address} of extra namespaces on the bridge
        (no container: clients the test runs commands in)."""
        cleanup(self.workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.rootfs = rootfs
        self._save()
        os.makedirs(os.path.dirname(self.key), exist_ok=True)
        if not os.path.exists(self.key):
            run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "haltgslb-lab",
                 "-f", self.key])
        pub = open(self.key + ".pub").read()
        self._bridge()
        hosts_file = "127.0.0.1 localhost\n" + "".join(
            "%s %s\n" % (h.addr, h.name) for h in self.hosts.values())
        for i, h in enumerate(self.hosts.values()):
            self._netns(h.netns, h.addr, "%s%d" % (PREFIX, i))
            h.overlay = Overlay(rootfs, os.path.join(self.workdir, "hosts", h.name))
            # A fresh upper per run: nothing of a previous run survives.
            shutil.rmtree(h.overlay.base, ignore_errors=True)
            h.overlay.mount()
            self.state["mounts"].append(h.overlay.merged)
            self._save()
            files = {"/etc/hostname": (h.name + "\n", 0o644),
                     "/etc/hosts": (hosts_file, 0o644),
                     "/root/.ssh/authorized_keys": (pub, 0o600)}
            files.update(h.files)
            for path, (content, mode) in files.items():
                self.write_file(h, path, content, mode)
            for path, target in h.links.items():
                full = os.path.join(h.overlay.merged, path.lstrip("/"))
                os.makedirs(os.path.dirname(full), exist_ok=True)
                os.symlink(target, full)
        for j, (ns, addr) in enumerate((client_netns or {}).items()):
            self._netns(ns, addr, "%sc%d" % (PREFIX, j))
            self.extra_netns[ns] = addr
        t0 = time.monotonic()
        for h in self.hosts.values():
            h.start(repo_dir, os.path.join(self.workdir, "hosts", h.name + ".console.log"))
            self.state["pids"].append(h.proc.pid)
            self._save()
        for h in self.hosts.values():
            self.wait_ssh(h.name, 60)
        log("%d hosts booted, ssh up in %.1f s" % (len(self.hosts), time.monotonic() - t0))

    def write_file(self, host, path, content, mode=0o644):
        """Write a file into a host's root (overlay upper) from outside."""
        full = os.path.join(host.overlay.merged, path.lstrip("/"))
        os.makedirs(os.path.dirname(full), mode=0o700 if "/.ssh" in path else 0o755,
                    exist_ok=True)
        with open(full, "w") as f:
            f.write(content)
        os.chmod(full, mode)

    def wait_ssh(self, host, timeout):
        h = self.hosts[host]

        def ready():
            if not h.running() and h.exit_code is not None:
                raise LabError("%s: nspawn exited %s (see %s.console.log)" %
                               (host, h.exit_code, host))
            return self.ssh(host, "true", check=False, timeout=10).returncode == 0
        wait_until("ssh on %s" % host, ready, timeout, 0.5)

    def _bridge(self):
        run(["ip", "link", "add", BRIDGE, "type", "bridge"])
        self.state["links"].append(BRIDGE)
        self._save()
        run(["ip", "addr", "add", "%s/%d" % (BRIDGE_ADDR, PREFIXLEN), "dev", BRIDGE])
        run(["ip", "link", "set", BRIDGE, "up"])

    def _netns(self, ns, addr, veth):
        run(["ip", "netns", "add", ns])
        self.state["netns"].append(ns)
        self._save()
        run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns])
        self.state["links"].append(veth)
        self._save()
        run(["ip", "link", "set", veth, "master", BRIDGE])
        run(["ip", "link", "set", veth, "up"])
        run(["ip", "-n", ns, "link", "set", "lo", "up"])
        run(["ip", "-n", ns, "addr", "add", "%s/%d" % (addr, PREFIXLEN), "dev", "eth0"])
        run(["ip", "-n", ns, "link", "set", "eth0", "up"])

    def check_routes(self):
        """Every lab address is reached through the lab's own bridge (root
        namespace) and, from a client namespace, its own eth0."""
        for h in self.hosts.values():
            out = run(["ip", "route", "get", h.addr]).stdout
            if (" dev %s " % BRIDGE) not in out:
                raise LabError("route to %s is not via %s: %s" % (h.addr, BRIDGE, out))
            for ns in self.extra_netns:
                out = run(["ip", "-n", ns, "route", "get", h.addr]).stdout
                if " dev eth0 " not in out:
                    raise LabError("%s: route to %s is not via eth0: %s" % (ns, h.addr, out))

    def reboot(self, host, timeout=90):
        """Reboot a guest from inside and wait until ssh answers again."""
        h = self.hosts[host]
        boots = h.boots
        self.ssh(host, "systemctl reboot", check=False, timeout=15)
        wait_until("%s to boot again" % host, lambda: h.boots > boots and h.running(), timeout)
        self.wait_ssh(host, timeout)

    def down(self):
        for h in self.hosts.values():
            try:
                h.stop()
            except Exception as e:  # noqa: BLE001 - keep tearing down
                log("%s: stop: %s" % (h.name, e))
        cleanup(self.workdir)


def cleanup(workdir):
    """Undo what a (possibly killed) run recorded in WORKDIR/state.json:
    nspawn processes by their recorded pid (SIGTERM, then SIGKILL), overlay
    mounts, namespaces, links. Idempotent."""
    path = os.path.join(workdir, "state.json")
    try:
        state = json.load(open(path))
    except (OSError, ValueError):
        return
    for pid in state.get("pids", []):
        if _is_nspawn(pid):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    for pid in state.get("pids", []):
        while _is_nspawn(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _is_nspawn(pid):
            os.kill(pid, signal.SIGKILL)
    for m in reversed(state.get("mounts", [])):
        if os.path.ismount(m):
            if run(["umount", m], check=False).returncode != 0:
                run(["umount", "-l", m], check=False)
    for ns in state.get("netns", []):
        if os.path.exists("/run/netns/" + ns):
            run(["ip", "netns", "del", ns], check=False)
    for link in reversed(state.get("links", [])):
        if os.path.exists("/sys/class/net/" + link):
            run(["ip", "link", "del", link], check=False)
    os.unlink(path)


def _is_nspawn(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")[0].endswith(b"systemd-nspawn")
    except OSError:
        return False


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "down":
        cleanup(os.path.abspath(sys.argv[2]))
        sys.exit(0)
    if len(sys.argv) == 3 and sys.argv[1] == "rootfs":
        print(ensure_rootfs(os.path.abspath(sys.argv[2])))
        sys.exit(0)
    print("usage: lab.py down WORKDIR    clean up after a lab run that was killed\n"
          "       lab.py rootfs CACHEDIR  build (or find) the cached rootfs, print its path",
          file=sys.stderr)
    sys.exit(2)
