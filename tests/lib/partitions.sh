# Helpers for the end-to-end tests that boot partitions (QEMU guests)
# whose payload talks to the test through files in the shared directory
# $D: NAME.ready once it is up, NAME.failed if it could not come up,
# NAME.cmd for the next command, and a result file per command.
# Needs $D, $SRCDIR and tap.sh's bail.

# Wait until partition NAME is up (120 s), else bail with its console.
ready() {	# name
	i=0
	while [ $i -lt 1200 ]; do
		[ -f "$D/$1.ready" ] && return 0
		[ -s "$D/$1.failed" ] && break
		sleep 0.1
		i=$((i + 1))
	done
	bail "partition $1 did not come up: $(cat "$D/$1.failed" 2>/dev/null; tail -20 "$D/$1.console" 2>/dev/null; tail -5 "$D/run.log" 2>/dev/null)"
}

# Hand partition NAME a command; wait up to SECONDS for its result file
# NAME.RESULT (removed first, so an old one does not count).
cmd() {	# name command result seconds
	rm -f "$D/$1.$3"
	echo "$2" >"$D/$1.cmd"
	i=0
	while [ ! -f "$D/$1.$3" ] && [ $i -lt $(($4 * 10)) ]; do sleep 0.1; i=$((i + 1)); done
	[ -f "$D/$1.$3" ]
}

# The word after KEY in FILE's first line that has it ("counter 12 ...").
field() { sed -n "s/.* $1 \([^ ]*\).*/\1/p; s/^$1 \([^ ]*\).*/\1/p" "$2" | head -n1; }

# Boot partition NAME on the checkpoint store $D/store with the protected
# payload (tests/e2e/protected-payload.sh), $MEM of memory; its QEMU's
# pid in $qemu_pid, added to $pids for the cleanup.
start_protected() {	# name
	"$SRCDIR/scripts/guest/run-partition" --name "$1" --mem "$MEM" --rw "$D" \
		--store "$D/store" --console "$D/$1.console" \
		--run "$SRCDIR/tests/e2e/protected-payload.sh" 2>>"$D/run.log" &
	qemu_pid=$!
	pids="$pids $qemu_pid"
}

# The protected tests' set-up: their binaries (beside $ORTHROSCTL unless
# ORTHROSD, CKPT_DEMO, ORTHROS_INIT say) and criu are there, a fresh
# shared directory in $D (from mktemp TEMPLATE; kept with ORTHROS_KEEP=1),
# and every QEMU in $pids killed at exit.
protected_setup() {	# template
	bin=$(cd "$(dirname "$ORTHROSCTL")" && pwd)
	ORTHROSD=${ORTHROSD:-$bin/orthrosd}
	DEMO=${CKPT_DEMO:-$bin/ckpt-demo}
	ORTHROS_INIT=${ORTHROS_INIT:-$bin/orthros-init}
	for f in "$ORTHROSD" "$DEMO" "$ORTHROS_INIT"; do [ -x "$f" ] || bail "$f not built"; done
	command -v criu >/dev/null || bail "criu is not installed"
	D=$(mktemp -d "$1")
	pids=""
	trap partitions_cleanup EXIT
}
partitions_cleanup() {
	for p in $pids; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	[ -n "${ORTHROS_KEEP:-}" ] || rm -rf "$D"
}
