#!/usr/bin/env bash
# haltgslb-ctl broker-config without a broker: what it writes (modes,
# atomicity, the content RabbitMQ relies on) and every input it refuses.
# tests/broker/test_broker_config.py starts a real rabbitmq-server from it.
set -u
. "$top_srcdir/tests/tools/tap.sh"
CTL="$top_builddir/haltgslb-ctl"
REF="$top_srcdir/tests/unit/policies/reference.yaml"
PY=/usr/bin/python3    # Debian's, with python3-cryptography
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A PKI: CA, broker certificate, and a key that belongs to another certificate.
"$PY" - "$top_srcdir/tests/netsim" "$tmp/pki" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import pki
ca = pki.CA(sys.argv[2], "ca")
ca.server("broker")
ca.server("other")
PY
ok $? "test PKI generated"
CERT="$tmp/pki/ca-server-broker.pem" KEY="$tmp/pki/ca-server-broker.key" CA="$tmp/pki/ca-ca.pem"
TLS=(--tls-cert "$CERT" --tls-key "$KEY" --tls-ca "$CA")
BASE=(--policy "$REF" --dns-node dns-1 --dns-node dns-2 --port 5671 "${TLS[@]}")

# run EXPECTED_RC DESCRIPTION ARGS... ; output in $tmp/out
run() {
	local want=$1 desc=$2
	shift 2
	"$CTL" broker-config "$@" >"$tmp/out" 2>&1
	local rc=$?
	[ "$rc" -eq "$want" ]
	ok $? "$desc (exit $rc, want $want)"
	[ "$rc" -eq "$want" ] || diag < "$tmp/out"
}
says() { # says REGEX DESCRIPTION: the last run's output matches
	grep -Eq -- "$1" "$tmp/out"
	ok $? "$2"
	grep -Eq -- "$1" "$tmp/out" || diag < "$tmp/out"
}

"$CTL" broker-config --help >"$tmp/out" 2>&1
ok $? "broker-config --help exits 0"
for o in --policy --dns-node --out --port --tls-cert --tls-key --tls-ca --cluster-node --cluster-name \
	--cluster-address --epmd-port --retention --memory-limit --partition-handling; do
	grep -q -- "$o" "$tmp/out" || { echo "# --help does not mention $o"; false; }
done
ok $? "--help documents every option"
"$CTL" --help | grep -q "broker-config"
ok $? "haltgslb-ctl --help lists broker-config"

# --- a good run ---------------------------------------------------------
out="$tmp/conf"
umask 077
run 0 "writes the configuration" "${BASE[@]}" --out "$out"
umask 022
for f in rabbitmq.conf enabled_plugins definitions.json rabbitmq-env.conf epmd.socket.conf; do
	[ "$(stat -c %a "$out/$f")" = 640 ] || { echo "# $f mode $(stat -c %a "$out/$f")"; false; }
done
ok $? "all five files are mode 0640 whatever the umask"
[ -z "$(find "$out" -name '.*' -type f)" ]
ok $? "no temporary file left behind"
conf="$out/rabbitmq.conf"
for line in "listeners.tcp = none" "listeners.ssl.default = 5671" \
	"ssl_options.verify = verify_peer" "ssl_options.fail_if_no_peer_cert = true" \
	"ssl_options.cacertfile = $CA" "ssl_options.certfile = $CERT" "ssl_options.keyfile = $KEY" \
	"auth_mechanisms.1 = EXTERNAL" "ssl_cert_login_from = common_name" \
	"load_definitions = $out/definitions.json" "net_ticktime = 10" \
	"cluster_partition_handling = pause_minority" \
	"vm_memory_high_watermark.absolute = 1073741824" "disk_free_limit.absolute = 2000000000" \
	"distribution.listener.interface = 127.0.0.1"; do
	grep -qxF -- "$line" "$conf" || { echo "# missing in rabbitmq.conf: $line"; false; }
