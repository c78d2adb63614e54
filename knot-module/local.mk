# mod-haltgslb (knotd query module): haltgslb.so, installed into knotd's module
# dir. Only the read side of libhaltgslb is linked in (store read txns, view,
# sel, geo: PIC convenience libraries, which libtool links whole into a
# module, so nothing of the write side may be listed here); their symbols are
# kept out of the .so's dynamic table so only knotd_mod_api is exported. knotd's own symbols resolve at dlopen time: never link knotd.
moduledir = $(module_dir)
module_LTLIBRARIES = knot-module/haltgslb.la

knot_module_haltgslb_la_SOURCES = \
	knot-module/haltgslb.c \
	knot-module/module_ctx.h \
	knot-module/module_answer.c knot-module/module_answer.h \
	knot-module/module_client.c knot-module/module_client.h \
	knot-module/module_db.c knot-module/module_db.h \
	knot-module/module_keys.c knot-module/module_keys.h \
	knot-module/module_query.c knot-module/module_query.h \
	knot-module/module_rrsig.c knot-module/module_rrsig.h \
	knot-module/module_sign.c knot-module/module_sign.h \
	knot-module/module_stats.c knot-module/module_stats.h
knot_module_haltgslb_la_CFLAGS = $(AM_CFLAGS) $(lmdb_CFLAGS) $(libmaxminddb_CFLAGS) $(libknot_CFLAGS) $(libdnssec_CFLAGS) $(knotd_CFLAGS) $(liburcu_CFLAGS) \
	-fvisibility=hidden -pthread
# nodelete: the module installs a SIGBUS handler (shared/store/store_guard.h);
# a handler installed after it may chain to it, so its code must stay mapped
# even when a reload drops the module from the configuration.
knot_module_haltgslb_la_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version -shared \
	-pthread -Wl,--exclude-libs,ALL -Wl,-z,nodelete
knot_module_haltgslb_la_LIBADD = $(HG_READ_LIBS) $(HG_READ_EXT_LIBS) $(libknot_LIBS) $(libdnssec_LIBS) $(liburcu_LIBS)

# Integration tests (pytest + a real knotd), the benchmark and the demo.
EXTRA_DIST += tests/integration/conftest.py tests/integration/lmdb_bump.py \
	tests/integration/policy.yaml tests/integration/valgrind.supp \
	tests/integration/test_answers.py tests/integration/test_dnssec.py \
	tests/integration/test_failopen.py tests/integration/test_failover.py \
	tests/integration/test_reload.py tests/integration/test_robustness.py \
	tests/integration/test_e2e_prober.py tests/integration/policy_e2e.yaml \
	tests/integration/test_dnssec_lifetime.py tests/integration/test_ecs_mapped.py \
	tests/integration/test_map_growth.py \
	tests/integration/test_damaged_db.py tests/integration/test_db_permissions.py \
	tests/integration/test_dnssec_rollover.py tests/integration/test_ecs_strict.py \
	tests/bench/bench_module.sh demo/run-demo.sh demo/policy.yaml demo/gslb.example.net.zone
dist_doc_DATA += docs/mod-haltgslb.md

# knotd loads the .so; the libtool archive next to it would only confuse
# operators listing the module directory.
install-data-hook: install-module-drop-la
install-module-drop-la:
	rm -f "$(DESTDIR)$(moduledir)/haltgslb.la"
.PHONY: install-module-drop-la
# ...and without the archive libtool's uninstall no longer knows the .so.
uninstall-hook: uninstall-module-so
uninstall-module-so:
	rm -f "$(DESTDIR)$(moduledir)/haltgslb.so"
.PHONY: uninstall-module-so
