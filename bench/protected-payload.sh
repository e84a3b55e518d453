#!/bin/sh
# Runs inside a partition of bench/protected.sh: carries out the commands
# the host drops in the shared directory (NAME.cmd -> NAME.TAG), timing on
# the partition's own clock (epoch ms; one partition at a time, so no
# clock is compared with another's):
#   cold TAG      start orthros-ckpt-demo: the first time it computes
#                 HOLD_MB MB of state and persists it on the data disk
#                 (/dev/vda), later it loads it from there;
#                 "t0 MS" and the first request answer's "first MS ..."
#   rate TAG S    requests back to back for S seconds -> "rate R n N ...",
#                 and "checkpoints N" orthrosd committed meanwhile
#   full TAG N M  N plain full dumps by hand (orthrosctl ckpt dump): the
#                 freeze a checkpoint without a pre-dump costs; M "load"
#                 runs the bench's client meanwhile, "idle" does not
#   floor TAG N   CRIU's least freeze per increment in this partition: the
#                 demo holding the same state alone, as pid 1 of a pid
#                 namespace of its own (one task, fewer than any group
#                 restorable without pid clashes), dumped in full, then N
#                 increments with orthrosd's options; "full MS" and
#                 "increment MS" lines, freezes from CRIU's stats
#   ckpt          orthrosd checkpointing the service (NAME.orthrosd)
#   pause, resume SIGUSR1 / SIGUSR2 to orthrosd: its periodic checkpoints
#                 stop (once no round is in flight) and start again
#   settle        sync and drop the page cache (after the first start wrote
#                 its state), so what follows does not pay for writeback
#   restore TAG   orthrosctl ckpt restore; t0, its output, "restored MS",
#                 then the first request answer
#   lazy TAG      the same restore with pages on demand (--lazy)
#   standby TAG   start `orthrosctl ckpt standby` (NAME.TAG.standby, its
#                 log) and wait until it has prepared: the next lazy
#                 restore goes through it, as in a BackupOS that prepared
#                 while its ActiveOS ran
#   check TAG     one answer of the main port: the whole hold verified
#   kill          stop the service and drop restored images
set -u
arg() { sed -n "s/.*orthros\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
name=$(arg name)
D=$(arg rw)
. "$D/env"
PIDDIR=/run/orthros/protected
mkdir -p "$PIDDIR"
. "$SRCDIR/scripts/guest/criu-prep"
criu_prep "$D/$name.failed" || exit 1
DATA=/run/orthros/data
mkdir -p "$DATA"
modprobe virtio_blk 2>/dev/null; modprobe ext4 2>/dev/null
i=0
until [ -b /dev/vda ] || [ $i -ge 50 ]; do sleep 0.1; i=$((i + 1)); done
mount /dev/vda "$DATA" 2>>"$D/$name.failed" || { echo "cannot mount the data disk" >>"$D/$name.failed"; exit 1; }
rm -f "$D/$name.failed"
touch "$D/$name.ready"

now() { date +%s%3N; }
# With two vCPUs or more (an ActiveOS's shape), the service and the bench's
# own client share CPU 0 and orthrosd (its CRIU calls and copies) runs on
# the last CPU, as an operator would place it on a housekeeping core
# (systemd CPUAffinity=): what is measured is then what checkpointing
# costs the service, not what it costs a client that should not be here.
last=$(($(nproc) - 1))
if [ "$last" -gt 0 ]; then
	svc="taskset -c 0" ckpt="taskset -c $last"
else
	svc="" ckpt=""
fi
# freezing + frozen of the dump in DIR, in ms, from CRIU's stats (as
# orthrosd reads them)
frozen() {
	python3 -c '
import sys
from pycriu import images
d = images.load(open(sys.argv[1], "rb"))["entries"][0]["dump"]
print("%.1f" % ((d["freezing_time"] + d["frozen_time"]) / 1000.0))' "$1/stats-dump" 2>/dev/null || echo -
}
floor() {	# tag rounds
	fdir=/run/orthros/floor
	rm -rf "$fdir"
	mkdir -p "$fdir/0"
	# setsid: CRIU wants the session leader inside the dumped tree
	$svc unshare --pid --fork setsid "$DEMO" --port $((PORT + 10)) --request-port $((RPORT + 10)) \
		--hold "$HOLD_MB" </dev/null >/dev/null 2>&1 &
	python3 "$SRCDIR/bench/req-client.py" first $((RPORT + 10)) 600 >/dev/null 2>&1
	fpid=$(pgrep -n -f "ckpt-demo --port $((PORT + 10))")
	opts="--leave-running --track-mem --tcp-close --skip-in-flight -o dump.log"
	# shellcheck disable=SC2086
	$ckpt criu dump -t "$fpid" -D "$fdir/0" $opts >/dev/null 2>&1
	echo "full $(frozen "$fdir/0")" >"$D/$name.$1.tmp"
	k=1
	while [ "$k" -le "$2" ]; do
		sleep 1
		mkdir "$fdir/$k"
		# shellcheck disable=SC2086
		$ckpt criu dump -t "$fpid" -D "$fdir/$k" --prev-images-dir "../$((k - 1))" $opts >/dev/null 2>&1
		echo "increment $(frozen "$fdir/$k")" >>"$D/$name.$1.tmp"
		k=$((k + 1))
	done
	kill -9 "$fpid" 2>/dev/null
	rm -rf "$fdir"
	mv "$D/$name.$1.tmp" "$D/$name.$1"
}
client() {	# mode port arg -> background client whose output is $D/$name.client
	rm -f "$D/$name.client"
	$svc python3 "$SRCDIR/bench/req-client.py" "$@" >"$D/$name.client" 2>&1 &
	cpid=$!
	i=0
	until grep -q '^ready' "$D/$name.client" 2>/dev/null || [ $i -ge 300 ]; do sleep 0.05; i=$((i + 1)); done
}
finish() {	# tag: wait for the client, publish the result file
	wait "$cpid"
	cat "$D/$name.client" >>"$D/$name.$1.tmp"
	mv "$D/$name.$1.tmp" "$D/$name.$1"
}
restore() {	# tag extra-args...
	t=$1
	shift
	client first "$RPORT" 600
	echo "t0 $(now)" >"$D/$name.$t.tmp"
	"$CTL" ckpt restore --region auto --group demo "$@" >>"$D/$name.$t.tmp" 2>&1
	echo "rc=$? restored $(now)" >>"$D/$name.$t.tmp"
	wait "$cpid"
	cat "$D/$name.client" >>"$D/$name.$t.tmp"
	# Lazy: the daemon exits once every page is in.
	lp=$(sed -n 's/^lazy pages: daemon pid \([0-9]*\).*/\1/p' "$D/$name.$t.tmp")
	if [ -n "$lp" ]; then
		i=0
		while kill -0 "$lp" 2>/dev/null && [ $i -lt 6000 ]; do sleep 0.1; i=$((i + 1)); done
		echo "allin $(now)" >>"$D/$name.$t.tmp"
	fi
	mv "$D/$name.$t.tmp" "$D/$name.$t"
}

while :; do
	if [ -f "$D/$name.cmd" ]; then
		cmd=$(cat "$D/$name.cmd")
		rm -f "$D/$name.cmd"
		case "$cmd" in
		cold\ *)
			# in a pid namespace and a cgroup of its own, as
			# ocf:orthros:protected starts a checkpointed group
			# (docs/protected.md)
			client first "$RPORT" 600
			echo "t0 $(now)" >"$D/$name.${cmd#cold }.tmp"
			$svc "$ORTHROS_INIT" --pidfile "$PIDDIR/demo.pid" --cgroup /sys/fs/cgroup/orthros/demo -- \
				"$DEMO" --port "$PORT" --request-port "$RPORT" \
				--hold "$HOLD_MB" --state "$DATA/demo.state" </dev/null >/dev/null 2>&1
			finish "${cmd#cold }" ;;
		rate\ *)
			set -- ${cmd#rate }
			n0=$(grep -c "checkpoint set" "$D/$name.orthrosd" 2>/dev/null)
			$svc python3 "$SRCDIR/bench/req-client.py" rate "$RPORT" "$2" >"$D/$name.$1.tmp" 2>&1
			n1=$(grep -c "checkpoint set" "$D/$name.orthrosd" 2>/dev/null)
			echo "checkpoints $((${n1:-0} - ${n0:-0}))" >>"$D/$name.$1.tmp"
			mv "$D/$name.$1.tmp" "$D/$name.$1" ;;
		full\ *)
			# full TAG N idle|load: N plain full dumps, with the bench's
			# client running back to back meanwhile when "load" (as it
			# runs while orthrosd's increments are measured)
			set -- ${cmd#full }
			: >"$D/$name.$1.tmp"
			lp=""
			if [ "$3" = load ]; then
				$svc python3 "$SRCDIR/bench/req-client.py" rate "$RPORT" 3600 >/dev/null 2>&1 &
				lp=$!
				sleep 2
			fi
			k=0
			while [ $k -lt "$2" ]; do
				$ckpt "$CTL" ckpt dump --region auto --group demo --pid "$(cat "$PIDDIR/demo.pid")" \
					>>"$D/$name.$1.tmp" 2>&1
				echo "rc=$?" >>"$D/$name.$1.tmp"
				k=$((k + 1))
			done
			[ -n "$lp" ] && kill "$lp" 2>/dev/null && wait "$lp" 2>/dev/null
			mv "$D/$name.$1.tmp" "$D/$name.$1" ;;
		pause|resume)
			[ "$cmd" = pause ] && sig=USR1 word=paused || sig=USR2 word=resumed
			n0=$(grep -c "periodic checkpoints $word" "$D/$name.orthrosd")
			kill -"$sig" "$(cat "$D/$name.orthrosd.pid")"
			i=0
			while [ "$(grep -c "periodic checkpoints $word" "$D/$name.orthrosd")" -le "$n0" ] && [ $i -lt 1800 ]; do
				sleep 0.1
				i=$((i + 1))
			done
			touch "$D/$name.$cmd" ;;
		settle)
			sync
			echo 3 >/proc/sys/vm/drop_caches
			touch "$D/$name.settle" ;;
		floor\ *)
			set -- ${cmd#floor }
			floor "$1" "$2" ;;
		ckpt)
			$ckpt "$ORTHROSD" --device none --no-attributes --config "$D/orthros.yaml" \
				--region auto --pid-dir "$PIDDIR" >"$D/$name.orthrosd" 2>&1 </dev/null &
			echo $! >"$D/$name.orthrosd.pid"
			touch "$D/$name.ckpt" ;;
		restore\ *)
			restore "${cmd#restore }" ;;
		lazy\ *)
			restore "${cmd#lazy }" --lazy ;;
		standby\ *)
			t=${cmd#standby }
			"$CTL" ckpt standby --region auto --group demo >"$D/$name.$t.standby" 2>&1 </dev/null &
			i=0
			until grep -q "standby prepared" "$D/$name.$t.standby" || [ $i -ge 1200 ]; do
				sleep 0.1
				i=$((i + 1))
			done
			touch "$D/$name.$t" ;;
		check\ *)
			python3 "$SRCDIR/bench/req-client.py" full "$PORT" 600 >"$D/$name.${cmd#check }.tmp" 2>&1
			mv "$D/$name.${cmd#check }.tmp" "$D/$name.${cmd#check }" ;;
		kill)
			for p in $(sed -n 's/.*: pid \([0-9]*\),.*/\1/p' "$D/$name".* 2>/dev/null) \
				 $(cat "$PIDDIR/demo.pid" 2>/dev/null); do
				kill -9 "$p" 2>/dev/null
			done
			pkill -9 -x orthros-init
			pkill -9 -f ckpt-demo
			pkill -TERM -f "ckpt standby"
			sleep 0.5
			rm -rf /run/orthros/ckpt/restore.*
			touch "$D/$name.killed" ;;
		esac
	fi
	sleep 0.1
done
