#!/usr/bin/env bash
# bench/ows/run.sh — WMS GetMap and WFS GetFeature (GeoJSON): kartenn against
# MapServer 8 under FastCGI, on the same Montpellier data, in one run.
#
#   bench/ows/run.sh            (as root: the peers install Debian packages)
#
# Environment: DUR=10 (seconds a measurement), CLIENTS="1 2 4 8" (concurrent
# clients), REPEAT=1 (rounds; the servers take turns within a round and the
# summary shows medians), KARTENN=path (default: build-bench/kartenn, rebuilt
# first), KEEP=1 (keep the work dir), KT_ARGS="--threads 4" (extra
# options for kartenn serve; default: one worker thread per core).
#
# Lists from ../shared/bench-peers: wms-requests.txt (200 GetMap, WMS 1.3.0,
# random bboxes inside the data, 256–1024 px, 0.25–8 m/px, EPSG:2154 and
# EPSG:3857 alternately, LAYERS=buildings,lamps, PNG) and wfs-requests.txt
# (50 GetFeature, WFS 2.0.0, buildings or lamps, BBOX of 150 m–2 km in
# EPSG:2154, OUTPUTFORMAT=geojson). For kartenn the layer names become
# batiment and eclairage_support (sed), and GetMap asks STYLES=mtp,mtp: a
# bench style (written below) that draws what the peer's mapfile draws —
# buildings filled rgb(200,190,180) with a 0.5 px rgb(120,110,100) outline,
# lamps as 4–5 px rgb(255,200,0) dots with a dark outline. Both renderers
# antialias (cairo; MapServer's AGG). One extra row replays the GetMap list
# with kartenn's own style (styles/lanester.json, labels included) at the
# highest concurrency.
#
# Before timing, every request is asked once of both servers and checked
# (PNG of the right size, not blank; GeoJSON FeatureCollection, feature
# counts compared), and a few image pairs are saved side by side in the
# results: bench/ows/results/<date>/pairs/NNN-side-by-side.png (kartenn left,
# MapServer right).
set -euo pipefail
# shellcheck source=bench/lib/common.sh
source "$(dirname "$0")/../lib/common.sh"

CLIENTS=${CLIENTS:-"1 2 4 8"}
REPEAT=${REPEAT:-1}
WORK=$(mktemp -d /tmp/kartenn-bench-ows.XXXXXX)
trap cleanup EXIT
trap 'exit 130' INT TERM
OUT="$ROOT/bench/ows/results/$(date +%Y%m%d-%H%M%S)"
results_header
T0=$SECONDS

kartenn_bin
machine_info | tee "$OUT/info.txt" >&2
peer_deps
peers_up
log "kartenn store (EPSG:2154) from the same files"
kartenn_store "$WORK/k.sqlite"

# web root: the repository's, plus the bench style
mkdir -p "$WORK/webroot/styles"
ln -s "$ROOT/web" "$WORK/webroot/web"
ln -s "$ROOT/node_modules" "$WORK/webroot/node_modules"
ln -s "$ROOT/styles/lanester.json" "$WORK/webroot/styles/lanester.json"
cat >"$WORK/webroot/styles/mtp.json" <<'JSON'
{
  "version": 8,
  "name": "mtp — bench style, the MapServer peer's mapfile (mtp.map.in) in MapLibre GL",
  "sources": {"kartenn": {"type": "vector", "tiles": ["/tiles/lanester/{z}/{x}/{y}.mvt"]}},
  "layers": [
    {"id": "batiment-fill", "type": "fill", "source": "kartenn", "source-layer": "batiment",
     "paint": {"fill-color": "rgb(200,190,180)"}},
    {"id": "batiment-line", "type": "line", "source": "kartenn", "source-layer": "batiment",
     "paint": {"line-color": "rgb(120,110,100)", "line-width": 0.5}},
    {"id": "eclairage-support", "type": "circle", "source": "kartenn", "source-layer": "eclairage_support",
     "paint": {"circle-color": "rgb(255,200,0)", "circle-radius": 1.5,
               "circle-stroke-color": "rgb(80,60,0)", "circle-stroke-width": 1}}
  ]
}
JSON

