# SPDX-License-Identifier: GPL-3.0-or-later
"""Private RabbitMQ nodes for tests, configured only by `haltgslb-ctl broker-config`.

    import broker, pki
    ca = pki.CA(tmp, "test CA")
    srv = ca.server("broker", hosts=["localhost"], ips=["127.0.0.1"])
    amqps, dist, epmd = broker.free_ports(3)
    conf = broker.broker_config(CTL, tmp + "/conf", POLICY, ["dns-1"], amqps, srv,
                                node_name="hgb1@localhost", dist_port=dist, epmd_port=epmd)
    with broker.Broker([broker.Node(conf, tmp + "/n1")]) as b:   # starts, waits until ready
        b.nodes[0].port                  # AMQPS port (from the generated rabbitmq.conf)
        b.nodes[0].ctl("list_queues")    # rabbitmqctl against that node
        b.nodes[0].kill()                # kill -9 (the whole process group)
    # leaving the block stops every node and then the epmd they started

A Node reads what it needs (node name, AMQPS port, epmd port) back from the
generated files, so the files must come from broker_config() with
`node_name` (NODENAME) and `epmd_port` set: a private epmd port keeps tests
from meeting each other's (or the system's) epmd, and Broker.close() kills
exactly the epmd that listens on it. Per node only the directories are
chosen here: RABBITMQ_MNESIA_BASE, RABBITMQ_LOG_BASE, the pid file, and a
HOME holding the Erlang cookie (shared by the nodes of one Broker).

`netns=NAME` runs the node and every CLI call inside that network
namespace (ip netns exec); its loopback must be up (the node talks to its
epmd there). Generate the config with `listen=[ADDR]` and
`cluster_addrs=[ADDR]` for the namespace's address.

The server runs as root from /usr/lib/rabbitmq/bin (Debian's /usr/sbin
wrappers switch to the rabbitmq user, which could not read a test tree).
Failures raise BrokerError with the tail of the node's logs.

Nothing here waits without a bound: every command has a timeout (its process
group is killed when it runs out), Broker.start() returns only once the
cluster is formed (wait_formed(): every node runs and sees every other one,
no partition, the stream has a leader and a replica online on every node),
publish() gives up on a confirm after `timeout` seconds, connections carry a
short AMQP heartbeat, and close() ends with SIGKILL.
"""
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import time

RMQ_BIN = "/usr/lib/rabbitmq/bin"
READY_LINE = "Server startup complete"
# A CLI call (an escript starting an Erlang VM) takes 1-3 s on a loaded
# 2-core machine; against a frozen node it fails after net_setuptime (7 s).
CTL_TIMEOUT = 30


class BrokerError(RuntimeError):
    pass


def _die_with_parent():
    """In the child: SIGTERM when the test process dies, so a killed test run
    does not leave its broker running (rabbitmq-server stops the VM on TERM;
    the setting survives `ip netns exec`, which execs)."""
    import ctypes
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def run(cmd, timeout, env=None, check=False):
    """Run `cmd` in its own process group; after `timeout` seconds the whole
    group is killed (a CLI tool that execs an Erlang VM, `ip netns exec`, or
    a child it forked cannot outlive the bound) and BrokerError is raised.
    Returns a CompletedProcess with text stdout and stderr."""
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except BaseException as e:
        # Out of time, or interrupted (pytest-timeout's signal, ^C): the
        # command must not outlive the call.
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = p.communicate()
        if not isinstance(e, subprocess.TimeoutExpired):
            raise
        raise BrokerError("%s: no answer after %.0f s (killed)\n%s%s"
                          % (" ".join(cmd), timeout, out, err)) from None
    r = subprocess.CompletedProcess(cmd, p.returncode, out, err)
    if check and r.returncode != 0:
        raise BrokerError("%s failed (%d): %s%s" % (" ".join(cmd), r.returncode, out, err))
    return r


