#!/usr/bin/env python3
"""tile_checks.py — checks decoded vector tiles against the store they
were served from, for tests/integration/test_tiles.sh.

    tile_checks.py --db STORE --decoded DECODED.json --tileset NAME
                   [--cap BYTES] [--tiles-dir DIR]

DECODED.json is the output of decode_tile.mjs (the reference decoder,
@mapbox/vector-tile) over files named <tileset>@<z>-<x>-<y>.mvt. The store
is read independently of kartenn: the sqlite3 command-line tool with
SpatiaLite, geometries transformed to EPSG:3857 by SpatiaLite/PROJ, layer
definitions from the store's kt_layers table. For every tile:

  * each layer has version 2 and extent 4096, belongs to the tileset and
    to the zoom (the layer's range holds z);
  * the features are exactly the store's features that meet the tile
    grown by its 64-unit buffer (collaborative ones only when published),
    except those that may collapse when snapped to the grid — a line
    whose part in the tile is shorter than two units, a polygon whose
    part is thinner than two units (bbox side, or 2 area / perimeter) —
    and features dropped by the size cap when the tile is at the cap;
  * features are matched by their id, which is the store's fid (the
    map asks /api/features/{layer}/{fid} for the rest); properties are
    exactly the public attributes that are not null (same values) and,
    for network layers, dtdict_class — no other key (no uid);
  * every vertex lies within one tile unit of the stored geometry
    (polygon vertices on the buffer's edge, where the clip adds corners,
    are exempt);
  * no value of any private attribute, of any layer, appears in the
    tile's bytes.
Prints a summary; exits 1 with the first problems on failure.
"""
import argparse
import gzip
import json
import math
import os
import re
import subprocess
import sys

H = 20037508.342789244
EXTENT, BUFFER = 4096, 64


def sql_json(db, sql):
    out = subprocess.run(["sqlite3", "-json", db, ".load mod_spatialite", sql],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out) if out.strip() else []


def load_store(db):
    layers = {}
    for row in sql_json(db, "SELECT name, definition FROM kt_layers"):
        d = json.loads(row["definition"])
        attrs = d.get("attributes", [])
        zoom = d.get("zoom", [0, 22])
        layers[d["name"]] = {
            "public": bool(d.get("public")), "geom": d.get("geometry", "NONE").upper(),
            "network": d.get("network"), "min": zoom[0], "max": zoom[1],
            "attrs": [(a["name"], a.get("type", "text")) for a in attrs if a.get("public")],
            "private": [a["name"] for a in attrs if not a.get("public")],
            "all": [a["name"] for a in attrs],
        }
    private_values = set()
    for name, l in layers.items():
        cols = l["all"] if not l["public"] else l["private"]
        for col in cols:
            for r in sql_json(db, f'SELECT DISTINCT CAST("{col}" AS TEXT) v FROM "{name}" '
                                  f'WHERE "{col}" IS NOT NULL'):
                v = r["v"]
                if v is not None and len(v) >= 3:
                    private_values.add(v.encode())
    features = {}
    for name, l in layers.items():
        if not l["public"] or l["geom"] == "NONE":
            continue
        cols = "".join(f', "{a}"' for a, _ in l["attrs"])
        where = " WHERE etat = 'published'" if name.startswith("collab_") and \
            any(a == "etat" for a, _ in l["attrs"]) else ""
        rows = sql_json(db, f'SELECT fid, dtdict_class{cols}, '
                            f'AsGeoJSON(Transform(geom, 3857), 4) g FROM "{name}"{where}')
        feats = []
        for r in rows:
            g = json.loads(r.pop("g"))
            feats.append({"fid": r.pop("fid"), "row": r,
                          "parts": geom_parts(g), "kind": g["type"]})
        features[name] = feats
    return layers, features, private_values


