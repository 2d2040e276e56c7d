#!/usr/bin/env bash
# bench/import/run.sh — times `kartenn import` against
# `ogr2ogr -f SQLite -dsco SPATIALITE=YES` on the same files, side by side
# in one run, and prints the ratio (target: kartenn <= 1.5x ogr2ogr, while
# it also reprojects to the store CRS, validates, grades and keeps history).
#
#   bench/import/run.sh            (KARTENN=path/to/kartenn, RUNS=N to override)
#
# Cases: the Montpellier street-lighting Shapefile (29,969 points) into
# eclairage_support, and Liechtenstein's OSM buildings (multipolygons layer,
# building IS NOT NULL) into batiment. Each run starts from a fresh store
# (kartenn init) or a fresh output file (ogr2ogr), outside the timing.
# Uses hyperfine when installed, else repeated `date +%s.%N`.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
KARTENN=${KARTENN:-$ROOT/build/kartenn}
DATA=${KT_SHARED_DATA:-$(cd "$ROOT/.." && pwd)/shared/data}
RUNS=${RUNS:-5}
[ -x "$KARTENN" ] || { echo "bench: $KARTENN not built (set KARTENN=)" >&2; exit 1; }
command -v ogr2ogr >/dev/null || { echo "bench: ogr2ogr not found (gdal-bin)" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kartenn-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
echo '{"nom": "name"}' > "$WORK/osm-map.json"

LAMPS="$DATA/fr/montpellier/ecl/VilleMTP_MTP_EclairagePublic.shp"
OSM="$DATA/osm/liechtenstein-latest.osm.pbf"

# mean wall time (s) of a command over RUNS runs, each after a prepare step
time_mean() { # prepare command
	local total=0 t0 t1
	for _ in $(seq "$RUNS"); do
		bash -c "$1" >/dev/null 2>&1
		t0=$(date +%s.%N)
		bash -c "$2" >/dev/null 2>&1 || { echo "bench: failed: $2" >&2; exit 1; }
		t1=$(date +%s.%N)
		total=$(awk -v a="$total" -v b="$t0" -v c="$t1" 'BEGIN { printf "%.6f", a + c - b }')
	done
	awk -v t="$total" -v n="$RUNS" 'BEGIN { printf "%.4f", t / n }'
}

# runs one case; prints "name kartenn_s ogr2ogr_s ratio"
bench_case() { # name kartenn-args ogr2ogr-args
	local name=$1 kprep kcmd oprep ocmd k o
	kprep="rm -f '$WORK'/k.sqlite*; '$KARTENN' init --db '$WORK/k.sqlite'"
	kcmd="'$KARTENN' import --quiet --db '$WORK/k.sqlite' $2"
	oprep="rm -f '$WORK'/o.sqlite*"
	ocmd="ogr2ogr -f SQLite -dsco SPATIALITE=YES '$WORK/o.sqlite' $3"
	if command -v hyperfine >/dev/null; then
		hyperfine --style basic --warmup 1 --runs "$RUNS" --export-csv "$WORK/$name.csv" \
			-n "kartenn import ($name)" --prepare "$kprep" "$kcmd" \
			-n "ogr2ogr SpatiaLite ($name)" --prepare "$oprep" "$ocmd" >&2
		k=$(awk -F, 'NR == 2 { print $2 }' "$WORK/$name.csv")
		o=$(awk -F, 'NR == 3 { print $2 }' "$WORK/$name.csv")
	else
		k=$(time_mean "$kprep" "$kcmd")
		o=$(time_mean "$oprep" "$ocmd")
	fi
	awk -v n="$name" -v k="$k" -v o="$o" 'BEGIN { printf "%-28s kartenn %7.3f s   ogr2ogr %7.3f s   ratio %.2fx\n", n, k, o, k / o }'
}

echo "kartenn import vs ogr2ogr -f SQLite -dsco SPATIALITE=YES ($RUNS runs each, mean wall time)"
R1=$(bench_case montpellier-lighting \
	"--layer eclairage_support '$LAMPS'" "'$LAMPS'")
R2=$(bench_case liechtenstein-buildings \
	"--layer batiment --source-layer multipolygons --where \"building IS NOT NULL\" --mapping '$WORK/osm-map.json' '$OSM'" \
	"'$OSM' multipolygons -where \"building IS NOT NULL\"")
echo "$R1"
echo "$R2"