done
ok $? "rabbitmq.conf: TLS only, peer cert required, EXTERNAL, limits, cluster settings"
! grep -q "cluster_formation\|auth_mechanisms.2\|listeners.tcp.default" "$conf"
ok $? "a single node: no cluster formation, no second mechanism, no TCP listener"
! grep -q "^cluster_name" "$conf"
ok $? "a single node without --cluster-name keeps RabbitMQ's own cluster name (NAME@HOST)"
[ "$(cat "$out/enabled_plugins")" = "[rabbitmq_auth_mechanism_ssl]." ]
ok $? "enabled_plugins enables EXTERNAL authentication"
grep -qx "ERL_EPMD_ADDRESS=127.0.0.1" "$out/rabbitmq-env.conf"
ok $? "rabbitmq-env.conf binds epmd to loopback by default"
"$PY" - "$out/definitions.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
users = {u["name"]: u for u in d["users"]}
assert set(users) == {"eu-fra", "ap-sin", "us-iad", "dns-1", "dns-2"}, users
assert all(u["password_hash"] == "" and u["tags"] == [] for u in users.values())
assert d["vhosts"] == [{"name": "/"}]
perms = {p["user"]: (p["configure"], p["write"], p["read"]) for p in d["permissions"]}
for p in ("eu-fra", "ap-sin", "us-iad"):
    assert perms[p] == ("^$", "^haltgslb$", "^$"), perms[p]
for n in ("dns-1", "dns-2"):
    assert perms[n] == ("^$", "^$", r"^haltgslb\.measurements$"), perms[n]
topic = {t["user"]: (t["exchange"], t["write"], t["read"]) for t in d["topic_permissions"]}
assert topic["eu-fra"] == ("haltgslb", "^eu-fra$", "^$"), topic
assert topic["dns-1"] == ("haltgslb", "^$", "^$"), topic
(x,) = d["exchanges"]
assert (x["name"], x["type"], x["durable"]) == ("haltgslb", "topic", True), x
(q,) = d["queues"]
assert q["name"] == "haltgslb.measurements" and q["durable"], q
a = q["arguments"]
assert a["x-queue-type"] == "stream" and a["x-max-age"] == "24h", a
assert a["x-initial-cluster-size"] == 1 and a["x-max-length-bytes"] == 5000000000, a
(b,) = d["bindings"]
assert (b["source"], b["destination"], b["routing_key"]) == \
    ("haltgslb", "haltgslb.measurements", "#"), b
(p,) = d["policies"]
assert p["pattern"] == r"^haltgslb\.measurements$" and p["definition"]["max-age"] == "24h", p
PY
ok $? "definitions.json: users, permissions, topic permissions, exchange, stream, binding"
cp -a "$out" "$tmp/before"

# Dotted ids: the topic permission regex escapes the dot.
sed 's/id: eu-fra/id: eu.fra/' "$REF" > "$tmp/dotted.yaml"
run 0 "a prober id with a dot" --policy "$tmp/dotted.yaml" --dns-node dns.1 --port 5671 \
	"${TLS[@]}" --out "$tmp/dotted"
"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); t={x["user"]: x["write"] for x in d["topic_permissions"]}; assert t["eu.fra"] == r"^eu\.fra$", t' \
	"$tmp/dotted/definitions.json"
ok $? "topic permission of eu.fra is ^eu\\.fra\$ (dot escaped)"

# --- cluster options ----------------------------------------------------
run 0 "a 3-node cluster" "${BASE[@]}" --out "$tmp/c3" --cluster-node rabbit@a \
	--cluster-node rabbit@b --cluster-node rabbit@c --node-name rabbit@b \
	--cluster-address 10.0.0.2 --cluster-address 10.0.1.2 --dist-port 25000 --epmd-port 4400 \
	--listen 10.0.0.2 --listen ::1