def geom_parts(g):
    """Lists of coordinate lists (points: one list of points)."""
    t, c = g["type"], g["coordinates"]
    if t == "Point":
        return [[c[:2]]]
    if t == "MultiPoint":
        return [[p[:2] for p in c]]
    if t == "LineString":
        return [[p[:2] for p in c]]
    if t == "MultiLineString":
        return [[p[:2] for p in line] for line in c]
    if t == "Polygon":
        return [[p[:2] for p in ring] for ring in c]
    if t == "MultiPolygon":
        return [[p[:2] for p in ring] for poly in c for ring in poly]
    raise ValueError(t)


def pb_fields(buf):
    """(field number, wire type, value) of a protobuf message."""
    i, n = 0, len(buf)
    while i < n:
        key, i = varint(buf, i)
        f, wt = key >> 3, key & 7
        if wt == 0:
            v, i = varint(buf, i)
        elif wt == 2:
            ln, i = varint(buf, i)
            v, i = buf[i:i + ln], i + ln
        elif wt == 1:
            v, i = buf[i:i + 8], i + 8
        elif wt == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise ValueError("wire type %d" % wt)
        yield f, wt, v


def varint(buf, i):
    v = shift = 0
    while True:
        b = buf[i]
        i += 1
        v |= (b & 0x7f) << shift
        shift += 7
        if b < 0x80:
            return v, i


def tile_strings(raw):
    """Every layer name, key and string value of a tile."""
    out = set()
    for f, wt, layer in pb_fields(raw):
        if f != 3 or wt != 2:
            continue
        for lf, lwt, v in pb_fields(layer):
            if lwt == 2 and lf in (1, 3):
                out.add(bytes(v))
            elif lwt == 2 and lf == 4:
                out.update(bytes(s) for vf, vwt, s in pb_fields(v) if vf == 1 and vwt == 2)
    return out


def to_tile(z, x, y, parts):
    s = 2 * H / 2 ** z
    scale, minx, maxy = EXTENT / s, -H + x * s, H - y * s
    return [[((px - minx) * scale, (maxy - py) * scale) for px, py in part] for part in parts]


def seg_dist(p, a, b):
    ax, ay = a
    dx, dy = b[0] - ax, b[1] - ay
    L = dx * dx + dy * dy
    t = 0 if L == 0 else max(0, min(1, ((p[0] - ax) * dx + (p[1] - ay) * dy) / L))
    return math.hypot(p[0] - ax - t * dx, p[1] - ay - t * dy)


def seg_intersects(a, b, c, d):
    def orient(p, q, r):
        v = (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])
        return (v > 0) - (v < 0)
    o1, o2, o3, o4 = orient(a, b, c), orient(a, b, d), orient(c, d, a), orient(c, d, b)
    return o1 != o2 and o3 != o4


def point_in_rings(p, rings):
    inside = False
    for ring in rings:
        for i in range(len(ring) - 1):
            (x1, y1), (x2, y2) = ring[i], ring[i + 1]
            if (y1 > p[1]) != (y2 > p[1]) and p[0] < (x2 - x1) * (p[1] - y1) / (y2 - y1) + x1:
                inside = not inside
    return inside


def meets_rect(kind, parts, lo, hi):
    """Does the geometry (tile coords) meet the square [lo, hi]²?"""
    pts = [p for part in parts for p in part]
    if max(p[0] for p in pts) < lo or min(p[0] for p in pts) > hi or \
       max(p[1] for p in pts) < lo or min(p[1] for p in pts) > hi:
        return False
    if any(lo <= p[0] <= hi and lo <= p[1] <= hi for p in pts):
        return True
    if kind in ("Point", "MultiPoint"):
        return False
    corners = [(lo, lo), (hi, lo), (hi, hi), (lo, hi)]
    edges = [(corners[i], corners[(i + 1) % 4]) for i in range(4)]
    for part in parts:
        for i in range(len(part) - 1):
            if any(seg_intersects(part[i], part[i + 1], c, d) for c, d in edges):
                return True
    return "Polygon" in kind and point_in_rings(((lo + hi) / 2, (lo + hi) / 2), parts)


