#!/usr/bin/env python3
"""ckpt_diff.py A B: the largest difference between the parameter blocks of
two checkpoints of one model (rnnrt_ckpt.c's format, native byte order),
relative to the block's largest magnitude: max |a - b| / max |a|. Prints
it; exit 1 if the files are not two checkpoints of the same shape."""
import struct
import sys


def params(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"RNNCCKPT":
        sys.exit(f"{path}: not a checkpoint")
    real = struct.unpack_from("=I", data, 16)[0]
    count = struct.unpack_from("=I", data, 20)[0]
    pos = 32
    for _ in range(count):
        name = data[pos:pos + 8].rstrip(b"\0").decode()
        length = struct.unpack_from("=Q", data, pos + 8)[0]
        pos += 24
        if name == "params":
            fmt = "=%d%s" % (length // real, "d" if real == 8 else "f")
            return struct.unpack_from(fmt, data, pos)
        pos += length
    sys.exit(f"{path}: no params section")


a, b = params(sys.argv[1]), params(sys.argv[2])
if len(a) != len(b):
    sys.exit("the parameter blocks differ in size")
scale = max(abs(x) for x in a) or 1.0
print("%.3g" % (max(abs(x - y) for x, y in zip(a, b)) / scale))
