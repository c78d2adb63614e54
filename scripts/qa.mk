# Quality tooling (gdnsd's qa/ in spirit): static analysis and formatting.
#   make lint          cppcheck over every C file (scripts/lint.sh)
#   make format-check  every C file matches .clang-format
#   make format        reformat every C file in place
lint:
	bash $(top_srcdir)/scripts/lint.sh
format-check:
	bash $(top_srcdir)/scripts/check-format.sh
format:
	bash $(top_srcdir)/scripts/check-format.sh --fix
.PHONY: lint format-check format
EXTRA_DIST += .clang-format scripts/lint.sh scripts/check-format.sh scripts/qa.mk
