#!/usr/bin/env bash
# haltgslb-prober reads its policy from LMDB (haltgslb-ctl load compiled it),
# so it must not carry the YAML policy compiler: not libyaml, not the
# policy_* code, not the view builder of policy loads. It writes
# measurements (writer_apply_measure, view patches) and probes over libcurl.
set -u
. "$top_srcdir/tests/tools/tap.sh"
bin="$top_builddir/haltgslb-prober"
# libtool may leave a wrapper script in place of the binary.
[ -x "$top_builddir/.libs/haltgslb-prober" ] && bin="$top_builddir/.libs/haltgslb-prober"

[ -x "$bin" ]; ok $? "prober built: $bin"

needed=$(readelf -d "$bin" 2>&1 | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
echo "$needed" | diag
echo "$needed" | grep -q '^liblmdb\.'; ok $? "links liblmdb (its policy and measurements)"
echo "$needed" | grep -q '^libcurl\.'; ok $? "links libcurl (HTTP probes)"
for lib in libyaml libmaxminddb; do
	! echo "$needed" | grep -q "^$lib"; ok $? "does not link $lib"
done

# Every symbol, local ones too: the prober is not stripped in the build tree.
syms=$(nm "$bin" 2>&1 | awk 'NF == 3 { print $3 }')
echo "$syms" | grep -qx 'writer_apply_measure'; ok $? "carries the measurement writer (writer_apply_measure)"
echo "$syms" | grep -qx 'prober_source_foreach_endpoint'; ok $? "reads its targets from LMDB (prober_source_foreach_endpoint)"
compiler='^(policy_|writer_load_policy$|view_build$|geo_|yaml_)'
found=$(echo "$syms" | grep -E "$compiler" | tr '\n' ' ')
[ -z "$found" ]; ok $? "no policy compiler, policy load or geo symbol (found: ${found:-none})"

done_testing
