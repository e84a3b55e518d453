#!/bin/sh
# orthrosctl ckpt restore --lazy through the FUSE view (TAP), on the host,
# with a stand-in for criu that copies out what it is shown: a pre-dump and
# a dump on it (CRIU-format pagemaps made with crit) go into the store; the
# restore must serve the dump's images from a read-only FUSE mount with one
# flattened pagemap (every run present, lazy where the set holding it said
# so) and a pages file assembled from both sets, unmount once the
# lazy-pages daemon is gone, and on a corrupt chunk fail the read, then
# fall back to extraction, which refuses the set.
set -u
: "${ORTHROSCTL:?ORTHROSCTL must point to the built orthrosctl}"
: "${SRCDIR:?SRCDIR must point to the source tree}"
. "$SRCDIR/tests/lib/tap.sh"

command -v crit >/dev/null || bail "crit (package criu) is needed to write CRIU images"
[ -w /dev/fuse ] || bail "no /dev/fuse: the view cannot be mounted here (modprobe fuse)"

tmp=$(mktemp -d)
cleanup() {
	for m in $(awk '$3 == "fuse.orthros" { print $2 }' /proc/mounts); do
		case "$m" in "$tmp"/*) umount -l "$m" ;; esac
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
region=$tmp/region
ctl() { "$ORTHROSCTL" ckpt "$@" >"$tmp/out" 2>"$tmp/err"; }
pagemap() {	# out entries-json
	printf '{"magic": "PAGEMAP", "entries": [{"pages_id": 1}, %s]}' "$2" >"$tmp/pm.json"
	crit encode -i "$tmp/pm.json" -o "$1" || bail "crit encode failed"
}
page() {	# file index -> that 4 KiB page on stdout
	dd if="$1" bs=4096 skip="$2" count=1 status=none
}

ctl format --region "$region" --keep 3 --size 4MiB || bail "format: $(cat "$tmp/err")"
slot_size=$(sed -n 's/.* slots of \([0-9]*\) bytes.*/\1/p' "$tmp/out")
[ -n "$slot_size" ] || bail "no slot size in: $(cat "$tmp/out")"

# The pre-dump: 4 lazy anonymous pages, 2 eager ones (a file's private copy).
mkdir -p "$tmp/pre" "$tmp/dump"
pagemap "$tmp/pre/pagemap-1.img" \
	'{"vaddr": "0x10000", "nr_pages": 4, "flags": "PE_LAZY | PE_PRESENT"},
	 {"vaddr": "0x20000", "nr_pages": 2, "flags": "PE_PRESENT"}'
head -c $((6 * 4096)) /dev/urandom >"$tmp/pre/pages-1.img"
ctl put --region "$region" --group demo "$tmp/pre" || bail "put: $(cat "$tmp/err")"
pre=$(cat "$tmp/out")

# The dump: one page changed, one new mapping, the rest from the parent.
pagemap "$tmp/dump/pagemap-1.img" \
	'{"vaddr": "0x10000", "nr_pages": 1, "flags": "PE_PARENT"},
	 {"vaddr": "0x11000", "nr_pages": 1, "flags": "PE_LAZY | PE_PRESENT"},
	 {"vaddr": "0x12000", "nr_pages": 2, "flags": "PE_PARENT"},
	 {"vaddr": "0x20000", "nr_pages": 2, "flags": "PE_PARENT"},
	 {"vaddr": "0x40000", "nr_pages": 1, "flags": "PE_LAZY | PE_PRESENT"}'
head -c $((2 * 4096)) /dev/urandom >"$tmp/dump/pages-1.img"
head -c 3000 /dev/urandom >"$tmp/dump/core-1.img"
printf 'inventory' >"$tmp/dump/inventory.img"
ln -s "../$pre" "$tmp/dump/parent"
ctl put --region "$region" --group demo --parent "$pre" "$tmp/dump" || bail "put: $(cat "$tmp/err")"
dump=$(cat "$tmp/out")

# What the restore must see: the pages of the chain in address order.
{
	page "$tmp/pre/pages-1.img" 0
	page "$tmp/dump/pages-1.img" 0
	page "$tmp/pre/pages-1.img" 2
	page "$tmp/pre/pages-1.img" 3
	page "$tmp/pre/pages-1.img" 4
	page "$tmp/pre/pages-1.img" 5
	page "$tmp/dump/pages-1.img" 1
} >"$tmp/want-pages"

# criu: "lazy-pages" leaves a short-lived daemon; "restore" copies out the
# images directory it is given (-D) and notes what it was.
cat >"$tmp/criu" <<'EOF'
#!/bin/sh
case "$1" in
lazy-pages)
	sleep 2 & echo $! >"$8"; touch "$5/lazy-pages.socket"; exit 0 ;;
