#!/bin/sh
# Failure detection: the Orthros link against corosync's token loss, side by
# side, on the same pair of partitions in the same run, on the host clock.
#
# Each trial boots partitions A (generation 1, Active) and B (generation 2,
# Backup), both running orthros.ko and a corosync node (token 300 ms) on a
# point-to-point link, plus the host controller as a peer on the doorbell.
#   panic trial: an NMI is injected into A over QMP at t0 (A boots with
#     unknown_nmi_panic);
#   hang trial:  A's QEMU is SIGSTOPped at t0 (vCPUs frozen, no panic).
# Measured from t0, host clock:
#   host peer   the host controller's PANIC / HEARTBEAT_LOST event (its own
#               timestamp: the doorbell wakes it, no polling)
#   B orthros   B's PANIC / HEARTBEAT_LOST line appearing in the shared dir
#   B corosync  B's corosync membership change appearing in the shared dir
# The last two travel the same path (9p file, polled every 2 ms), so
# their difference is the detection difference.
# Kernel to kernel (panic trials): A's panic notifier stamps its record in
# A's clock, B's interrupt handler stamps the PANIC event in B's clock; a
# second host peer logs every heartbeat of both (bench/clock-map.py maps
# both clocks onto the host's), which gives notifier-to-event latency
# without the QMP, NMI and 9p legs.
# usage: bench/link-latency.sh [TRIALS]   (default 50; after scripts/run-tests)
set -eu
TRIALS=${1:-50}
case "$TRIALS" in --report) ;; *[!0-9]*|"") echo "usage: bench/link-latency.sh [TRIALS] | --report DIR" >&2; exit 2 ;; esac
top=$(cd "$(dirname "$0")/.." && pwd)
CTL=$top/_build/release/agent/orthrosctl
DBD=$top/_build/release/partition-mgr/orthros-doorbelld
KO=$top/_build/kmod/orthros.ko
TIMEOUT_US=${ORTHROS_TIMEOUT_US:-50000}
for f in "$CTL" "$DBD" "$KO"; do [ -e "$f" ] || { echo "link-latency: $f missing; run scripts/run-tests first" >&2; exit 1; }; done
D=$(mktemp -d /tmp/orthros-bench.XXXXXX)
pids=""
cleanup() { for p in $pids; do kill -CONT "$p" 2>/dev/null; kill "$p" 2>/dev/null; done; wait 2>/dev/null; [ -n "${ORTHROS_KEEP:-}" ] || rm -rf "$D"; }
trap cleanup EXIT INT TERM
printf 'KO=%s\nCTL=%s\nTIMEOUT_US=%s\n' "$KO" "$CTL" "$TIMEOUT_US" >"$D/env"

"$DBD" --socket "$D/db.sock" --shm "$D/shm" 2>"$D/server.log" &
pids="$pids $!"
for _ in $(seq 50); do [ -S "$D/db.sock" ] && break; sleep 0.1; done
# The host peer gets the partitions' priority: a starved watcher measures
# its own scheduling, not the link.
nice -n -10 "$CTL" link --ivshmem "$D/db.sock" --role controller --interval 10ms \
	--timeout "${TIMEOUT_US}us" events >"$D/host.events" 2>&1 &
pids="$pids $!"
"$CTL" link --ivshmem "$D/db.sock" events --beats >"$D/host.beats" 2>&1 &
pids="$pids $!"
sleep 0.3

boot() {	# name gen role ip lport rport
	rm -f "$1.ready"
	"$top/scripts/guest/run-partition" --name "$1" --gen "$2" --role "$3" --rw "$D" \
		--doorbell "$D/db.sock" --qmp "$D/$1.qmp" --console "$D/$1.console" \
		--net "$5:$6" --append "unknown_nmi_panic orthros.ip=$4" --nice -10 \
		--run "$top/bench/partition-cluster.sh" 2>/dev/null &
	qemu_pid=$!
	pids="$pids $qemu_pid"
}
ready() {	# (sh has no locals: its counter must not be the trial loop's)
	w=0
	while [ ! -f "$D/$1.ready" ]; do
		w=$((w + 1))
		if [ $w -gt 1200 ] || [ -s "$D/$1.failed" ]; then
			echo "link-latency: partition $1 did not come up" >&2
			cat "$D/$1.failed" >&2 2>/dev/null || tail -5 "$D/$1.console" >&2
			exit 1
		fi
		sleep 0.1
	done
}
lines() { wc -l <"$1" 2>/dev/null || echo 0; }

