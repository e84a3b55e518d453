#!/bin/sh
# Failure-detection latency of the partition link, on the host clock.
#
#   panic-to-event: an NMI is injected into partition A over QMP (A boots
#     with unknown_nmi_panic, so the NMI panics it) at host time t0; the
#     host controller's peer on the link receives A's PANIC notice at t1.
#   hang-to-HEARTBEAT_LOST: A's QEMU is SIGSTOPped at t0; the host peer
#     (interval 10 ms, timeout 50 ms) reports HEARTBEAT_LOST at t1.
# Prints p50/p99 over TRIALS (default 50) of each.
# usage: bench/link-latency.sh [TRIALS]      (after scripts/run-tests built it)
set -eu
TRIALS=${1:-50}
top=$(cd "$(dirname "$0")/.." && pwd)
CTL=$top/_build/release/agent/orthrosctl
DBD=$top/_build/release/partition-mgr/orthros-doorbelld
KO=$top/_build/kmod/orthros.ko
for f in "$CTL" "$DBD" "$KO"; do [ -e "$f" ] || { echo "link-latency: $f missing; run scripts/run-tests first" >&2; exit 1; }; done
D=$(mktemp -d /tmp/orthros-bench.XXXXXX)
pids=""
cleanup() { for p in $pids; do kill -CONT "$p" 2>/dev/null; kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$D"; }
trap cleanup EXIT INT TERM
printf 'KO=%s\nCTL=%s\n' "$KO" "$CTL" >"$D/env"

"$DBD" --socket "$D/db.sock" --shm "$D/shm" 2>"$D/server.log" &
pids="$pids $!"
for _ in $(seq 50); do [ -S "$D/db.sock" ] && break; sleep 0.1; done
"$CTL" link --ivshmem "$D/db.sock" --role controller --interval 10ms --timeout 50ms \
	events >"$D/host.events" 2>&1 &
pids="$pids $!"
sleep 0.3

# wait until a line after $1 matches $2 in host.events; print its timestamp
event_after() {
	i=0
	while [ $i -lt 300 ]; do
		t=$(tail -n +"$(($1 + 1))" "$D/host.events" | grep -m1 -- "$2" | cut -d' ' -f1)
		[ -n "$t" ] && { echo "$t"; return 0; }
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
boot() {	# name -> qemu_pid
	rm -f "$D/$1.ready"
	m=$(wc -l <"$D/host.events")
	"$top/scripts/guest/run-partition" --name "$1" --gen 1 --role 1 --rw "$D" \
		--doorbell "$D/db.sock" --qmp "$D/$1.qmp" --console "$D/$1.console" \
		--append unknown_nmi_panic --run "$top/tests/e2e/partition-payload.sh" 2>/dev/null &
	qemu_pid=$!
	pids="$pids $qemu_pid"
	event_after "$m" "PEER_UP" >/dev/null || { echo "link-latency: $1 did not come up" >&2; exit 1; }
	sleep 0.5	# let it settle into steady beating
}
stats() {	# label file(ns per line)
	sort -n "$2" | awk -v label="$1" '
		{ v[NR] = $1 / 1e6 }
		END {
			p50 = v[int((NR - 1) * 0.50) + 1]; p99 = v[int((NR - 1) * 0.99) + 1]
			printf "%-26s n=%-3d p50 %8.3f ms   p99 %8.3f ms   min %8.3f   max %8.3f\n", label, NR, p50, p99, v[1], v[NR]
		}'
}

: >"$D/panic.ns"
: >"$D/hang.ns"
i=0
while [ $i -lt "$TRIALS" ]; do
	i=$((i + 1))
	boot "p$i"
	# hang: stop, wait for the loss, resume, wait for the return
	m=$(wc -l <"$D/host.events")
	t0=$(python3 "$top/bench/trigger.py" stop "$qemu_pid")
	t1=$(event_after "$m" "HEARTBEAT_LOST") || { echo "no HEARTBEAT_LOST in trial $i" >&2; exit 1; }
	echo $((t1 - t0)) >>"$D/hang.ns"
	m=$(wc -l <"$D/host.events")
	python3 "$top/bench/trigger.py" cont "$qemu_pid" >/dev/null
	event_after "$m" "HEARTBEAT_BACK" >/dev/null || true
	sleep 0.3
	# panic
	m=$(wc -l <"$D/host.events")
	t0=$(python3 "$top/bench/trigger.py" nmi "$D/p$i.qmp")
	t1=$(event_after "$m" "PANIC") || { echo "no PANIC in trial $i" >&2; tail -5 "$D/p$i.console" >&2; exit 1; }
	echo $((t1 - t0)) >>"$D/panic.ns"
	wait "$qemu_pid" 2>/dev/null || true
	printf '.' >&2
done
echo >&2
echo "orthros link, $TRIALS trials each, host clock (guests under $(grep -q . /dev/null; echo TCG)):"
stats "panic -> PANIC notice" "$D/panic.ns"
stats "hang -> HEARTBEAT_LOST" "$D/hang.ns"
echo "hang bound: timeout 50 ms + interval 10 ms = 60 ms"
echo "corosync token-loss baseline on the same guests: not measured by this script (pending)"
