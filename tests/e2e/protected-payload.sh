#!/bin/sh
# Runs inside a partition of tests/e2e/test-protected.sh (and of
# test-protected-data.sh: with JOURNAL and DATA_PATH in its env, the
# service keeps a journal there and restores put DATA_PATH back): prepares what
# CRIU needs, then carries out the commands the host drops in the shared
# directory, one at a time (NAME.cmd -> result files NAME.*):
#   start      the protected service (its own session, no terminal) and
#              orthrosd checkpointing it into the store (NAME.started)
#   query TAG  one answer of the service -> NAME.TAG
#   restore T  orthrosctl ckpt restore of the group -> NAME.T (its output,
#              then rc=N)
#   restore-plain T  the same without --data
#   stop       kill the service, drop the extracted images
#   planned-stop
#              SIGTERM to orthrosd (its final checkpoint stops the
#              service) -> NAME.planned: "answering" or "not answering" after
#   agent T A  ocf:orthros:protected action A (start, stop, monitor) for
#              the group, as Pacemaker runs it -> NAME.T (its log, then
#              rc=N); before a stop, the leader of the newest restore is
#              the group's pid
#   protect    orthrosd checkpointing the service running here (a restored
#              one) -> NAME.protected
#   occupy P.. other processes take pids P.. (sleepers) -> NAME.occupied
#              ("wanted got" per pid)
#   ns TAG     the newest restore's root and its child, with their NSpid
#              lines -> NAME.TAG
#   hang-criu  from now on, every CRIU this partition runs hangs at its
#              post-dump action (the group still frozen) while the host
#              keeps NAME.hang in the shared directory: CRIU reads
#              /etc/criu/default.conf in swrk mode too -> NAME.hang-criu
#   list       orthrosctl ckpt list -> NAME.list
#   logs       the CRIU logs kept on tmpfs -> NAME.logs
set -u
arg() { sed -n "s/.*orthros\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
name=$(arg name)
D=$(arg rw)
. "$D/env"
PIDDIR=/run/orthros/protected
mkdir -p "$PIDDIR"

. "$SRCDIR/scripts/guest/criu-prep"
criu_prep "$D/$name.failed" || exit 1
criu check >"$D/$name.criu-check" 2>&1
rm -f "$D/$name.failed"
touch "$D/$name.ready"

query() {	# -> one line from the service, or nothing
	# socat stops waiting for the answer -t seconds after its own input
	# ends (0.5 s by default), which the whole-hold check of every answer
	# can outlast under TCG, all the more during a checkpoint's freeze:
	# wait as long as -T.  Ask again if the connection still fails.
	for _ in 1 2 3 4 5; do
		line=$(socat -t 20 -T 20 - "TCP:127.0.0.1:$PORT" </dev/null 2>/dev/null)
		[ -n "$line" ] && { echo "$line"; return 0; }
		sleep 0.2
	done
	return 1
}

while :; do
	if [ -f "$D/$name.cmd" ]; then
		cmd=$(cat "$D/$name.cmd")
		rm -f "$D/$name.cmd"
		case "$cmd" in
		start)
			# /dev/null for every fd: a file only this partition has
			# could not be reopened where the service is restored.
			# CRIU restores pids: the group runs in a pid namespace of
			# its own (orthros-init, as ocf:orthros:protected starts a
			# group), so its pids are free wherever it is restored; and
			# in its cgroup, as the agent puts it.
			"$ORTHROS_INIT" --pidfile "$PIDDIR/demo.pid" --cgroup /sys/fs/cgroup/orthros/demo -- \
				"$DEMO" --port "$PORT" --hold "$HOLD_MB" ${JOURNAL:+--journal "$JOURNAL"} </dev/null >/dev/null 2>&1
			init=$(cat "$PIDDIR/demo.pid")
			echo "init $init demo $(cat "/proc/$init/task/$init/children")" >"$D/$name.pids"
			i=0
			until query | grep -q '^counter' || [ $i -ge 600 ]; do sleep 0.1; i=$((i + 1)); done
			"$ORTHROSD" --device none --no-attributes --config "$D/orthros.yaml" \
				--region auto --pid-dir "$PIDDIR" >"$D/$name.orthrosd" 2>&1 </dev/null &
			echo "$!" >"$D/$name.orthrosd.pid"
			touch "$D/$name.started" ;;
		protect)
			# the group's tree: rooted at the init of its pid namespace
			pgrep -o -x orthros-init >"$PIDDIR/demo.pid"
			"$ORTHROSD" --device none --no-attributes --config "$D/orthros.yaml" \
				--region auto --pid-dir "$PIDDIR" >"$D/$name.orthrosd" 2>&1 </dev/null &
			echo "$!" >"$D/$name.orthrosd.pid"
			touch "$D/$name.protected" ;;
		hang-criu)
			mkdir -p /etc/criu
			printf '#!/bin/sh\n[ "$CRTOOLS_SCRIPT_ACTION" = post-dump ] && [ -f "%s" ] && exec sleep 3600\nexit 0\n' \
				"$D/$name.hang" >/run/hang-criu.sh
			chmod +x /run/hang-criu.sh
			echo "action-script /run/hang-criu.sh" >/etc/criu/default.conf
			touch "$D/$name.hang-criu" ;;
		occupy\ *)
			# other processes of this partition take the given pids
			: >"$D/$name.occupied.tmp"
			for p in ${cmd#occupy }; do
				echo $((p - 1)) >/proc/sys/kernel/ns_last_pid
				setsid sleep 1000 </dev/null >/dev/null 2>&1 &
				echo "$p $!" >>"$D/$name.occupied.tmp"
			done
			mv "$D/$name.occupied.tmp" "$D/$name.occupied" ;;
		ns\ *)
			# the newest restore's root and its child: NSpid lines
			t=${cmd#ns }
			pid=$(sed -n 's/.*: pid \([0-9]*\),.*/\1/p' "$D/$name".restore* 2>/dev/null | tail -n1)
			child=$(cat "/proc/$pid/task/$pid/children" 2>/dev/null | awk '{ print $1 }')
			echo "root $pid $(sed -n 's/^NSpid:[[:space:]]*//p' "/proc/$pid/status" | tr -s '\t ' '  ')" >"$D/$name.$t.tmp"
			echo "child $child $(sed -n 's/^NSpid:[[:space:]]*//p' "/proc/$child/status" 2>/dev/null | tr -s '\t ' '  ')" >>"$D/$name.$t.tmp"
			echo "cgroup $(sed -n 's/^0:://p' "/proc/$pid/cgroup") $(sed -n 's/^0:://p' "/proc/$child/cgroup" 2>/dev/null)" >>"$D/$name.$t.tmp"
			mv "$D/$name.$t.tmp" "$D/$name.$t" ;;
		query\ *)
			query >"$D/$name.${cmd#query }.tmp"
			mv "$D/$name.${cmd#query }.tmp" "$D/$name.${cmd#query }" ;;
		restore\ *)
			t=${cmd#restore }
			"$CTL" ckpt restore --region auto --group demo ${DATA_PATH:+--data "$DATA_PATH"} >"$D/$name.$t.tmp" 2>&1
			echo "rc=$?" >>"$D/$name.$t.tmp"
			mv "$D/$name.$t.tmp" "$D/$name.$t" ;;
		restore-plain\ *)
			# without the data paths, as a group without them is restored
			t=${cmd#restore-plain }
			"$CTL" ckpt restore --region auto --group demo >"$D/$name.$t.tmp" 2>&1
			echo "rc=$?" >>"$D/$name.$t.tmp"
			mv "$D/$name.$t.tmp" "$D/$name.$t" ;;
		lazy\ *)
			t=${cmd#lazy }
			"$CTL" ckpt restore --region auto --group demo --lazy ${DATA_PATH:+--data "$DATA_PATH"} >"$D/$name.$t.tmp" 2>&1
			echo "rc=$?" >>"$D/$name.$t.tmp"
			mv "$D/$name.$t.tmp" "$D/$name.$t" ;;
		standby\ *)
			# a standby prepares the lazy restore; the next one goes through it
			t=${cmd#standby }
			"$CTL" ckpt standby --region auto --group demo >"$D/$name.$t.log" 2>&1 </dev/null &
			i=0
			until grep -q "standby prepared" "$D/$name.$t.log" || [ $i -ge 600 ]; do sleep 0.1; i=$((i + 1)); done
			# a tree restored ahead must wait stopped: its state, a second later
			sleep 1
			p=$(sed -n 's/.*restored ahead in [0-9.]* ms: pid \([0-9]*\) stopped.*/\1/p' "$D/$name.$t.log" | tail -n1)
			if [ -n "$p" ]; then
				echo "ahead pid $p state $(sed 's/.*) \([A-Z]\).*/\1/' "/proc/$p/stat" 2>/dev/null)" >"$D/$name.$t.tmp"
			else
				: >"$D/$name.$t.tmp"
			fi
			mv "$D/$name.$t.tmp" "$D/$name.$t" ;;
		views\ *)
			# the lazy-pages daemon exits once every page is in; the view with it
			t=${cmd#views }
			lp=$(sed -n 's/^lazy pages: daemon pid \([0-9]*\).*/\1/p' "$D/$name".lazy* 2>/dev/null | tail -n1)
			i=0
			while [ -n "$lp" ] && kill -0 "$lp" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
			sleep 0.5
			echo "daemon ${lp:-none} gone after $((i / 10)) s, views mounted $(grep -c ' fuse.orthros ' /proc/mounts)" >"$D/$name.$t.tmp"
			mv "$D/$name.$t.tmp" "$D/$name.$t" ;;
		stop)
			pid=$(sed -n 's/.*: pid \([0-9]*\),.*/\1/p' "$D/$name".restore* 2>/dev/null | tail -n1)
			[ -n "$pid" ] && kill -9 "$pid"
			[ -f "$PIDDIR/demo.pid" ] && kill -9 "$(cat "$PIDDIR/demo.pid")"
			# every restore (full, lazy, through the standby) has its own
			# pids: end every instance, each with its namespace
			pkill -9 -x orthros-init 2>/dev/null
			pkill -9 -f "ckpt-demo --port" 2>/dev/null
			pkill -9 -f "criu lazy-pages" 2>/dev/null
			pkill -TERM -f "ckpt standby" 2>/dev/null
			sleep 0.5
			for m in $(awk '$3 == "fuse.orthros" { print $2 }' /proc/mounts); do umount -l "$m"; done
			rm -rf /run/orthros/ckpt/restore.*
			touch "$D/$name.stopped" ;;
		pause|resume)
			# SIGUSR1 pauses orthrosd's periodic checkpoints, SIGUSR2 resumes them
			[ "$cmd" = pause ] && sig=USR1 || sig=USR2
			kill -"$sig" "$(cat "$D/$name.orthrosd.pid")"
			touch "$D/$name.$cmd" ;;
		planned-stop)
			op=$(cat "$D/$name.orthrosd.pid")
			kill -TERM "$op"
			i=0
			while kill -0 "$op" 2>/dev/null && [ $i -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done
			# -t: a slow answer is still an answer, not "not answering"
			if socat -t 5 -T 5 - "TCP:127.0.0.1:$PORT" </dev/null 2>/dev/null | grep -q counter; then
				echo answering >"$D/$name.planned.tmp"
			else
				echo "not answering" >"$D/$name.planned.tmp"
			fi
			mv "$D/$name.planned.tmp" "$D/$name.planned" ;;
		agent\ *)
			set -- ${cmd#agent }
			mkdir -p /run/resource-agents
			if [ "$2" = stop ]; then
				pid=$(sed -n 's/.*: pid \([0-9]*\),.*/\1/p' "$D/$name".restore* 2>/dev/null | tail -n1)
				[ -n "$pid" ] && echo "$pid" >/run/resource-agents/orthros-protected-demo.pid
			fi
			PATH=$(dirname "$CTL"):$PATH OCF_ROOT=/usr/lib/ocf HA_RSCTMP=/run/resource-agents \
			HA_LOGFACILITY=none HA_LOGFILE=/dev/stderr \
			OCF_RESOURCE_INSTANCE=demo OCF_RESKEY_group=demo OCF_RESKEY_region=auto \
			OCF_RESKEY_command="$DEMO --port $PORT --hold $HOLD_MB" OCF_RESKEY_ports=$PORT \
				"$SRCDIR/ocf/protected" "$2" >"$D/$name.$1.tmp" 2>&1 </dev/null
			echo "rc=$?" >>"$D/$name.$1.tmp"
			mv "$D/$name.$1.tmp" "$D/$name.$1" ;;
		list)
			"$CTL" ckpt list --region auto >"$D/$name.list" 2>&1 ;;
		logs)
			# CRIU's logs of failed steps (tmpfs here) for the host to show
			tail -n 15 /run/orthros/ckpt/demo/*.log /run/orthros/ckpt/restore.*/*/restore.log \
				>"$D/$name.logs.tmp" 2>&1
			mv "$D/$name.logs.tmp" "$D/$name.logs" ;;
		esac
	fi
	sleep 0.1
done
