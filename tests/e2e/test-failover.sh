#!/bin/sh
# Repeatable failover of the whole stack (TAP), through the lab: the
# controller, Debian's kernel in QEMU partitions, corosync + pacemaker in
# each, the fence agent and the partition agent, a service on a data disk.
#   1. the lab comes up: both partitions online in Pacemaker, service answers
#   2. 5 consecutive kernel panics, generation 1 -> 6: after each the service
#      answers from the new Active, every acknowledged record is on the data
#      disk, and the next BackupOS (the dead identity) joins the cluster
#      and the early takeover has the service answering before Pacemaker
#      asks for the fence
#   3. a hang (vCPUs stopped, no panic) fails over through HEARTBEAT_LOST
#      and fencing; the early takeover, told to wait at HEARTBEAT_LOST,
#      takes nothing before the fence and has the service answering after
#   4. the BackupOS dies instead: the Active keeps serving, a new BackupOS
#      with the dead one's identity joins
#   5. throughout, a watcher polling both partitions never sees two Active
#      kernels running nor the service answering on both partitions
#   6. fence_orthros's metadata is accepted by Pacemaker (stonith_admin)
#   7. orthrosd's node attributes (generation, kernel role, heartbeat age)
#      reach the CIB for both partitions
#   8. after every panic and the hang, the protected counter (CRIU
#      checkpoints in the shared store) resumes warm, its memory intact
# Needs root; takes the lab's network namespace, so no lab may be up.
set -u
: "${SRCDIR:?}"
. "$SRCDIR/tests/lib/tap.sh"
LAB=$SRCDIR/scripts/lab
CTL=$SRCDIR/_build/release/agent/orthrosctl
RUN=/run/orthros-lab
SHARED=$RUN/shared
NS=orthros-lab
CRASHES=${ORTHROS_CRASHES:-5}
watch_pids=""

[ "$(id -u)" -eq 0 ] || bail "needs root (QEMU, network namespaces)"
if "$LAB" alive; then
	bail "a lab is running ($RUN, netns $NS): scripts/lab down first"
fi
if [ -d "$RUN" ] || ip netns list 2>/dev/null | grep -qw "$NS"; then
	echo "# a dead lab's leftovers ($RUN, netns $NS): lab up clears them"
fi
D=$(mktemp -d /tmp/orthros-failover.XXXXXX)