restore)
	[ -f "$5/lazy-pages.socket" ] || exit 1
	rm -rf "$FAKE_OUT"
	awk -v d="$3" '$2 == d { print $3, $4 }' /proc/mounts >"$FAKE_OUT.mount"
	cp -r "$3" "$FAKE_OUT" 2>"$FAKE_OUT.err" || exit 1
	echo 4242 >"${10}"; exit 0 ;;
esac
exit 2
EOF
chmod 755 "$tmp/criu"
export CRIU_BINARY="$tmp/criu" FAKE_OUT="$tmp/seen"

ctl restore --region "$region" --group demo --workdir "$tmp/work" --lazy
if grep -q "^restored group demo from set $dump (2 sets, 0 newer pre-dumps passed over): pid 4242, view " "$tmp/out" &&
   grep -q "read-only view of the chain at .*: 3 pages lazy, 4 eager$" "$tmp/out" &&
   grep -q "^fuse.orthros ro" "$FAKE_OUT.mount"; then
	ok "a lazy restore is served from a read-only FUSE view of the chain"
else
	not_ok "a lazy restore is served from a read-only FUSE view of the chain" \
		"$(cat "$tmp/out" "$tmp/err" "$FAKE_OUT.mount" 2>/dev/null)"
fi

if cmp -s "$tmp/want-pages" "$FAKE_OUT/pages-1.img"; then
	ok "the view's pages file is the chain's pages in address order, from the set holding each"
else
	not_ok "the view's pages file is the chain's pages in address order, from the set holding each" \
		"$(ls -l "$FAKE_OUT" 2>&1)" "$(cmp "$tmp/want-pages" "$FAKE_OUT/pages-1.img" 2>&1)"
fi

crit decode --pretty -i "$FAKE_OUT/pagemap-1.img" 2>&1 | tr -d ' \n' >"$tmp/flat"
want='"entries":[{"pages_id":1},{"vaddr":"0x10000","nr_pages":1,"flags":"PE_LAZY|PE_PRESENT"},{"vaddr":"0x11000","nr_pages":1,"flags":"PE_PRESENT"},{"vaddr":"0x12000","nr_pages":2,"flags":"PE_LAZY|PE_PRESENT"},{"vaddr":"0x20000","nr_pages":2,"flags":"PE_PRESENT"},{"vaddr":"0x40000","nr_pages":1,"flags":"PE_PRESENT"}]'
if grep -qF "$want" "$tmp/flat"; then
	ok "the flattened pagemap: every run present, lazy where the set holding it said so, the dump's own pages eager"
else
	not_ok "the flattened pagemap: every run present, lazy where the set holding it said so, the dump's own pages eager" "$(cat "$tmp/flat")"
fi

if cmp -s "$tmp/dump/core-1.img" "$FAKE_OUT/core-1.img" &&
   cmp -s "$tmp/dump/inventory.img" "$FAKE_OUT/inventory.img" &&
   [ "$(ls "$FAKE_OUT" | sort | tr '\n' ' ')" = "core-1.img inventory.img pagemap-1.img pages-1.img " ]; then
	ok "the dump's other images are served as stored; no parent link, no chunk table"
else
	not_ok "the dump's other images are served as stored; no parent link, no chunk table" "$(ls -la "$FAKE_OUT")"
fi

# The view stays while the lazy-pages daemon runs (2 s here), then goes.
gone=no
for i in $(seq 1 100); do
	# this test's views only: other tests (make -j) mount their own
	if ! awk -v t="$tmp" '$3 == "fuse.orthros" && index($2, t) == 1 { f = 1 } END { exit !f }' /proc/mounts; then
		gone=yes
		break
	fi
	sleep 0.1
done
if [ "$gone" = yes ] && [ "$i" -gt 5 ]; then
	ok "the view is unmounted once the lazy-pages daemon has exited (after $((i / 10)).$((i % 10)) s)"