WMS="$PEERS/wms-requests.txt" WFS="$PEERS/wfs-requests.txt"
sed -e 's#^#/wms?#' -e 's/LAYERS=buildings,lamps/LAYERS=batiment,eclairage_support/' \
	-e 's/STYLES=&/STYLES=mtp,mtp\&/' "$WMS" >"$WORK/kartenn-wms.paths"
sed -e 's#^#/wms?#' -e 's/LAYERS=buildings,lamps/LAYERS=batiment,eclairage_support/' "$WMS" >"$WORK/kartenn-wms-lanester.paths"
sed -e 's#^#/wms?#' "$WMS" >"$WORK/mapserver-wms.paths"
sed -e 's#^#/wfs?#' -e 's/TYPENAMES=buildings&/TYPENAMES=batiment\&/' \
	-e 's/TYPENAMES=lamps&/TYPENAMES=eclairage_support\&/' "$WFS" >"$WORK/kartenn-wfs.paths"
sed -e 's#^#/wfs?#' "$WFS" >"$WORK/mapserver-wfs.paths"
{
	echo "GetMap: $(wc -l <"$WMS") requests from $WMS (md5 $(md5sum <"$WMS" | cut -c1-12)); kartenn style: bench style mtp (the mapfile's)"
	echo "GetFeature: $(wc -l <"$WFS") requests from $WFS (md5 $(md5sum <"$WFS" | cut -c1-12))"
	echo "clients: $CLIENTS (wrk -t min(c,2) -c c), $DUR s each, $REPEAT round(s)"
} | tee -a "$OUT/info.txt" >&2

log "kartenn serve"
kartenn_start "$WORK/serve.log" --db "$WORK/k.sqlite" --web-root "$WORK/webroot"
MS_PIDS="$(tr '\n' ' ' <"$PEER_WORK/run/mapserv.pid") $(cat "$PEER_WORK/run/lighttpd.pid")"

log "checking every request once on both servers; saving image pairs"
python3 "$LIB/owscheck.py" wms --a "$KT_URL" "$WORK/kartenn-wms.paths" --b "$MS_URL" "$WORK/mapserver-wms.paths" \
	--save "$OUT/pairs" --pick 4 | tee "$OUT/check-wms.json" >&2
python3 "$LIB/owscheck.py" wms --a "$KT_URL" "$WORK/kartenn-wms-lanester.paths" --b "$MS_URL" "$WORK/mapserver-wms.paths" \
	| tee "$OUT/check-wms-lanester.json" >&2
python3 "$LIB/owscheck.py" wfs --a "$KT_URL" "$WORK/kartenn-wfs.paths" --b "$MS_URL" "$WORK/mapserver-wfs.paths" \
	| tee "$OUT/check-wfs.json" >&2
