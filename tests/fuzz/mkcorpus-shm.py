#!/usr/bin/env python3
"""Write seed inputs for fuzz-shm: shared regions in the layout of
kernel-support/include/uapi/linux/orthros.h (header 72 bytes, records 152).
Usage: mkcorpus-shm.py OUTDIR"""
import os, struct, sys, zlib

HDR = struct.Struct('<IIQIIII9II')
REC = struct.Struct('<IIIIII16sQQQII64s3II')
MAX_PEERS = 16

def header(size):
    fields = [0x4D485354, 1, size, HDR.size, REC.size, MAX_PEERS, HDR.size] + [0] * 9 + [0]
    crc = zlib.crc32(HDR.pack(*fields))
    return HDR.pack(*fields[:-1], crc)

def record(pid, gen, role, state, hb, reason=b'', boot=b'\x01' * 16, seq=2):
    f = [0x43455254, 0, pid, gen, role, state, boot, hb, hb * 10_000_000, 0, 10000, 50000,
         reason.ljust(64, b'\0')[:64], 0, 0, 0, 0]
    crc = zlib.crc32(REC.pack(*f))
    f[1] = seq
    f[-1] = crc
    return REC.pack(*f)

def region(records, size=4096):
    buf = bytearray(size)
    buf[:HDR.size] = header(size)
    for pid, rec in records.items():
        off = HDR.size + pid * REC.size
        buf[off:off + REC.size] = rec
    return bytes(buf)

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
seeds = {
    'empty': region({}),
    'two-running': region({0: record(0, 1, 1, 1, 5), 1: record(1, 2, 2, 1, 9)}),
    'panic': region({0: record(0, 1, 1, 2, 5, b'sysrq triggered crash'), 1: record(1, 2, 2, 1, 9)}),
    'stopping': region({0: record(0, 3, 1, 3, 77), 1: record(1, 4, 2, 1, 1)}),
    'bad-state': region({0: record(0, 1, 1, 99, 5)}),
    'torn': region({0: record(0, 1, 1, 1, 5, seq=3)}),
    'controller': region({15: record(15, 0, 3, 1, 1000)}),
    'short': region({}, size=2504),
}
for name, data in seeds.items():
    with open(os.path.join(out, name + '.bin'), 'wb') as f:
        f.write(data)
