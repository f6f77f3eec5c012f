#!/usr/bin/env python3
"""png_colors.py - how many pixels of a PNG screenshot have given colours.

    png_colors.py IMAGE.png '#1f77b4' '#ff7f0e' ... [--tol T] [--min N]
    png_colors.py --self-test

Prints "size WIDTH HEIGHT", "nonwhite COUNT" (pixels that are not near-white), then
one line per colour, "#rrggbb COUNT": the pixels whose every channel is within T
(default 24) of that colour, so antialiased edges of a line count only where they are
nearly the line's colour. With --min N the exit status is 1 when a colour has fewer
than N pixels (and 2 when the file is not a PNG this script reads). --self-test
encodes small images with every filter type and colour type it reads, decodes them,
and prints "self-test ok" when the pixels come back.

tests/test_report.sh uses it to tell whether headless Chromium drew the report's
charts (series colours in quantity) and not just its text. Only the standard library
(zlib, struct): PNG, 8 bits per channel, greyscale, RGB, greyscale+alpha or RGBA, not
interlaced, every filter type (none, sub, up, average, Paeth), the formats a
browser's screenshot uses."""
import struct
import sys
import zlib
from collections import Counter

CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # PNG colour type -> channels


def chunks(data):
    """(type, payload) of every chunk after the signature."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    pos = 8
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        yield kind, data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IEND":
            return


def header(ihdr):
    w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", ihdr)
    if depth != 8 or ctype not in CHANNELS or interlace:
        raise ValueError(f"unsupported PNG: depth {depth}, colour type {ctype}, "
                         f"interlace {interlace}")
    return w, h, CHANNELS[ctype]


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def unfilter_row(kind, raw, prev, bpp):
    """One scanline without its filter (PNG spec, section 9)."""
    if kind == 0:
        return bytearray(raw)
    row = bytearray(raw)
    n = len(row)
    if kind == 1:
        for i in range(bpp, n):
            row[i] = (row[i] + row[i - bpp]) & 255
    elif kind == 2:
        for i in range(n):
            row[i] = (row[i] + prev[i]) & 255
    elif kind == 3:
        for i in range(n):
            left = row[i - bpp] if i >= bpp else 0
            row[i] = (row[i] + ((left + prev[i]) >> 1)) & 255
    elif kind == 4:
        for i in range(n):
            left = row[i - bpp] if i >= bpp else 0
            upleft = prev[i - bpp] if i >= bpp else 0
            row[i] = (row[i] + paeth(left, prev[i], upleft)) & 255
    else:
        raise ValueError(f"bad filter type {kind}")
    return row


def rgb(row, ch):
    """The (r, g, b) of each pixel of a scanline of ch channels (grey is r = g = b)."""
    if ch >= 3:
        return zip(row[0::ch], row[1::ch], row[2::ch])
    return ((v, v, v) for v in row[0::ch])


def pixels(path):
    """(width, height, Counter of (r, g, b) over every pixel); alpha is ignored (a
    screenshot is opaque)."""
    data = open(path, "rb").read()
    parts = list(chunks(data))
    w, h, ch = header(dict(parts)[b"IHDR"])
    raw = zlib.decompress(b"".join(p for k, p in parts if k == b"IDAT"))
    stride = w * ch
    if len(raw) < h * (stride + 1):
        raise ValueError("truncated image data")
    counts, prev = Counter(), bytearray(stride)
    for y in range(h):
        start = y * (stride + 1)
        row = unfilter_row(raw[start], raw[start + 1:start + 1 + stride], prev, ch)
        counts.update(rgb(row, ch))
        prev = row
    return w, h, counts


def parse_colour(s):
    s = s.lstrip("#")
    if len(s) != 6:
        raise ValueError(f"colour {s!r}: expected #rrggbb")
    return tuple(int(s[i:i + 2], 16) for i in (0, 2, 4))


def near(c, target, tol):
    return all(abs(a - b) <= tol for a, b in zip(c, target))


def encode(w, h, ctype, rows, filters):
    """A PNG of rows (bytes, w * channels each), scanline y filtered with filters[y]."""
    bpp, out, prev = CHANNELS[ctype], bytearray(), bytes(w * CHANNELS[ctype])
    for row, kind in zip(rows, filters):
        enc = bytearray([kind])
        for i, x in enumerate(row):
            left = row[i - bpp] if i >= bpp else 0
            upleft = prev[i - bpp] if i >= bpp else 0
            pred = [0, left, prev[i], (left + prev[i]) >> 1, paeth(left, prev[i], upleft)][kind]
            enc.append((x - pred) & 255)
        out += enc
        prev = row

    def chunk(kind, payload):
        crc = zlib.crc32(kind + payload)
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", w, h, 8, ctype, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(out)))
            + chunk(b"IEND", b""))


def self_test(path):
    """Every filter on every row position, each colour type: decoded == encoded."""
    import random
    rng = random.Random(1)
    w, h = 7, 10
    for ctype, ch in CHANNELS.items():
        rows = [bytes(rng.randrange(256) for _ in range(w * ch)) for _ in range(h)]
        open(path, "wb").write(encode(w, h, ctype, rows, [y % 5 for y in range(h)]))
        want = Counter()
        for row in rows:
            want.update(rgb(row, ch))
        if pixels(path) != (w, h, want):
            print(f"self-test FAILED: colour type {ctype}")
            return 1
    print("self-test ok")
    return 0


def main(argv):
    if argv[1:2] == ["--self-test"]:
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            return self_test(d + "/t.png")
    tol, least, colours, args = 24, None, [], iter(argv[1:])
    path = None
    for a in args:
        if a == "--tol":
            tol = int(next(args))
        elif a == "--min":
            least = int(next(args))
        elif path is None:
            path = a
        else:
            colours.append(a)
    if path is None:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    try:
        w, h, counts = pixels(path)
    except (OSError, ValueError, KeyError, zlib.error) as e:
        print(f"png_colors.py: {path}: {e}", file=sys.stderr)
        return 2
    print(f"size {w} {h}")
    print("nonwhite", sum(n for c, n in counts.items() if min(c) < 240))
    ok = True
    for s in colours:
        target = parse_colour(s)
        n = sum(k for c, k in counts.items() if near(c, target, tol))
        print(s, n)
        ok = ok and (least is None or n >= least)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