# side by side (kartenn left, MapServer right, 8 px gap) through a GDAL VRT
for a in "$OUT"/pairs/*-a.png; do
	[ -e "$a" ] || continue
	b=${a%-a.png}-b.png s=${a%-a.png}-side-by-side.png
	read -r w h < <(gdalinfo "$a" | sed -n 's/^Size is \([0-9]*\), \([0-9]*\)/\1 \2/p')
	{
		echo "<VRTDataset rasterXSize=\"$((2 * w + 8))\" rasterYSize=\"$h\">"
		for band in 1 2 3; do
			echo "<VRTRasterBand dataType=\"Byte\" band=\"$band\"><NoDataValue>255</NoDataValue>"
			for src in "$a:0" "$b:$((w + 8))"; do
				echo "<SimpleSource><SourceFilename>${src%:*}</SourceFilename><SourceBand>$band</SourceBand>" \
				     "<SrcRect xOff=\"0\" yOff=\"0\" xSize=\"$w\" ySize=\"$h\"/>" \
				     "<DstRect xOff=\"${src##*:}\" yOff=\"0\" xSize=\"$w\" ySize=\"$h\"/></SimpleSource>"
			done
			echo "</VRTRasterBand>"
		done
		echo "</VRTDataset>"
	} >"$WORK/pair.vrt"
	gdal_translate -q -of PNG "$WORK/pair.vrt" "$s" && rm -f "$s.aux.xml"
done

for REP in $(seq "$REPEAT"); do
	log "GetMap, round $REP/$REPEAT: kartenn and MapServer in turn"
	for c in $CLIENTS; do
		RSS_PIDS="$KT_PID" wrk_run kartenn-wms "$KT_URL" "$WORK/kartenn-wms.paths" "$c"
		RSS_PIDS="$MS_PIDS" wrk_run mapserver-wms "$MS_URL" "$WORK/mapserver-wms.paths" "$c"
	done
	cmax=$(echo "$CLIENTS" | tr ' ' '\n' | sort -n | tail -1)
	RSS_PIDS="$KT_PID" wrk_run kartenn-wms-lanester "$KT_URL" "$WORK/kartenn-wms-lanester.paths" "$cmax"
	log "GetFeature GeoJSON, round $REP/$REPEAT: kartenn and MapServer in turn"
	for c in $CLIENTS; do
		RSS_PIDS="$KT_PID" wrk_run kartenn-wfs "$KT_URL" "$WORK/kartenn-wfs.paths" "$c"
		RSS_PIDS="$MS_PIDS" wrk_run mapserver-wfs "$MS_URL" "$WORK/mapserver-wfs.paths" "$c"
	done
done
kartenn_stop

echo "load average after the run: $(cut -d' ' -f1-3 /proc/loadavg); run time $((SECONDS - T0)) s" | tee -a "$OUT/info.txt" >&2
{
python3 "$LIB/summary.py" "$OUT" "bench/ows" "req/s" \
	'{"kartenn-wms": "kartenn GetMap (bench style)", "mapserver-wms": "MapServer 8 GetMap", "kartenn-wms-lanester": "kartenn GetMap (lanester style, labels)", "kartenn-wfs": "kartenn GetFeature GeoJSON", "mapserver-wfs": "MapServer 8 GetFeature GeoJSON"}' \
	'[["kartenn-wms", "mapserver-wms", "GetMap kartenn / MapServer (target ≥ 2)"], ["kartenn-wfs", "mapserver-wfs", "GetFeature kartenn / MapServer (target ≥ 2)"]]'
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
print("\nchecks (every request asked once of both servers; a = kartenn, b = MapServer):\n")
for n in ("wms", "wms-lanester", "wfs"):
    try:
        j = json.load(open(f"{out}/check-{n}.json"))
    except (OSError, ValueError):
        continue
    if j["kind"] == "wms":
        print(f"- GetMap ({n}): {j['requests']} requests; bad PNG kartenn {j['n_bad_a']} {j['bad_a']}, MapServer {j['n_bad_b']} {j['bad_b']}; "
              f"bytes kartenn {j['bytes_a'] / 1e6:.1f} MB, MapServer {j['bytes_b'] / 1e6:.1f} MB"
              + (f"; pairs saved: {j['saved']}" if j.get("saved") else ""))
    else:
        print(f"- GetFeature: {j['requests']} requests; features kartenn {j['features_a']}, MapServer {j['features_b']}; "
              f"failed {j['n_bad']} {j['bad']}; counts differ in {j['n_count_differs']} {j['count_differs']}")
PY
} | tee "$OUT/summary.md"
log "results in $OUT"
ln -sfn "$(basename "$OUT")" "$ROOT/bench/ows/results/latest"
