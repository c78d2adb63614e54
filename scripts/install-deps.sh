#!/usr/bin/env bash
# Install everything haltgslb needs to build, test and run its demo on
# Debian 12, from Debian's own packages. Idempotent; run as root.
set -euo pipefail

PACKAGES=(
	# build
	build-essential autoconf automake libtool pkg-config
	# fuzzing (./configure --enable-fuzzing, make fuzz): clang and libFuzzer
	clang libclang-rt-14-dev libfuzzer-14-dev
	# libraries (pkg-config names in configure.ac)
	libknot-dev liblmdb-dev libmaxminddb-dev libcurl4-openssl-dev libnghttp2-dev
	libyaml-dev libssl-dev liburcu-dev libc-ares-dev librabbitmq-dev
	# runtime and test tools
	knot knot-dnsutils lmdb-utils mmdb-bin libmaxmind-db-writer-perl
	# Knot's own mod-geoip: the comparison make bench-scale runs
	knot-module-geoip
	python3 python3-pytest python3-pytest-timeout python3-dnspython python3-cryptography
	iproute2 valgrind nginx-light openssl dnsperf procps
	# systemd-analyze security (the units' sandbox test)
	systemd
	# replication: the broker (tests run private nodes of it) and an AMQP client
	rabbitmq-server python3-pika
	# quality tooling (make lint, make format-check)
	cppcheck clang-format
	# Debian packages (scripts/build-debs.sh) and their checks
	dpkg-dev debhelper devscripts lintian man-db
	# deployment test: nspawn hosts from a debootstrap image, Ansible
	debootstrap debian-archive-keyring systemd-container openssh-client ansible ansible-lint
)

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps.sh: run as root (apt-get needs it)" >&2
	exit 1
fi

missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps.sh: all ${#PACKAGES[@]} packages already installed"
	exit 0
fi
echo "install-deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update
# policy-rc.d keeps the knot, nginx and rabbitmq-server packages from
# starting system services: the demo and the tests run their own instances.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get install -y --no-install-recommends "${PACKAGES[@]}"