conf="$tmp/c3/rabbitmq.conf"
for line in "cluster_formation.peer_discovery_backend = classic_config" \
	"cluster_formation.classic_config.nodes.3 = rabbit@c" \
	"cluster_formation.target_cluster_size_hint = 3" "cluster_partition_handling = pause_if_all_down" \
	"cluster_partition_handling.pause_if_all_down.recover = autoheal" \
	"cluster_partition_handling.pause_if_all_down.nodes.1 = rabbit@a" \
	"cluster_partition_handling.pause_if_all_down.nodes.2 = rabbit@c" \
	"distribution.listener.interface = 10.0.0.2" "distribution.listener.port_range.min = 25000" \
	"listeners.ssl.1 = 10.0.0.2:5671" "listeners.ssl.2 = ::1:5671"; do
	grep -qxF -- "$line" "$conf" || { echo "# missing in rabbitmq.conf: $line"; false; }
done
ok $? "cluster formation, target size, listeners, distribution address, partition handling"
! grep -q "pause_if_all_down.nodes.* = rabbit@b$" "$conf"
ok $? "pause_if_all_down lists the peers, not this node (it would never pause)"
grep -qx "ERL_EPMD_ADDRESS=10.0.0.2,10.0.1.2" "$tmp/c3/rabbitmq-env.conf" &&
	grep -qx "ERL_EPMD_PORT=4400" "$tmp/c3/rabbitmq-env.conf" &&
	grep -qx "NODENAME=rabbit@b" "$tmp/c3/rabbitmq-env.conf"
ok $? "rabbitmq-env.conf: epmd addresses and port, node name"
[ "$(grep ^ListenStream "$tmp/c3/epmd.socket.conf" | tr '\n' ' ')" = \
	"ListenStream= ListenStream=127.0.0.1:4400 ListenStream=[::1]:4400 ListenStream=10.0.0.2:4400 ListenStream=10.0.1.2:4400 " ]
ok $? "epmd.socket.conf: loopback and the cluster addresses on the epmd port"
grep -q '"x-initial-cluster-size":3' "$tmp/c3/definitions.json"
ok $? "the stream is created with 3 replicas"
[ "$(grep -c '^cluster_name' "$conf")" = 1 ] && grep -qxF "cluster_name = haltgslb-rabbit@a" "$conf"
ok $? "a cluster gets one cluster_name: haltgslb- and the first node name"
# Every node computes the same default, whatever its --node-name and the
# order of --cluster-node.
for n in a c; do
	run 0 "node rabbit@$n of the same cluster, nodes listed in another order" "${BASE[@]}" \
		--out "$tmp/c3$n" --cluster-node rabbit@c --cluster-node rabbit@b \
		--cluster-node rabbit@a --node-name rabbit@$n
	grep -qxF "cluster_name = haltgslb-rabbit@a" "$tmp/c3$n/rabbitmq.conf"
	ok $? "node rabbit@$n: the same cluster_name"
done
run 0 "--cluster-name given" "${BASE[@]}" --out "$tmp/c3n" --cluster-node rabbit@a \
	--cluster-node rabbit@b --cluster-node rabbit@c --node-name rabbit@b \
	--cluster-name fleet-2026.12
grep -qxF "cluster_name = fleet-2026.12" "$tmp/c3n/rabbitmq.conf" &&
	[ "$(grep -c '^cluster_name' "$tmp/c3n/rabbitmq.conf")" = 1 ]
ok $? "--cluster-name is written as given, once"
says "cluster_name fleet-2026.12" "the summary names the cluster"
run 0 "--cluster-name on a single node" "${BASE[@]}" --out "$tmp/c1n" --cluster-name mq-solo
grep -qxF "cluster_name = mq-solo" "$tmp/c1n/rabbitmq.conf"
ok $? "a single node takes --cluster-name too"
run 0 "a 2-node cluster" "${BASE[@]}" --out "$tmp/c2" --cluster-node r@a --cluster-node r@b
grep -qx "cluster_partition_handling = autoheal" "$tmp/c2/rabbitmq.conf"
ok $? "2 nodes default to autoheal (pause_minority would pause both)"
run 0 "a 4-node cluster" "${BASE[@]}" --out "$tmp/c4" --cluster-node r@a --cluster-node r@b \
	--cluster-node r@c --cluster-node r@d
