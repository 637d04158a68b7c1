#!/usr/bin/env python3
"""The END marker's count and checksum of one batch, computed the way
lib/include/oshirase/batch.h defines them (written from that description,
not from the C code): over the batch's distinct records (by key), the sum
mod 2^64 of the first 8 bytes, little-endian, of SHA-256(key || 0x00 ||
value), as 16 hex digits.

usage: kcat -C -b B -t T -o beginning -e -f '%K\\t%S\\t%h\\t%k%s' | batch_sum.py BATCH_ID
Records belong to BATCH_ID by their osh.batch.id header. prints: COUNT HEX"""
import hashlib, struct, sys

want = sys.argv[1]
data = sys.stdin.buffer.read()
seen, total, i = set(), 0, 0
while i < len(data):
    a = data.index(b"\t", i)
    b = data.index(b"\t", a + 1)
    c = data.index(b"\t", b + 1)
    kl, vl, hdrs = int(data[i:a]), int(data[a + 1:b]), data[b + 1:c].decode()
    key = data[c + 1:c + 1 + max(kl, 0)]
    val = data[c + 1 + max(kl, 0):c + 1 + max(kl, 0) + max(vl, 0)]
    i = c + 1 + max(kl, 0) + max(vl, 0)
    if "osh.batch.id=" + want not in hdrs.split(",") or key in seen:
        continue
    seen.add(key)
    total = (total + struct.unpack("<Q", hashlib.sha256(key + b"\0" + val).digest()[:8])[0]) % 2**64
print(len(seen), "%016x" % total)
