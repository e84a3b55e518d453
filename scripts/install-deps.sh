#!/bin/sh
# Install every Debian 12 package that building, testing and running the
# Orthros lab needs.  Idempotent: packages already present are left alone,
# and apt is only consulted when something is missing.
#
# usage: scripts/install-deps.sh [--dry-run]
set -eu

PKGS="
autoconf automake libtool pkg-config make gcc clang libclang-rt-14-dev
libqb-dev libyaml-dev libcmocka-dev zlib1g-dev libjson-c-dev libprotobuf-c-dev protobuf-c-compiler libfuse3-dev
pacemaker-dev libcorosync-common-dev libcmap-dev libcfg-dev libcpg-dev libquorum-dev libmnl-dev libxml2-dev
corosync pacemaker pacemaker-cli-utils crmsh resource-agents fence-agents
kexec-tools criu
qemu-system-x86 qemu-utils linux-image-amd64 linux-headers-amd64 linux-source-6.1 busybox-static
kmod cpio iproute2 procps stress-ng socat python3 libxml2-utils
"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	echo "install-deps: all packages present"
	exit 0
fi

echo "install-deps: installing:$missing"
[ "${1:-}" = "--dry-run" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: must run as root to install packages" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
