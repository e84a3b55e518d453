#!/bin/sh
# Protected processes, side by side in one run (issue 5's figures): for
# each size of held state (default 64 256 512 MB), in a partition under
# TCG with the checkpoint store attached:
#   cold      first start of the service until its first answer: it
#             computes its state and persists it on its data disk
#   rate      request throughput, checkpointing paused and running, in
#             pairs of windows of two intervals each, in ABBA order (an
#             even number of pairs, at least four and 2 minutes per mode:
#             a host whose speed drifts during the run does not pass for
#             checkpointing's cost)
#             (orthrosd paused by SIGUSR1 once no round is in flight,
#             resumed by SIGUSR2), summed per mode: one pair is noisy under
#             TCG, and windows side by side share the partition's state
#   full      plain full dumps by hand (orthrosctl ckpt dump): the freeze
#             of a checkpoint that copies all memory frozen; three idle,
#             three with the client running (the increments below are
#             taken under that load); the ratios use the loaded median
#   floor     CRIU's least freeze per increment in that partition: the
#             demo alone (pid 1 of a pid namespace of its own, one task,
#             the same state) dumped in full, then 3 increments by hand;
#             the increment freeze target (<= 10 % of a full dump's) is out
#             of CRIU's reach where floor / full-fz is above it
#   freeze    orthrosd's checkpoints, from CRIU's stats: a new chain
#             (pre-dump of all memory, then the dump) and an increment
#             (pre-dump of what changed, then the dump), each the sum of
#             its pre-dump's and its dump's freezes
#             (the checkpoints committed during the running windows are
#             counted: new chains and increments, as the policy alternates)
# then the partition is killed (a crash) and a second one, on the same
# store, times:
#   restore   `orthrosctl ckpt restore` until the first answer (full)
#   lazy      the same with --lazy (pages on demand), when available
#   standby   the same lazy restore served by `orthrosctl ckpt standby`,
#             which prepared it beforehand (the chain's view mounted, CRIU's
#             lazy-pages daemon listening, a criu swrk waiting), as a
#             BackupOS does while its ActiveOS runs; the preparation is not
#             timed, the request to the first answer is
#   cold      a cold restart there: the service rebuilds the same state
#             from its data disk (loads it and checks every word), the
#             restart a failover without checkpoints pays
# Times are the partition's own clock; ratios are taken within the run.
# The first partition is shaped like an ActiveOS: SMP_A vCPUs (default 2);
# the service and the bench's client are pinned to CPU 0 and orthrosd (its
# CRIU calls, its copies into the store) to the last CPU, as an operator
# pins orthrosd to a housekeeping core (systemd CPUAffinity=).  The second
# partition, which restores, is shaped like the BackupOS that takes over:
# one vCPU.  SMP_A=1 measures everything on one core.
#
# usage: bench/protected.sh [SIZE_MB...]   (root; builds nothing: run
#        ./scripts/run-tests or make in _build/release first)
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
SIZES=${*:-64 256 512}
bin=$top/_build/release/agent
CTL=$bin/orthrosctl
for f in "$CTL" "$bin/orthrosd" "$bin/ckpt-demo" "$bin/orthros-init"; do
	[ -x "$f" ] || { echo "protected: $f is not built" >&2; exit 1; }
done
command -v criu >/dev/null || { echo "protected: criu is not installed" >&2; exit 1; }
W=$(mktemp -d /tmp/orthros-bench-protected.XXXXXX)
qemu=""
trap '[ -n "$qemu" ] && kill -9 $qemu 2>/dev/null; [ -n "${ORTHROS_KEEP:-}" ] || rm -rf "$W"' EXIT
die() { echo "protected: $*" >&2; exit 1; }
PORT=7000 RPORT=7001
SMP_A=${SMP_A:-2}
KEEP=5
NFULL=3