def free_ports(n, host="127.0.0.1"):
    """n distinct TCP ports free right now on `host` (in this namespace)."""
    socks, ports = [], []
    try:
        while len(ports) < n:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((host, 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def broker_config(ctl, out, policy, dns_nodes, port, server, node_name, epmd_port,
                  dist_port=None, cluster_nodes=(), listen=(), cluster_addrs=(),
                  memory_limit="512MiB", disk_free_limit="50MB", extra=()):
    """Run `haltgslb-ctl broker-config` into `out`; `server` is a pki.Cert (its
    .cert, .key and .ca are the broker's TLS files). Returns `out`."""
    cmd = [ctl, "broker-config", "--policy", policy, "--out", out, "--port", str(port),
           "--tls-cert", server.cert, "--tls-key", server.key, "--tls-ca", server.ca,
           "--node-name", node_name, "--epmd-port", str(epmd_port),
           "--memory-limit", memory_limit, "--disk-free-limit", disk_free_limit]
    for d in dns_nodes:
        cmd += ["--dns-node", d]
    if dist_port is not None:
        cmd += ["--dist-port", str(dist_port)]
    for n in cluster_nodes:
        cmd += ["--cluster-node", n]
    for a in listen:
        cmd += ["--listen", a]
    for a in cluster_addrs:
        cmd += ["--cluster-address", a]
    cmd += list(extra)
    run(cmd, 30, check=True)
    return out


def _read_env_file(path):
    env = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"^([A-Z_]+)=(.*)$", line.strip())
            if m:
                env[m.group(1)] = m.group(2)
    return env


class Node:
    """One rabbitmq-server node started from a broker-config directory."""

    def __init__(self, conf_dir, workdir, netns=None, home=None):
        self.conf_dir = os.path.abspath(conf_dir)
        self.workdir = os.path.abspath(workdir)
        self.netns = netns
        env = _read_env_file(os.path.join(self.conf_dir, "rabbitmq-env.conf"))
        if "NODENAME" not in env or "ERL_EPMD_PORT" not in env:
            raise BrokerError("%s: generate it with node_name and epmd_port" % self.conf_dir)
        self.name = env["NODENAME"]
        self.epmd_port = int(env["ERL_EPMD_PORT"])
        with open(os.path.join(self.conf_dir, "rabbitmq.conf")) as f:
            conf = f.read()
        m = re.search(r"^listeners\.ssl\.[^=]*=\s*(?:.*:)?(\d+)\s*$", conf, re.M)
        self.port = int(m.group(1))
        self.home = home or os.path.join(self.workdir, "home")
        self.log_dir = os.path.join(self.workdir, "log")
        self.proc = None
        self._stdout = None
        self._term_sent = False
        self._log_offset = 0
        os.makedirs(self.log_dir, exist_ok=True)
        os.makedirs(os.path.join(self.workdir, "mnesia"), exist_ok=True)

    # --- environment and commands -------------------------------------
    def env(self):
        e = {k: v for k, v in os.environ.items()
             if not k.startswith(("RABBITMQ_", "ERL_")) and k != "HOME"}
        e.update({
            "HOME": self.home,
            "LC_ALL": "C.UTF-8",
            "RABBITMQ_CONFIG_FILE": os.path.join(self.conf_dir, "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": os.path.join(self.conf_dir, "enabled_plugins"),
            "RABBITMQ_CONF_ENV_FILE": os.path.join(self.conf_dir, "rabbitmq-env.conf"),
            # Never read /etc/rabbitmq/advanced.config: the node is ours alone.
            "RABBITMQ_ADVANCED_CONFIG_FILE": os.path.join(self.workdir, "advanced.config"),
            "RABBITMQ_MNESIA_BASE": os.path.join(self.workdir, "mnesia"),
            "RABBITMQ_LOG_BASE": self.log_dir,
            "RABBITMQ_PID_FILE": os.path.join(self.workdir, "pid"),
        })
        return e

    def _wrap(self, cmd):
        return (["ip", "netns", "exec", self.netns] if self.netns else []) + cmd

    def ctl(self, *args, tool="rabbitmqctl", timeout=CTL_TIMEOUT, check=True):
        """Run a RabbitMQ CLI tool against this node; returns its stdout.
        Raises BrokerError when it fails (unless check=False) or runs out of
        `timeout` (always)."""
        cmd = self._wrap([os.path.join(RMQ_BIN, tool), "-n", self.name, "-q"] + list(args))
        return run(cmd, timeout, env=self.env(), check=check).stdout

    def eval(self, expr, timeout=CTL_TIMEOUT):
        """rabbitmqctl eval EXPR on the node; returns the printed term."""
        return self.ctl("eval", expr, timeout=timeout).strip()

    def stream_retention(self, vhost="/", stream=None):
        """The retention the stream coordinator applies to the stream now
        (policy over queue arguments), e.g.
        '[{max_bytes,5000000000},{max_age,86400000}]'."""
        return "".join(self.eval(
            '{ok, Q} = rabbit_amqqueue:lookup(rabbit_misc:r(<<"%s">>, queue, <<"%s">>)), '
            '#{name := Id} = amqqueue:get_type_state(Q), '
            'S = maps:get(Id, element(2, rabbit_stream_coordinator:state())), '
            'maps:get(retention, element(5, S)).' % (vhost, stream or STREAM)).split())

    # --- lifecycle -----------------------------------------------------
    def start(self):
        os.makedirs(self.home, exist_ok=True)
        self._stdout = open(os.path.join(self.log_dir, "stdout.txt"), "ab")
        self._log_offset = self._log_size()     # readiness counts from this start
        self.proc = subprocess.Popen(self._wrap([os.path.join(RMQ_BIN, "rabbitmq-server")]),
                                     env=self.env(), stdout=self._stdout,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True, preexec_fn=_die_with_parent)
        self._term_sent = False

    def _log_path(self):
        return os.path.join(self.log_dir, self.name + ".log")

    def _log_size(self):
        try:
            return os.path.getsize(self._log_path())
        except OSError:
            return 0

    def is_ready(self):
        """True once this start's log says the broker finished booting."""
        try:
            with open(self._log_path(), "rb") as f:
                f.seek(self._log_offset)
                return READY_LINE.encode() in f.read()
        except OSError:
            return False

    def log_mark(self):
        """A position in the node's log, for log_since()."""
        return self._log_size()

    def log_since(self, mark):
        """What the node logged after log_mark() returned `mark`."""
        try:
            with open(self._log_path(), "rb") as f:
                f.seek(mark)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, timeout=30):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.is_ready():
                return
            if not self.alive():
                raise BrokerError("node %s exited (%s) while starting\n%s"
                                  % (self.name, self.proc.returncode, self.logs()))
            time.sleep(0.1)
        raise BrokerError("node %s not ready after %.0f s\n%s" % (self.name, timeout, self.logs()))

    def stop(self, timeout=20):
        """Stop gracefully (SIGTERM to rabbitmq-server), then SIGKILL if it hangs."""
        if self.alive():
            self.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self._reap()

    def terminate(self):
        """Ask the node to stop (once: a second SIGTERM would cut its shutdown)."""
        if self.alive() and not self._term_sent:
            self._term_sent = True
            self.proc.send_signal(signal.SIGTERM)

    def kill(self):
        """kill -9 the node: the script, the Erlang VM and its helpers."""
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._reap()

    def freeze(self, frozen=True):
        """SIGSTOP (or SIGCONT) every process of the node: a hung host."""
        if self.proc is not None:
            os.killpg(self.proc.pid, signal.SIGSTOP if frozen else signal.SIGCONT)

    def _reap(self, timeout=10):
        """SIGKILL what is left of the node's process group and collect the
        exit status; a process that survives SIGKILL `timeout` s (stuck in
        the kernel) raises BrokerError rather than hanging the caller."""
        try:
            if self.proc is not None:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)   # stragglers of the group
                except (ProcessLookupError, PermissionError):
                    pass
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    raise BrokerError("node %s (pid %d) still there %.0f s after SIGKILL"
                                      % (self.name, self.proc.pid, timeout)) from None
        finally:
            if self._stdout is not None:
                self._stdout.close()
                self._stdout = None

    def logs(self, lines=60):
        """The tail of the node's log and of its stdout, for failure messages."""
        out = []
        for path in (self._log_path(), os.path.join(self.log_dir, "stdout.txt")):
            try:
                with open(path, errors="replace") as f:
                    tail = f.read().splitlines()[-lines:]
            except OSError as e:
                tail = ["(%s)" % e]
            out.append("--- %s (last %d lines)\n%s" % (path, lines, "\n".join(tail)))
        return "\n".join(out)


