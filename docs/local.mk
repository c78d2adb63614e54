# Operator documentation, installed into $(docdir).
dist_doc_DATA += docs/architecture.md docs/install.md docs/policy.md docs/haltgslb-ctl.md \
	docs/runbook.md docs/prober.md docs/performance.md docs/replication.md \
	docs/security.md docs/syncd.md

# Man pages of every binary: hand-written roff (nothing to generate them at
# build time); keep them in step with the --help texts.
dist_man_MANS += docs/man/haltgslb-ctl.1 docs/man/haltgslb-dump.1 docs/man/haltgslb-prober.8 \
	docs/man/haltgslb-syncd.8
