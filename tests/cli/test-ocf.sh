#!/bin/sh
# The Orthros agents on the host (TAP), where no partition is needed:
# every OCF agent's meta-data validates against the OCF 1.1 schema the
# resource-agents package ships; fence_orthros's metadata is well-formed
# XML; ocf-tester passes on ocf:orthros:protected; and its stop is a
# planned stop that still stops when the final checkpoint cannot be taken
# (CRIU cannot dump on this host's kernel: the e2e test shows the success
# case inside a partition), and skips that checkpoint for an unhealthy
# group; the group runs in its cgroup (a private cgroup2 mount here, the
# host may be on cgroup v1), and stop kills what it left there.
set -u
: "${ORTHROSCTL:?ORTHROSCTL must point to the built orthrosctl}"
: "${SRCDIR:?SRCDIR must point to the source tree}"
. "$SRCDIR/tests/lib/tap.sh"
export OCF_ROOT=/usr/lib/ocf
RNG=/usr/share/resource-agents/metadata.rng
for t in xmllint ocf-tester "$RNG"; do
	command -v "$t" >/dev/null 2>&1 || [ -f "$t" ] || bail "$t is not installed (scripts/install-deps.sh)"
done
tmp=$(mktemp -d)
cleanup() {
	kill $(cat "$tmp"/*.pid 2>/dev/null) 2>/dev/null
	if mountpoint -q "$tmp/cg"; then
		for d in "$tmp"/cg/orthros/*/; do
			[ -d "$d" ] && { echo 1 >"$d/cgroup.kill"; sleep 0.2; rmdir "$d"; }
		done
		rmdir "$tmp/cg/orthros" 2>/dev/null
		umount "$tmp/cg"
	fi
	[ -n "${ORTHROS_KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
mkdir "$tmp/cg"
mount -t cgroup2 none "$tmp/cg" || bail "cannot mount a cgroup2 hierarchy at $tmp/cg"
export ORTHROS_CGROUP_ROOT="$tmp/cg"
cg() { sed -n 's/^0:://p' "/proc/$1/cgroup" 2>/dev/null; }

for a in partition protected; do
	if "$SRCDIR/ocf/$a" meta-data >"$tmp/$a.xml" 2>"$tmp/err" &&
	   xmllint --noout --relaxng "$RNG" "$tmp/$a.xml" >"$tmp/err" 2>&1; then
		ok "ocf:orthros:$a meta-data validates against the OCF 1.1 schema"
	else
		not_ok "ocf:orthros:$a meta-data validates" "$(cat "$tmp/err")"
	fi
done
if "$SRCDIR/ocf/fence_orthros" -o metadata >"$tmp/fence.xml" 2>"$tmp/err" &&
   xmllint --noout "$tmp/fence.xml" 2>"$tmp/err" && grep -q '<resource-agent name="fence_orthros"' "$tmp/fence.xml"; then
	ok "fence_orthros metadata is well-formed"
else
	not_ok "fence_orthros metadata is well-formed" "$(cat "$tmp/err")"
fi

# ocf-tester: start, monitor, stop, idempotence, exit codes.
if timeout 300 ocf-tester -n orthros-protected -o command="/bin/sleep 1000" \
	"$SRCDIR/ocf/protected" >"$tmp/ocf-tester" 2>&1; then
	ok "ocf-tester passes on ocf:orthros:protected"
else
	not_ok "ocf-tester passes on ocf:orthros:protected" "$(tail -n 20 "$tmp/ocf-tester")"
fi

# The agent as Pacemaker runs it: one group with a checkpoint store.
"$ORTHROSCTL" ckpt format --region "$tmp/store" --size 4MiB >/dev/null || bail "cannot format a store"
port=$((20000 + $$ % 10000))
agent_cmd() {	# action command -> $tmp/log, returns the agent's exit code
	PATH=$(dirname "$ORTHROSCTL"):$PATH HA_RSCTMP="$tmp" HA_LOGFACILITY=none HA_LOGFILE=/dev/stderr \
	OCF_RESOURCE_INSTANCE=t OCF_RESKEY_group=t OCF_RESKEY_region="$tmp/store" OCF_RESKEY_command="$2" \
	OCF_RESKEY_ports=$port OCF_RESKEY_pid_namespace=$pidns OCF_RESKEY_cgroup=$cgroup \
	OCF_RESKEY_data_paths=$data \
	"$SRCDIR/ocf/protected" "$1" >"$tmp/log" 2>&1 </dev/null
}
agent() { agent_cmd "$1" "/usr/bin/socat TCP-LISTEN:$port,reuseaddr,fork SYSTEM:echo"; }
pidns=auto
cgroup=auto
data=
nspid() { sed -n 's/^NSpid:[[:space:]]*//p' "/proc/$1/status" 2>/dev/null | tr -s '\t ' ' '; }
agent start
rc=$?
if [ $rc -eq 0 ] && grep -q "no checkpoint for group t: cold start" "$tmp/log"; then
	ok "start with an empty store is a cold start, and says so"
else
	not_ok "start with an empty store is a cold start" "exit $rc" "$(cat "$tmp/log")"
fi
cp "$tmp/orthros-protected-t.pid" "$tmp/leader.pid" 2>/dev/null
leader=$(cat "$tmp/leader.pid" 2>/dev/null)
cmd=$(awk '{ print $1 }' "/proc/$leader/task/$leader/children" 2>/dev/null)
if [ -n "$leader" ] && [ "$(nspid "$leader")" = "$leader 1" ] && [ -n "$cmd" ] &&
   [ "$(nspid "$cmd")" = "$cmd 2" ] && grep -q "socat" "/proc/$cmd/cmdline" &&
   grep -q "started cold in its own pid namespace and cgroup $tmp/cg/orthros/t: init pid $leader" "$tmp/log"; then
	ok "a group's cold start runs its command in a pid namespace of its own (the pid file names the init)"
else
	not_ok "a group's cold start runs its command in a pid namespace of its own" \
		"leader '$leader' ($(nspid "$leader")), command '$cmd' ($(nspid "$cmd"))" "$(cat "$tmp/log")"
fi
if [ "$(cg "$leader")" = /orthros/t ] && [ "$(cg "$cmd")" = /orthros/t ]; then
	ok "cgroup=auto: the init and the command run in orthros/GROUP"
else
	not_ok "cgroup=auto: the init and the command run in orthros/GROUP" \
		"leader in '$(cg "$leader")', command in '$(cg "$cmd")'" "$(cat "$tmp/log")"
fi
agent stop
rc=$?
i=0; while [ -n "$cmd" ] && kill -0 "$cmd" 2>/dev/null && [ $i -lt 30 ]; do sleep 0.1; i=$((i + 1)); done
if [ $rc -eq 0 ] && grep -q "final checkpoint of group t failed, stopping without it" "$tmp/log" &&
   [ -n "$leader" ] && ! kill -0 "$leader" 2>/dev/null && ! kill -0 "$cmd" 2>/dev/null; then
	ok "stop of a healthy group tries the final checkpoint; when it fails the group is stopped anyway"
else
	not_ok "stop tries the final checkpoint, and stops the group without it" "exit $rc, leader '$leader'" "$(cat "$tmp/log")"
fi
if [ ! -e "$tmp/cg/orthros/t" ] && ! grep -q "process(es) the group left" "$tmp/log"; then
	ok "stop removes the group's cgroup (its pid namespace took everything with it)"
else
	not_ok "stop removes the group's cgroup" "$(ls "$tmp/cg/orthros" 2>&1)" "$(cat "$tmp/log")"
fi
agent monitor
rc=$?
[ $rc -eq 7 ] && ok "monitor after stop: not running (7)" || not_ok "monitor after stop: not running (7)" "exit $rc" "$(cat "$tmp/log")"

# pid_namespace=false: the command itself leads, in this namespace.
pidns=false
agent start
rc=$?
leader=$(cat "$tmp/orthros-protected-t.pid" 2>/dev/null)
if [ $rc -eq 0 ] && [ -n "$leader" ] && [ "$(nspid "$leader")" = "$leader" ] &&
   grep -q socat "/proc/$leader/cmdline" && grep -q "started cold in cgroup $tmp/cg/orthros/t: pid $leader" "$tmp/log"; then
	ok "pid_namespace=false: the command is the leader, in the partition's pid namespace"
else
	not_ok "pid_namespace=false: the command is the leader, in the partition's pid namespace" \
		"exit $rc, leader '$leader' ($(nspid "$leader"))" "$(cat "$tmp/log")"
fi
agent stop
# Without a pid namespace only the cgroup catches what left the group's
# process group: a daemon it started in a session of its own.
pidns=false
echo "setsid sleep 1000 & exec /usr/bin/socat TCP-LISTEN:$port,reuseaddr,fork SYSTEM:echo" >"$tmp/forks.sh"
agent_cmd start "/bin/sh $tmp/forks.sh"
rc=$?
leader=$(cat "$tmp/orthros-protected-t.pid" 2>/dev/null)
sleeper=$(pgrep -f "^sleep 1000$" | while read -r p; do [ "$(cg "$p")" = /orthros/t ] && echo "$p"; done | head -n1)
if [ $rc -eq 0 ] && [ "$(cg "$leader")" = /orthros/t ] && [ -n "$sleeper" ] &&
   grep -q "started cold in cgroup $tmp/cg/orthros/t: pid $leader" "$tmp/log"; then
	ok "pid_namespace=false: the command and what it starts run in the cgroup"
else
	not_ok "pid_namespace=false: the command and what it starts run in the cgroup" \
		"exit $rc, leader '$leader' in '$(cg "$leader")', sleeper '$sleeper'" "$(cat "$tmp/log")"
fi
agent_cmd stop "/bin/sh $tmp/forks.sh"
rc=$?
i=0; while [ -n "$sleeper" ] && kill -0 "$sleeper" 2>/dev/null && [ $i -lt 30 ]; do sleep 0.1; i=$((i + 1)); done
if [ $rc -eq 0 ] && [ -n "$sleeper" ] && ! kill -0 "$sleeper" 2>/dev/null &&
   grep -q "killed 1 process(es) the group left in $tmp/cg/orthros/t" "$tmp/log" && [ ! -e "$tmp/cg/orthros/t" ]; then
	ok "stop kills what the group left in its cgroup (a daemon in its own session) and removes the cgroup"
else
	not_ok "stop kills what the group left in its cgroup and removes the cgroup" \
		"exit $rc, sleeper '$sleeper' $(kill -0 "$sleeper" 2>/dev/null && echo alive)" "$(cat "$tmp/log")"
fi
cgroup=false
agent start
leader=$(cat "$tmp/orthros-protected-t.pid" 2>/dev/null)
if [ -n "$leader" ] && [ "$(cg "$leader")" = "$(cg $$)" ] && [ ! -e "$tmp/cg/orthros/t" ]; then
	ok "cgroup=false: the group runs in the agent's cgroup, none is created"
else
	not_ok "cgroup=false: the group runs in the agent's cgroup, none is created" \
		"leader '$leader' in '$(cg "$leader")', agent in '$(cg $$)'" "$(cat "$tmp/log")"
fi
agent stop
cgroup=/abs
agent validate-all
rc=$?
[ $rc -eq 6 ] && grep -q "cgroup '/abs' is not a relative cgroup path" "$tmp/log" &&
	ok "cgroup must be a relative path (not configured, 6)" ||
	not_ok "cgroup must be a relative path (not configured, 6)" "exit $rc" "$(cat "$tmp/log")"
cgroup=svc/t
ORTHROS_CGROUP_ROOT=$tmp/no-hierarchy agent validate-all
rc=$?
[ $rc -eq 5 ] && grep -q "cgroup svc/t: no cgroup2 hierarchy is mounted here" "$tmp/log" &&
	ok "a cgroup named where no cgroup2 hierarchy is mounted: not installed (5)" ||
	not_ok "a cgroup named where no cgroup2 hierarchy is mounted: not installed (5)" "exit $rc" "$(cat "$tmp/log")"
cgroup=auto
pidns=maybe
agent validate-all
rc=$?
pidns=auto
[ $rc -eq 6 ] && grep -q "pid_namespace 'maybe' is not auto or a boolean" "$tmp/log" &&
	ok "pid_namespace must be auto or a boolean (not configured, 6)" ||
	not_ok "pid_namespace must be auto or a boolean (not configured, 6)" "exit $rc" "$(cat "$tmp/log")"
# data_paths: a restore writes below them as root, so only plain absolute
# paths, never the root, no wildcards, at most 8.
bad=""
for data in / /srv/ /srv//a /srv/./a /srv/../etc relative '/srv/*' "/a /b /c /d /e /f /g /h /i"; do
	agent validate-all
	rc=$?
	[ $rc -eq 6 ] && grep -q "data_paths" "$tmp/log" || bad="$bad [$data: exit $rc]"
done
data="/srv/orthros /var/lib/orthros-t"
agent validate-all || bad="$bad [$data: exit $?]"
data=
[ -z "$bad" ] && ok "data_paths: only plain absolute paths, up to 8 (not configured, 6)" ||
	not_ok "data_paths: only plain absolute paths, up to 8 (not configured, 6)" "$bad"

# Unhealthy: the port is gone while the leader lives.
agent start >/dev/null
leader=$(cat "$tmp/orthros-protected-t.pid" 2>/dev/null)
cp "$tmp/orthros-protected-t.pid" "$tmp/leader.pid" 2>/dev/null
# socat's listener is the leader: stop it listening by replacing it with a
# sleeping process under the same pid file.
kill "$leader" 2>/dev/null
sleep 1000 &
echo $! >"$tmp/orthros-protected-t.pid"
cp "$tmp/orthros-protected-t.pid" "$tmp/sleeper.pid"
agent stop
rc=$?
if [ $rc -eq 0 ] && grep -q "is not healthy: stopped without a final checkpoint" "$tmp/log" &&
   ! grep -q "final checkpoint of group" "$tmp/log"; then
	ok "stop of an unhealthy group (its port closed) takes no final checkpoint"
else
	not_ok "stop of an unhealthy group takes no final checkpoint" "exit $rc" "$(cat "$tmp/log")"
fi
echo "1..$n"
exit $fail