def clip_len(a, b, lo, hi):
    """Length of segment ab inside the square [lo, hi]² (Liang-Barsky)."""
    t0, t1 = 0.0, 1.0
    dx, dy = b[0] - a[0], b[1] - a[1]
    for p, q in ((-dx, a[0] - lo), (dx, hi - a[0]), (-dy, a[1] - lo), (dy, hi - a[1])):
        if p == 0:
            if q < 0:
                return 0.0
        else:
            r = q / p
            if p < 0:
                t0 = max(t0, r)
            else:
                t1 = min(t1, r)
    return max(0.0, t1 - t0) * math.hypot(dx, dy)


def small(kind, parts, lo=-BUFFER, hi=EXTENT + BUFFER):
    """May the feature vanish when snapped to the grid? What is left of it
    in the buffered tile is under two units: a line shorter than that, a
    polygon whose bbox in the tile is thinner than that."""
    if kind in ("Point", "MultiPoint"):
        return False
    if "LineString" in kind:
        return sum(clip_len(part[i], part[i + 1], lo, hi)
                   for part in parts for i in range(len(part) - 1)) < 2
    pts = [p for part in parts for p in part]
    w = min(hi, max(p[0] for p in pts)) - max(lo, min(p[0] for p in pts))
    h = min(hi, max(p[1] for p in pts)) - max(lo, min(p[1] for p in pts))
    # every ring thinner than two units on average (2 area / perimeter,
    # the width of a thin strip): snap rounding may close it up
    def width(r):
        a = abs(sum(r[i][0] * r[(i + 1) % len(r)][1] - r[(i + 1) % len(r)][0] * r[i][1]
                    for i in range(len(r)))) / 2
        return 2 * a / max(sum(math.dist(r[i], r[i + 1]) for i in range(len(r) - 1)), 1e-9)
    return min(w, h) < 2 or max(width(r) for r in parts) < 2


def same_value(expected, got, typ):
    if typ == "boolean":
        return got is (expected != 0)
    if typ == "real":
        return isinstance(got, (int, float)) and abs(float(got) - float(expected)) <= 1e-9 * max(1, abs(expected))
    if typ == "integer":
        return got == expected
    return got == str(expected)