grep -qx "cluster_partition_handling = pause_minority" "$tmp/c4/rabbitmq.conf"
ok $? "4 nodes default to pause_minority (a node reaching one peer would not pause_if_all_down)"
says "warning: pause_minority with 4 nodes: an even split pauses every node" "warns about an even size"
run 0 "a 3-node cluster, pause_minority chosen" "${BASE[@]}" --out "$tmp/c3m" \
	--cluster-node r@a --cluster-node r@b --cluster-node r@c --partition-handling pause_minority
grep -qx "cluster_partition_handling = pause_minority" "$tmp/c3m/rabbitmq.conf" &&
	! grep -q "pause_if_all_down" "$tmp/c3m/rabbitmq.conf"
ok $? "a chosen mode is written as chosen (no --node-name needed)"
run 2 "3 nodes without --node-name (the default mode lists the peers)" "${BASE[@]}" \
	--cluster-node r@a --cluster-node r@b --cluster-node r@c --out "$tmp/x"
says "--node-name is required with 3 --cluster-node names" "says --node-name is required"
run 2 "pause_if_all_down with 2 nodes" "${BASE[@]}" --cluster-node r@a --cluster-node r@b \
	--node-name r@a --partition-handling pause_if_all_down --out "$tmp/x"
says "pause_if_all_down needs at least 3 --cluster-node names" "says why 2 nodes cannot"

# --- refused input: exit 2 (usage) or 1 (failure), nothing written -------
for o in --policy --port --tls-cert --tls-key --tls-ca; do
	args=()
	skip=0
	for a in "${BASE[@]}"; do
		if [ "$skip" -eq 1 ]; then skip=0; continue; fi
		if [ "$a" = "$o" ]; then skip=1; continue; fi
		args+=("$a")
	done
	run 2 "without $o" "${args[@]}" --out "$tmp/x"
	says "$o is required" "says $o is required"