cleanup() {
	for p in $watch_pids; do kill "$p" 2>/dev/null; done
	if [ -n "${ORTHROS_KEEP:-}" ]; then
		echo "# lab left up, logs in $D"
	else
		mkdir -p "$D/shared" && cp -r "$SHARED"/*.log "$D/shared/" 2>/dev/null
		"$LAB" down >/dev/null 2>&1
		rm -rf "$D"
	fi
}
trap cleanup EXIT

# 6 first: it needs no lab.  Pacemaker runs fence agents from /usr/sbin;
# a private mount namespace puts ours there for this one command.
tmp=$D/sbin
mkdir -p "$tmp" && cp "$SRCDIR/ocf/fence_orthros" "$tmp/"
out=$(unshare -m --propagation private sh -c "
	mount -t overlay orthros-sbin -o lowerdir=$tmp:/usr/sbin /usr/sbin &&
	stonith_admin --metadata --agent fence_orthros" 2>&1)
acts=$(echo "$out" | sed -n 's/.*<action name="\([a-z-]*\)".*/\1/p' | sort | tr '\n' ' ')
if echo "$out" | grep -q '<resource-agent name="fence_orthros"' &&
   [ "$acts" = "list metadata monitor off on reboot start status stop validate-all " ]; then
	# start and stop are Pacemaker's own additions: proof it parsed ours.
	ok "Pacemaker (stonith_admin --metadata) accepts fence_orthros: actions $acts"
else
	not_ok "Pacemaker accepts fence_orthros's metadata" "actions: $acts" "$out"
fi

# 1. bring-up
if "$LAB" up >"$D/up.log" 2>&1; then
	read -r joined_ms service_ms ready_ms <"$RUN/startup-ms"
	ok "lab up: both partitions online in Pacemaker after $((joined_ms / 1000)) s, service answering after $((service_ms / 1000)) s, partition agents running on both after $((ready_ms / 1000)) s"
else
	not_ok "lab up" "$(tail -30 "$D/up.log")"
	bail "no lab"
fi

if out=$(crm_verify -x "$SHARED/cib-seed.xml" 2>&1); then
	ok "config/orthros.crm loads into a CIB that crm_verify accepts"
else
	not_ok "crm_verify accepts the CIB built from config/orthros.crm" "$out"
fi

# 7. node attributes, as the newest CIB a partition reported shows them
attrs_in_cib() {
	python3 - "$1" <<'EOF'
import sys, xml.etree.ElementTree as ET
out = []
for ns in ET.parse(sys.argv[1]).iter('node_state'):
    a = {nv.get('name'): nv.get('value') for ta in ns.iter('transient_attributes')
         for nv in ta.iter('nvpair')}
    if 'orthros-generation' in a:
        out.append('%s:gen=%s,role=%s,heartbeat-age=%sms' % (ns.get('uname'),
                   a['orthros-generation'], a.get('orthros-role'), a.get('orthros-heartbeat-age-ms')))
print(' '.join(sorted(out)))
EOF
}
i=0
while :; do
	f=$(ls -t "$SHARED"/*.cib.xml 2>/dev/null | head -n1)
	got=$([ -n "$f" ] && attrs_in_cib "$f" 2>&1)
	case "$got" in
	*"orthros-a:gen=1,role=active,heartbeat-age="[0-9]*"orthros-b:gen=2,role=backup,heartbeat-age="[0-9]*)
		ok "orthrosd's node attributes are in the CIB: $got"
		break ;;
	esac
	i=$((i + 1))
	if [ $i -gt 45 ]; then
		not_ok "orthrosd publishes generation, role and heartbeat age as node attributes" "seen: ${got:-nothing}"
		break
	fi
	sleep 2
done

# 5. the watcher.  Host side: kernel roles through the controller (a
# partition whose kernel says Active and whose vCPUs run, beating or not).  Inside the lab network: the service on each partition's own
# address (it listens on all of a partition's addresses).
(
	while :; do
		n=$("$CTL" partition status 2>/dev/null |
			awk 'NR > 1 && $3 == "active" && $4 == "running" { n++; w = w " " $1 } END { print n + 0, w }')
		echo "$(date +%s.%N) $n"
		sleep 0.3
	done
) >"$D/watch-roles" 2>&1 &
watch_pids="$watch_pids $!"
ip netns exec "$NS" python3 - >"$D/watch-service" 2>&1 <<'EOF' &
import socket, time, sys
addrs = ['192.0.2.1', '192.0.2.2']
while True:
    up = []
    for a in addrs:
        try:
            with socket.create_connection((a, 7000), timeout=0.3) as s:
                s.settimeout(1)
                s.sendall(b'node\n')
                w = s.makefile().readline().split()
                if w and w[0] == 'node':
                    up.append(w[1])
        except OSError:
            pass
    print('%.3f %d %s' % (time.time(), len(up), ' '.join(up)), flush=True)
    time.sleep(0.3)
EOF
watch_pids="$watch_pids $!"

status_of() { "$CTL" partition status 2>/dev/null | awk -v n="$1" '$1 == n { print $2, $3, $4, $5 }'; }

# The Active and the Backup after a failover: generation and state.
check_pair() {	# active_gen backup_gen
	"$CTL" partition status >"$D/status" 2>&1
	awk -v ag="$1" -v bg="$2" '
		NR > 1 && $2 == ag && $3 == "active" && $4 == "running" && $5 == "up" { a = 1 }
		NR > 1 && $2 == bg && $3 == "backup" && $4 == "running" && $5 == "up" { b = 1 }
		END { exit !(a && b) }' "$D/status"
}

# What a failed step leaves for the reader of a CI log: the controller's
# view now, Pacemaker's view, the client's last tries and what each
# partition's scheduler and controller decided.
diagnose() {
	echo "controller now:"
	"$CTL" partition status 2>&1
	f=$(ls -t "$SHARED"/*.cib.xml 2>/dev/null | head -n1)
	[ -n "$f" ] && { echo "pacemaker as $(basename "$f") saw it:"; CIB_file=$f crm_mon -1 -r 2>&1 | tail -n 25; }
	echo "client, last tries:"
	tail -n 5 "$SHARED/client.log" 2>/dev/null
	for n in orthros-a orthros-b; do
		echo "$n pacemaker.log (actions, results, errors):"
		timeout 60 "$LAB" exec "$n" "grep -E 'pacemaker-schedulerd.*(Actions:|warning|error)|pacemaker-controld.*(Result of|error|warning)|Filesystem|IPaddr2' /var/log/pacemaker/pacemaker.log | grep -v 'Actions: Keep' | tail -n 40" 2>&1
	done
}

# "+  27712.3 ms  service answering from orthros-b (record 12)" -> 27712
# The protected counter (config/orthros.crm: counter) came back warm from
# the store, its memory intact, in its cgroup (scripts/lab checks the
# pattern, the cgroup, and that it did not start again from 0).
counter_resumed() {	# label log
	w=$(sed -n 's/.*lab: protected counter: resumed warm at \([0-9]*\) (it answered \([0-9]*\).*/\1 (it answered \2 before the failure)/p' "$2")
	how=$(grep -o 'counter:\{0,1\} answering ([^)]*)' "$2" | head -n1)
	if [ -n "$w" ] && grep -q "lab: protected counter: resumed warm at .*, in its cgroup /orthros/counter" "$2"; then
		ok "$1: the protected counter resumed warm at $w${how:+, $how}, its 8 MiB pattern intact, in its cgroup"
	else
		not_ok "$1: the protected counter resumes warm" "$(grep 'protected counter' "$2")"
	fi
}
ms_of() { grep "$1" "$2" | head -n1 | sed 's/^ *+ *\([0-9]*\).*/\1/'; }

# 2. consecutive panics
g=1
while [ $g -le "$CRASHES" ]; do
	if "$LAB" crash >"$D/crash-$g.log" 2>&1 && check_pair $((g + 1)) $((g + 2)); then
		ans=$(ms_of "service answering from" "$D/crash-$g.log")
		fen=$(ms_of "fenced" "$D/crash-$g.log")
		ok "panic $g: generation $((g + 1)) took over (fenced +${fen}ms, service answering +${ans}ms), $(sed -n 's/.*records: //p' "$D/crash-$g.log"), generation $((g + 2)) joined as Backup$(sed -n 's/.*lab: outage after the takeover: /; outage after the takeover: /p' "$D/crash-$g.log")"
		# The early takeover: the service answers from the Backup before
		# Pacemaker (after corosync's membership wait) even asks for a fence.
		early=$(ms_of "early takeover: demo-service answering" "$D/crash-$g.log")
		req=$(ms_of "fence_orthros: fencing .* requested" "$D/crash-$g.log")
		if [ -n "$early" ] && [ -n "$req" ] && [ "$ans" -lt "$req" ]; then
			ok "panic $g: early takeover answered at +${early}ms, before the fence request (+${req}ms)"
		else
			not_ok "panic $g: the early takeover answers before the fence request" \
				"early '$early' answering '$ans' fence request '$req'" \
				"$(grep -E 'early takeover|fence_orthros|answering' "$D/crash-$g.log")"
		fi
		counter_resumed "panic $g" "$D/crash-$g.log"
	else
		not_ok "panic $g: generation $((g + 1)) takes over and generation $((g + 2)) joins" \
			"$(tail -40 "$D/crash-$g.log")" "$(diagnose)"
		break
	fi
	g=$((g + 1))
done
last=$((g > CRASHES ? CRASHES + 1 : 0))

# 3. a hang
if [ $last -gt 0 ]; then
	if "$LAB" hang >"$D/hang.log" 2>&1 && check_pair $((last + 1)) $((last + 2)) &&
	   grep -q "heartbeat lost" "$D/hang.log"; then
		ok "a hang of generation $last fails over through HEARTBEAT_LOST and fencing (heartbeat lost +$(ms_of "heartbeat lost" "$D/hang.log")ms, service answering +$(ms_of "service answering from" "$D/hang.log")ms)"
		# No notice, no certainty: the standby waits for the cluster's
		# fence, and takes over the moment the controller confirms it.
		fen=$(ms_of "fenced (vCPUs stopped)" "$D/hang.log")
		disk=$(ms_of "early takeover: disk and address up" "$D/hang.log")
		early=$(ms_of "early takeover: demo-service answering" "$D/hang.log")
		prom=$(ms_of "promoted: generation" "$D/hang.log")
		if [ -n "$fen" ] && [ -n "$disk" ] && [ -n "$early" ] && [ "$disk" -gt "$fen" ]; then
			ok "hang: the early takeover began after the fence (+${fen}ms): disk and address up +${disk}ms, service answering +${early}ms${prom:+ (promotion +${prom}ms)}"
		else
			not_ok "hang: the early takeover begins after the fence and has the service answering" \
				"fenced '$fen' disk '$disk' answering '$early'" \
				"$(grep -E 'early takeover|fence|heartbeat|answering|promoted' "$D/hang.log")"
		fi
		counter_resumed "hang" "$D/hang.log"
		last=$((last + 1))
	else
		not_ok "a hang fails over through HEARTBEAT_LOST and fencing" "$(tail -40 "$D/hang.log")" "$(diagnose)"
		last=0
	fi
fi

# 4. the Backup dies
if [ $last -gt 0 ]; then
	# Its replacement keeps the dead identity's parity: the next number
	# above the newest generation with that parity.
	want=$((last + 3))
	if "$LAB" crash-backup >"$D/backup.log" 2>&1 && check_pair "$last" "$want"; then
		ok "the BackupOS dies: generation $last keeps serving ($(sed -n 's/.*during the BackupOS failure: //p' "$D/backup.log")), generation $want joins as Backup"
	else
		not_ok "the BackupOS dies: the Active keeps serving, a new Backup joins" "$(tail -40 "$D/backup.log")" "$(diagnose)"
	fi
	fails=$(sed -n 's/.*answers from [^,]*, \([0-9]*\) failed tries.*/\1/p' "$D/backup.log")
	if [ "${fails:-x}" = 0 ]; then
		ok "no request failed while the BackupOS died and was replaced"
	else
		not_ok "no request failed while the BackupOS died" "failed tries: ${fails:-unknown}" "$(grep '^fail' "$SHARED/client.log" | head -5)"
	fi
fi

# 5. the watcher's verdict
for p in $watch_pids; do kill "$p" 2>/dev/null; done
watch_pids=""
polls=$(grep -c . "$D/watch-roles")
two=$(awk '$2 > 1' "$D/watch-roles" | head -3)
if [ "$polls" -gt 100 ] && [ -z "$two" ]; then
	ok "never two Active kernels running ($polls polls of the controller)"
else
	not_ok "never two Active kernels running" "polls: $polls" "$two"
fi
spolls=$(grep -c . "$D/watch-service")
twice=$(awk '$2 > 1' "$D/watch-service" | head -3)
if [ "$spolls" -gt 100 ] && [ -z "$twice" ]; then
	ok "the service never ran on both partitions ($spolls polls of both addresses)"
else
	not_ok "the service never ran on both partitions" "polls: $spolls" "$twice"
fi

echo "1..$n"
exit $fail
