#!/bin/sh
# The early takeover against corosync's membership wait, on one clock.
#
# The issue's target is that Orthros adds at most 100 ms on top of the
# membership wait.  The controller's timeline cannot say when corosync
# formed its membership (a partition's note of it arrives one exec
# later), and partitions share no clock with the host, so this reads all
# three moments in the surviving partition's own logs, on its own clock:
#   notice      orthrosd: "link: PANIC from peer" (orthrosd.log)
#   membership  corosync: "A new membership ... Members left" (corosync.log)
#   answering   orthrosctl takeover: "<service>: answering" (orthrosd.log)
# and prints membership and answering after the notice, and answering
# minus membership (negative: the service answered before corosync had
# re-formed, i.e. before Pacemaker could have done anything).
#
# usage: bench/membership-gap.sh [CRASHES]   (default 3; a lab must be up:
#        scripts/lab up; each crash waits for the next BackupOS)
set -eu
cd "$(dirname "$0")/.."
N=${1:-3}
CTL=_build/release/agent/orthrosctl
[ -S /run/orthros-lab/doorbell.sock ] || { echo "membership-gap: no lab up (scripts/lab up)" >&2; exit 1; }
W=$(mktemp -d /tmp/orthros-gap.XXXXXX)
echo "# crash survivor  notice->membership  notice->answering  answering-membership (ms, the survivor's clock)"
i=1
while [ "$i" -le "$N" ]; do
	scripts/lab crash >"$W/crash-$i.log" 2>&1 || { tail -20 "$W/crash-$i.log" >&2; exit 1; }
	act=$($CTL partition status | awk '$3 == "active" && $4 == "running" { print $1; exit }')
	scripts/lab exec "$act" "grep 'link: PANIC from peer' /var/log/orthrosd.log | tail -n1;
		grep 'A new membership.*Members left' /var/log/corosync/corosync.log | tail -n1;
		grep '^takeover .*: answering' /var/log/orthrosd.log | tail -n1;
		sed -n '/early takeover of generation/,/early takeover done/p' /var/log/orthrosd.log |
			tail -n 12 | sed 's/^/step /'" >"$W/logs-$i" 2>&1
	awk -v i="$i" -v who="$act" '
		function ms(line,   t, h) {
			if (!match(line, /[0-9][0-9]:[0-9][0-9]:[0-9][0-9]\.[0-9][0-9][0-9]/)) return -1
			t = substr(line, RSTART, RLENGTH); split(t, h, /[:.]/)
			return ((h[1] * 60 + h[2]) * 60 + h[3]) * 1000 + h[4]
		}
		/PANIC from peer/ { n = ms($0) }
		/A new membership/ { m = ms($0) }
		/^takeover .*answering/ { a = ms($0) }
		END {
			if (n == "" || m == "" || a == "" || n < 0 || m < 0 || a < 0) {
				print "membership-gap: crash " i ": a moment is missing from " who "'"'"'s logs" > "/dev/stderr"
				exit 1
			}
			printf "  %-5s %-9s %18d %18d %20d\n", i, who, m - n, a - n, a - m
		}' "$W/logs-$i" || { cat "$W/logs-$i" >&2; exit 1; }
	# Where the takeover's time went (its own steps, ms from "go").
	sed -n 's/^step takeover \(+[0-9]* ms\) ([^)]*): /\1 /p' "$W/logs-$i" | tr '\n' ';' |
		sed 's/;$//; s/;/; /g; s/^/#     /'
	echo
	i=$((i + 1))
done
echo "logs: $W"