for f in host.panic b.panic c.panic k.panic host.hang b.hang c.hang; do : >"$D/$f"; done
trial() {	# kind
	rm -f "$D/a.ready" "$D/b.ready" "$D/a.events" "$D/b.events" "$D/b.members" "$D/a.info"
	boot a 1 1 192.0.2.1 40001 40002
	a_pid=$qemu_pid
	boot b 2 2 192.0.2.2 40002 40001
	b_pid=$qemu_pid
	ready a
	ready b
	# A's own slot (slots of earlier trials' dead partitions still hold
	# their last records, which B also reports)
	A=$(sed -n 's/^peer \([0-9]*\),.*/\1/p' "$D/a.info")
	B=$(sed -n 's/^peer \([0-9]*\),.*/\1/p' "$D/b.info")
	sleep 1	# steady state
	mh=$(lines "$D/host.events")
	mb=$(lines "$D/b.events")
	mm=$(lines "$D/b.members")
	sb=$(lines "$D/host.beats")
	if [ "$1" = panic ]; then
		t0=$(python3 "$top/bench/trigger.py" nmi "$D/a.qmp")
		ev=PANIC
	else
		t0=$(python3 "$top/bench/trigger.py" stop "$a_pid")
		ev=HEARTBEAT_LOST
	fi
	set -- "$1" $(python3 "$top/bench/watch-files.py" 20 \
		"$mh:$ev peer=$A :$D/host.events" "$mb:$ev peer=$A :$D/b.events" \
		"$mm:^votes 1\$:$D/b.members")
	th=$(tail -n +"$((mh + 1))" "$D/host.events" | grep -m1 "$ev peer=$A " | cut -d' ' -f1)
	if [ -n "$th" ] && [ "$3" != timeout ] && [ "$4" != timeout ]; then
		echo $((th - t0)) >>"$D/host.$1"
		echo $(($3 - t0)) >>"$D/b.$1"
		echo $(($4 - t0)) >>"$D/c.$1"
		if [ "$1" = panic ]; then
			bl=$(tail -n +"$((mb + 1))" "$D/b.events" | grep -m1 "PANIC peer=$A ")
			k=$(python3 "$top/bench/clock-map.py" "$D/host.beats" "$((sb > 3000 ? sb - 3000 : 0))" \
				"$A" "$B" "$(echo "$bl" | sed 's/.* peer_ts=\([0-9]*\).*/\1/')" "${bl%% *}")
			[ "$k" != none ] && echo "$k" >>"$D/k.panic"
		fi
	else
		echo "link-latency: $1 trial missed an event (host=${th:-none} B=$3 corosync=$4)" >&2
		misses=$((misses + 1))
	fi
	{ echo "== $1 A=$A B=$B t0=$t0"; cat "$D/b.events"; } >>"$D/b.all"
	kill -CONT "$a_pid" 2>/dev/null || true
	kill "$a_pid" "$b_pid" 2>/dev/null || true
	wait "$a_pid" "$b_pid" 2>/dev/null || true
}
stats() {	# label file
	sort -n "$2" | awk -v label="$1" '
		{ v[NR] = $1 / 1e6 }
		END {
			printf "  %-32s n=%-3d p50 %9.3f ms  p99 %9.3f ms  min %9.3f  max %9.3f\n", label, NR,
				v[int((NR - 1) * 0.50) + 1], v[int((NR - 1) * 0.99) + 1], v[1], v[NR]
		}'
}
p50() { sort -n "$1" | awk '{ v[NR] = $1 } END { print v[int((NR - 1) * 0.5) + 1] }'; }

report() {
echo "Failure detection, $(wc -l <"$D/host.panic") panic and $(wc -l <"$D/host.hang") hang trials, host clock; partitions under TCG;"
echo "orthros heartbeat 10 ms / timeout $((TIMEOUT_US / 1000)) ms, corosync token 300 ms (knet):"
echo "kernel panic (NMI into A):"
stats "host peer: PANIC notice" "$D/host.panic"
stats "B: orthros PANIC (via 9p file)" "$D/b.panic"
stats "B: corosync member lost (9p)" "$D/c.panic"
stats "A's notifier -> B's /dev/orthros" "$D/k.panic"
echo "  (kernel to kernel: clocks mapped through both partitions' heartbeats at the host)"
echo "hang (A's vCPUs stopped):"
stats "host peer: HEARTBEAT_LOST" "$D/host.hang"
stats "B: orthros HEARTBEAT_LOST (9p)" "$D/b.hang"
stats "B: corosync member lost (9p)" "$D/c.hang"
echo "ratio corosync / orthros at p50, same trials, same path to the host:"
echo "  panic: $(awk -v c="$(p50 "$D/c.panic")" -v o="$(p50 "$D/b.panic")" 'BEGIN { printf "%.1fx", c / o }')  (host peer: $(awk -v c="$(p50 "$D/c.panic")" -v o="$(p50 "$D/host.panic")" 'BEGIN { printf "%.1fx", c / o }'))"
echo "  panic kernel to kernel vs corosync: $(awk -v c="$(p50 "$D/c.panic")" -v o="$(p50 "$D/k.panic")" 'BEGIN { printf "%.0fx", c / o }')"
echo "  hang:  $(awk -v c="$(p50 "$D/c.hang")" -v o="$(p50 "$D/b.hang")" 'BEGIN { printf "%.1fx", c / o }')"
echo "hang bound: timeout $((TIMEOUT_US / 1000)) ms + interval 10 ms"
echo "trials with a missed event (excluded above): $misses"
}

# --report DIR: print the figures of a kept run (ORTHROS_KEEP=1) again.
if [ "${1:-}" = --report ]; then
	D=$2
	misses="(not recorded)"
	trap - EXIT INT TERM
	report
	exit 0
fi

misses=0
i=0
while [ $i -lt "$TRIALS" ]; do
	i=$((i + 1))
	trial panic
	trial hang
	printf '.' >&2
done
echo >&2
report
