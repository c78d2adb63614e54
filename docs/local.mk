# Operator documentation, installed into $(docdir).
dist_doc_DATA += docs/architecture.md docs/install.md docs/policy.md docs/haltgslb-ctl.md \
	docs/runbook.md docs/prober.md docs/performance.md docs/replication.md \
	docs/security.md docs/syncd.md