boot() {	# dir name mem vcpus
	ORTHROS_QEMU_ARGS="-drive file=$1/data.img,if=virtio,format=raw" \
	"$top/scripts/guest/run-partition" --name "$2" --mem "$3" --smp "$4" --rw "$1" --store "$1/store" \
		--console "$1/$2.console" --run "$top/bench/protected-payload.sh" 2>>"$1/run.log" &
	qemu=$!
	i=0
	until [ -f "$1/$2.ready" ]; do
		[ -s "$1/$2.failed" ] && die "$2 did not come up: $(cat "$1/$2.failed")"
		[ $i -lt 1800 ] || die "$2 did not come up: $(tail -5 "$1/$2.console")"
		sleep 0.1
		i=$((i + 1))
	done
}
cmd() {	# dir name command result seconds
	rm -f "$1/$2.$4"
	echo "$3" >"$1/$2.cmd"
	i=0
	while [ ! -f "$1/$2.$4" ]; do
		[ $i -lt $(($5 * 10)) ] || die "$2: '$3' gave no result in $5 s"
		sleep 0.1
		i=$((i + 1))
	done
}
wait_log() {	# file pattern seconds [count]
	i=0
	while [ "$(grep -c "$2" "$1" 2>/dev/null || true)" -lt "${4:-1}" ]; do
		[ $i -lt $(($3 * 10)) ] || die "no '$2' in $1 after $3 s: $(tail -5 "$1" 2>/dev/null)"
		sleep 0.1
		i=$((i + 1))
	done
}
# first answer after t0, in ms, from a result file
gap() { awk '/^t0 / { t = $2 } /^first [0-9]/ { f = $2 } END { if (t && f) print f - t; else print "-" }' "$1"; }
# Requests per second over every window in the file: counts and times summed.
rate() { awk '/^rate / && $2 > 0 { n += $4; t += $4 / $2 } END { if (t) printf "%.1f", n / t }' "$1"; }
# Freeze per checkpoint of a kind (full/incremental) in orthrosd's log, in
# ms: the dump's, plus its pre-dump's (logged on the next line) if any.
freezes() {
	awk -v kind="$1" '
		function flush() { if (pend != "") { print pend + pre; pend = "" } }
		/checkpoint set [0-9]* \(/ {
			flush()
			if ($0 ~ "\\(" kind ",") {
				s = $0; sub(/.*\), freeze /, "", s); sub(/ ms.*/, "", s); pend = s; pre = 0
			}
			next
		}
		/pre-dump set [0-9]*, freeze/ && pend != "" {
			s = $0; sub(/.*freeze /, "", s); sub(/ ms.*/, "", s); pre = s; flush()
		}
		END { flush() }' "$2"
}
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; else print "-" }'; }
pow2() { p=1; while [ $p -lt "$1" ]; do p=$((p * 2)); done; echo $p; }

