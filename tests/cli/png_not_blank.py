#!/usr/bin/env python3
"""png_not_blank.py FILE [MIN_COLOURS]: exit 0 when the PNG (8-bit RGB or RGBA, as a browser's
screenshot is) has at least MIN_COLOURS distinct colours and 1% of its pixels are not the
background colour; print what it found. Standard library only (zlib), no imaging package."""
import struct
import sys
import zlib


def pixels(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise SystemExit(f"{path}: not a PNG")
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            if depth != 8 or colour not in (2, 6):
                raise SystemExit(f"{path}: unsupported PNG (depth {depth}, colour type {colour})")
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    prev = bytearray(stride)
    rows = []
    i = 0
    while i < len(raw):
        kind, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if kind == 1:
                line[x] = (line[x] + a) & 255
            elif kind == 2:
                line[x] = (line[x] + b) & 255
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    for row in rows:
        for x in range(0, stride, bpp):
            yield row[x:x + 3]


def main():
    path = sys.argv[1]
    min_colours = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    counts = {}
    for p in pixels(path):
        counts[p] = counts.get(p, 0) + 1
    total = sum(counts.values())
    background = max(counts.values())
    other = total - background
    print(f"{path}: {total} pixels, {len(counts)} colours, {other / total:.1%} not background")
    return 0 if len(counts) >= min_colours and other >= total // 100 else 1


if __name__ == "__main__":
    sys.exit(main())