def _epmd_pids(port, netns=None):
    cmd = ["ss", "-ltnpH", "sport = :%d" % port]
    if netns:
        cmd = ["ip", "netns", "exec", netns] + cmd
    out = run(cmd, 10).stdout
    return sorted({int(p) for p in re.findall(r'"epmd",pid=(\d+)', out)})


def stop_epmd(port, netns=None, timeout=5):
    """Kill the epmd listening on `port` (in `netns`); it outlives the nodes."""
    for pid in _epmd_pids(port, netns):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        end = time.monotonic() + timeout
        while time.monotonic() < end and os.path.exists("/proc/%d" % pid):
            time.sleep(0.05)
        if os.path.exists("/proc/%d" % pid):
            os.kill(pid, signal.SIGKILL)


def epmd_listen_addresses(port, netns=None):
    """The local addresses epmd listens on, e.g. ['127.0.0.1', '[::1]']."""
    cmd = ["ss", "-ltnH", "sport = :%d" % port]
    if netns:
        cmd = ["ip", "netns", "exec", netns] + cmd
    out = run(cmd, 10).stdout
    return sorted(line.split()[3].rsplit(":", 1)[0] for line in out.splitlines() if line.strip())


class Broker:
    """A set of nodes (one, or a cluster) started together and torn down together."""

    def __init__(self, nodes):
        self.nodes = list(nodes)
        # One Erlang cookie for all: the nodes of a cluster must share it.
        home = os.path.join(os.path.dirname(self.nodes[0].workdir), "erlang-home")
        os.makedirs(home, exist_ok=True)
        cookie = os.path.join(home, ".erlang.cookie")
        if not os.path.exists(cookie):
            fd = os.open(cookie, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(16).upper())
        for n in self.nodes:
            n.home = home

    def start(self, timeout=60):
        """Start every node at once (cluster formation needs them together),
        wait until each has booted and then until the cluster is formed
        (wait_formed), all within `timeout` s; on failure everything is
        stopped and BrokerError tells what was missing."""
        try:
            for n in self.nodes:
                n.start()
            end = time.monotonic() + timeout
            for n in self.nodes:
                n.wait_ready(max(1.0, end - time.monotonic()))
            self.wait_formed(max(1.0, end - time.monotonic()))
        except BaseException:
            self.close()
            raise
        return self

    # --- cluster state -------------------------------------------------
    # One CLI call per node: is the rabbit application running, which nodes
    # does its Mnesia share data with, which partitions has it recorded. A
    # paused node (rabbit stopped) answers "down".
    _NODE_STATE = ("try {rabbit:is_running(), lists:usort(rabbit_nodes:all_running()), "
                   "rabbit_node_monitor:partitions()} catch _:_ -> down end.")

    def node_state(self, node):
        """(running, [nodes its Mnesia runs with], partitions recorded) of
        `node`, or None when it cannot answer (stopped, frozen, paused)."""
        try:
            out = "".join(node.eval(self._NODE_STATE).split())
        except BrokerError:
            return None
        m = re.match(r"^\{(true|false),\[([^\]]*)\],(.*)\}$", out)
        if not m:
            return None
        return (m.group(1) == "true", sorted(re.findall(r"[\w.-]+@[\w.-]+", m.group(2))),
                m.group(3))

    def stream_state(self, node, queue=None):
        """{name, leader, members, online} of the stream as `node` lists it,
        or None (no such queue, or the node cannot answer)."""
        try:
            q = json.loads(node.ctl("list_queues", "name", "leader", "members", "online",
                                    "--formatter", "json") or "[]")
        except (BrokerError, ValueError):
            return None
        return next((x for x in q if x.get("name") == (queue or STREAM)), None)

    def not_formed(self, names=None):
        """Why the cluster is not formed yet (a sentence), or None when every
        node in `names` (default: all) runs, shares Mnesia with exactly those
        nodes and records no partition, and the stream has a leader among
        them and a replica online on each."""
        names = sorted(names or [n.name for n in self.nodes])
        nodes = [n for n in self.nodes if n.name in names]
        for n in nodes:
            st = self.node_state(n)
            if st is None:
                return "%s does not answer (stopped, frozen or paused)" % n.name
            running, peers, partitions = st
            if not running:
                return "rabbit is not running on %s" % n.name
            if peers != names:
                return "%s runs with %s, not %s" % (n.name, peers, names)
            if partitions != "[]":
                return "%s records partitions %s" % (n.name, partitions)
        q = self.stream_state(nodes[0])
        if q is None:
            return "%s lists no stream %s" % (nodes[0].name, STREAM)
        if q.get("leader") not in names:
            return "the stream has no leader: %s" % q
        if sorted(q.get("members", [])) != names or sorted(q.get("online", [])) != names:
            return "the stream is not online on every node: %s" % q
        return None

    def wait_formed(self, timeout, names=None):
        """Poll not_formed() until the cluster is formed; returns the seconds
        it took. After `timeout` s raises BrokerError with the last reason
        and the nodes' logs. Each poll is bounded (CLI timeouts), so the
        wait overruns `timeout` by at most one poll."""
        t0 = time.monotonic()
        end = t0 + timeout
        while True:
            why = self.not_formed(names)
            if why is None:
                return time.monotonic() - t0
            if time.monotonic() >= end:
                raise BrokerError("cluster not formed after %.0f s: %s\n%s"
                                  % (timeout, why, self.logs()))
            time.sleep(0.5)

    def logs(self):
        return "\n".join(n.logs() for n in self.nodes)

    def close(self, timeout=20):
        """Stop every node (SIGTERM to all, SIGKILL after `timeout`), then the
        epmd they started. Goes through every step even if one fails, then
        raises the first failure."""
        errors = []
        for n in self.nodes:
            if n.alive():
                try:
                    n.freeze(False)             # a frozen node cannot stop
                except ProcessLookupError:
                    pass
                n.terminate()
        end = time.monotonic() + timeout
        for n in self.nodes:
            try:
                n.stop(max(0.1, end - time.monotonic()))
            except BrokerError as e:
                errors.append(e)
        for netns, port in sorted({(n.netns or "", n.epmd_port) for n in self.nodes}):
            try:
                stop_epmd(port, netns or None)
            except BrokerError as e:
                errors.append(e)
        if errors:
            raise errors[0]

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()


