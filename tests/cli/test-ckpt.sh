#!/bin/sh
# orthrosctl ckpt end to end (TAP): a directory goes into the store and comes
# back byte-identical; a corrupted newest set is refused with its reason and
# the previous one returned; with nothing left, the "no checkpoint" exit code.
set -u
: "${ORTHROSCTL:?ORTHROSCTL must point to the built orthrosctl}"
: "${SRCDIR:?SRCDIR must point to the source tree}"
. "$SRCDIR/tests/lib/tap.sh"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
region=$tmp/region
ctl() { "$ORTHROSCTL" ckpt "$@" >"$tmp/out" 2>"$tmp/err"; }

# The byte offset of SEQ's slot (from list) plus OFF, for dd.
slot_offset() {
	slot=$("$ORTHROSCTL" ckpt list --region "$region" | awk -v s="$1" '$2 == s { print $1 }')
	# format lays out 4096-byte superblock page + equal 4096-aligned slots
	echo $((4096 + slot * slot_size + $2))
}
corrupt() {	# seq offset-in-slot
	printf '\377\000\125\252' | dd of="$region" bs=1 seek="$(slot_offset "$1" "$2")" conv=notrunc status=none
}

if ctl format --region "$region" --keep 2 --size 1MiB && grep -q '3 slots of 348160 bytes (keep 2)' "$tmp/out"; then
	ok "format lays out keep + 1 slots"
else
	not_ok "format lays out keep + 1 slots" "$(cat "$tmp/out" "$tmp/err")"
fi
slot_size=348160

mkdir -p "$tmp/images"
head -c 100000 /dev/urandom >"$tmp/images/pages-1.img"
printf 'inventory' >"$tmp/images/inventory.img"
: >"$tmp/images/empty.img"
chmod 0640 "$tmp/images/inventory.img"

ctl put --region "$region" --group demo "$tmp/images"
first=$(cat "$tmp/out")
if [ "$first" = 1 ] && [ ! -s "$tmp/err" ]; then
	ok "put prints the new sequence number"
else
	not_ok "put prints the new sequence number" "$(cat "$tmp/out" "$tmp/err")"
fi

ctl get --region "$region" --group demo "$tmp/back"
if grep -q "^set 1 of group demo in $tmp/back/1 (chain: 1)" "$tmp/out" &&
   diff -r "$tmp/images" "$tmp/back/1" >"$tmp/diff" 2>&1 &&
   [ "$(stat -c %a "$tmp/back/1/inventory.img")" = 640 ]; then
	ok "get returns the directory byte-identical"
else
	not_ok "get returns the directory byte-identical" "$(cat "$tmp/out" "$tmp/err" "$tmp/diff")"
fi

# An increment of set 1, with CRIU's parent link in its directory.
mkdir -p "$tmp/inc"
printf 'delta' >"$tmp/inc/pages-2.img"
ln -s ../1 "$tmp/inc/parent"
ctl put --region "$region" --group demo --parent 1 "$tmp/inc"
second=$(cat "$tmp/out")
ctl get --region "$region" --group demo "$tmp/back2"
if [ "$second" = 2 ] && grep -q "(chain: 2 1)" "$tmp/out" &&
   [ "$(readlink "$tmp/back2/2/parent")" = ../1 ] &&
   cmp -s "$tmp/back2/2/pages-2.img" "$tmp/inc/pages-2.img" &&
   diff -r "$tmp/images" "$tmp/back2/1" >/dev/null; then
	ok "an incremental set comes back with its parent and the parent link"
else
	not_ok "an incremental set comes back with its parent and the parent link" "$(cat "$tmp/out" "$tmp/err")"
fi

ctl put --region "$region" --group demo "$tmp/images"
third=$(cat "$tmp/out")
corrupt "$third" 1000	# inside pages-1.img's data
ctl get --region "$region" --group demo "$tmp/back3"
if grep -q "(chain: 2 1)" "$tmp/out" &&
   grep -q "slot .*: set $third refused: payload checksum mismatch" "$tmp/err"; then
	ok "a corrupt newest set is refused with its reason and the previous one returned"
else
	not_ok "a corrupt newest set is refused with its reason and the previous one returned" "$(cat "$tmp/out" "$tmp/err")"
fi

ctl verify --region "$region"
rc=$?
if [ "$rc" -eq 1 ] && grep -q "refused: payload checksum mismatch" "$tmp/out" &&
   grep -q "3 slots, 2 restorable, 1 refused" "$tmp/out"; then
	ok "verify reports the corrupt set and exits 1"
else
	not_ok "verify reports the corrupt set and exits 1" "exit $rc" "$(cat "$tmp/out" "$tmp/err")"
fi

corrupt 1 8	# set 1's header (its sequence number): set 2 loses its parent
ctl get --region "$region" --group demo "$tmp/back4"
rc=$?
if [ "$rc" -eq 3 ] && grep -q "no restorable checkpoint for group demo" "$tmp/err" &&
   grep -q "refused: header checksum mismatch" "$tmp/err" &&
   grep -q "set 2 refused: parent set missing or not restorable" "$tmp/err" && [ ! -s "$tmp/out" ]; then
	ok "with every set corrupt, get exits 3: no checkpoint"
else
	not_ok "with every set corrupt, get exits 3: no checkpoint" "exit $rc" "$(cat "$tmp/out" "$tmp/err")"
fi

ctl list --region "$region"
if [ "$(grep -c 'refused' "$tmp/out")" -eq 2 ] &&
   grep -q "^1  *2  *1 .*orphaned: parent set missing or not restorable" "$tmp/out"; then
	ok "list shows each slot with why it is refused (or orphaned, its parent refused)"
else
	not_ok "list shows each slot with why it is refused" "$(cat "$tmp/out" "$tmp/err")"