else
	not_ok "the view is unmounted once the lazy-pages daemon has exited" "gone=$gone after $i polls" \
		"$(grep fuse /proc/mounts)"
fi

# The same view for a person: mounted until unmounted.
mkdir -p "$tmp/mnt"
ctl view --region "$region" --group demo "$tmp/mnt"
rc=$?
if [ $rc = 0 ] && grep -q "^set $dump of group demo (2 sets) at $tmp/mnt, read-only: 4 files, 3 pages lazy, 4 eager" "$tmp/out" &&
   cmp -s "$tmp/want-pages" "$tmp/mnt/pages-1.img" && ! touch "$tmp/mnt/x" 2>/dev/null; then
	ok "ckpt view mounts the flattened chain read-only"
else
	not_ok "ckpt view mounts the flattened chain read-only" "rc=$rc" "$(cat "$tmp/out" "$tmp/err")" "$(ls -la "$tmp/mnt")"
fi
server=$(sed -n 's/.* served by pid \([0-9]*\) .*/\1/p' "$tmp/out")
sleep 1
still=$(awk -v m="$tmp/mnt" '$2 == m' /proc/mounts)
[ -n "$server" ] && kill -0 "$server" 2>/dev/null || still=
umount "$tmp/mnt"
gone=no
for i in $(seq 1 50); do
	if ! kill -0 "$server" 2>/dev/null && ! awk -v m="$tmp/mnt" '$2 == m { f = 1 } END { exit !f }' /proc/mounts; then
		gone=yes
		break
	fi
	sleep 0.1
done
if [ -n "$still" ] && [ "$gone" = yes ]; then
	ok "the view stays until it is unmounted, and its server goes with it"
else
	not_ok "the view stays until it is unmounted, and its server goes with it" "mounted after 1 s: $still" "gone: $gone"
fi
ctl view --region "$region" --group nosuch "$tmp/mnt"
rc=$?
if [ $rc = 3 ] && grep -q "no checkpoint for group nosuch" "$tmp/out"; then
	ok "ckpt view of a group without a checkpoint exits 3"
else
	not_ok "ckpt view of a group without a checkpoint exits 3" "rc=$rc" "$(cat "$tmp/out" "$tmp/err")"
fi

# A chunk of the pre-dump's pages damaged: the view opens (pages are not
# read before CRIU asks), the read fails, and the fallback extraction
# refuses the set, so nothing is restored.
slot=$("$ORTHROSCTL" ckpt list --region "$region" | awk -v s="$pre" '$2 == s { print $1 }')
printf '\377\000\125\252' | dd of="$region" bs=1 seek=$((4096 + slot * slot_size + 128 + 256 * 2 + 5000)) \
	conv=notrunc status=none
ctl restore --region "$region" --group demo --workdir "$tmp/work" --lazy
rc=$?
if [ $rc = 3 ] && grep -q "criu restore from the view of set $dump failed" "$tmp/out" &&
   grep -q "set $pre refused" "$tmp/out" "$tmp/err" &&
   grep -qs "does not match its checksum" "$tmp"/work/restore.*/work/view.log; then
	ok "a corrupt chunk fails the view's read, and the extraction after it refuses the set"
else
	not_ok "a corrupt chunk fails the view's read, and the extraction after it refuses the set" "rc=$rc" \
		"$(cat "$tmp/out" "$tmp/err")" "$(cat "$tmp"/work/restore.*/work/view.log 2>&1)"
fi

# The set is noted refused where the next restore in this partition
# looks (the group fed from it would have died): passed over at once.
if grep -qx "[0-9a-f]* $pre" "$tmp/work/refused" 2>/dev/null; then
	ctl restore --region "$region" --group demo --workdir "$tmp/work" --lazy
	rc=$?
	if [ $rc = 3 ] && grep -q "set $pre refused" "$tmp/out" "$tmp/err" && ! grep -q "from the view" "$tmp/out"; then
		ok "a set found corrupt while served is noted, and the next restore passes over it without trying it"
	else
		not_ok "a set found corrupt while served is noted, and the next restore passes over it without trying it" \
			"rc=$rc" "$(cat "$tmp/out" "$tmp/err")"
	fi
else
	not_ok "a set found corrupt while served is noted, and the next restore passes over it without trying it" \
		"no note: $(cat "$tmp/work/refused" 2>&1)"
fi

echo "1..$n"
exit $fail
