#!/usr/bin/env bash
# mod-haltgslb links only what answering needs: the read side of
# libhaltgslb (store read txns, view, sel, geo, base). The policy compiler
# (libyaml, OpenSSL), the writer and the feed codec must never be loaded into knotd.
set -u
. "$top_srcdir/tests/tools/tap.sh"
so="$top_builddir/knot-module/.libs/haltgslb.so"

[ -f "$so" ]; ok $? "module built: $so"

needed=$(readelf -d "$so" 2>&1 | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
echo "$needed" | diag
echo "$needed" | grep -q '^liblmdb\.'; ok $? "links liblmdb (it reads LMDB)"
echo "$needed" | grep -q '^libmaxminddb\.'; ok $? "links libmaxminddb (it looks up clients)"
for lib in libyaml libcrypto libssl libcurl libnghttp2 librabbitmq; do
	! echo "$needed" | grep -q "^$lib"; ok $? "does not link $lib"
done

# Every symbol, local ones too (nm without -D): convenience libraries are
# linked whole into a module, so a write-side object listed in the module's
# LIBADD would show up here even though nothing calls it.
syms=$(nm "$so" 2>&1 | awk 'NF == 3 { print $3 }')
echo "$syms" | grep -qx 'knotd_mod_api'; ok $? "exports knotd_mod_api"
echo "$syms" | grep -qx 'sel_decide'; ok $? "carries the selection engine (sel_decide)"
echo "$syms" | grep -qx 'view_open'; ok $? "carries the view reader (view_open)"
echo "$syms" | grep -qx 'store_rtxn_begin'; ok $? "carries the store read side (store_rtxn_begin)"
# ASan builds add their own instrumentation symbols (__odr_asan.*, __asan_*).
dyn=$(nm -D --defined-only "$so" 2>&1 | awk 'NF == 3 { print $3 }' | grep -v -E '^(__odr_asan|__asan|__ubsan|__sancov)')
[ "$dyn" = "knotd_mod_api" ]; ok $? "knotd_mod_api is the only exported symbol (got: $(echo $dyn))"

write_side='^(policy_|writer_|feed_|view_build|view_patch_|view_id_hash|view_cell_from_measure|store_put$|store_del$|store_drop_all$|store_wget$|store_wtxn_|store_wforeach|yaml_|SHA256|EVP_)'
found=$(echo "$syms" | grep -E "$write_side" | tr '\n' ' ')
[ -z "$found" ]; ok $? "no write-side symbol in the module (found: ${found:-none})"

done_testing