fi

# A new full set is written over a refused one and found again.
ctl put --region "$region" --group demo "$tmp/images"
fourth=$(cat "$tmp/out")
ctl get --region "$region" --group demo "$tmp/back5"
if [ "$fourth" -gt "$third" ] && grep -q "^set $fourth " "$tmp/out"; then
	ok "a store with only refused sets takes a new one"
else
	not_ok "a store with only refused sets takes a new one" "$(cat "$tmp/out" "$tmp/err")"
fi

ctl get --region "$region" --group demo "$tmp/back5"
rc=$?
if [ "$rc" -eq 1 ] && grep -q "^orthrosctl: ckpt get: $tmp/back5/$fourth: File exists" "$tmp/err"; then
	ok "get does not extract over an earlier extraction"
else
	not_ok "get does not extract over an earlier extraction" "exit $rc" "$(cat "$tmp/err")"
fi

mkdir -p "$tmp/bad/sub"
ctl put --region "$region" --group demo "$tmp/bad"
rc=$?
if [ "$rc" -eq 1 ] && grep -q "^orthrosctl: ckpt put: $tmp/bad/sub is not a regular file" "$tmp/err"; then
	ok "put refuses a directory holding more than files"
else
	not_ok "put refuses a directory holding more than files" "exit $rc" "$(cat "$tmp/err")"
fi

head -c 400000 /dev/zero >"$tmp/bad/pages-1.img"
rmdir "$tmp/bad/sub"
ctl put --region "$region" --group demo "$tmp/bad"
rc=$?
if [ "$rc" -eq 1 ] && grep -q "does not fit in a slot" "$tmp/err"; then
	ok "put refuses a set too big for a slot"
else
	not_ok "put refuses a set too big for a slot" "exit $rc" "$(cat "$tmp/err")"
fi

head -c 8192 /dev/zero >"$tmp/zero"
ctl list --region "$tmp/zero"
rc=$?
if [ "$rc" -eq 1 ] && grep -q "^orthrosctl: $tmp/zero: the region is not formatted" "$tmp/err"; then
	ok "an unformatted region is refused with the reason"
else
	not_ok "an unformatted region is refused with the reason" "exit $rc" "$(cat "$tmp/err")"
fi

for args in "get --region $region $tmp/x" "put --region $region --group demo" \
	    "list" "format --region $region --keep 1" "list --region $region --group demo" \
	    "put --region $region --group a/b $tmp/images" "frobnicate --region $region"; do
	# shellcheck disable=SC2086
	ctl $args
	rc=$?
	name=$(echo "ckpt $args" | sed "s|$tmp/||g")
	if [ "$rc" -eq 2 ] && grep -q "^orthrosctl: " "$tmp/err"; then
		ok "usage error exits 2: $name"
	else
		not_ok "usage error exits 2: $name" "exit $rc" "$(cat "$tmp/err")"
	fi
done

# restore finds nothing for a group never checkpointed: no CRIU is run.
ctl restore --region "$region" --group never --workdir "$tmp/rst" --criu-timeout 2min
rc=$?
if [ "$rc" -eq 3 ] && grep -q "^no checkpoint for group never: cold start" "$tmp/out"; then
	ok "restore without a checkpoint says cold start and exits 3"
else
	not_ok "restore without a checkpoint says cold start and exits 3" "exit $rc" "$(cat "$tmp/out" "$tmp/err")"
fi
for args in "dump --region $region --group demo" "restore --region $region --group demo --pid 1" \
	    "dump --region $region --group demo --pid x" "restore --region $region --group demo --final" \
	    "restore --region $region --group demo --criu-timeout 500ms" \
	    "restore --region $region --group demo --criu-timeout soon" \
	    "dump --region $region --group demo --pid 1 --criu-timeout 90s"; do
	# shellcheck disable=SC2086
	ctl $args
	rc=$?
	name=$(echo "ckpt $args" | sed "s|$tmp/||g")
	if [ "$rc" -eq 2 ] && grep -q "^orthrosctl: " "$tmp/err"; then
		ok "usage error exits 2: $name"
	else
		not_ok "usage error exits 2: $name" "exit $rc" "$(cat "$tmp/err")"
	fi
done

# The reclaim rule takes a chain's oldest set first: its increment is then
# orphaned, which is no damage (verify exits 0) and is said as such.
region2=$tmp/region2
ctl format --region "$region2" --keep 2 --size 1MiB
ctl put --region "$region2" --group demo "$tmp/images"
ctl put --region "$region2" --group demo --parent 1 "$tmp/inc"
ctl put --region "$region2" --group demo "$tmp/images"
ctl put --region "$region2" --group demo "$tmp/images"	# takes set 1's slot
ctl verify --region "$region2"
rc=$?
"$ORTHROSCTL" ckpt list --region "$region2" >"$tmp/list2" 2>&1
if [ "$rc" -eq 0 ] && grep -q "3 slots, 2 restorable, 0 refused, 1 orphaned" "$tmp/out" &&
   grep -q "^[0-9]  *2  *1 .*orphaned: parent set missing or not restorable" "$tmp/list2"; then
	ok "an increment whose parent was reclaimed is orphaned, not refused: verify exits 0"
else
	not_ok "an increment whose parent was reclaimed is orphaned, not refused" "exit $rc" "$(cat "$tmp/out" "$tmp/err" "$tmp/list2")"
fi

if "$ORTHROSCTL" ckpt --help | grep -q 'get --region FILE --group NAME DIR' &&
   "$ORTHROSCTL" --help | grep -q 'ckpt COMMAND'; then
	ok "help describes ckpt"
else
	not_ok "help describes ckpt"
fi

echo "1..$n"
exit $fail
