#!/bin/sh
# A protected group whose state is both in memory and on the data disk
# (TAP), in real partitions (Debian's 6.1 kernel in QEMU guests sharing one
# checkpoint store): orthros-ckpt-demo --journal keeps a file open in DATA
# (a directory both partitions share, standing for the data disk) and
# appends a record every 100 ms of its running time; orthrosd's
# configuration names DATA as the group's data_paths.
#   1. A: every checkpoint takes DATA while CRIU holds the tree frozen;
#      a file unchanged since the copy made ahead of the freeze is taken
#      from that copy, the growing journal is read again under the freeze
#   2. A is killed a few seconds after a checkpoint: the journal on the
#      data disk now holds records the checkpointed memory never wrote
#   3. B: a restore without the data paths succeeds (CRIU does not check
#      the size of a file open for writing) and leaves memory and journal
#      disagreeing: what a group without them gets
#   4. B: the restore with them puts the journal back as of the dump
#      first; the service resumes, its answer agrees with the file, and
#      it goes on appending to the same file through the descriptor CRIU
#      reopened: one history, every record later than the one before;
#      a file made after the dump is moved aside (kept), not left in the
#      restored service's way
# Needs root, QEMU, criu; about 2 minutes under TCG.
set -u
: "${ORTHROSCTL:?}" "${SRCDIR:?}"
. "$SRCDIR/tests/lib/tap.sh"
. "$SRCDIR/tests/lib/partitions.sh"
HOLD_MB=8
INTERVAL_S=3
PORT=7000
MEM=${ORTHROS_PARTITION_MEM:-768M}

protected_setup /tmp/orthros-pdata.XXXXXX
DATA=$D/data
mkdir "$DATA"
# A file the service never writes: the checkpoints take it from the copy
# made ahead of the freeze, not under it.
echo "records: journal" >"$DATA/settings"

printf 'CTL=%s\nORTHROSD=%s\nDEMO=%s\nORTHROS_INIT=%s\nHOLD_MB=%s\nPORT=%s\nSRCDIR=%s\nJOURNAL=%s\nDATA_PATH=%s\n' \
	"$ORTHROSCTL" "$ORTHROSD" "$DEMO" "$ORTHROS_INIT" "$HOLD_MB" "$PORT" "$SRCDIR" "$DATA/journal" "$DATA" >"$D/env"
sed -e "s|^  interval: 1s$|  interval: ${INTERVAL_S}s|" \
    -e "s|command: \[.*\]|command: [$DEMO, --port, \"$PORT\", --hold, \"$HOLD_MB\", --journal, $DATA/journal]|" \
    -e "s|ports: \[7000\]|ports: [$PORT]|" -e "s|data_paths: \[.*\]|data_paths: [$DATA]|" \
    "$SRCDIR/config/orthros.yaml" >"$D/orthros.yaml"
grep -q "data_paths: \[$DATA\]" "$D/orthros.yaml" || bail "the configuration has no data_paths line to set"
"$ORTHROSCTL" config check "$D/orthros.yaml" >/dev/null || bail "test configuration invalid"
truncate -s 128M "$D/store"
"$ORTHROSCTL" ckpt format --region "$D/store" --keep 5 >/dev/null || bail "cannot format the store"

# The journal's records, one value per line; "" if it is not one history
# (a value not above the one before it).
history() {
	awk '$1 != "counter" || $2 !~ /^[0-9]+$/ || ($2 + 0) <= last { bad = 1 } { last = $2 + 0 }
	     END { if (!bad) print last }' "$DATA/journal"
}

# ---- 1. A runs the service and checkpoints it with its journal ----
start_protected a
a_qemu=$qemu_pid
ready a
cmd a start started 120 || bail "the service did not start in A: $(tail -5 "$D/a.console")"
if wait_for "$D/a.orthrosd" "data paths taken while frozen: 2 files" 120 &&
   wait_for "$D/a.orthrosd" "checkpoint set [0-9]* (incremental" 120; then
	ok "A: orthrosd takes the journal with every checkpoint, while CRIU holds the tree frozen"
else
	not_ok "A: orthrosd takes the journal with every checkpoint" "$(tail -n 12 "$D/a.orthrosd")"
	bail "no checkpoint with the journal"
fi
# The journal grows between the copy ahead and the freeze; settings not.
if wait_for "$D/a.orthrosd" "2 files.*; 1 of the files (17 bytes) unchanged since the copy made ahead" 60; then
	ok "A: the unchanged settings file is taken from the copy made ahead of the freeze, the growing journal read again under it"
else
	not_ok "A: an unchanged file comes from the copy made ahead" "$(grep "data paths" "$D/a.orthrosd" | tail -n 4)"
fi
grep "checkpoint set\|data paths" "$D/a.orthrosd" | sed 's/^/# A: /'

