#!/bin/sh
# Failure detection: the Orthros link against corosync's token loss, side by
# side, on the same pair of partitions in the same run, on the host clock.
#
# Each trial boots partitions A (generation 1, Active) and B (generation 2,
# Backup), both running orthros.ko and a corosync node (token 300 ms) on a
# point-to-point link, plus the host controller as a peer on the doorbell,
# and measures two failures of A on that one boot:
#   hang:  A's QEMU is SIGSTOPped at t0 (vCPUs frozen, no panic); then it
#          is resumed, and the trial waits until B and the host have seen
#          A's heartbeat come back and corosync has both votes again;
#   panic: an NMI is injected into A over QMP at t0 (A boots with
#          unknown_nmi_panic).
# Measured from t0, host clock:
#   host peer   the host controller's PANIC / HEARTBEAT_LOST event (its own
#               timestamp: the doorbell wakes it, no polling)
#   B orthros   B's PANIC / HEARTBEAT_LOST line appearing in the shared dir
#   B corosync  B's corosync membership change appearing in the shared dir
# The last two travel the same path (9p file, polled every 2 ms), so
# their difference is the detection difference.
# Kernel to kernel (panic): A's panic notifier stamps its record in A's
# clock, B's interrupt handler stamps the PANIC event in B's clock; a
# second host peer logs every heartbeat of both (bench/clock-map.py maps
# both clocks onto the host's), which gives notifier-to-event latency
# without the QMP, NMI and 9p legs.
# Trials run in host CPU layouts, alternating, so all are measured in the
# same run:
#   shared    every QEMU and host process may run on either host core
#             (two TCG partitions and the host compete for two cores)
#   own-core  B's QEMU runs on host CPU 1 and everything the bench starts
#             on CPU 0: the BackupOS owns its core, as it does on
#             partitioned hardware (seed 001: one core for the Backup)
#   poll      own-core, and B's kernel idles by polling (idle=poll): the
#             Backup's core does nothing but watch, so a doorbell finds its
#             vCPU running instead of halted and waiting to be woken
#   realtime  own-core, and B's QEMU threads are SCHED_FIFO (main loop,
#             which takes the doorbell, above the vCPU): nothing else on
#             the host delays the Backup, as on a real-time KVM host
# The host's idle CPUs are kept polling for the run (PM QoS: 0 written to
# /dev/cpu_dma_latency and held, as tuned's latency-performance profile
# does): this host is itself a VM whose idle CPUs halt at once
# (haltpoll, guest_halt_poll_ns=0), and waking a halted CPU goes through
# the outer hypervisor.  ORTHROS_PM_QOS=off measures without it.
# usage: bench/link-latency.sh [TRIALS]   (default 50; after scripts/run-tests)
#   LAYOUTS="shared own-core" selects the layouts (default "own-core poll").
set -eu
TRIALS=${1:-50}
case "$TRIALS" in --report) ;; *[!0-9]*|"") echo "usage: bench/link-latency.sh [TRIALS] | --report DIR" >&2; exit 2 ;; esac
top=$(cd "$(dirname "$0")/.." && pwd)
CTL=$top/_build/release/agent/orthrosctl
DBD=$top/_build/release/partition-mgr/orthros-doorbelld
KO=$top/_build/kmod/orthros.ko
TIMEOUT_US=${ORTHROS_TIMEOUT_US:-50000}
setup() {
	for f in "$CTL" "$DBD" "$KO"; do [ -e "$f" ] || { echo "link-latency: $f missing; run scripts/run-tests first" >&2; exit 1; }; done
	D=$(mktemp -d /tmp/orthros-bench.XXXXXX)
	pids=""
	cleanup() { for p in $pids; do kill -CONT "$p" 2>/dev/null; kill "$p" 2>/dev/null; done; wait 2>/dev/null; [ -n "${ORTHROS_KEEP:-}" ] || rm -rf "$D"; }
	trap cleanup EXIT INT TERM
	printf 'KO=%s\nCTL=%s\nTIMEOUT_US=%s\n' "$KO" "$CTL" "$TIMEOUT_US" >"$D/env"

	pm_qos=none
	if [ "${ORTHROS_PM_QOS:-on}" != off ]; then
		python3 -c 'import os, struct, time
fd = os.open("/dev/cpu_dma_latency", os.O_WRONLY)
os.write(fd, struct.pack("i", 0))
print("held", flush=True)
time.sleep(10 ** 9)' >"$D/pmqos" 2>&1 &
		pids="$pids $!"
		sleep 0.5
		grep -q held "$D/pmqos" && pm_qos="cpu_dma_latency 0 held (idle host CPUs poll)" ||
			{ echo "link-latency: cannot hold /dev/cpu_dma_latency: $(cat "$D/pmqos")" >&2; exit 1; }
	fi
	"$DBD" --socket "$D/db.sock" --shm "$D/shm" 2>"$D/server.log" &
	pids="$pids $!"
	for _ in $(seq 50); do [ -S "$D/db.sock" ] && break; sleep 0.1; done
	# The host peer gets the partitions' priority: a starved watcher measures
	# its own scheduling, not the link.
	nice -n -10 "$CTL" link --ivshmem "$D/db.sock" --role controller --interval 10ms \
		--timeout "${TIMEOUT_US}us" events >"$D/host.events" 2>&1 &
	peer_pids=$!
	"$CTL" link --ivshmem "$D/db.sock" events --beats >"$D/host.beats" 2>&1 &
	peer_pids="$peer_pids $!"
	pids="$pids $peer_pids"
	sleep 0.3
}