class Checker:
    def __init__(self, db, cap):
        self.layers, self.features, self.private = load_store(db)
        self.cap = cap
        self.problems, self.stats = [], {"tiles": 0, "features": 0, "vertices": 0,
                                         "collapsed": 0, "capped": 0}

    def fail(self, where, msg):
        self.problems.append(f"{where}: {msg}")

    def tileset_layers(self, tileset):
        if tileset == "lanester":
            return [n for n, l in sorted(self.layers.items())
                    if l["public"] and l["geom"] != "NONE"]
        return [tileset]

    def check_tile(self, tileset, z, x, y, decoded, raw):
        where = f"{tileset}/{z}/{x}/{y}"
        self.stats["tiles"] += 1
        if self.cap and len(raw) > self.cap:
            self.fail(where, f"{len(raw)} bytes: over the size cap {self.cap}")
        capped = self.cap and len(raw) >= self.cap * 0.9
        self.stats["capped"] += bool(capped)
        # every string the tile holds — keys and values, used by a feature
        # or not — read from the protobuf itself, against the private ones
        # (a private value that is also a public value in this tile, an
        # address shared with a building, is not a leak)
        public = {str(v).encode() for l in decoded["layers"] for f in l["features"]
                  for k, v in f["properties"].items()}
        for v in (tile_strings(raw) & self.private) - public:
            self.fail(where, f"private value {v[:40]!r} in the tile")
        names = self.tileset_layers(tileset)
        got_layers = {l["name"]: l for l in decoded["layers"]}
        for name, l in got_layers.items():
            if l["version"] != 2 or l["extent"] != EXTENT:
                self.fail(where, f"layer {name}: version {l['version']}, extent {l['extent']}")
            if name not in names:
                self.fail(where, f"layer {name} is not part of the tileset")
            elif not self.layers[name]["min"] <= z <= self.layers[name]["max"]:
                self.fail(where, f"layer {name} outside its zoom range")
        for name in names:
            ld = self.layers[name]
            if not ld["min"] <= z <= ld["max"]:
                continue
            self.check_layer(where, name, ld, z, x, y, got_layers.get(name), capped)

    def check_layer(self, where, name, ld, z, x, y, got, capped):
        expected, fringe = {}, {}
        for f in self.features[name]:
            parts = to_tile(z, x, y, f["parts"])
            if meets_rect(f["kind"], parts, -BUFFER, EXTENT + BUFFER):
                expected[f["fid"]] = (f, parts)
            elif f["kind"] in ("Point", "MultiPoint") and meets_rect(
                    f["kind"], parts, -BUFFER - 0.5, EXTENT + BUFFER + 0.5):
                fringe[f["fid"]] = (f, parts)  # rounds onto the buffer's edge
        got_feats = got["features"] if got else []
        seen = set()
        for gf in got_feats:
            fid = gf["id"]
            if fid in seen:
                self.fail(where, f"{name}: feature {fid} appears twice")
                continue
            if fid in fringe:
                expected[fid] = fringe[fid]
            if fid not in expected:
                self.fail(where, f"{name}: feature {fid} should not be here")
                continue
            seen.add(fid)
            f, parts = expected[fid]
            self.check_feature(f"{where} {name}/{fid}", ld, f, parts, gf)
        for fid, (f, parts) in expected.items():
            if fid in seen:
                continue
            if capped:
                continue
            if small(f["kind"], parts):
                self.stats["collapsed"] += 1
                continue
            self.fail(where, f"{name}: feature {fid} missing")

    def check_feature(self, where, ld, f, parts, gf):
        self.stats["features"] += 1
        want = {}
        for a, _ in ld["attrs"]:
            if f["row"].get(a) is not None:
                want[a] = f["row"][a]
        if ld["network"] and f["row"].get("dtdict_class"):
            want["dtdict_class"] = f["row"]["dtdict_class"]
        props = gf["properties"]
        if set(props) != set(want):
            self.fail(where, f"keys {sorted(set(props) ^ set(want))} differ from the store")
        types = dict(ld["attrs"])
        for k, v in want.items():
            if k in props and not same_value(v, props[k], types.get(k, "text")):
                self.fail(where, f"{k} = {props[k]!r}, the store has {v!r}")
        for k in props:
            if k in ld["private"]:
                self.fail(where, f"private attribute {k}")
        segs = []
        for part in parts:
            if len(part) == 1:
                segs.append((part[0], part[0]))
            segs.extend((part[i], part[i + 1]) for i in range(len(part) - 1))
        polygon = "Polygon" in f["kind"]
        for ring in gf["rings"]:
            for vx, vy in ring:
                self.stats["vertices"] += 1
                if polygon and (vx in (-BUFFER, EXTENT + BUFFER) or vy in (-BUFFER, EXTENT + BUFFER)):
                    continue
                d = min(seg_dist((vx, vy), a, b) for a, b in segs)
                if d > 1.0:
                    self.fail(where, f"vertex ({vx}, {vy}) is {d:.2f} units from the stored geometry")
                    return


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--decoded", required=True)
    ap.add_argument("--cap", type=int, default=500 * 1024)
    a = ap.parse_args()
    c = Checker(a.db, a.cap)
    for d in json.load(open(a.decoded)):
        m = re.match(r"(.+)@(\d+)-(\d+)-(\d+)\.mvt$", os.path.basename(d["file"]))
        if "error" in d:
            c.fail(d["file"], "the reference decoder failed: " + d["error"])
            continue
        raw = open(d["file"], "rb").read()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        c.check_tile(m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4)), d, raw)
    s = c.stats
    print(f"checked {s['tiles']} tiles, {s['features']} features, {s['vertices']} vertices "
          f"({s['collapsed']} small features collapsed, {s['capped']} tiles at the size cap)")
    for p in c.problems[:30]:
        print("  " + p)
    if c.stats["tiles"] == 0 or c.stats["features"] == 0:
        print("  nothing was checked")
        return 1
    return 1 if c.problems else 0


if __name__ == "__main__":
    sys.exit(main())