echo "# bench/protected.sh $(date -u +%Y-%m-%dT%H:%MZ), sizes $SIZES MB, TCG, A $SMP_A vCPU(s), B 1, keep $KEEP; times in ms on the partition's clock"
printf '%-5s %7s %7s %7s %7s %7s %6s %6s %7s %6s %7s %7s %6s %3s %7s %7s %7s %7s\n' MB cold-A idle-fz full-fz chain-fz inc-fz ch/fu inc/fu floor fl/fu rateoff rate-on loss% ck restore lazy standby cold-B
for S in $SIZES; do
	D=$W/$S
	mkdir -p "$D"
	# Memory: the service, its full dump on tmpfs (the next pre-dump's
	# parent), and in the second partition the extracted images beside the
	# restored service.
	mem=$((3 * S + 640))M
	interval=$((S / 25 > 5 ? S / 25 : 5))
	# keep + 1 slots, each a full dump of S MB and the binaries' pages.
	store=$(pow2 $(((KEEP + 1) * (S + S / 8 + 48))))
	truncate -s "${store}M" "$D/store"
	# The service's data disk: its state persisted, for the cold restart.
	truncate -s "$((S + S / 8 + 64))M" "$D/data.img"
	mkfs.ext4 -q -F -J size=4 "$D/data.img"
	"$CTL" ckpt format --region "$D/store" --keep $KEEP >/dev/null
	sed -e "s|^  interval: 1s$|  interval: ${interval}s|" \
	    -e "s|command: \[.*\]|command: [$bin/ckpt-demo, --port, \"$PORT\"]|" \
	    -e "s|ports: \[7000\]|ports: [$PORT]|" -e "/^    data_paths:/d" "$top/config/orthros.yaml" >"$D/orthros.yaml"
	printf 'CTL=%s\nORTHROSD=%s\nDEMO=%s\nORTHROS_INIT=%s\nHOLD_MB=%s\nPORT=%s\nRPORT=%s\nSRCDIR=%s\n' \
		"$CTL" "$bin/orthrosd" "$bin/ckpt-demo" "$bin/orthros-init" "$S" "$PORT" "$RPORT" "$top" >"$D/env"

	boot "$D" a "$mem" "$SMP_A"
	cmd "$D" a "cold cold" cold 600
	cmd "$D" a settle settle 600
	# Warm up first: the first seconds after a boot and a cold start run
	# slower (page cache, Python), which would flatter "on".
	cmd "$D" a "rate warm 10" warm 120
	# The reference: plain full dumps, three idle and three with the
	# client running back to back (orthrosd's increments are taken under
	# that load, and a loaded partition runs CRIU slower: like with like).
	for m in idle load; do
		cmd "$D" a "full full$m $NFULL $m" "full$m" 900
		[ "$(grep -c "^rc=0" "$D/a.full$m")" -eq "$NFULL" ] ||
			die "$S MB: a plain full dump ($m) failed: $(cat "$D/a.full$m")"
	done
	cmd "$D" a "floor floor 3" floor 900
	[ "$(grep -c "^increment [0-9]" "$D/a.floor")" -eq 3 ] ||
		die "$S MB: CRIU's dumps of the demo alone failed: $(cat "$D/a.floor")"
	cmd "$D" a ckpt ckpt 30
	wait_log "$D/a.orthrosd" "checkpoint set [0-9]* (full" 900
	win=$((2 * interval))
	# At least 2 minutes of windows per mode: at 64 MB three 10 s pairs
	# could not tell a 5 % loss from this machine's noise.  An even
	# number of pairs, in ABBA order (off on, on off, ...): the host's
	# speed drifts within a run (one run fell from 690 to 450 requests/s
	# over its 64 MB windows), and off-then-on in every pair would count
	# a slowing host as checkpointing's cost.
	pairs=$((120 / (2 * win) > 4 ? 120 / (2 * win) : 4))
	pairs=$(((pairs + 1) / 2 * 2))
	r=0
	while [ $r -lt $pairs ]; do
		r=$((r + 1))
		if [ $((r % 2)) -eq 1 ]; then order="off on"; else order="on off"; fi
		for m in $order; do
			if [ "$m" = off ]; then
				cmd "$D" a pause pause 900
				cmd "$D" a "rate off$r $win" "off$r" $((2 * win + 300))
				cmd "$D" a resume resume 60
			else
				cmd "$D" a "rate on$r $win" "on$r" $((2 * win + 300))
			fi
		done
	done
	r=0
	: >"$D/a.off"
	: >"$D/a.on"
	while [ $r -lt $pairs ]; do
		r=$((r + 1))
		cat "$D/a.off$r" >>"$D/a.off"
		cat "$D/a.on$r" >>"$D/a.on"
	done
	# Crash right after an increment is committed: B restores a chain
	# (full dump, pre-dump, dump), the common case with incremental on.
	n_inc=$(grep -c "checkpoint set [0-9]* (incremental" "$D/a.orthrosd" || true)
	wait_log "$D/a.orthrosd" "checkpoint set [0-9]* (incremental" 900 $((n_inc + 1))
	kill -9 "$qemu"
	wait "$qemu" 2>/dev/null || true
	qemu=""

	boot "$D" b "$mem" 1
	# Each restore twice, alternating, the second of each reported: the
	# first restore in a fresh partition pays for first touches (the
	# store's mapping, tmpfs pages) that would bias whichever runs first.
	lazy=- standby=-
	for round in 1 2; do
		if "$CTL" ckpt --help 2>&1 | grep -q "standby --region"; then
			cmd "$D" b "standby sb$round" "sb$round" 300
			grep -q "standby prepared" "$D/b.sb$round.standby" || die "$S MB: the standby did not prepare: $(cat "$D/b.sb$round.standby")"
			cmd "$D" b "lazy slazy$round" "slazy$round" 900
			grep -q "^standby: " "$D/b.slazy$round" || die "$S MB: the standby did not serve the restore: $(cat "$D/b.slazy$round")"
			cmd "$D" b "check scheck$round" "scheck$round" 600
			grep -q "pattern ok" "$D/b.scheck$round" || die "$S MB: the pattern restored through the standby is not intact"
			standby=$(gap "$D/b.slazy$round")
			cmd "$D" b kill killed 60
		fi
		if "$CTL" ckpt --help 2>&1 | grep -q -- "--lazy"; then
			cmd "$D" b "lazy lazy$round" "lazy$round" 900
			cmd "$D" b "check lcheck$round" "lcheck$round" 600
			grep -q "pattern ok" "$D/b.lcheck$round" || die "$S MB: the lazily restored pattern is not intact"
			lazy=$(gap "$D/b.lazy$round")
			cmd "$D" b kill killed 60
		fi
		cmd "$D" b "restore restore$round" "restore$round" 900
		cmd "$D" b "check check$round" "check$round" 600
		grep -q "pattern ok" "$D/b.check$round" || die "$S MB: the restored pattern is not intact: $(cat "$D/b.check$round")"
		cmd "$D" b kill killed 60
	done
	cp "$D/b.restore2" "$D/b.restore"
	[ -f "$D/b.lazy2" ] && cp "$D/b.lazy2" "$D/b.lazy"
	[ -f "$D/b.slazy2" ] && cp "$D/b.slazy2" "$D/b.slazy"
	cmd "$D" b "cold cold" cold 600
	kill -9 "$qemu"
	wait "$qemu" 2>/dev/null || true
	qemu=""

	fullfz() { sed -n 's/.*: full, freeze \([0-9.]*\) ms.*/\1/p' "$D/a.full$1"; }
	full=$(fullfz load | median) idle=$(fullfz idle | median)
	chain=$(freezes full "$D/a.orthrosd" | median)
	inc=$(freezes incremental "$D/a.orthrosd" | median)
	off=$(rate "$D/a.off") on=$(rate "$D/a.on")
	floor=$(awk '/^increment [0-9]/ { print $2 }' "$D/a.floor" | median)
	printf '%-5s %7s %7s %7s %7s %7s %6s %6s %7s %6s %7s %7s %6s %3s %7s %7s %7s %7s\n' "$S" "$(gap "$D/a.cold")" "$idle" "$full" "$chain" "$inc" \
		"$(awk -v i="$chain" -v f="$full" 'BEGIN { printf "%.3f", f ? i / f : 0 }')" \
		"$(awk -v i="$inc" -v f="$full" 'BEGIN { printf "%.3f", f ? i / f : 0 }')" \
		"$floor" "$(awk -v i="$floor" -v f="$full" 'BEGIN { printf "%.3f", f && i != "-" ? i / f : 0 }')" "$off" "$on" \
		"$(awk -v a="$off" -v b="$on" 'BEGIN { printf "%.1f", a ? 100 * (a - b) / a : 0 }')" \
		"$(awk '/^checkpoints / { n += $2 } END { print n }' "$D/a.on")" \
		"$(gap "$D/b.restore")" "$lazy" "$standby" "$(gap "$D/b.cold")"
	{
		echo "# $S MB: interval ${interval}s, store ${store} MiB, partitions $mem"
		grep -v "^rc=0" "$D/a.fullidle" | sed 's/^/#   A plain full dump by hand, idle: /'
		grep -v "^rc=0" "$D/a.fullload" | sed 's/^/#   A plain full dump by hand, under the client: /'
		grep "checkpoint set\|pre-dump set" "$D/a.orthrosd" | sed 's/^/#   A: /'
		echo "#   A: freeze per checkpoint (pre-dump + dump), new chains: $(freezes full "$D/a.orthrosd" | tr '\n' ' ')ms; increments: $(freezes incremental "$D/a.orthrosd" | tr '\n' ' ')ms"
		echo "#   A: checkpoints failed: $(grep -c "checkpoint of pid .* failed" "$D/a.orthrosd" || true)"
		echo "#   A floor (the demo alone, one task, by hand): $(tr '\n' ' ' <"$D/a.floor")(ms frozen)"
		for round in 1 2; do
			[ -f "$D/b.slazy$round" ] && grep "restored group\|refused\|skipped\|^standby:" "$D/b.slazy$round" |
				sed "s/^/#   B standby $round ($(gap "$D/b.slazy$round") ms to the first answer): /"
			[ -f "$D/b.sb$round.standby" ] && grep "standby prepared" "$D/b.sb$round.standby" |
				sed "s/^/#   B standby $round, beforehand: /"
			[ -f "$D/b.lazy$round" ] && grep "restored group\|refused\|skipped\|served from\|without the view" "$D/b.lazy$round" |
				sed "s/^/#   B lazy $round ($(gap "$D/b.lazy$round") ms to the first answer): /"
			grep "restored group\|refused\|skipped" "$D/b.restore$round" |
				sed "s/^/#   B restore $round ($(gap "$D/b.restore$round") ms to the first answer): /"
		done
		for r in $(seq 1 "$pairs"); do
			echo "#   window pair $r: paused $(grep '^rate' "$D/a.off$r"), running $(grep '^rate' "$D/a.on$r"), $(grep '^checkpoints' "$D/a.on$r") committed"
		done
		r=$(gap "$D/b.restore") c=$(gap "$D/b.cold")
		if [ -f "$D/b.lazy" ]; then
			all=$(awk '/^t0 / { t = $2 } /^allin / { a = $2 } END { if (t && a) print a - t; else print "-" }' "$D/b.lazy")
			echo "#   first answer after the crash's restore: full $r ms, lazy $lazy ms (every page in after $all ms), cold $c ms:" \
				"full/lazy $(awk -v a="$r" -v b="$lazy" 'BEGIN { printf "%.2f", b ? a / b : 0 }')," \
				"cold/lazy $(awk -v a="$c" -v b="$lazy" 'BEGIN { printf "%.2f", b ? a / b : 0 }')"
		fi
		if [ -f "$D/b.slazy" ]; then
			all=$(awk '/^t0 / { t = $2 } /^allin / { a = $2 } END { if (t && a) print a - t; else print "-" }' "$D/b.slazy")
			echo "#   first answer through the standby: $standby ms (every page in after $all ms):" \
				"full/standby $(awk -v a="$r" -v b="$standby" 'BEGIN { printf "%.2f", b ? a / b : 0 }')," \
				"cold/standby $(awk -v a="$c" -v b="$standby" 'BEGIN { printf "%.2f", b ? a / b : 0 }')"
		fi
		echo "#   cold/full restore $(awk -v a="$c" -v b="$r" 'BEGIN { printf "%.2f", b ? a / b : 0 }')"
		# The targets (issue 5): lazy >= 3x sooner than full; >= 5x sooner
		# than a cold restart rebuilding the same 512 MB.
		if [ -f "$D/b.lazy" ]; then
			grep -q "^served from the store through a read-only view" "$D/b.lazy" ||
				echo "#   NOTE: the lazy restore was not served through the view: $(grep 'without the view' "$D/b.lazy")"
			printf '%s\n' "$S $r $lazy $c lazy" >>"$W/ratios"
		fi
		[ -f "$D/b.slazy" ] && printf '%s\n' "$S $r $standby $c standby" >>"$W/ratios"
	} >>"$W/details"
done
if [ -f "$W/ratios" ]; then
	awk '{ fl = $3 ? $2 / $3 : 0; cl = $3 ? $4 / $3 : 0
	       printf "# targets at %s MB, %s: full/lazy %.2f (>= 3: %s), cold/lazy %.2f%s\n", $1, $5, fl, fl >= 3 ? "met" : "not met",
		      cl, $1 == 512 ? (cl >= 5 ? " (>= 5: met)" : " (>= 5: not met)") : "" }' "$W/ratios" >>"$W/details"
fi
cat "$W/details"
echo "# idle-fz, full-fz = the median freeze of $NFULL plain full dumps by hand, idle and with the client running (as during the increments); chain-fz, inc-fz = the median freeze of orthrosd's new chains and increments (pre-dump + dump freezes); ch/fu, inc/fu = those / full-fz; floor, fl/fu = CRIU's least freeze per increment here (the demo alone as one task, median of 3) and that / full-fz; loss% = throughput lost with checkpointing on; ck = checkpoints committed during rate-on; restore, lazy, standby = the first answer after a full restore, a lazy one, a lazy one the standby prepared; cold-B = after a cold restart in the restoring partition"
