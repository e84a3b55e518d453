#!/bin/sh
# Which corosync token for the lab?  For each token value, two partitions
# (Debian's kernel under QEMU, orthros.ko, a real corosync pair on their
# link) run under CPU stress (stress-ng in both and on the host) for a
# while; every membership loss corosync reports is a false failover, every
# HEARTBEAT_LOST a false kernel alarm.  Printed side by side with what a
# token costs in detection (token + consensus = 2.2 x token).
#
# usage: bench/token-stress.sh [SECONDS] [TOKENS...]
#        (default 240 s each for tokens 300 and 1000; after scripts/run-tests)
set -eu
SECONDS_EACH=${1:-240}
shift 2>/dev/null || true
TOKENS=${*:-300 1000}
top=$(cd "$(dirname "$0")/.." && pwd)
CTL=$top/_build/release/agent/orthrosctl
DBD=$top/_build/release/partition-mgr/orthros-doorbelld
KO=$top/_build/kmod/orthros.ko
TIMEOUT_US=${ORTHROS_TIMEOUT_US:-200000}
for f in "$CTL" "$DBD" "$KO"; do [ -e "$f" ] || { echo "token-stress: $f missing; run scripts/run-tests first" >&2; exit 1; }; done
D=$(mktemp -d /tmp/orthros-token.XXXXXX)
pids=""
stop_all() { for p in $pids; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; pids=""; }
trap 'stop_all; [ -n "${ORTHROS_KEEP:-}" ] || rm -rf "$D"' EXIT INT TERM

boot() {	# name gen role ip lport rport
	"$top/scripts/guest/run-partition" --name "$1" --gen "$2" --role "$3" --rw "$D/run" \
		--doorbell "$D/run/db.sock" --console "$D/run/$1.console" \
		--net "$5:$6" --append "orthros.ip=$4" --nice -10 \
		--run "$top/bench/partition-cluster.sh" 2>/dev/null &
	pids="$pids $!"
}
ready() {
	w=0
	while [ ! -f "$D/run/$1.ready" ]; do
		w=$((w + 1))
		if [ $w -gt 1800 ] || [ -s "$D/run/$1.failed" ]; then
			echo "token-stress: partition $1 did not come up" >&2
			cat "$D/run/$1.failed" >&2 2>/dev/null || tail -5 "$D/run/$1.console" >&2
			exit 1
		fi
		sleep 0.1
	done
}

echo "# token-stress $(date -Is): ${SECONDS_EACH}s of CPU stress per token, 2 partitions (TCG), host stressed too"
echo "# orthros heartbeat 10 ms / timeout $((TIMEOUT_US / 1000)) ms"
printf '%-8s %-22s %-26s %s\n' "token" "false membership losses" "false HEARTBEAT_LOST" "detection cost (token + consensus)"
for t in $TOKENS; do
	rm -rf "$D/run" && mkdir -p "$D/run"
	printf 'KO=%s\nCTL=%s\nTIMEOUT_US=%s\nTOKEN=%s\n' "$KO" "$CTL" "$TIMEOUT_US" "$t" >"$D/run/env"
	"$DBD" --socket "$D/run/db.sock" --shm "$D/run/shm" 2>"$D/run/server.log" &
	pids="$pids $!"
	for _ in $(seq 50); do [ -S "$D/run/db.sock" ] && break; sleep 0.1; done
	boot a 1 1 192.0.2.1 40001 40002
	boot b 2 2 192.0.2.2 40002 40001
	ready a
	ready b
	sleep 5
	echo "stress $SECONDS_EACH" >"$D/run/a.cmd"
	echo "stress $SECONDS_EACH" >"$D/run/b.cmd"
	nice -n 19 stress-ng --cpu 2 --timeout "${SECONDS_EACH}s" -q
	sleep 3
	# "votes 2" first, then every "votes 1" is a membership lost.
	losses=$(cat "$D/run/a.members" "$D/run/b.members" 2>/dev/null | grep -c '^votes 1' || true)
	hb=$(cat "$D/run/a.events" "$D/run/b.events" 2>/dev/null | grep -c HEARTBEAT_LOST || true)
	printf '%-8s %-22s %-26s %s\n' "${t} ms" "$losses" "$hb" "$((t * 22 / 10)) ms"
	stop_all
done
