#!/bin/sh
# Bench payload, inside a partition: orthros.ko plus a real corosync node
# (token $TOKEN ms, default 300) on the point-to-point link to the other partition, each
# reporting what it sees in the shared directory:
#   NAME.events   orthros link events (orthrosctl link events)
#   NAME.members  "votes N" whenever corosync's vote count changes
#                 (corosync-quorumtool -m reports each membership change)
set -u
arg() { sed -n "s/.*orthros\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
name=$(arg name)
D=$(arg rw)
ip=$(arg ip)
. "$D/env"
insmod "$KO" gen="$(arg gen)" role="$(arg role)" interval_us=10000 timeout_us="$TIMEOUT_US" ||
	{ echo insmod >"$D/$name.failed"; exit 1; }
"$CTL" link events >"$D/$name.events" 2>&1 &
"$CTL" link info >"$D/$name.info" 2>&1

modprobe virtio_net
ip link set lo up
ip link set eth0 up
ip addr add "$ip/24" dev eth0
mkdir -p /etc/corosync /var/log/corosync
cat >/etc/corosync/corosync.conf <<CONF
totem {
	version: 2
	cluster_name: orthros-bench
	transport: knet
	token: ${TOKEN:-300}
	crypto_cipher: none
	crypto_hash: none
	interface {
		linknumber: 0
		knet_ping_interval: 200
		knet_ping_timeout: 1000
	}
}
nodelist {
	node {
		ring0_addr: 192.0.2.1
		nodeid: 1
	}
	node {
		ring0_addr: 192.0.2.2
		nodeid: 2
	}
}
quorum {
	provider: corosync_votequorum
	two_node: 1
}
logging {
	to_stderr: yes
	to_syslog: no
}
CONF
corosync -f >/run/corosync.log 2>&1 &
# A deadline in time, not in tries: a try forks a tool, and under TCG that
# alone takes longer than the sleep.  It ends before the bench gives up on
# us, so the bench can show why.
deadline=$(($(date +%s) + 60))
until corosync-quorumtool -s 2>/dev/null | grep -q '^Total votes: *2'; do
	if [ "$(date +%s)" -gt $deadline ]; then
		{ corosync-quorumtool -s; corosync-cfgtool -s; cat /run/corosync.log; } >"$D/$name.failed" 2>&1
		exit 1
	fi
	sleep 0.2
done
# One long-lived monitor, not a fork per sample: a polling loop of
# short-lived tools saturates a TCG vCPU and delays everything else in it.
stdbuf -oL corosync-quorumtool -m 2>/dev/null |
	awk '/^Total votes:/ { if ($3 != prev) { print "votes " $3; fflush() } prev = $3 }' \
	>"$D/$name.members" 2>&1 &
sleep 0.5
touch "$D/$name.ready"
# Commands from the bench: "stress SECONDS" loads this partition's vCPU.
while :; do
	if [ -f "$D/$name.cmd" ]; then
		cmd=$(cat "$D/$name.cmd")
		rm -f "$D/$name.cmd"
		case "$cmd" in
		stress\ *) nice -n 19 stress-ng --cpu 1 --timeout "${cmd#stress }" -q & ;;
		esac
	fi
	sleep 0.5
done
