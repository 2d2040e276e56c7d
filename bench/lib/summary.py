#!/usr/bin/python3
"""Summarise a bench run: OUT/results.tsv → a Markdown table and ratios.

    summary.py OUT TITLE UNIT NAMES_JSON RATIOS_JSON

results.tsv has one row per wrk/pgbench run (rep, label, conns, rps, p50_ms,
p99_ms, non2xx, sock_errors, rss_kib, bytes_per_resp). With several
repetitions the table shows the median req/s, p50 and p99, the sum of the
errors and the largest RSS. NAMES_JSON maps labels to row titles (and gives
their order); RATIOS_JSON is a list of [numerator, denominator, title].
"""
import csv
import json
import statistics
import sys

out, title, unit, names, ratios = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4]), json.loads(sys.argv[5])
rows = list(csv.DictReader(open(out + "/results.tsv"), delimiter="\t"))


def num(v):
    """A number of results.tsv, or None ("-", empty, or "no result": a run that gave none)."""
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


groups = {}
for r in rows:
    groups.setdefault((r["label"], int(r["conns"])), []).append(r)


def agg(label, c):
    g = groups.get((label, c))
    if not g:
        return None
    med = lambda k: statistics.median([num(r[k]) for r in g if num(r[k]) is not None] or [float("nan")])
    rss = [num(r["rss_kib"]) for r in g if num(r["rss_kib"]) is not None]
    bpr = [num(r["bytes_per_resp"]) for r in g if num(r["bytes_per_resp"]) is not None]
    return {"runs": len(g), "rps": med("rps"), "p50": med("p50_ms"), "p99": med("p99_ms"),
            "non2xx": sum(int(r["non2xx"]) for r in g if r["non2xx"].isdigit()),
            "sock": sum(int(r["sock_errors"]) for r in g if r["sock_errors"].isdigit()),
            "rss": max(rss) / 1024 if rss else None, "bpr": statistics.median(bpr) if bpr else None,
            "rps_all": sorted(num(r["rps"]) for r in g)}


print(f"# {title}\n\n```\n{open(out + '/info.txt').read().strip()}\n```\n")
print(f"| server | conns | {unit} (median) | runs: {unit} | p50 ms | p99 ms | non-2xx | socket errors | peak RSS MiB | bytes/resp |")
print("|---|---|---|---|---|---|---|---|---|---|")
conns = sorted({c for _, c in groups})
for label, name in names.items():
    for c in conns:
        a = agg(label, c)
        if not a:
            continue
        rss = "%.0f" % a["rss"] if a["rss"] is not None else "-"
        bpr = "%.0f" % a["bpr"] if a["bpr"] is not None else "-"
        runs = " / ".join("%.0f" % v for v in a["rps_all"])
        print(f"| {name} | {c} | **{a['rps']:.1f}** | {runs} | {a['p50']:.2f} | {a['p99']:.2f} | {a['non2xx']} | "
              f"{a['sock']} | {rss} | {bpr} |")
print("\nratios of median " + unit + ":\n")
for n, d, what in ratios:
    parts = []
    for c in conns:
        x, y = agg(n, c), agg(d, c)
        if x and y and y["rps"] > 0:
            parts.append(f"{x['rps'] / y['rps']:.2f}× at {c}")
    bx = max((agg(n, c)["rps"] for c in conns if agg(n, c)), default=0)
    by = max((agg(d, c)["rps"] for c in conns if agg(d, c)), default=0)
    if by:
        parts.append(f"best against best {bx / by:.2f}×")
    print(f"- {what}: " + (", ".join(parts) if parts else "n/a"))
