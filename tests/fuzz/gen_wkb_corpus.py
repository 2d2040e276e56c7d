#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_wkb into corpus/wkb/ (next to this file).

Deterministic: the same files every run, so the corpus can be regenerated
and diffed. Seeds cover every geometry type in 2D, ISO Z/M/ZM and EWKB
(with SRID), both byte orders, invalid geometries that need make-valid
(bow-tie, spike, hole outside its shell), empties, and hostile bytes
(truncations, huge counts, deep nesting, bad byte order and types).
Inputs that fuzzing found (geos-*.wkb, …) live beside them and are kept.
Run: python3 tests/fuzz/gen_wkb_corpus.py
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "wkb")


class W:
    def __init__(self, xdr=False, flavour="iso", z=False, m=False, srid=0):
        self.e = ">" if xdr else "<"
        self.xdr, self.flavour, self.z, self.m, self.srid = xdr, flavour, z, m, srid
        self.b = bytearray()

    def u32(self, v):
        self.b += struct.pack(self.e + "I", v)

    def dbl(self, v):
        self.b += struct.pack(self.e + "d", v)

    def header(self, base, top=False):
        self.b.append(0 if self.xdr else 1)
        if self.flavour == "iso":
            self.u32(base + (1000 if self.z else 0) + (2000 if self.m else 0))
        else:
            t = base | (0x80000000 if self.z else 0) | (0x40000000 if self.m else 0)
            if top and self.srid:
                t |= 0x20000000
            self.u32(t)
            if top and self.srid:
                self.u32(self.srid)

    def coord(self, x, y):
        self.dbl(x)
        self.dbl(y)
        if self.z:
            self.dbl(12.5)
        if self.m:
            self.dbl(7.0)

    def point(self, x, y, top=False):
        self.header(1, top)
        self.coord(x, y)

    def line(self, pts, top=False):
        self.header(2, top)
        self.u32(len(pts))
        for p in pts:
            self.coord(*p)

    def polygon(self, rings, top=False):
        self.header(3, top)
        self.u32(len(rings))
        for r in rings:
            self.u32(len(r))
            for p in r:
                self.coord(*p)

    def multi(self, base, parts, top=False):
        self.header(base, top)
        self.u32(len(parts))
        for part in parts:
            part(self)


X0, Y0 = 229500.0, 6759500.0  # Lambert-93, Lanester
SQ = [(X0, Y0), (X0 + 10, Y0), (X0 + 10, Y0 + 10), (X0, Y0 + 10), (X0, Y0)]
HOLE = [(X0 + 2, Y0 + 2), (X0 + 4, Y0 + 2), (X0 + 4, Y0 + 4), (X0 + 2, Y0 + 2)]
BOWTIE = [(X0, Y0), (X0 + 10, Y0 + 10), (X0 + 10, Y0), (X0, Y0 + 10), (X0, Y0)]
SPIKE = [(X0, Y0), (X0 + 10, Y0), (X0 + 10, Y0 + 10), (X0 + 5, Y0 + 10), (X0 + 5, Y0 + 15),
         (X0 + 5, Y0 + 10), (X0, Y0 + 10), (X0, Y0)]
FAR = [(X0 + 50, Y0 + 50), (X0 + 51, Y0 + 50), (X0 + 51, Y0 + 51), (X0 + 50, Y0 + 50)]
LINE = [(X0, Y0), (X0 + 3.25, Y0 + 1.5), (X0 + 7.125, Y0 - 2.0)]

SHAPES = {
    "point": lambda w: w.point(X0, Y0, True),
    "line": lambda w: w.line(LINE, True),
    "polygon": lambda w: w.polygon([SQ, HOLE], True),
    "multipoint": lambda w: w.multi(4, [lambda v: v.point(X0, Y0), lambda v: v.point(X0 + 1, Y0)], True),
    "multiline": lambda w: w.multi(5, [lambda v: v.line(LINE), lambda v: v.line(LINE[:2])], True),
    "multipolygon": lambda w: w.multi(6, [lambda v: v.polygon([SQ]), lambda v: v.polygon([FAR])], True),
    "collection": lambda w: w.multi(7, [lambda v: v.point(X0, Y0), lambda v: v.line(LINE),
                                        lambda v: v.multi(7, [lambda u: u.polygon([SQ])])], True),
    "bowtie": lambda w: w.polygon([BOWTIE], True),
    "spike": lambda w: w.polygon([SPIKE], True),
    "hole_outside": lambda w: w.polygon([SQ, [(x + 40, y + 40) for x, y in HOLE]], True),
    "collapsed_line": lambda w: w.line([(X0, Y0), (X0, Y0)], True),
}


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(bytes(data))


def main():
    os.makedirs(OUT, exist_ok=True)  # inputs found by fuzzing are kept
    for shape, build in SHAPES.items():
        for xdr in (False, True):
            for flavour, z, m in (("iso", False, False), ("iso", True, False), ("iso", False, True),
                                  ("iso", True, True), ("ewkb", True, False)):
                if shape not in ("point", "polygon", "collection", "bowtie") and (xdr or m):
                    continue  # keep the corpus small: every flavour on a few shapes
                w = W(xdr, flavour, z, m, 2154 if flavour == "ewkb" else 0)
                build(w)
                dims = ("z" if z else "") + ("m" if m else "") or "xy"
                write("%s-%s-%s-%s.wkb" % (shape, "xdr" if xdr else "ndr", flavour, dims), w.b)
    # empties
    w = W()
    w.header(1)
    w.dbl(float("nan"))
    w.dbl(float("nan"))
    write("empty-point.wkb", w.b)
    w = W()
    w.header(6)
    w.u32(0)
    write("empty-multipolygon.wkb", w.b)
    # hostile
    w = W(z=True, m=True)
    SHAPES["collection"](w)
    for n in (0, 1, 5, 9, 20, len(w.b) // 2, len(w.b) - 1):
        write("truncated-%03d.wkb" % n, w.b[:n])
    write("trailing-byte.wkb", w.b + b"\0")
    for base in (2, 3, 6, 7):
        h = W()
        h.header(base)
        h.u32(0xFFFFFFFF)
        h.dbl(1.0)
        h.dbl(2.0)
        write("huge-count-%d.wkb" % base, h.b)
    h = W()
    for _ in range(200):
        h.header(7)
        h.u32(1)
    h.point(X0, Y0)
    write("deep-nesting.wkb", h.b)
    write("bad-byte-order.wkb", b"\x02" + bytes(20))
    h = W()
    h.header(99)
    h.dbl(1.0)
    h.dbl(2.0)
    write("bad-type.wkb", h.b)
    h = W()
    h.header(1)
    h.dbl(float("inf"))
    h.dbl(2.0)
    write("infinite-point.wkb", h.b)


if __name__ == "__main__":
    main()
