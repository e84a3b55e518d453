#!/bin/sh
# orthrosctl takeover (TAP): the plan it reads from a CIB made fresh from
# the lab's own config/orthros.crm (so the early takeover and the
# configuration cannot drift apart), and what it refuses.  The steps
# themselves run in the lab's partitions (tests/e2e).
set -u
: "${ORTHROSCTL:?ORTHROSCTL must point to the built orthrosctl}"
: "${SRCDIR:?SRCDIR must point to the source tree}"

. "$SRCDIR/tests/lib/tap.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
check() {	# NAME EXPECTED-RC PATTERN -- COMMAND...
	name=$1 want=$2 pat=$3
	shift 4
	"$@" >"$tmp/out" 2>&1
	rc=$?
	if [ "$rc" -eq "$want" ] && grep -qE -- "$pat" "$tmp/out"; then
		ok "$name"
	else
		not_ok "$name" "exit $rc (wanted $want), output:" "$(cat "$tmp/out")"
	fi
}

# The CIB Pacemaker would hold: crmsh writes it offline, without agents
# installed (-F: the agents' metadata is not there to check against).
cib=$tmp/cib.xml
cibadmin --empty >"$cib" || bail "cibadmin --empty failed"
printf 'node 1: orthros-a\nnode 2: orthros-b\n' >"$tmp/nodes.crm"
if ! CIB_file=$cib crm -F configure load update "$tmp/nodes.crm" >"$tmp/crm.log" 2>&1 ||
   ! CIB_file=$cib crm -F configure load update "$SRCDIR/config/orthros.crm" >>"$tmp/crm.log" 2>&1; then
	bail "crm could not load config/orthros.crm offline: $(tail -3 "$tmp/crm.log")"
fi

T() { "$ORTHROSCTL" takeover "$@"; }
check "the lab's CIB plans the disk, the address, then the services" 0 \
	'^  service  demo-service: /usr/libexec/orthros/demo-service' -- \
	T --dry-run --cib "$cib" --node orthros-b
if grep -q '^early takeover plan for orthros-b (peer orthros-a): 4 steps' "$tmp/out" &&
   [ "$(sed -n 2p "$tmp/out" | awk '{print $1, $2}')" = "mount data-fs:" ] &&
   [ "$(sed -n 3p "$tmp/out" | awk '{print $1, $2, $3}')" = "address service-ip: 192.0.2.100/24" ] &&
   grep -q '^  service  counter: .*, warm from group counter (ports 7100)$' "$tmp/out" &&
   ! grep -q 'left to Pacemaker' "$tmp/out"; then
	ok "the plan is in phase order with nothing left out"
else
	not_ok "the plan is in phase order with nothing left out" "$(cat "$tmp/out")"
fi
check "the other identity's peer is orthros-b" 0 '\(peer orthros-b\): 4 steps' -- \
	T --dry-run --cib "$cib" --node orthros-a

cp "$cib" "$tmp/old.xml"
touch -d '10 minutes ago' "$tmp/old.xml"
check "a stale copy is refused (no early takeover)" 3 's old \(limit 60 s\)' -- \
	T --dry-run --cib "$tmp/old.xml" --node orthros-b --max-age 60
check "--max-age 0 takes a copy of any age" 0 '4 steps' -- \
	T --dry-run --cib "$tmp/old.xml" --node orthros-b --max-age 0
check "a missing copy means no early takeover" 3 'No such file' -- \
	T --dry-run --cib "$tmp/none.xml" --node orthros-b

head -c 2000 "$cib" >"$tmp/cut.xml"
check "a copy cut short is refused as not a CIB" 1 'no plan from .*not well-formed' -- \
	T --dry-run --cib "$tmp/cut.xml" --node orthros-b

CIB_file=$tmp/standby.xml
cp "$cib" "$CIB_file"
CIB_file=$tmp/standby.xml crm_attribute -N orthros-b -n standby -v on -l forever >/dev/null 2>&1
check "a node in standby takes nothing over" 3 'standby' -- \
	T --dry-run --cib "$tmp/standby.xml" --node orthros-b

