#!/usr/bin/python3
"""Fetch every WMS GetMap / WFS GetFeature of a list once from two servers and compare.

    owscheck.py wms --a URL PATHS --b URL PATHS [--save DIR --pick N]
    owscheck.py wfs --a URL PATHS --b URL PATHS

The two path lists are the same requests written for each server (line i of
one is line i of the other). WMS: each answer must be HTTP 200, image/png,
a PNG of WIDTH×HEIGHT, not blank (more than one colour in its pixels); with
--save, N requests spread over both CRS and the range of resolutions are
written as DIR/NN-a.png and DIR/NN-b.png (with NN-request.txt). WFS: each
answer must be a GeoJSON FeatureCollection; the feature counts of the two
servers are compared request by request. Prints one JSON line.
"""
import argparse
import json
import os
import struct
import sys
import urllib.error
import urllib.parse
import urllib.request
import zlib

ap = argparse.ArgumentParser()
ap.add_argument("kind", choices=["wms", "wfs"])
ap.add_argument("--a", nargs=2, required=True, metavar=("URL", "PATHS"))
ap.add_argument("--b", nargs=2, required=True, metavar=("URL", "PATHS"))
ap.add_argument("--save")
ap.add_argument("--pick", type=int, default=4)
args = ap.parse_args()
for u, _ in (args.a, args.b):
    if not u.startswith(("http://127.", "http://localhost")):
        sys.exit("owscheck: loopback only")


def lines(f):
    return [l.strip() for l in open(f) if l.strip() and not l.startswith("#")]


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def png_check(body, w, h):
    """'' when body is a non-blank PNG of w×h, else what is wrong."""
    if body[:8] != b"\x89PNG\r\n\x1a\n":
        return "not a PNG"
    pw, ph, depth, ctype = struct.unpack(">IIBB", body[16:26])
    if (pw, ph) != (w, h):
        return f"size {pw}x{ph}, asked {w}x{h}"
    idat, i = b"", 8
    while i < len(body):
        n, t = struct.unpack(">I4s", body[i:i + 8])
        if t == b"IDAT":
            idat += body[i + 8:i + 8 + n]
        i += 12 + n
    raw = zlib.decompress(idat)
    # blank image: every scanline after its filter byte is one repeated pixel
    # (filters other than None make this approximate, so also count bytes)
    if len(set(raw)) <= 2:
        return "blank"
    return ""


def params(q):
    return {k.upper(): v for k, v in urllib.parse.parse_qsl(q.split("?", 1)[1])}


pa, pb = lines(args.a[1]), lines(args.b[1])
assert len(pa) == len(pb), "the two lists differ in length"
res = {"kind": args.kind, "requests": len(pa), "a": args.a[0], "b": args.b[0]}
if args.kind == "wms":
    bad = {"a": [], "b": []}
    nbytes = {"a": 0, "b": 0}
    picks = set()
    if args.save:
        os.makedirs(args.save, exist_ok=True)
        # spread the saved pairs over both CRS and over the resolutions
        info = []
        for i, q in enumerate(pa):
            p = params(q)
            bb = [float(v) for v in p["BBOX"].split(",")]
            info.append((p.get("CRS", p.get("SRS")), (bb[2] - bb[0]) / int(p["WIDTH"]), i))
        per = max(1, args.pick // 2)
        for crs in sorted({c for c, _, _ in info}):
            sub = sorted((r, i) for c, r, i in info if c == crs)
            for k in range(per):
                picks.add(sub[round(k * (len(sub) - 1) / max(per - 1, 1))][1])
    for i, (qa, qb) in enumerate(zip(pa, pb)):
        p = params(qa)
        w, h = int(p["WIDTH"]), int(p["HEIGHT"])
        for side, base, q in (("a", args.a[0], qa), ("b", args.b[0], qb)):
            code, ctype, body = get(base + q)
            nbytes[side] += len(body)
            why = "HTTP %d %s" % (code, body[:200]) if code != 200 else \
                  "type " + ctype if not ctype.startswith("image/png") else png_check(body, w, h)
            if why:
                bad[side].append((i + 1, why))
            if i in picks:
                with open(os.path.join(args.save, "%03d-%s.png" % (i + 1, side)), "wb") as fh:
                    fh.write(body)
        if i in picks:
            with open(os.path.join(args.save, "%03d-request.txt" % (i + 1)), "w") as fh:
                fh.write(qa + "\n" + qb + "\n")
    res.update({"bad_a": bad["a"][:5], "n_bad_a": len(bad["a"]), "bad_b": bad["b"][:5], "n_bad_b": len(bad["b"]),
                "bytes_a": nbytes["a"], "bytes_b": nbytes["b"], "saved": sorted(i + 1 for i in picks)})
else:
    tot = {"a": 0, "b": 0}
    bad, diff = [], []
    for i, (qa, qb) in enumerate(zip(pa, pb)):
        n = {}
        for side, base, q in (("a", args.a[0], qa), ("b", args.b[0], qb)):
            code, ctype, body = get(base + q)
            try:
                doc = json.loads(body)
                assert code == 200 and doc.get("type") == "FeatureCollection"
                n[side] = len(doc["features"])
                tot[side] += n[side]
            except (ValueError, AssertionError, KeyError):
                bad.append((i + 1, side, code, body[:200].decode("utf-8", "replace")))
        if len(n) == 2 and n["a"] != n["b"]:
            diff.append((i + 1, n["a"], n["b"]))
    res.update({"features_a": tot["a"], "features_b": tot["b"], "n_bad": len(bad), "bad": bad[:5],
                "n_count_differs": len(diff), "count_differs": diff[:10]})
print(json.dumps(res))
