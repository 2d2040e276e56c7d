#!/usr/bin/python3
"""Fetch every tile of a path list once, decode it, and sum what it holds.

    tilecheck.py --base URL --paths FILE --peers DIR [--save DIR] [--label NAME]

Each tile is fetched without Accept-Encoding (raw MVT, as the wrk runs ask)
and decoded with the peer harness's stdlib decoder (DIR/mvtdecode.py,
which also checks the geometry commands and tags). Prints one JSON line:
the HTTP statuses, bytes, tiles that failed to decode, and per MVT layer the
features and the features strictly inside the tile. With --save, the body
of every 200 answer is written under DIR at the request path (the static
copy nginx serves), and the X-Kartenn-Cache answers are counted.
"""
import argparse
import collections
import json
import os
import sys
import urllib.error
import urllib.request

ap = argparse.ArgumentParser()
ap.add_argument("--base", required=True)
ap.add_argument("--paths", required=True)
ap.add_argument("--peers", required=True)
ap.add_argument("--save")
ap.add_argument("--label", default="")
a = ap.parse_args()
if not a.base.startswith(("http://127.", "http://localhost")):
    sys.exit("tilecheck: loopback only")
sys.path.insert(0, a.peers)
import mvtdecode  # noqa: E402  (the peers' decoder)

status = collections.Counter()
cache = collections.Counter()
layers = collections.defaultdict(lambda: [0, 0])
nbytes = bad = 0
paths = [l.strip() for l in open(a.paths) if l.strip() and not l.startswith("#")]
for p in paths:
    try:
        with urllib.request.urlopen(a.base + p, timeout=60) as r:
            body, code = r.read(), r.status
            cache[r.headers.get("X-Kartenn-Cache", "-")] += 1
    except urllib.error.HTTPError as e:
        status[e.code] += 1
        continue
    status[code] += 1
    nbytes += len(body)
    if code != 200:
        continue
    try:
        dec = mvtdecode.decode(body)
    except ValueError:
        bad += 1
        continue
    for name, st in dec.items():
        layers[name][0] += st["features"]
        layers[name][1] += st["inside"]
    if a.save:
        f = os.path.join(a.save, p.lstrip("/"))
        os.makedirs(os.path.dirname(f), exist_ok=True)
        with open(f, "wb") as fh:
            fh.write(body)
print(json.dumps({"label": a.label, "tiles": len(paths), "status": dict(status), "bytes": nbytes,
                  "undecodable": bad, "x_kartenn_cache": dict(cache),
                  "layers": {k: {"features": v[0], "inside": v[1]} for k, v in sorted(layers.items())}}))
