#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The Ansible roles and playbook, without hosts (TAP):
#   - ansible-lint --offline at the production profile (ansible/.ansible-lint);
#   - site.yml passes --syntax-check with the example inventory, which
#     parses (ansible-inventory) with the groups site.yml uses;
#   - every variable of every role's defaults/main.yml is documented in the
#     example inventory's group_vars/all.yml with the same default;
#   - the example policy validates (haltgslb-ctl validate).
# Usage: tests/deploy/test_ansible.sh   (top_builddir: a build with
# haltgslb-ctl, default build/plain)
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/tools/tap.sh"
builddir=${top_builddir:-$top/build/plain}
inv="$top/ansible/inventory/example"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export ANSIBLE_CONFIG="$top/ansible/ansible.cfg" ANSIBLE_NOCOLOR=1 ANSIBLE_LOCAL_TEMP="$work/tmp"

start=$(date +%s)
(cd "$top/ansible" && ansible-lint --offline --nocolor) >"$work/lint.out" 2>&1
rc=$?
ok $rc "ansible-lint --offline, production profile ($(( $(date +%s) - start )) s)"
[ $rc -eq 0 ] || diag <"$work/lint.out"

(cd "$top/ansible" && ansible-playbook -i "$inv" --syntax-check site.yml) >"$work/syntax.out" 2>&1
rc=$?
ok $rc "site.yml --syntax-check with the example inventory"
[ $rc -eq 0 ] || diag <"$work/syntax.out"

ansible-inventory -i "$inv" --list >"$work/inv.json" 2>"$work/inv.err"
rc=$?
if [ $rc -eq 0 ]; then
	/usr/bin/python3 - "$work/inv.json" >"$work/groups.out" 2>&1 <<'PY'
import json, sys
inv = json.load(open(sys.argv[1]))
bad = [g for g in ("haltgslb_broker", "haltgslb_dns_nodes", "haltgslb_probers")
       if not inv.get(g, {}).get("hosts")]
for g in bad:
    print("group %s has no hosts" % g)
sys.exit(1 if bad else 0)
PY
	rc=$?
	cat "$work/groups.out" >>"$work/inv.err"
fi
ok $rc "the example inventory parses and fills every group of site.yml"
[ $rc -eq 0 ] || diag <"$work/inv.err"

# Defaults documented: compare the YAML values (strings as written, so a
# Jinja default must be the same text).
/usr/bin/python3 - "$top/ansible" >"$work/defaults.out" 2>&1 <<'PY'
import glob, os, sys
import yaml
top = sys.argv[1]
doc = yaml.safe_load(open(os.path.join(top, "inventory/example/group_vars/all.yml")))
bad = 0
# Set by the roles that include another one's tasks, not by operators.
internal = {"haltgslb_tls_name", "haltgslb_tls_cn", "haltgslb_tls_group", "haltgslb_tls_san",
            "haltgslb_broker_files"}
for path in sorted(glob.glob(os.path.join(top, "roles/*/defaults/main.yml"))):
    role = path.split(os.sep)[-3]
    for k, v in (yaml.safe_load(open(path)) or {}).items():
        if k in internal:
            continue
        if k not in doc:
            print("%s: %s is not in the example group_vars/all.yml" % (role, k))
            bad += 1
        elif doc[k] != v and not (k == "haltgslb_policy_file" and v == ""):
            print("%s: %s defaults to %r, the example documents %r" % (role, k, v, doc[k]))
            bad += 1
sys.exit(1 if bad else 0)
PY
rc=$?
ok $rc "every role default is documented in the example group_vars with its value"
[ $rc -eq 0 ] || diag <"$work/defaults.out"

"$builddir/haltgslb-ctl" validate "$inv/files/policy.yaml" >"$work/validate.out" 2>&1
rc=$?
ok $rc "the example inventory's policy validates"
[ $rc -eq 0 ] || diag <"$work/validate.out"

done_testing
