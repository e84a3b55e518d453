#!/bin/sh
# orthrosctl ckpt standby (TAP), on the host, with a stand-in for criu: its
# "lazy-pages" leaves a daemon behind, its "swrk" takes CRIU's RPC request
# (decoded with pycriu, the protobuf code the criu package ships), reads
# the images and work directory through the standby's fds as CRIU does,
# and copies out what it is shown.  The standby must prepare when a set
# is there, prepare again when a new set is committed (the old view and
# daemon gone), be the one a `restore --lazy` reaches, never restore an
# older chain than the newest, refuse a second standby of the group, and
# abandon its preparation on SIGTERM.  Restored ahead (the swrk told to
# leave the tree stopped, which the stand-in does with a real stopped
# process): the tree must stay stopped until the request, be killed when a
# newer set is chosen or the standby is stopped, and be resumed by the
# restore; a chain over the budget is only prepared.
set -u
: "${ORTHROSCTL:?ORTHROSCTL must point to the built orthrosctl}"
: "${SRCDIR:?SRCDIR must point to the source tree}"
. "$SRCDIR/tests/lib/tap.sh"

command -v crit >/dev/null || bail "crit (package criu) is needed to write CRIU images"
/usr/bin/python3 -c 'import pycriu.rpc_pb2' 2>/dev/null || bail "pycriu (package criu) is needed to speak CRIU's RPC"
[ -w /dev/fuse ] || bail "no /dev/fuse: the view cannot be mounted here (modprobe fuse)"