cp "$cib" "$tmp/maint.xml"
CIB_file=$tmp/maint.xml crm_attribute -t crm_config -n maintenance-mode -v true >/dev/null 2>&1
check "a cluster in maintenance mode takes nothing over" 3 'maintenance mode' -- \
	T --dry-run --cib "$tmp/maint.xml" --node orthros-b

cp "$cib" "$tmp/stopped.xml"
CIB_file=$tmp/stopped.xml crm_resource -r demo-service --meta -p target-role -v Stopped >/dev/null 2>&1
check "a service meant to be stopped is not started" 0 'left to Pacemaker: demo-service: target-role Stopped' -- \
	T --dry-run --cib "$tmp/stopped.xml" --node orthros-b

cp "$cib" "$tmp/ban.xml"
CIB_file=$tmp/ban.xml crm_resource -r data-fs --ban -N orthros-b >/dev/null 2>&1
check "a ban keeps the disk, and so the service, to Pacemaker" 0 'location constraint.*not started early' -- \
	T --dry-run --cib "$tmp/ban.xml" --node orthros-b

check "a node the CIB does not list has no plan" 3 'orthros-c is not a node of this cluster' -- \
	T --dry-run --cib "$cib" --node orthros-c

# Without the controller's word that the peer is dead, nothing is done.
# The peer is renamed so that no controller (a lab may be up on this
# host) can know it: the answer is an error or a no, never a yes.
sed 's/orthros-a/takeover-test-peer/g' "$cib" >"$tmp/nopeer.xml"
check "the controller cannot vouch for the peer: nothing done, Pacemaker's turn" 1 \
	'leaving the takeover to Pacemaker' -- T --cib "$tmp/nopeer.xml" --node orthros-b --max-age 0
if grep -q '^takeover +' "$tmp/out"; then
	not_ok "no step ran without the controller" "$(cat "$tmp/out")"
else
	ok "no step ran without the controller"
fi

# orthrosd's standby: exec'd in advance, acting only on "go".
check "a standby waits for go, then plans" 0 '\(peer orthros-a\): 4 steps' -- \
	sh -c 'echo go | "$0" takeover --standby --dry-run --cib "$1" --node orthros-b' "$ORTHROSCTL" "$cib"
for input in /dev/null "$tmp/nope"; do
	echo nope >"$tmp/nope"
	T --standby --dry-run --cib "$cib" --node orthros-b <"$input" >"$tmp/out" 2>&1
	rc=$?
	if [ "$rc" -eq 3 ] && ! grep -q 'plan' "$tmp/out"; then
		ok "a standby dismissed by $(basename "$input") does nothing"
	else
		not_ok "a standby dismissed by $(basename "$input") does nothing" "exit $rc:" "$(cat "$tmp/out")"
	fi
done

# "wait" (orthrosd: the Active stopped beating): the standby asks the
# controller until it says the peer is dead (a hang's fence), then takes
# over; "back" (it beats again) stands it by; end-of-file dismisses it.
# No controller can vouch for the renamed peer: it never takes over.
(printf 'wait\n'; sleep 1; printf 'back\n'; sleep 0.5; printf 'wait\n'; sleep 0.5) |
	T --standby --dry-run --cib "$tmp/nopeer.xml" --node orthros-b --max-age 0 >"$tmp/out" 2>&1
rc=$?
if [ "$rc" -eq 3 ] &&
   [ "$(grep -c 'Active (takeover-test-peer) is silent: taking over once the controller says it is dead' "$tmp/out")" -eq 2 ] &&
   [ "$(grep -c 'cannot ask the controller whether takeover-test-peer is dead' "$tmp/out")" -eq 2 ] &&
   [ "$(grep -c 'takeover-test-peer beats again: standing by' "$tmp/out")" -eq 1 ] &&
   ! grep -qE '^takeover \+|steps' "$tmp/out"; then
	ok "a standby told to wait asks the controller, stands by at back, and ends at end-of-file, taking nothing"
