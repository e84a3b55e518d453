#!/bin/sh
# Failover benchmark: kernel panic of the Active -> service answering again,
# Orthros vs standard Pacemaker practice, side by side in one run on one lab
# (same partitions, same corosync token, same agents).
#
#   orthros   the controller acts on the PANIC notice: the dead partition is
#             frozen within milliseconds and fence_orthros confirms at once
#   baseline  notices are ignored ("orthrosctl partition notices off"): the
#             dead partition is only stopped when Pacemaker's fence request
#             arrives, the fence_virsh way (stop the guest, then confirm)
#
# Orthros also runs the early takeover at the notice (orthrosctl takeover:
# disk, address and service while corosync re-forms its membership); in
# the baseline the controller answers it no (notices off: nothing acts on a
# notice, though QEMU itself stops a panicked guest) and Pacemaker does all.
# Both start the service cold (warm restore is issue 5).  Trials alternate
# the order of the two modes so that drift on this noisy machine hits both.
# Each trial waits for the next BackupOS to join before the next failure.
#
# usage: bench/failover.sh [TRIALS_PER_MODE]   (default 10; needs root and
#        no lab up; leaves results in bench/results/failover-DATE.txt)
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
TRIALS=${1:-10}
CTL=$top/_build/release/agent/orthrosctl
out=$top/bench/results/failover-$(date +%F).txt
W=$(mktemp -d /tmp/orthros-bench.XXXXXX)
trap 'scripts/lab down >/dev/null 2>&1; echo "logs: $W"' EXIT

[ -S /run/orthros-lab/doorbell.sock ] && { echo "bench: a lab is up; scripts/lab down first" >&2; exit 1; }
scripts/lab up | tee "$W/up.log"
read -r joined_ms service_ms ready_ms </run/orthros-lab/startup-ms

# One failover; prints "MODE notice fenced membership requested confirmed promoted answering" in ms.
trial() {	# mode index
	$CTL partition notices "$([ "$1" = orthros ] && echo on || echo off)" >/dev/null
	scripts/lab crash >"$W/$1-$2.log" 2>&1 || { tail -30 "$W/$1-$2.log" >&2; return 1; }
	# Seed 001 Table 5 analog: memory the new Active has once grown.
	act=$($CTL partition status | awk '$3 == "active" && $4 == "running" { print $1 " " $2; exit }')
	mem=$(scripts/lab exec "${act% *}" "grep MemTotal /proc/meminfo; nproc" 2>/dev/null |
		awk '/MemTotal/ { m = int($2 / 1024) } /^[0-9]+$/ { c = $1 } END { print m " MiB, " c " vCPU" }')
	echo "generation ${act#* } ($1): ${mem}" >>"$W/memory"
	awk -v mode="$1" '
		function at(key) { return key in t ? t[key] : "-" }
		/^ *\+ *[0-9.]+ ms/ {
			ms = $2 + 0
			if (!("notice" in t) && /PANIC notice/) t["notice"] = ms
			if (!("fenced" in t) && /fenced \(vCPUs stopped\)/) t["fenced"] = ms
			if (!("membership" in t) && /corosync: A new membership .* Members left/) t["membership"] = ms
			if (!("requested" in t) && /fence_orthros: fencing .* requested/) t["requested"] = ms
			if (!("confirmed" in t) && /fence_orthros: .* (confirmed dead at once|fenced)$/) t["confirmed"] = ms
			if (!("promoted" in t) && /promoted: generation/) t["promoted"] = ms
			if (!("answering" in t) && /service answering from/) t["answering"] = ms
		}
		END { printf "%s %s %s %s %s %s %s %s\n", mode, at("notice"), at("fenced"),
			at("membership"), at("requested"), at("confirmed"), at("promoted"), at("answering") }' "$W/$1-$2.log"
}

echo "# failover bench $(date -Is), $TRIALS trials per mode, corosync token $(sed -n 's/^TOKEN=//p' /run/orthros-lab/shared/lab.env) ms" | tee "$W/rows"
echo "# lab start-up: both partitions online in Pacemaker after $joined_ms ms, service after $service_ms ms, partition agents running on both after $ready_ms ms" | tee -a "$W/rows"
echo "# trial mode     notice  fenced membership fence-req confirmed promoted answering   (ms after the panic was injected)" | tee -a "$W/rows"
i=1
while [ $i -le "$TRIALS" ]; do
	if [ $((i % 2)) = 1 ]; then order="orthros baseline"; else order="baseline orthros"; fi
	for m in $order; do
		row=$(trial "$m" "$i") || { echo "bench: trial $i ($m) failed; logs in $W" >&2; exit 1; }
		echo "$i $row" | awk '{ printf "  %-4s %-9s %7s %7s %10s %9s %9s %8s %9s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9 }' | tee -a "$W/rows"
		echo "$i $row" >>"$W/data"
	done
	i=$((i + 1))
done

python3 - "$W/data" <<'EOF' | tee -a "$W/rows"
import sys
rows = [l.split() for l in open(sys.argv[1])]
def col(mode, k):
    v = [float(r[k]) for r in rows if r[1] == mode and r[k] != '-']
    return sorted(v)
def pct(v, p):
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))] if v else float('nan')
names = {2: 'notice', 3: 'fenced', 4: 'membership', 5: 'fence requested', 6: 'fence confirmed',
         7: 'promoted', 8: 'service answering'}
A = 8
print('# p50 / p99 (ms after the panic)       orthros            baseline')
for k, n in names.items():
    o, b = col('orthros', k), col('baseline', k)
    print('  %-20s %9.0f / %-9.0f %9.0f / %-9.0f' % (n, pct(o, 50), pct(o, 99), pct(b, 50), pct(b, 99)))
o = {r[0]: float(r[A]) for r in rows if r[1] == 'orthros'}
b = {r[0]: float(r[A]) for r in rows if r[1] == 'baseline'}
wins = sum(1 for t in o if t in b and o[t] < b[t])
om, bm = pct(sorted(o.values()), 50), pct(sorted(b.values()), 50)
print('ratio baseline/orthros (p50 panic -> service answering): %.3f' % (bm / om))
print('orthros faster than baseline in %d of %d trials' % (wins, len(o)))
# What each adds on top of the membership wait (the issue's target: at
# most 100 ms for Orthros); the membership note is itself an upper bound.
for mode in ('orthros', 'baseline'):
    add = sorted(float(r[A]) - float(r[4]) for r in rows if r[1] == mode and r[4] != '-')
    print('%s: membership re-formed -> service answering p50 %.0f / p99 %.0f ms (%d trials)' %
          (mode, pct(add, 50), pct(add, 99), len(add)))
EOF
echo "# memory of the Active after each takeover, once grown (MemTotal inside it)" | tee -a "$W/rows"
tee -a "$W/rows" <"$W/memory"
mkdir -p bench/results
cp "$W/rows" "$out"
echo "results: $out"