tmp=$(mktemp -d)
sbpid=
cleanup() {
	[ -n "$sbpid" ] && kill "$sbpid" 2>/dev/null
	for p in $(cat "$tmp/daemons" "$tmp/seen.stopped" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
	for m in $(awk '$3 == "fuse.orthros" { print $2 }' /proc/mounts); do
		case "$m" in "$tmp"/*) umount -l "$m" 2>/dev/null ;; esac
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
region=$tmp/region
ctl() { "$ORTHROSCTL" ckpt "$@" >"$tmp/out" 2>"$tmp/err"; }
# Alive, not a zombie nobody reaped yet.
alive() { [ -n "$1" ] && [ -d "/proc/$1" ] && ! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null; }
mounted() { awk -v t="$tmp" '$3 == "fuse.orthros" && index($2, t) == 1 { n++ } END { print n + 0 }' /proc/mounts; }
# A dump of its own (no parent): 2 lazy pages, its core image random.
dump() {	# dir -> set number
	mkdir -p "$1"
	printf '{"magic": "PAGEMAP", "entries": [{"pages_id": 1}, {"vaddr": "0x10000", "nr_pages": 2, "flags": "PE_LAZY | PE_PRESENT"}]}' \
		>"$tmp/pm.json"
	crit encode -i "$tmp/pm.json" -o "$1/pagemap-1.img" || bail "crit encode failed"
	head -c $((2 * 4096)) /dev/urandom >"$1/pages-1.img"
	head -c 3000 /dev/urandom >"$1/core-1.img"
	printf 'inventory' >"$1/inventory.img"
	ctl put --region "$region" --group demo "$1" || bail "put: $(cat "$tmp/err")"
	cat "$tmp/out"
}
start_standby() {	# extra args...
	"$ORTHROSCTL" ckpt standby --region "$region" --group demo --workdir "$tmp/work" "$@" \
		>>"$tmp/sb.out" 2>>"$tmp/sb.log" &
	sbpid=$!
}
# Did the standby exit (within 10 s), and how: in $rc.
standby_exit() {
	i=0
	while kill -0 "$sbpid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	wait "$sbpid"
	rc=$?
	sbpid=
}

cat >"$tmp/criu" <<'EOF'
#!/usr/bin/python3
# The stand-in: lazy-pages -D DIR -W WORK --daemon --pidfile F ...; swrk FD.
import os, shutil, socket, struct, subprocess, sys
out = os.environ["FAKE_OUT"]
a = sys.argv
if a[1] == "lazy-pages":
    work = a[a.index("-W") + 1]
    d = subprocess.Popen(["sleep", "120"], start_new_session=True)
    open(a[a.index("--pidfile") + 1], "w").write("%d\n" % d.pid)
    open(os.path.join(work, "lazy-pages.socket"), "w").close()
    open(out + ".daemons", "a").write("%d\n" % d.pid)
    sys.exit(0)
if a[1] == "restore":
    # the plain lazy restore, without a standby
    work = a[a.index("-W") + 1]
    if not os.path.exists(os.path.join(work, "lazy-pages.socket")):
        sys.exit(1)
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(a[a.index("-D") + 1], out)
    open(a[a.index("--pidfile") + 1], "w").write("4343\n")
    sys.exit(0)
if a[1] != "swrk":
    sys.exit(2)
from pycriu import rpc_pb2 as rpc
sk = socket.socket(fileno=int(a[2]))
open(out + ".swrks", "a").write("%d\n" % os.getpid())
data = sk.recv(65536)
if not data:
    sys.exit(1)
req = rpc.criu_req()
req.ParseFromString(data)
peer = struct.unpack("3i", sk.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[0]
images = "/proc/%d/fd/%d" % (peer, req.opts.images_dir_fd)
work = "/proc/%d/fd/%d" % (peer, req.opts.work_dir_fd)
real = os.readlink(images)
stopped = False
with open(out + ".req", "w") as f:
    f.write("type %d lazy %s tcp_close %s shell_job %s log %s\n" % (
        req.type, req.opts.lazy_pages, req.opts.tcp_close, req.opts.shell_job, req.opts.log_file))
    if req.opts.HasField("config_file"):
        conf = open(req.opts.config_file).read().split()
        f.write("config %s\n" % " ".join(conf))
        stopped = "leave-stopped" in conf
    for line in open("/proc/mounts"):
        w = line.split()
        if w[1] == real:
            f.write("mount %s %s\n" % (w[2], w[3]))
shutil.rmtree(out, ignore_errors=True)
shutil.copytree(images, out)
resp = rpc.criu_resp(type=rpc.RESTORE)
resp.success = req.opts.lazy_pages and os.path.exists(os.path.join(work, "lazy-pages.socket"))
if resp.success and stopped:
    # a tree left stopped: a real process, stopped before it is handed over
    import signal, time
    t = subprocess.Popen(["sleep", "300"], start_new_session=True)
    os.kill(t.pid, signal.SIGSTOP)
    while open("/proc/%d/stat" % t.pid).read().rsplit(")", 1)[1].split()[0] != "T":
        time.sleep(0.01)
    open(out + ".stopped", "a").write("%d\n" % t.pid)
    resp.restore.pid = t.pid
elif resp.success:
    resp.restore.pid = 4242
else:
    resp.cr_errmsg = "no lazy-pages socket in the work directory"
sk.send(resp.SerializeToString())
EOF
chmod 755 "$tmp/criu"
export CRIU_BINARY="$tmp/criu" FAKE_OUT="$tmp/seen"
touch "$tmp/sb.log"

ctl format --region "$region" --keep 3 --size 4MiB || bail "format: $(cat "$tmp/err")"

# Prepared only (--ahead-max 0) up to the restored-ahead part below.
# No set yet: the standby waits, and says so.
start_standby --poll 100 --ahead-max 0
if wait_for "$tmp/sb.log" "no restorable checkpoint yet; waiting" 10 && [ "$(mounted)" = 0 ]; then
	ok "a standby without a checkpoint to prepare waits for one"
else
	not_ok "a standby without a checkpoint to prepare waits for one" "$(cat "$tmp/sb.log")"
fi

m=$(mark "$tmp/sb.log")
first=$(dump "$tmp/d1")
wait_new "$tmp/sb.log" "$m" "standby prepared set $first (1 sets" 20
wait_for "$FAKE_OUT.swrks" . 10
if grep -q "standby prepared set $first (1 sets" "$tmp/sb.log" && [ "$(mounted)" = 1 ] &&
   alive "$(tail -1 "$FAKE_OUT.daemons")" && alive "$(tail -1 "$FAKE_OUT.swrks")"; then
	ok "a committed set is prepared: view mounted, lazy-pages daemon and criu swrk waiting"
else
	not_ok "a committed set is prepared: view mounted, lazy-pages daemon and criu swrk waiting" \
		"$(cat "$tmp/sb.log")" "mounts: $(mounted)"
fi

"$ORTHROSCTL" ckpt standby --region "$region" --group demo --workdir "$tmp/work" --ahead-max 0 >"$tmp/out2" 2>"$tmp/err2" &
second=$!
i=0
while kill -0 $second 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
wait $second
rc=$?
if [ $rc = 1 ] && grep -q "a standby of group demo on $region already runs here" "$tmp/err2"; then
	ok "a second standby of the same group is refused"
else
	not_ok "a second standby of the same group is refused" "rc=$rc" "$(cat "$tmp/out2" "$tmp/err2")"
fi

old_daemon=$(tail -1 "$FAKE_OUT.daemons")
m=$(mark "$tmp/sb.log")
newest=$(dump "$tmp/d2")
sleep 0.5
if wait_new "$tmp/sb.log" "$m" "standby prepared set $newest (1 sets" 20 && [ "$(mounted)" = 1 ] &&
   ! alive "$old_daemon" && [ "$(wc -l <"$FAKE_OUT.swrks")" = 1 ]; then
	ok "a newer set is prepared again: the old view and daemon gone, the same swrk kept"
else
	not_ok "a newer set is prepared again: the old view and daemon gone, the same swrk kept" \
		"$(cat "$tmp/sb.log")" "mounts: $(mounted)" "swrks: $(cat "$FAKE_OUT.swrks")"
fi

ctl restore --region "$region" --group demo --workdir "$tmp/work" --lazy
rc=$?
if [ $rc = 0 ] && grep -q "^restored group demo from set $newest (1 sets, 0 newer pre-dumps passed over): pid 4242, view " "$tmp/out" &&
   grep -q "^standby: prepared .* before the request .*restored through the waiting criu swrk" "$tmp/out" &&
   cmp -s "$tmp/d2/core-1.img" "$FAKE_OUT/core-1.img"; then
	ok "restore --lazy is served by the standby, through its swrk, from the newest set"
else
	not_ok "restore --lazy is served by the standby, through its swrk, from the newest set" "rc=$rc" \
		"$(cat "$tmp/out" "$tmp/err")" "$(cat "$tmp/sb.log")"
fi

if grep -q "^type 2 lazy True tcp_close True shell_job False log restore.log$" "$FAKE_OUT.req" &&
   grep -q "^mount fuse.orthros ro," "$FAKE_OUT.req"; then
	ok "the swrk is asked for a lazy restore, connections closed, of the read-only view"
else
	not_ok "the swrk is asked for a lazy restore, connections closed, of the read-only view" "$(cat "$FAKE_OUT.req")"
fi

standby_exit
if [ "$rc" = 0 ] && grep -q "restore asked: done" "$tmp/sb.log"; then
	ok "the standby exits once it has restored"
else
	not_ok "the standby exits once it has restored" "rc=$rc" "$(cat "$tmp/sb.log")"
fi

# The restored group's daemon still runs, and the view's server with it
# (forked from the standby that is gone): a new standby of the group
# binds the same name and prepares.
rm -f "$tmp/sb3.log"
"$ORTHROSCTL" ckpt standby --region "$region" --group demo --workdir "$tmp/work" --ahead-max 0 >/dev/null 2>"$tmp/sb3.log" &
sb3=$!
if wait_for "$tmp/sb3.log" "standby prepared set $newest" 20 && alive "$(tail -1 "$FAKE_OUT.daemons")"; then
	kill -TERM $sb3
	wait $sb3
	ok "a standby starts again while the daemon of the group it restored still runs"
else
	kill -TERM $sb3 2>/dev/null
	wait $sb3
	not_ok "a standby starts again while the daemon of the group it restored still runs" "$(cat "$tmp/sb3.log")"
fi

# Blind to the store for a minute: a set committed meanwhile is found at
# the request, and that set is restored, not the prepared one.
start_standby --poll 60000 --ahead-max 0
m=$(mark "$tmp/sb.log")
wait_new "$tmp/sb.log" 0 "standby prepared set $newest" 20 || bail "no preparation: $(cat "$tmp/sb.log")"
later=$(dump "$tmp/d3")
ctl restore --region "$region" --group demo --workdir "$tmp/work" --lazy
rc=$?
if [ $rc = 0 ] && grep -q "^restored group demo from set $later " "$tmp/out" &&
   grep -q "^standby: the store had changed: prepared again at the request" "$tmp/out" &&
   cmp -s "$tmp/d3/core-1.img" "$FAKE_OUT/core-1.img"; then
	ok "a set committed after the last look is the one restored (prepared at the request)"
else
	not_ok "a set committed after the last look is the one restored (prepared at the request)" "rc=$rc" \
		"$(cat "$tmp/out" "$tmp/err")"
fi
standby_exit

# Stopped: its preparation abandoned.
mv "$tmp/sb.log" "$tmp/sb.log.1"
touch "$tmp/sb.log"
start_standby --poll 100 --ahead-max 0
m=$(mark "$tmp/sb.log")
wait_new "$tmp/sb.log" "$m" "standby prepared set $later" 20 || bail "no preparation: $(cat "$tmp/sb.log")"
# The same group in another store is not this standby's to restore.
"$ORTHROSCTL" ckpt format --region "$tmp/other" --keep 3 --size 1MiB >/dev/null || bail "format other"
ctl restore --region "$tmp/other" --group demo --workdir "$tmp/work" --lazy
rc=$?
if [ $rc = 3 ] && grep -q "no checkpoint for group demo" "$tmp/out" && kill -0 "$sbpid" 2>/dev/null &&
   ! grep -q "restore asked" "$tmp/sb.log"; then
	ok "a restore of the same group from another store does not reach the standby"
else
	not_ok "a restore of the same group from another store does not reach the standby" "rc=$rc" \
		"$(cat "$tmp/out" "$tmp/err")" "$(tail -3 "$tmp/sb.log")"
fi
daemon=$(tail -1 "$FAKE_OUT.daemons")
view=$(tail -n +"$((m + 1))" "$tmp/sb.log" | sed -n 's/.*standby prepared.* view at \([^,]*\),.*/\1/p' | tail -1)
kill -TERM "$sbpid"
standby_exit
sleep 0.3
if [ "$rc" = 0 ] && [ -n "$view" ] && ! awk -v d="$view" 'index($2, d) == 1 { f = 1 } END { exit !f }' /proc/mounts &&
   ! alive "$daemon" && [ ! -e "$view" ]; then
	ok "SIGTERM abandons the preparation: view unmounted, daemon killed, directory removed"
else
	not_ok "SIGTERM abandons the preparation: view unmounted, daemon killed, directory removed" "rc=$rc" \
		"view: $view" "$(grep fuse.orthros /proc/mounts)" "$(ls "$tmp/work")"
fi

# Without a standby, restore --lazy does it itself (no standby line).
ctl restore --region "$region" --group demo --workdir "$tmp/work" --lazy
rc=$?
if [ $rc = 0 ] && grep -q "^restored group demo from set $later .*pid 4343" "$tmp/out" && ! grep -q "^standby:" "$tmp/out"; then
	ok "without a standby, restore --lazy restores by itself"
else
	not_ok "without a standby, restore --lazy restores by itself" "rc=$rc" "$(cat "$tmp/out" "$tmp/err")"
fi

# ---- restored ahead ----
state() { sed 's/.*) \([A-Z]\).*/\1/' "/proc/$1/stat" 2>/dev/null; }
mv "$tmp/sb.log" "$tmp/sb.log.2"
touch "$tmp/sb.log"
start_standby --poll 100
wait_new "$tmp/sb.log" 0 "standby prepared set $later" 20 || bail "no preparation: $(cat "$tmp/sb.log")"
p1=$(sed -n 's/.*restored ahead in [0-9.]* ms: pid \([0-9]*\) stopped.*/\1/p' "$tmp/sb.log" | tail -1)
v1=$(sed -n 's/.*standby prepared.* view at \([^,]*\),.*/\1/p' "$tmp/sb.log" | tail -1)
view_mounted() { [ -n "$1" ] && awk -v d="$1" 'index($2, d) == 1 { f = 1 } END { exit !f }' /proc/mounts; }
sleep 0.5
if [ -n "$p1" ] && [ "$p1" = "$(tail -1 "$FAKE_OUT.stopped")" ] && [ "$(state "$p1")" = T ] &&
   grep -q "^config leave-stopped$" "$FAKE_OUT.req" && grep -q "^type 2 lazy True " "$FAKE_OUT.req"; then
	ok "within the budget, the set is restored ahead: criu told to leave the tree stopped, and it stays so"
else
	not_ok "within the budget, the set is restored ahead: criu told to leave the tree stopped, and it stays so" \
		"pid '$p1' state '$(state "$p1")'" "$(cat "$tmp/sb.log")" "$(cat "$FAKE_OUT.req")"
fi

m=$(mark "$tmp/sb.log")
ahead=$(dump "$tmp/d4")
if wait_new "$tmp/sb.log" "$m" "standby prepared set $ahead .*restored ahead" 20; then
	p2=$(tail -n +"$((m + 1))" "$tmp/sb.log" | sed -n 's/.*restored ahead in [0-9.]* ms: pid \([0-9]*\) stopped.*/\1/p' | tail -1)
	v2=$(tail -n +"$((m + 1))" "$tmp/sb.log" | sed -n 's/.*standby prepared.* view at \([^,]*\),.*/\1/p' | tail -1)
	sleep 0.3
fi
if [ -n "${p2:-}" ] && [ "$p2" != "$p1" ] && ! alive "$p1" && [ "$(state "$p2")" = T ] &&
   ! view_mounted "$v1" && view_mounted "${v2:-}"; then
	ok "a newer set: the tree restored ahead of the old one killed, the new one restored ahead"
else
	not_ok "a newer set: the tree restored ahead of the old one killed, the new one restored ahead" \
		"old $p1 alive: $(alive "$p1" && echo yes), new '${p2:-}' state '$(state "${p2:-0}")'" "$(cat "$tmp/sb.log")"
fi

ctl restore --region "$region" --group demo --workdir "$tmp/work" --lazy
rc=$?
sleep 0.2
if [ $rc = 0 ] && grep -q "^restored group demo from set $ahead .*: pid ${p2:-x}," "$tmp/out" &&
   grep -q "^standby: restored ahead .* before the request .*; resumed at the request" "$tmp/out" &&
   [ "$(state "${p2:-0}")" = S ] && cmp -s "$tmp/d4/core-1.img" "$FAKE_OUT/core-1.img"; then
	ok "restore --lazy resumes the tree restored ahead: its pid, running, the newest set"
else
	not_ok "restore --lazy resumes the tree restored ahead: its pid, running, the newest set" "rc=$rc" \
		"state '$(state "${p2:-0}")'" "$(cat "$tmp/out" "$tmp/err")" "$(tail -3 "$tmp/sb.log")"
fi
tl=$(sed -n 's/^standby: timeline from orthrosctl.s start: main at +\([0-9.]*\) ms, connecting at +\([0-9.]*\) ms, asked at +\([0-9.]*\) ms, heard at +\([0-9.]*\) ms, tree resumed at +\([0-9.]*\) ms$/\1 \2 \3 \4 \5/p' "$tmp/out")
if [ -n "$tl" ] && echo "$tl" | awk '{ exit !($1 >= 0 && $1 <= $2 && $2 <= $3 && $3 <= $4 && $4 <= $5 && $5 < 10000) }'; then
	ok "the answer says where the request's time went, on one clock (main, connecting, asked, heard, resumed at +$(echo "$tl" | sed 's/ /, +/g') ms from orthrosctl's start)"
else
	not_ok "the answer gives the request's timeline" "'$tl'" "$(cat "$tmp/out")"
fi
standby_exit
kill -9 "${p2:-}" 2>/dev/null

# Stopped while it holds a stopped tree: the tree goes with it.
start_standby --poll 100
m=$(mark "$tmp/sb.log")
wait_new "$tmp/sb.log" "$m" "standby prepared set $ahead .*restored ahead" 20 || bail "no preparation: $(cat "$tmp/sb.log")"
p3=$(tail -1 "$FAKE_OUT.stopped")
kill -TERM "$sbpid"
standby_exit
sleep 0.3
if [ "$rc" = 0 ] && [ "$p3" != "${p2:-}" ] && ! alive "$p3"; then
	ok "SIGTERM kills the tree restored ahead"
else
	not_ok "SIGTERM kills the tree restored ahead" "rc=$rc pid $p3 alive: $(alive "$p3" && echo yes)" "$(tail -3 "$tmp/sb.log")"
fi

# Over the budget: prepared only, and said why.
n_stopped=$(wc -l <"$FAKE_OUT.stopped")
m=$(mark "$tmp/sb.log")
start_standby --poll 100 --ahead-max 4KiB
if wait_new "$tmp/sb.log" "$m" "standby prepared set $ahead .*criu swrk pid [0-9]* waiting" 20 &&
   grep -q "not restored ahead: its [0-9]* KiB exceed the budget of 4 KiB" "$tmp/sb.log" &&
   [ "$(wc -l <"$FAKE_OUT.stopped")" = "$n_stopped" ]; then
	ok "a chain over --ahead-max is prepared only, and the log says why"
else
	not_ok "a chain over --ahead-max is prepared only, and the log says why" "$(tail -4 "$tmp/sb.log")"
fi
kill -TERM "$sbpid"
standby_exit

"$ORTHROSCTL" ckpt standby --region "$region" --group demo --ahead-max lots >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc = 2 ] && grep -q "ahead-max 'lots' is not a size" "$tmp/err"; then
	ok "a bad --ahead-max is a usage error"
else
	not_ok "a bad --ahead-max is a usage error" "rc=$rc" "$(cat "$tmp/err")"
fi

cat "$FAKE_OUT.daemons" >"$tmp/daemons" 2>/dev/null

echo "1..$n"
exit $fail