done
run 2 "without --out" "${BASE[@]}"
run 2 "without any --dns-node" --policy "$REF" --port 5671 "${TLS[@]}" --out "$tmp/x"
says "at least one --dns-node" "says a DNS node is required"
run 1 "a DNS node named like a prober" "${BASE[@]}" --dns-node us-iad --out "$tmp/x"
says "--dns-node us-iad: us-iad also names a prober" "names the colliding id"
run 2 "an invalid DNS node id" "${BASE[@]}" --dns-node 'dns 3!' --out "$tmp/x"
says "--dns-node 'dns 3!': an id is 1-63 characters" "explains the id alphabet"
run 2 "a DNS node id of 64 characters" "${BASE[@]}" --dns-node "$(printf 'n%.0s' $(seq 64))" --out "$tmp/x"
run 2 "the same DNS node twice" "${BASE[@]}" --dns-node dns-1 --out "$tmp/x"
says "--dns-node dns-1 given twice" "says it is given twice"
run 1 "a missing certificate file" "${BASE[@]}" --tls-cert "$tmp/nope.pem" --out "$tmp/x"
says "--tls-cert $tmp/nope.pem: No such file" "names the missing file"
run 1 "a key of another certificate" "${BASE[@]}" --tls-key "$tmp/pki/ca-server-other.key" --out "$tmp/x"
says "does not match the certificate" "says the key does not match"
run 1 "a CA file without a certificate" "${BASE[@]}" --tls-ca "$KEY" --out "$tmp/x"
says "--tls-ca .*: no PEM certificate" "says the CA file holds no certificate"
printf 'not a key\n' > "$tmp/junk.key"
run 1 "a key file without a key" "${BASE[@]}" --tls-key "$tmp/junk.key" --out "$tmp/x"
says "--tls-key .*: no unencrypted PEM private key" "says the key file holds no key"
[ ! -e "$tmp/x" ]
ok $? "refused runs create nothing"
touch "$tmp/afile"
run 1 "--out is a regular file" "${BASE[@]}" --out "$tmp/afile"
says "--out $tmp/afile: (not a directory|cannot create)" "says --out is not a directory"
run 1 "--out cannot be written" "${BASE[@]}" --out /proc/self/haltgslb-broker
says "--out /proc/self/haltgslb-broker: cannot create" "says --out cannot be created"
run 1 "a broken policy" "${BASE[@]}" --policy "$top_srcdir/tests/unit/policies/reference.yaml.none" --out "$tmp/x"
sed 's/^probers:/probrs:/' "$REF" > "$tmp/bad.yaml"
run 1 "a policy with errors" "${BASE[@]}" --policy "$tmp/bad.yaml" --out "$tmp/x"
says "^$tmp/bad.yaml:[0-9]+:[0-9]+: " "prints FILE:LINE:COL errors"
run 1 "an unknown --group" "${BASE[@]}" --group no-such-group-hg --out "$out"
says "--group no-such-group-hg: no such group" "says the group does not exist"
diff -r "$tmp/before" "$out" >/dev/null && [ -z "$(find "$out" -name '.*' -type f)" ]
ok $? "a failed run leaves the previous files untouched"
run 2 "--port 0" "${BASE[@]}" --port 0 --out "$tmp/x"
run 2 "--port 70000" "${BASE[@]}" --port 70000 --out "$tmp/x"
run 2 "--dist-port equal to --port" "${BASE[@]}" --dist-port 5671 --out "$tmp/x"
run 2 "--retention 0h" "${BASE[@]}" --retention 0h --out "$tmp/x"
run 2 "--retention 24x" "${BASE[@]}" --retention 24x --out "$tmp/x"
says "--retention '24x': expected a positive number" "explains the retention syntax"
run 2 "--memory-limit 10MB (too small)" "${BASE[@]}" --memory-limit 10MB --out "$tmp/x"
run 2 "--memory-limit 1TB?" "${BASE[@]}" --memory-limit 1TX --out "$tmp/x"
run 2 "--segment-bytes above 3 GB" "${BASE[@]}" --segment-bytes 4GB --out "$tmp/x"
run 2 "--max-bytes below --segment-bytes" "${BASE[@]}" --max-bytes 50MB --out "$tmp/x"
run 2 "--partition-handling ignore" "${BASE[@]}" --partition-handling ignore --out "$tmp/x"
says "expected pause_if_all_down, pause_minority or autoheal" "names the accepted modes"
run 2 "--net-ticktime 1" "${BASE[@]}" --net-ticktime 1 --out "$tmp/x"
run 2 "--cluster-node without @" "${BASE[@]}" --cluster-node rabbit --out "$tmp/x"
run 2 "--node-name outside the cluster" "${BASE[@]}" --cluster-node r@a --cluster-node r@b \
	--cluster-node r@c --node-name r@d --out "$tmp/x"
run 2 "--cluster-name with a space" "${BASE[@]}" --cluster-name 'a b' --out "$tmp/x"
says "--cluster-name 'a b': expected 1-127 printable characters without spaces" "says what a cluster name is"
run 2 "--cluster-name empty" "${BASE[@]}" --cluster-name '' --out "$tmp/x"
run 2 "--cluster-name with a control character" "${BASE[@]}" --cluster-name $'a\tb' --out "$tmp/x"
run 2 "--cluster-name with '#'" "${BASE[@]}" --cluster-name 'a#b' --out "$tmp/x"
run 2 "--cluster-name of 128 characters" "${BASE[@]}" --cluster-name "$(printf 'n%.0s' {1..128})" \
	--out "$tmp/x"
run 2 "a default cluster name too long" "${BASE[@]}" --cluster-node "$(printf 'n%.0s' {1..120})@h" \
	--cluster-node r@b --out "$tmp/x"
says "give --cluster-name" "says to give --cluster-name"
run 2 "--listen with a host name" "${BASE[@]}" --listen broker.example --out "$tmp/x"
run 2 "--cluster-address junk" "${BASE[@]}" --cluster-address 10.0.0.300 --out "$tmp/x"
run 2 "--vhost with a space" "${BASE[@]}" --vhost 'a b' --out "$tmp/x"
run 2 "an unknown option" "${BASE[@]}" --frobnicate --out "$tmp/x"
run 2 "a stray argument" "${BASE[@]}" --out "$tmp/x" extra
[ ! -e "$tmp/x" ]
ok $? "still nothing created by refused runs"

done_testing