else
	not_ok "a standby told to wait asks the controller, stands by at back, and ends at end-of-file, taking nothing" \
		"exit $rc:" "$(cat "$tmp/out")"
fi

# A group restored lazily: the standby takeover has its restore prepared
# by an `orthrosctl ckpt standby` while it waits, and stops it if dismissed.
cp "$cib" "$tmp/lazy.xml"
"$ORTHROSCTL" ckpt format --region "$tmp/region" --keep 3 --size 1MiB >/dev/null || bail "ckpt format failed"
for kv in "group demo" "region $tmp/region" "lazy true"; do
	set -- $kv
	CIB_file=$tmp/lazy.xml crm_resource -r demo-service -p "$1" -v "$2" >/dev/null 2>&1 ||
		bail "crm_resource could not set $1 offline"
done
mkfifo "$tmp/go"
log=/run/orthros/standby-demo.log
# The group's checkpoint standby, once it logs that it waits: its pid in $sb.
wait_ckpt_standby() {	# tries (0.1 s each)
	sb=
	for i in $(seq 1 "$1"); do
		sb=$(pgrep -f "ckpt standby --region $tmp/region --group demo")
		[ -n "$sb" ] && wait_new "$log" "$m" "no restorable checkpoint yet" 1 && break
		sleep 0.1
	done
}
m=$( [ -f "$log" ] && wc -l <"$log" || echo 0)
T --standby --dry-run --cib "$tmp/lazy.xml" --node orthros-b <"$tmp/go" >"$tmp/out" 2>&1 &
tk=$!
exec 7>"$tmp/go"
wait_ckpt_standby 100
exec 7>&-
wait $tk
rc=$?
sleep 0.2
if [ -n "$sb" ] && [ "$rc" -eq 3 ] && ! kill -0 "$sb" 2>/dev/null &&
   tail -n +"$((m + 1))" "$log" | grep -q "signal 15: the standby stops"; then
	ok "a standby takeover prepares a lazy group's restore while it waits, and stops it when dismissed"
else
	not_ok "a standby takeover prepares a lazy group's restore while it waits, and stops it when dismissed" \
		"exit $rc, ckpt standby pid '${sb}'" "$(cat "$tmp/out")" "$(tail -n +"$((m + 1))" "$log" 2>&1)"
fi

# The CIB copy arrives after the standby takeover started (a BackupOS gets
# it once it has joined): the lazy group's checkpoint standby starts then.
m=$( [ -f "$log" ] && wc -l <"$log" || echo 0)
rm -f "$tmp/go" "$tmp/late.xml"
mkfifo "$tmp/go"
T --standby --dry-run --cib "$tmp/late.xml" --node orthros-b <"$tmp/go" >"$tmp/out" 2>&1 &
tk=$!
exec 7>"$tmp/go"
sleep 1.5
early=$(pgrep -f "ckpt standby --region $tmp/region --group demo")
cp "$tmp/lazy.xml" "$tmp/late.xml"
wait_ckpt_standby 50
touch "$tmp/late.xml"	# changed again: no second one
sleep 1.5
n_sb=$(pgrep -fc "ckpt standby --region $tmp/region --group demo")
exec 7>&-
wait $tk
rc=$?
if [ -z "$early" ] && [ -n "$sb" ] && [ "$n_sb" = 1 ] && [ "$rc" -eq 3 ] && ! kill -0 "$sb" 2>/dev/null; then
	ok "a CIB copy that arrives while the standby takeover waits gets the lazy group its checkpoint standby (one)"
else
	not_ok "a CIB copy that arrives while the standby takeover waits gets the lazy group its checkpoint standby (one)" \
		"exit $rc, before the copy '$early', after '$sb', later $n_sb running" "$(cat "$tmp/out")"
fi

check "a bad --max-age is a usage error" 2 'max-age' -- T --max-age soon
check "arguments are refused" 2 'no arguments' -- T extra
check "--help describes the command" 0 'early takeover' -- T --help

echo "1..$n"
exit $fail
