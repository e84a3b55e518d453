#!/bin/sh
# Runs inside a test partition: loads orthros.ko (generation and role come
# from the kernel command line), records every link event in the shared
# directory and carries out commands the host drops there.
set -u
arg() { sed -n "s/.*orthros\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
name=$(arg name)
D=$(arg rw)
. "$D/env"
# insmod, unlike modprobe, does not read orthros.* from the kernel command line.
if ! insmod "$KO" gen="$(arg gen)" role="$(arg role)" \
	${ORTHROS_INTERVAL_US:+interval_us=$ORTHROS_INTERVAL_US} \
	${ORTHROS_TIMEOUT_US:+timeout_us=$ORTHROS_TIMEOUT_US} 2>"$D/$name.failed"; then
	dmesg | tail -20 >>"$D/$name.failed"
	exit 1
fi
rm -f "$D/$name.failed"
"$CTL" link events >"$D/$name.events" 2>&1 &
"$CTL" link info >"$D/$name.info" 2>&1
touch "$D/$name.ready"
while :; do
	if [ -f "$D/$name.cmd" ]; then
		cmd=$(cat "$D/$name.cmd")
		rm -f "$D/$name.cmd"
		case "$cmd" in
		panic) echo c >/proc/sysrq-trigger ;;
		reboot) /bin/busybox reboot -f ;;
		stress\ *) nice -n 19 stress-ng --cpu 1 --timeout "${cmd#stress }" -q & ;;
		status) "$CTL" link status >"$D/$name.status" 2>&1 ;;
		interrupts)
			grep orthros /proc/interrupts >"$D/$name.irq.tmp" 2>&1
			mv "$D/$name.irq.tmp" "$D/$name.irq" ;;
		ocf-tester)
			# The partition agent against this partition's real
			# /dev/orthros; no cluster here, so nothing to grow or boot.
			# The agent refuses to run other than as a promotable clone,
			# so the tester gets the clone meta Pacemaker would pass.
			ocf-tester -n orthros-partition -o grow=false -o boot_backup=false \
				-o orthrosctl="$CTL" -o CRM_meta_clone_max=2 -o CRM_meta_clone_node_max=1 \
				-o CRM_meta_promotable=true -o CRM_meta_promoted_max=1 \
				"$OCF_PARTITION" >"$D/$name.ocf-tester.tmp" 2>&1
			echo "rc=$?" >>"$D/$name.ocf-tester.tmp"
			mv "$D/$name.ocf-tester.tmp" "$D/$name.ocf-tester" ;;
		quit) exit 0 ;;
		esac
	fi
	sleep 0.1
done