# --- AMQP clients (pika, Debian's python3-pika) --------------------------
EXCHANGE = "haltgslb"
STREAM = "haltgslb.measurements"


class ConfirmTimeout(BrokerError):
    """publish(): the broker neither confirmed nor refused in time (e.g. the
    stream has no leader, or its replicas no quorum)."""


def connect(port, client, ca, host="127.0.0.1", server_hostname="localhost",
            credentials=None, timeout=5):
    """A pika BlockingConnection over TLS. `client` is a pki.Cert whose
    certificate is presented (None: no client certificate); `ca` verifies the
    broker. Logs in with SASL EXTERNAL unless `credentials` says otherwise.
    Every wait on the connection is bounded: `timeout` for the socket, 3 x
    `timeout` for the TLS and AMQP handshakes, and an AMQP heartbeat of
    `timeout` s, so a broker that stops answering (frozen, cut off) fails
    the connection within about 2 x `timeout` instead of hanging a call."""
    import ssl
    import pika
    ctx = ssl.create_default_context(cafile=ca)
    if client is not None:
        ctx.load_cert_chain(client.cert, client.key)
    params = pika.ConnectionParameters(
        host=host, port=port, ssl_options=pika.SSLOptions(ctx, server_hostname),
        credentials=credentials or pika.credentials.ExternalCredentials(),
        connection_attempts=1, socket_timeout=timeout, stack_timeout=3 * timeout,
        blocked_connection_timeout=2 * timeout, heartbeat=max(1, int(timeout)))
    return pika.BlockingConnection(params)


