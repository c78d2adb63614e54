#!/usr/bin/env bash
# The README's demo command: install dependencies, build, and run the local
# demo (knotd + mod-haltgslb on 127.0.0.1 answering per client subnet, with
# failover). Run as root on Debian 12.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/install-deps.sh"
cd "$top"
[ -x configure ] || autoreconf -fi
mkdir -p build/demo
cd build/demo
[ -f Makefile ] || "$top/configure" -q
make -j"${JOBS:-2}" >/dev/null
make -j"${JOBS:-2}" demo-data >/dev/null
export top_srcdir="$top" top_builddir="$top/build/demo"
exec "$top/demo/run-demo.sh"