boot() {	# name gen role ip lport rport host-cpus extra-kernel-args
	rm -f "$1.ready"
	"$top/scripts/guest/run-partition" --name "$1" --gen "$2" --role "$3" --rw "$D" ${7:+--cpus "$7"} \
		--doorbell "$D/db.sock" --qmp "$D/$1.qmp" --console "$D/$1.console" \
		--net "$5:$6" --append "unknown_nmi_panic orthros.ip=$4${8:+ $8}" --nice -10 \
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
			{ echo "== $1"; cat "$D/$1.failed" 2>/dev/null || tail -5 "$D/$1.console"; } >>"$D/boot-failures.log"
			return 1
		fi
		sleep 0.1
	done
}
lines() { wc -l <"$1" 2>/dev/null || echo 0; }

LAYOUTS=${LAYOUTS:-own-core poll}
for l in $LAYOUTS; do
	case "$l" in shared|own-core|poll|realtime) ;; *) echo "link-latency: unknown layout $l" >&2; exit 2 ;; esac
done
results() {
	for l in $LAYOUTS; do
		for f in host b c k; do : >"$D/$f.panic-$l"; done
		for f in host b c; do : >"$D/$f.hang-$l"; done
	done
}
# Where the bench's own processes (host peers, watchers) may run.
place() {	# cpu list
	taskset -p -c "$1" $$ >/dev/null
	for p in $peer_pids; do taskset -a -p -c "$1" "$p" >/dev/null; done
}
# QEMU's main loop (the process's first thread) turns the doorbell's
# eventfd into an MSI; the vCPU threads run the guest.  FIFO priorities
# let a doorbell preempt whatever runs, and the main loop the vCPU.
realtime() {	# qemu pid
	for t in /proc/"$1"/task/*; do
		tid=${t##*/}
		if [ "$tid" = "$1" ]; then
			chrt -f -p 20 "$tid"
		elif grep -q '^CPU ' "$t/comm"; then
			chrt -f -p 10 "$tid"
		fi
	done
}
# One failure of A: arm the watcher for EV, fire the trigger (its output is
# t0), record the three times under SFX.  Returns 1 when an event was missed.
measure() {	# sfx ev trigger-args...
	sfx=$1 ev=$2
	shift 2
	rm -f "$D/watch.armed"
	python3 "$top/bench/watch-files.py" --armed "$D/watch.armed" 20 \
		"$mh:$ev peer=$A :$D/host.events" "$mb:$ev peer=$A :$D/b.events" \
		"$mm:^votes 1\$:$D/b.members" >"$D/watch.out" &
	wpid=$!
	while [ ! -e "$D/watch.armed" ] && kill -0 "$wpid" 2>/dev/null; do sleep 0.01; done
	t0=$(python3 "$top/bench/trigger.py" "$@")
	wait "$wpid"
	set -- $(cat "$D/watch.out")
	th=$(tail -n +"$((mh + 1))" "$D/host.events" | grep -m1 "$ev peer=$A " | cut -d' ' -f1)
	if [ -n "$th" ] && [ "$2" != timeout ] && [ "$3" != timeout ]; then
		echo $((th - t0)) >>"$D/host.$sfx"
		echo $(($2 - t0)) >>"$D/b.$sfx"
		echo $(($3 - t0)) >>"$D/c.$sfx"
		return 0
	fi
	echo "link-latency: $sfx trial missed an event (host=${th:-none} B=$2 corosync=$3)" >&2
	misses=$((misses + 1))
	return 1
}
marks() {	# where each log stands before a failure
	mh=$(lines "$D/host.events")
	mb=$(lines "$D/b.events")
	mm=$(lines "$D/b.members")
	sb=$(lines "$D/host.beats")
}
trial() {	# layout
	rm -f "$D/a.failed" "$D/b.failed" "$D/a.ready" "$D/b.ready" "$D/a.events" "$D/b.events" "$D/b.members" "$D/a.info"
	cpu_a= cpu_b= args_b=
	case "$1" in own-core|poll|realtime)
		cpu_a=0 cpu_b=1
		place 0
	esac
	[ "$1" = poll ] && args_b=idle=poll
	boot a 1 1 192.0.2.1 40001 40002 "$cpu_a" ""
	a_pid=$qemu_pid
	boot b 2 2 192.0.2.2 40002 40001 "$cpu_b" "$args_b"
	b_pid=$qemu_pid
	if ! ready a || ! ready b; then
		stop_partitions
		return 2
	fi
	[ "$1" = realtime ] && realtime "$b_pid"
	# A's own slot (slots of earlier trials' dead partitions still hold
	# their last records, which B also reports)
	A=$(sed -n 's/^peer \([0-9]*\),.*/\1/p' "$D/a.info")
	B=$(sed -n 's/^peer \([0-9]*\),.*/\1/p' "$D/b.info")
	sleep 1	# steady state

	# The hang, then A resumed: the same boot serves the panic after it.
	marks
	up=no
	if measure "hang-$1" HEARTBEAT_LOST stop "$a_pid"; then
		marks
		python3 "$top/bench/trigger.py" cont "$a_pid" >/dev/null
		set -- "$1" $(python3 "$top/bench/watch-files.py" 30 \
			"$mh:HEARTBEAT_BACK peer=$A :$D/host.events" "$mb:HEARTBEAT_BACK peer=$A :$D/b.events" \
			"$mm:^votes 2\$:$D/b.members")
		case "$2 $3 $4" in *timeout*)
			echo "link-latency: A did not come back after the hang (host=$2 B=$3 corosync=$4)" >&2 ;;
		*) up=yes ;; esac
	fi
	if [ $up = yes ]; then
		# steady state again; >= 100 beats of A after the resume for
		# clock-map.py (A's clock is not trusted across the stop)
		sr=$(lines "$D/host.beats")
		sleep 1.5
		marks
		if measure "panic-$1" PANIC nmi "$D/a.qmp"; then
			bl=$(tail -n +"$((mb + 1))" "$D/b.events" | grep -m1 "PANIC peer=$A ")
			k=$(python3 "$top/bench/clock-map.py" "$D/host.beats" "$sr" \
				"$A" "$B" "$(echo "$bl" | sed 's/.* peer_ts=\([0-9]*\).*/\1/')" "${bl%% *}")
			[ "$k" != none ] && echo "$k" >>"$D/k.panic-$1"
		fi
	fi
	{ echo "== $1 A=$A B=$B t0=$t0"; cat "$D/b.events"; } >>"$D/b.all"
	stop_partitions
}
stop_partitions() {
	kill -CONT "$a_pid" 2>/dev/null || true
	kill "$a_pid" "$b_pid" 2>/dev/null || true
	wait "$a_pid" "$b_pid" 2>/dev/null || true
	place 0-$(($(nproc) - 1))
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
set -- $(cd "$D" && ls host.panic-* 2>/dev/null | sed 's/^host\.panic-//')
n=0 h=0
for l; do
	n=$((n + $(wc -l <"$D/host.panic-$l")))
	h=$((h + $(cat "$D/host.hang-$l" 2>/dev/null | wc -l)))
done
echo "Failure detection, $n panic and $h hang trials, host clock; partitions under TCG;"
echo "orthros heartbeat 10 ms / timeout $((TIMEOUT_US / 1000)) ms, corosync token 300 ms (knet);"
echo "host PM QoS: ${pm_qos:-(not recorded)}:"
for l; do
	echo "host CPU layout $l:"
	echo " kernel panic (NMI into A):"
	stats "host peer: PANIC notice" "$D/host.panic-$l"
	stats "B: orthros PANIC (via 9p file)" "$D/b.panic-$l"
	stats "B: corosync member lost (9p)" "$D/c.panic-$l"
	stats "A's notifier -> B's /dev/orthros" "$D/k.panic-$l"
	echo "  (kernel to kernel: clocks mapped through both partitions' heartbeats at the host)"
	[ -s "$D/host.hang-$l" ] || continue
	echo " hang (A's vCPUs stopped):"
	stats "host peer: HEARTBEAT_LOST" "$D/host.hang-$l"
	stats "B: orthros HEARTBEAT_LOST (9p)" "$D/b.hang-$l"
	stats "B: corosync member lost (9p)" "$D/c.hang-$l"
done
echo "ratio corosync / orthros at p50, same trials, same path to the host:"
for l; do
	echo "  panic ($l): $(ratio "$D/c.panic-$l" "$D/b.panic-$l")  (host peer: $(ratio "$D/c.panic-$l" "$D/host.panic-$l"); kernel to kernel: $(ratio "$D/c.panic-$l" "$D/k.panic-$l"))"
	[ -s "$D/host.hang-$l" ] && echo "  hang ($l): $(ratio "$D/c.hang-$l" "$D/b.hang-$l")  (host peer: $(ratio "$D/c.hang-$l" "$D/host.hang-$l"))"
done
bound=$((TIMEOUT_US / 1000 + 10))
echo "hang bound: timeout $((TIMEOUT_US / 1000)) ms + interval 10 ms = $bound ms;" \
	"host peer over it: $(cat "$D"/host.hang-* 2>/dev/null | awk -v b="$bound" '$1 / 1e6 > b || $1 < 0 { n++ } END { print n + 0 }')" \
	"of $(cat "$D"/host.hang-* 2>/dev/null | wc -l)"
echo "targets: kernel to kernel p50 < 0.5 ms, p99 < 5 ms, >= 100x faster than corosync's member loss"
echo "trials with a missed event (excluded above): $misses"
echo "boots retried because the corosync pair never formed: ${boot_failures:-(not recorded)}"
}
ratio() {	# slower faster: their p50s' ratio
	awk -v c="$(p50 "$1")" -v o="$(p50 "$2")" 'BEGIN { if (o > 0) printf "%.1fx", c / o; else print "n/a" }'
}

# --report DIR: print the figures of a kept run (ORTHROS_KEEP=1) again.
if [ "${1:-}" = --report ]; then
	[ -d "${2:-}" ] || { echo "usage: bench/link-latency.sh --report DIR" >&2; exit 2; }
	D=$2
	misses="(not recorded)"
	pm_qos="(not recorded)"
	report
	exit 0
fi

setup
results
misses=0
boot_failures=0
i=0
while [ $i -lt "$TRIALS" ]; do
	i=$((i + 1))
	for l in $LAYOUTS; do
		tries=0
		until trial "$l"; do
			boot_failures=$((boot_failures + 1))
			tries=$((tries + 1))
			[ $tries -lt 3 ] || { echo "link-latency: 3 boots in a row failed; see $D/boot-failures.log" >&2; ORTHROS_KEEP=1; exit 1; }
		done
	done
	printf '.' >&2
done
echo >&2
report