def _confirm_timed_out(timeout):
    raise ConfirmTimeout("no publisher confirm after %.0f s" % timeout)


def publish(conn, routing_key, body, user_id, exchange=EXCHANGE, timeout=10):
    """Publish one message with publisher confirms; raises what the broker says
    (pika.exceptions.ChannelClosedByBroker with .reply_code 403/406...), or
    ConfirmTimeout when no confirm came within `timeout` s: pika's blocking
    publish waits for the confirm forever (heartbeats keep a live but stuck
    broker's connection up). The connection is unusable after a
    ConfirmTimeout: close it."""
    import functools
    import pika
    ch = conn.channel()
    ch.confirm_delivery()
    props = pika.BasicProperties(user_id=user_id, delivery_mode=2)
    # A timer of the I/O loop the blocking publish spins in (pika 1.2 has no
    # public bound on that wait): its exception ends the wait.
    ioloop = conn._impl.ioloop
    timer = ioloop.call_later(timeout, functools.partial(_confirm_timed_out, timeout))
    try:
        ch.basic_publish(exchange, routing_key, body, props)
    finally:
        ioloop.remove_timeout(timer)
    ch.close()


def consume(conn, count, offset="first", timeout=10, queue=STREAM):
    """Read up to `count` messages of the stream from `offset` ("first",
    "next", a number); returns [(stream offset, user_id, routing key, body)]."""
    ch = conn.channel()
    ch.basic_qos(prefetch_count=200)
    got = []

    def on_message(chan, method, props, body):
        got.append(((props.headers or {}).get("x-stream-offset"), props.user_id,
                    method.routing_key, body))
        chan.basic_ack(method.delivery_tag)

    tag = ch.basic_consume(queue, on_message, arguments={"x-stream-offset": offset})
    end = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < end:
        conn.process_data_events(time_limit=0.1)
    ch.basic_cancel(tag)
    ch.close()
    return got
