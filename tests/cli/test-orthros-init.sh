#!/bin/sh
# orthros-init (TAP), on the host: the command runs as pid 2 of a new pid
# namespace under the init (pid 1 in it, its pid outside in --pidfile); a
# TERM to the init's process group reaches the command once; a TERM to the
# init alone is passed on; the init exits with the command's status and
# reaps the namespace's orphans; what it passes on reaches the command's
# process group; a command that cannot run is an error; --cgroup puts the
# whole tree in a cgroup2 directory (a private cgroup2 mount here: the host
# may be on cgroup v1) and refuses a path outside one.
set -u
: "${ORTHROS_INIT:?ORTHROS_INIT must point to the built orthros-init}"
: "${SRCDIR:?SRCDIR must point to the source tree}"
. "$SRCDIR/tests/lib/tap.sh"

tmp=$(mktemp -d)
pids=""
cleanup() {
	for p in $pids; do kill -KILL "$p" 2>/dev/null; done
	if mountpoint -q "$tmp/cg" 2>/dev/null; then
		sleep 0.2
		rmdir "$tmp/cg/orthros/demo" "$tmp/cg/orthros" 2>/dev/null
		umount "$tmp/cg"
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

# nspid PID -> "outer inner" from /proc/PID/status
nspid() { sed -n 's/^NSpid:[[:space:]]*//p' "/proc/$1/status" 2>/dev/null | tr -s '\t ' ' '; }
# alive PID: running, not a zombie waiting for this host's init to reap it
alive() { [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status"; }
gone_within() {	# pid seconds
	i=0
	while alive "$1" && [ $i -lt $(($2 * 10)) ]; do sleep 0.1; i=$((i + 1)); done
	! alive "$1"
}

# 1-3: namespaces and pids
cat >"$tmp/cmd.sh" <<'SH'
echo $$ >"$1/self"
trap 'echo term >>"$1/log"' TERM
# After the first TERM, a while to log a second one, if any came.
while :; do sleep 0.05; [ -s "$1/log" ] && { sleep 0.5; exit 3; }; done
SH
if "$ORTHROS_INIT" --pidfile "$tmp/pid" -- /bin/sh "$tmp/cmd.sh" "$tmp" 2>"$tmp/err"; then
	ok "the launcher exits 0 once the command runs"
else
	not_ok "the launcher exits 0 once the command runs" "$(cat "$tmp/err")"
fi
init=$(cat "$tmp/pid" 2>/dev/null)
pids="$init"
i=0; until [ -s "$tmp/self" ] || [ $i -ge 50 ]; do sleep 0.1; i=$((i + 1)); done
cmd=$(awk '{ print $1 }' "/proc/$init/task/$init/children" 2>/dev/null)
if [ "$(nspid "$init" | cut -d' ' -f2)" = 1 ] && [ "$(cat "$tmp/self")" = 2 ] &&
   [ "$(nspid "$cmd")" = "$cmd 2" ] && [ "$(readlink "/proc/$init/ns/pid")" != "$(readlink /proc/self/ns/pid)" ]; then
	ok "the pid file names the init, pid 1 of a new pid namespace; the command is pid 2 in it"
else
	not_ok "the pid file names the init, pid 1 of a new pid namespace; the command is pid 2 in it" \
		"init $init: $(nspid "$init"); command $cmd: $(nspid "$cmd"), \$\$ $(cat "$tmp/self")"
fi
sid() { awk '{ print $6 }' "/proc/$1/stat"; }
pgid() { awk '{ print $5 }' "/proc/$1/stat"; }
if [ "$(sid "$init")" = "$init" ] && [ "$(pgid "$init")" = "$init" ] && [ "$(sid "$cmd")" = "$init" ] &&
   [ "$(pgid "$cmd")" = "$cmd" ]; then
	ok "the init leads its session (inside the tree CRIU dumps); the command has a group of its own"
else
	not_ok "the init leads its session (inside the tree CRIU dumps); the command has a group of its own" \
		"init sid $(sid "$init") pgid $(pgid "$init"); command sid $(sid "$cmd") pgid $(pgid "$cmd")"
fi

# 4: the agent's stop signals the init's process group
kill -s TERM -- "-$init"
if gone_within "$init" 5 && gone_within "$cmd" 1 && [ "$(grep -c term "$tmp/log" 2>/dev/null)" = 1 ]; then
	ok "a TERM to the init's group reaches the command once, and both exit"
else
	not_ok "a TERM to the init's group reaches the command once, and both exit" \
		"log: $(cat "$tmp/log" 2>/dev/null)" "init alive: $(alive "$init" && echo yes)"
fi

# 5-7: statuses and orphans, seen by a subreaper (this host's init may reap late)
python3 - "$ORTHROS_INIT" "$tmp" >"$tmp/py.out" 2>&1 <<'PY'
import ctypes, os, signal, subprocess, sys, time
init_bin, tmp = sys.argv[1], sys.argv[2]
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(36, 1, 0, 0, 0) != 0:          # PR_SET_CHILD_SUBREAPER
    print("no subreaper"); sys.exit(1)
def start(cmd):
    rc = subprocess.call([init_bin, "--pidfile", tmp + "/p2", "--"] + cmd)
    assert rc == 0, rc
    return int(open(tmp + "/p2").read())
def status(pid):
    st = os.waitpid(pid, 0)[1]
    return os.waitstatus_to_exitcode(st)
print("exit", status(start(["/bin/sh", "-c", "exit 7"])))
p = start(["/bin/sleep", "100"])
time.sleep(0.3)
os.kill(p, signal.SIGTERM)
print("term", status(p))
# The command leaves an orphan that exits: the init (pid 1 inside) reaps it.
p = start(["/bin/sh", "-c", "(sleep 0.2; exit 0) & exec sleep 100"])
time.sleep(1.0)
zombies = 0
for t in os.listdir("/proc"):
    if t.isdigit():
        try:
            st = open("/proc/%s/status" % t).read()
        except OSError:
            continue
        f = dict(l.split(":", 1) for l in st.splitlines() if ":" in l)
        if f.get("PPid", "").strip() == str(p) and f.get("State", "").strip().startswith("Z"):
            zombies += 1
children = open("/proc/%d/task/%d/children" % (p, p)).read().split()
print("orphans", zombies, "children", len(children))
os.kill(p, signal.SIGKILL)
status(p)
PY
grep -q "^exit 7$" "$tmp/py.out" && ok "the init exits with the command's status" ||
	not_ok "the init exits with the command's status" "$(cat "$tmp/py.out")"
grep -q "^term 143$" "$tmp/py.out" && ok "a TERM to the init alone is passed on to the command (status 128+15)" ||
	not_ok "a TERM to the init alone is passed on to the command (status 128+15)" "$(cat "$tmp/py.out")"
grep -q "^orphans 0 children 1$" "$tmp/py.out" && ok "the namespace's orphans are reaped by the init" ||
	not_ok "the namespace's orphans are reaped by the init" "$(cat "$tmp/py.out")"

# 8: what the init passes on reaches the command's whole process group
cat >"$tmp/tree.sh" <<'SH'
sh -c 'trap "echo child >>\"$1/log2\"; exit 0" TERM; while :; do sleep 0.05; done' sh "$1" &
trap 'echo parent >>"$1/log2"' TERM
while :; do sleep 0.05; [ "$(wc -l 2>/dev/null <"$1/log2")" = 2 ] && exit 0; done
SH
"$ORTHROS_INIT" --pidfile "$tmp/pid5" -- /bin/sh "$tmp/tree.sh" "$tmp" 2>"$tmp/err"
init=$(cat "$tmp/pid5" 2>/dev/null)
pids="$pids $init"
sleep 0.5
kill -TERM "$init"
if gone_within "$init" 5 && grep -qx parent "$tmp/log2" && grep -qx child "$tmp/log2"; then
	ok "a TERM to the init reaches the command and its children (its process group)"
else
	not_ok "a TERM to the init reaches the command and its children (its process group)" \
		"log: $(cat "$tmp/log2" 2>/dev/null)" "$(cat "$tmp/err")"
fi

# 9-10: errors
if "$ORTHROS_INIT" --pidfile "$tmp/pid3" -- "$tmp/no-such-command" 2>"$tmp/err"; then
	not_ok "a command that cannot run: exit 1 and why, no pid file" "exited 0"
elif grep -q "cannot run $tmp/no-such-command: No such file or directory" "$tmp/err" && [ ! -e "$tmp/pid3" ]; then
	ok "a command that cannot run: exit 1 and why, no pid file"
else
	not_ok "a command that cannot run: exit 1 and why, no pid file" "$(cat "$tmp/err")"
fi
"$ORTHROS_INIT" --pidfile "$tmp/pid4" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc = 2 ] && grep -q "no command given" "$tmp/err" && grep -q "^usage: orthros-init" "$tmp/err" &&
	ok "no command: usage, exit 2" || not_ok "no command: usage, exit 2" "rc $rc: $(cat "$tmp/err")"

# 11-13: --cgroup
mkdir "$tmp/cg"
mount -t cgroup2 none "$tmp/cg" || bail "cannot mount a cgroup2 hierarchy at $tmp/cg"
cg() { sed -n 's/^0:://p' "/proc/$1/cgroup"; }
if "$ORTHROS_INIT" --pidfile "$tmp/pid6" --cgroup "$tmp/cg/orthros/demo" -- sleep 60 2>"$tmp/err"; then
	init=$(cat "$tmp/pid6")
	pids="$pids $init"
	cmd=$(awk '{ print $1 }' "/proc/$init/task/$init/children" 2>/dev/null)
	procs=$(sort -n "$tmp/cg/orthros/demo/cgroup.procs" | tr '\n' ' ')
	if [ "$(cg "$init")" = /orthros/demo ] && [ -n "$cmd" ] && [ "$(cg "$cmd")" = /orthros/demo ] &&
	   [ "$procs" = "$(printf '%s\n' "$init" "$cmd" | sort -n | tr '\n' ' ')" ]; then
		ok "--cgroup: the init and the command are born in the cgroup, created with its parent"
	else
		not_ok "--cgroup: the init and the command are born in the cgroup, created with its parent" \
			"init $init in $(cg "$init"), command $cmd in $(cg "$cmd"), cgroup.procs: $procs"
	fi
else
	not_ok "--cgroup: the init and the command are born in the cgroup, created with its parent" "$(cat "$tmp/err")"
fi
if "$ORTHROS_INIT" --pidfile "$tmp/pid7" --cgroup "$tmp/plain/orthros/demo" -- sleep 60 2>"$tmp/err"; then
	pids="$pids $(cat "$tmp/pid7")"
	not_ok "--cgroup outside a cgroup2 hierarchy: exit 1 and why, nothing created or started" "exited 0"
elif grep -q "cgroup $tmp/plain/orthros/demo: not in a cgroup2 hierarchy" "$tmp/err" &&
     [ ! -e "$tmp/plain" ] && [ ! -e "$tmp/pid7" ]; then
	ok "--cgroup outside a cgroup2 hierarchy: exit 1 and why, nothing created or started"
else
	not_ok "--cgroup outside a cgroup2 hierarchy: exit 1 and why, nothing created or started" "$(cat "$tmp/err")"
fi
"$ORTHROS_INIT" --cgroup orthros/demo -- true 2>"$tmp/err"
rc=$?
[ $rc = 2 ] && grep -q "must be an absolute path" "$tmp/err" &&
	ok "--cgroup with a relative path: exit 2" || not_ok "--cgroup with a relative path: exit 2" "rc $rc: $(cat "$tmp/err")"

echo "1..$n"
exit $fail