# ---- 2. crash A a few seconds after a checkpoint ----
n_ck=$(grep -c "checkpoint set" "$D/a.orthrosd")
i=0
while [ "$(grep -c "checkpoint set" "$D/a.orthrosd")" -le "$n_ck" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
last_set=$(sed -n 's/.*checkpoint set \([0-9]*\) .*/\1/p' "$D/a.orthrosd" | tail -n1)
sleep 1.5
cmd a "query last" last 60
kill -9 "$a_qemu"
wait "$a_qemu" 2>/dev/null
j_crash=$(history)
records_crash=$(wc -l <"$DATA/journal")
if [ -n "$j_crash" ] && [ "$(field journal "$D/a.last")" -le "$j_crash" ]; then
	ok "A crashed with $records_crash records in its journal, the last $j_crash (it answered journal $(field journal "$D/a.last") before the crash; set $last_set was committed before that)"
else
	not_ok "A's journal is one history" "$(tail -n 3 "$DATA/journal")" "$(cat "$D/a.last")"
fi

# ---- 3. without the data paths: memory and file disagree ----
# CRIU checks the size of a file open read-only, not of one open for
# writing: it reopens the grown journal as it finds it, and the service
# resumes believing its last record is one the file has long passed.
start_protected b
b_qemu=$qemu_pid
ready b
cmd b "restore-plain plain" plain 180
sed 's/^/# B, without --data: /' "$D/b.plain"
sleep 1
cmd b "query plainq" plainq 60
j_mem=$(field journal "$D/b.plainq")
sed 's/^/# B, without --data: /' "$D/b.plainq"
if grep -q '^rc=0$' "$D/b.plain" && [ -n "$j_mem" ] && [ "$j_mem" -lt "$j_crash" ] && [ -z "$(history)" ]; then
	ok "B: without the data paths CRIU restores the service over the grown journal (it answers journal $j_mem, the file had reached $j_crash): its later records now go back in time"
else
	not_ok "B: without the data paths the restored service and its journal disagree" "$(cat "$D/b.plain")" \
		"$(cat "$D/b.plainq" 2>/dev/null)" "$(tail -n 4 "$DATA/journal")"
fi
cmd b stop stopped 30

# ---- 4. with them: files and memory of one instant ----
# A file made after the dump (say the service rotated its log): the
# restored memory never knew it.
printf 'late\n' >"$DATA/rotated.1"
cmd b "restore r1" r1 180
sed 's/^/# B: /' "$D/b.r1"
seq=$(sed -n 's/.*from set \([0-9]*\) .*/\1/p' "$D/b.r1")
j_put=$(history)
if grep -q '^rc=0$' "$D/b.r1" && grep -q "^data paths put back as of set $seq: 2 files" "$D/b.r1" &&
   [ -n "$j_put" ] && [ "$j_put" -lt "$j_crash" ]; then
	ok "B: restored from set $seq with the journal put back first: its last record $j_put (the $((records_crash - $(wc -l <"$DATA/journal"))) records after the checkpoint went with the memory that wrote them)"
else
	cmd b logs logs 20
	not_ok "B: the restore puts the journal back as of the dump" "$(cat "$D/b.r1")" "journal: $(tail -n 2 "$DATA/journal")" \
		"$(tail -n 5 "$D/b.logs" 2>/dev/null)"
fi
if grep -q "^data paths: 1 entries newer than set $seq moved aside" "$D/b.r1" && [ ! -e "$DATA/rotated.1" ] &&
   grep -qx late "$DATA/.orthros-aside/set-$seq/rotated.1" 2>/dev/null; then
	ok "B: rotated.1, made after the dump, is moved aside and kept in .orthros-aside/set-$seq"
else
	not_ok "B: a file made after the dump is moved aside" "$(grep aside "$D/b.r1")" "$(ls -aR "$DATA")"
fi
sleep 1
cmd b "query after" after 60
sed 's/^/# B: /' "$D/b.after"
j_b=$(field journal "$D/b.after")
j_now=$(history)
if grep -q "pattern ok" "$D/b.after" && [ "$(field resumed "$D/b.after")" -gt 0 ] && [ -n "$j_b" ] &&
   [ "$j_b" -gt "${j_put:-0}" ] && [ -n "$j_now" ] && [ "$j_now" -ge "$j_b" ] &&
   grep -qx "counter $j_b" "$DATA/journal"; then
	ok "B: the service resumed at $(field resumed "$D/b.after") and appends to the same journal: one history, now at $j_now (it answered journal $j_b)"
else
	not_ok "B: the service goes on with one history in its journal" "$(cat "$D/b.after")" \
		"history: '${j_now}' (empty: a record not later than the one before)" "$(tail -n 4 "$DATA/journal")"
fi

echo "1..$n"
exit $fail
