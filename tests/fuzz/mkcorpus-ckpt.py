#!/usr/bin/env python3
"""Write seed inputs for fuzz-ckpt: checkpoint-store regions in the layout of
agent/ckpt-format.h (superblock 64 bytes, slot headers 128, file entries
256), written from the documentation rather than from the C code, so the
seeds also check that the two agree.  Small slots keep the fuzzer fast.
Usage: mkcorpus-ckpt.py OUTDIR"""
import os, struct, sys, zlib

SUPER = struct.Struct('<IIQIIIIQQQII')
SLOT = struct.Struct('<IIQQQQQII64sII')
ENTRY = struct.Struct('<QII240s')
FORMAT_ID = 0x0123456789abcdef
WRITING, COMMITTED = 1, 2
PARTIAL = 1  # slot header flags: a pre-dump, only ever a parent


def superblock(size, keep, off, slot_size, version=1):
    f = [0x504B434F, version, size, SUPER.size, SLOT.size, keep + 1, keep, off, slot_size,
         FORMAT_ID, 0, 0]
    f[-1] = zlib.crc32(SUPER.pack(*f))
    return SUPER.pack(*f)


def payload(files):
    out = b''
    for name, mode, data in files:
        out += ENTRY.pack(len(data), mode, 0, name.ljust(240, b'\0')) + data
    return out


CHUNK = 65536


def chunks(files):
    """The chunk table a writer appends (docs/checkpoint-store.md)."""
    crcs = [zlib.crc32(d[i:i + CHUNK]) for _, _, d in files for i in range(0, len(d), CHUNK)]
    t = struct.pack('<IIIIQ', 0x43434B4F, CHUNK, len(files), 0, len(crcs)) + \
        b''.join(struct.pack('<I', c) for c in crcs)
    return files + [(b'orthros.chunks', 0o400, t + struct.pack('<I', zlib.crc32(t)))]


def varint(v):
    out = b''
    while True:
        b, v = v & 0x7f, v >> 7
        out += bytes([b | (0x80 if v else 0)])
        if not v:
            return out


def pagemap(pages_id, runs):
    """CRIU's pagemap image: two magics, a head, (vaddr, nr_pages, flags) entries."""
    msgs = [b'\x08' + varint(pages_id)] + \
        [b'\x08' + varint(a) + b'\x10' + varint(n) + b'\x20' + varint(f) for a, n, f in runs]
    return struct.pack('<II', 0x54564319, 0x56084025) + \
        b''.join(struct.pack('<I', len(m)) + m for m in msgs)


def slot(seq, group, files, parent=0, state=COMMITTED, nfiles=None, crc=None, flags=0):
    p = payload(files)
    f = [0x534B434F, state, seq, parent, FORMAT_ID, 1_700_000_000_000_000_000 + seq, len(p),
         len(files) if nfiles is None else nfiles, zlib.crc32(p) if crc is None else crc,
         group.ljust(64, b'\0'), flags, 0]
    f[-1] = zlib.crc32(SLOT.pack(*f))
    return SLOT.pack(*f) + p


def region(slots, keep=2, slot_size=1024, off=64, size=None):
    size = size or off + (keep + 1) * slot_size
    buf = bytearray(size)
    buf[:SUPER.size] = superblock(size, keep, off, slot_size)
    for i, s in slots.items():
        o = off + i * slot_size
        buf[o:o + len(s)] = s[:slot_size]
    return bytes(buf)


IMG = [(b'inventory.img', 0o644, b'inv'), (b'pages-1.img', 0o600, bytes(range(64)))]
seeds = {
    'empty': region({}),
    'one-set': region({0: slot(1, b'demo', IMG)}),
    'chain': region({0: slot(1, b'demo', IMG), 1: slot(2, b'demo', IMG, parent=1),
                     2: slot(3, b'demo', IMG, parent=2)}),
    'torn-newest': region({0: slot(1, b'demo', IMG), 1: slot(2, b'demo', IMG, crc=1)}),
    'writing': region({0: slot(1, b'demo', IMG), 1: slot(2, b'demo', [], state=WRITING)}),
    'two-groups': region({0: slot(1, b'a', IMG), 1: slot(2, b'b', IMG), 2: slot(3, b'a', IMG),
                          3: slot(4, b'b', IMG, parent=2)}, keep=3),
    'bad-names': region({0: slot(1, b'demo', [(b'../x', 0o600, b'')]),
                         1: slot(2, b'demo', [(b'a', 0o600, b''), (b'a', 0o600, b'')])}),
    'broken-chain': region({0: slot(5, b'demo', IMG, parent=4), 1: slot(6, b'demo', IMG, parent=5)}),
    'page-slots': region({0: slot(9, b'demo', IMG)}, keep=2, slot_size=4096, off=4096),
    # a new chain's pre-dump on top (its dump never came), and a group with
    # nothing but a pre-dump: neither is ever a restore point
    'partial-newest': region({0: slot(1, b'demo', IMG, flags=PARTIAL), 1: slot(2, b'demo', IMG, parent=1),
                              2: slot(3, b'demo', IMG, flags=PARTIAL), 3: slot(4, b'solo', IMG, flags=PARTIAL)},
                             keep=3),
    'unknown-flags': region({0: slot(1, b'demo', IMG), 1: slot(2, b'demo', IMG, flags=6)}),
    'full': region({0: slot(1, b'demo', IMG), 1: slot(2, b'demo', IMG, parent=1),
                    2: slot(3, b'demo', IMG, parent=2)}, slot_size=768),
}
# A pre-dump and a dump on it, with chunk tables: what a lazy restore's
# view flattens (PE_PARENT 1, PE_LAZY 2, PE_PRESENT 4; 4 KiB pages).
PRE = chunks([(b'pagemap-1.img', 0o600, pagemap(1, [(0x10000, 2, 6), (0x20000, 1, 4)])),
              (b'pages-1.img', 0o600, bytes(range(256)) * 48)])
DUMP = chunks([(b'core-1.img', 0o600, b'core'),
               (b'pagemap-1.img', 0o600, pagemap(1, [(0x10000, 1, 1), (0x11000, 1, 6), (0x20000, 1, 1)])),
               (b'pages-1.img', 0o600, b'\x5a' * 4096)])
seeds['view-chain'] = region({0: slot(1, b'demo', PRE, flags=PARTIAL), 1: slot(2, b'demo', DUMP, parent=1)},
                             slot_size=20480)
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name + '.bin'), 'wb') as f:
        f.write(data)
