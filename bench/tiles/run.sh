#!/usr/bin/env bash
# bench/tiles/run.sh — vector tiles: kartenn against MapServer 8 (FastCGI MVT)
# and PostGIS ST_AsMVT uncached, then kartenn's warm cache against nginx
# serving the same tile bytes as static files. One run, same data, same list.
#
#   bench/tiles/run.sh            (as root: the peers install Debian packages)
#
# Environment: DUR=10 (seconds a measurement), CONNS="1 16 256" (wrk
# connections), PG_CLIENTS="1 2 16" (pgbench clients), REPEAT=1 (rounds; the
# servers take turns within a round and the summary shows medians), KARTENN=path (default:
# build-bench/kartenn, rebuilt first), KEEP=1 (keep the work dir), KT_ARGS="--threads 4" (extra
# options for kartenn serve; default: one worker thread per core).
#
# The list is ../shared/bench-peers/tiles.txt: 500 z/x/y tiles at z12–18 over
# the Montpellier data (street lamps + buildings). Each peer answers one tile
# holding both layers: MapServer /tiles/all/… (its lighttpd rewrite of
# mode=tile&layers=all&map.imagetype=mvt), PostGIS bench_mvt(z,x,y,'all')
# (reprojects from EPSG:2154 per tile, as MapServer and kartenn do), and
# kartenn /tiles/lanester/… (the composite of its public layers). Raw MVT
# (no Accept-Encoding) everywhere. kartenn's tile size cap is raised so that
# no feature is dropped from the heavy z12 tiles (the peers drop none).
#
# Prints tiles/s, p50/p99 latency, non-2xx answers and socket errors per
# concurrency, peak RSS during each run (kartenn, the 4 mapserv processes +
# lighttpd, nginx), and the ratios kartenn/MapServer, kartenn/PostGIS and
# kartenn-cached/nginx. Results: bench/tiles/results/<date>/ (summary.md,
# results.tsv, raw wrk and pgbench output).
set -euo pipefail
# shellcheck source=bench/lib/common.sh
source "$(dirname "$0")/../lib/common.sh"

CONNS=${CONNS:-"1 16 256"}
PG_CLIENTS=${PG_CLIENTS:-"1 2 16"}
REPEAT=${REPEAT:-1}
WORK=$(mktemp -d /tmp/kartenn-bench-tiles.XXXXXX)
chmod 755 "$WORK"            # nginx workers (nobody) read the static copy
trap cleanup EXIT
trap 'exit 130' INT TERM
OUT="$ROOT/bench/tiles/results/$(date +%Y%m%d-%H%M%S)"
results_header
T0=$SECONDS

kartenn_bin
machine_info | tee "$OUT/info.txt" >&2
peer_deps nginx
peers_up pg
log "kartenn store (EPSG:2154) from the same files"
kartenn_store "$WORK/k.sqlite"

LIST="$PEERS/tiles.txt"
sed -nE 's#^([0-9]+)/([0-9]+)/([0-9]+)$#/tiles/lanester/\1/\2/\3.mvt#p' "$LIST" >"$WORK/kartenn.paths"
sed -nE 's#^([0-9]+)/([0-9]+)/([0-9]+)$#/tiles/all/\1/\2/\3.mvt#p' "$LIST" >"$WORK/mapserver.paths"
echo "tiles: $(wc -l <"$WORK/kartenn.paths") from $LIST (md5 $(md5sum <"$LIST" | cut -c1-12))" | tee -a "$OUT/info.txt" >&2

# ---------------------------------------------------------------- uncached
log "kartenn serve --no-tile-cache"
kartenn_start "$WORK/serve-uncached.log" --db "$WORK/k.sqlite" --no-tile-cache --tile-max-kb 65536
log "checking every tile once on both servers (also warms the OS page cache)"
python3 "$LIB/tilecheck.py" --label kartenn --base "$KT_URL" --paths "$WORK/kartenn.paths" --peers "$PEERS" | tee "$OUT/check-kartenn.json" >&2
python3 "$LIB/tilecheck.py" --label mapserver --base "$MS_URL" --paths "$WORK/mapserver.paths" --peers "$PEERS" | tee "$OUT/check-mapserver.json" >&2

MS_PIDS="$(tr '\n' ' ' <"$PEER_WORK/run/mapserv.pid") $(cat "$PEER_WORK/run/lighttpd.pid")"
"$PEERS/pg-tiles.sh" --load-only --tiles "$LIST" >/dev/null
mkdir -p "$OUT/raw"
for REP in $(seq "$REPEAT"); do
	log "uncached, round $REP/$REPEAT: kartenn and MapServer 8 FastCGI (4 mapserv + lighttpd), in turn"
	for c in $CONNS; do
		RSS_PIDS="$KT_PID" wrk_run kartenn "$KT_URL" "$WORK/kartenn.paths" "$c"
		RSS_PIDS="$MS_PIDS" wrk_run mapserver "$MS_URL" "$WORK/mapserver.paths" "$c"
	done
	log "uncached, round $REP/$REPEAT: PostGIS ST_AsMVT (pgbench, no HTTP)"
	for c in $PG_CLIENTS; do
		"$PEERS/pg-tiles.sh" --fn bench_mvt --layer all --clients "$c" --duration "$DUR" --tiles "$LIST" \
			--out "$WORK/pg" >"$OUT/raw/postgis-c$c-r$REP.txt" 2>&1 || true
		python3 - "$REP" "$c" "$OUT/raw/postgis-c$c-r$REP.txt" >>"$OUT/results.tsv" <<-'PY'
		import json, sys
		rep, c, raw = sys.argv[1:]
		line = next((l for l in open(raw) if l.startswith("RESULT ")), None)
		if line is None:
		    print("\t".join([rep, "postgis", c, "0", "-", "-", "-", "-", "-", "no result"]))
		else:
		    r = json.loads(line[7:])
		    print("\t".join([rep, "postgis", c, "%.1f" % r["rps"], "%.2f" % r["lat_p50_ms"], "%.2f" % r["lat_p99_ms"],
		                     str(r.get("err_status", 0)), "0", "-", "-"]))
		PY
		tail -1 "$OUT/results.tsv" | awk -F'\t' '{printf "  %-16s c=%-4s %9s req/s  p50 %8s ms  p99 %8s ms  failed %s\n", $2, $3, $4, $5, $6, $7}' >&2
	done
done
kartenn_stop

# ------------------------------------------------------------------ cached
log "kartenn serve with its tile cache (512 MiB), warmed with every tile once"
kartenn_start "$WORK/serve-cached.log" --db "$WORK/k.sqlite" --tile-cache-mb 512 --tile-max-kb 65536
python3 "$LIB/tilecheck.py" --label kartenn-warmup --base "$KT_URL" --paths "$WORK/kartenn.paths" --peers "$PEERS" \
	--save "$WORK/www" >"$OUT/check-warmup.json"
python3 "$LIB/tilecheck.py" --label kartenn-cached --base "$KT_URL" --paths "$WORK/kartenn.paths" --peers "$PEERS" |
	tee "$OUT/check-kartenn-cached.json" >&2
chmod -R a+rX "$WORK/www"

NGINX_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$WORK/nginx/logs"
cat >"$WORK/nginx/nginx.conf" <<CONF
# static copy of kartenn's tiles (bench only): tuned as a tile server would be
worker_processes auto;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 2048; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 60;
    keepalive_requests 1000000;
    open_file_cache max=4096 inactive=60s;
    open_file_cache_valid 60s;
    types { application/vnd.mapbox-vector-tile mvt; }
    default_type application/octet-stream;
    client_body_temp_path $WORK/nginx/tmp;
    proxy_temp_path $WORK/nginx/tmp;
    fastcgi_temp_path $WORK/nginx/tmp;
    uwsgi_temp_path $WORK/nginx/tmp;
    scgi_temp_path $WORK/nginx/tmp;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $WORK/www;
    }
}
CONF
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
"$NGINX" -p "$WORK/nginx" -e "$WORK/nginx/error.log" -c "$WORK/nginx/nginx.conf" &
NGINX_PID=$!
STARTED_PIDS+=("$NGINX_PID")
NGINX_URL="http://127.0.0.1:$NGINX_PORT"
for _ in $(seq 50); do curl -fsS -o /dev/null "$NGINX_URL$(head -1 "$WORK/kartenn.paths")" 2>/dev/null && break; sleep 0.1; done
python3 "$LIB/tilecheck.py" --label nginx --base "$NGINX_URL" --paths "$WORK/kartenn.paths" --peers "$PEERS" |
	tee "$OUT/check-nginx.json" >&2

NG_PIDS="$NGINX_PID $(pgrep -P "$NGINX_PID" | tr '\n' ' ')"
for REP in $(seq "$REPEAT"); do
	log "cached, round $REP/$REPEAT: kartenn (warm cache) and nginx $("$NGINX" -v 2>&1 | cut -d/ -f2) (static copy), in turn"
	for c in $CONNS; do
		RSS_PIDS="$KT_PID" wrk_run kartenn-cached "$KT_URL" "$WORK/kartenn.paths" "$c"
		RSS_PIDS="$NG_PIDS" wrk_run nginx "$NGINX_URL" "$WORK/kartenn.paths" "$c"
	done
done
kartenn_stop
stop_pid "$NGINX_PID"

# ----------------------------------------------------------------- summary
echo "load average after the run: $(cut -d' ' -f1-3 /proc/loadavg); run time $((SECONDS - T0)) s" | tee -a "$OUT/info.txt" >&2
{
python3 "$LIB/summary.py" "$OUT" "bench/tiles" "tiles/s" \
	'{"kartenn": "kartenn, uncached", "mapserver": "MapServer 8 FastCGI MVT", "postgis": "PostGIS ST_AsMVT (pgbench clients, no HTTP)", "kartenn-cached": "kartenn, warm cache", "nginx": "nginx, static copy"}' \
	'[["kartenn", "mapserver", "kartenn / MapServer (target ≥ 2)"], ["kartenn", "postgis", "kartenn / PostGIS (target ≥ 1)"], ["kartenn-cached", "nginx", "kartenn cached / nginx (target ≥ 0.8)"]]'
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
print("\ncontent (each tile fetched once and decoded; features / strictly inside the tile):\n")
for n in ("kartenn", "mapserver", "kartenn-cached", "nginx"):
    try:
        j = json.load(open(f"{out}/check-{n}.json"))
    except (OSError, ValueError):
        continue
    lay = ", ".join(f"{k} {v['features']}/{v['inside']}" for k, v in j["layers"].items())
    extra = f", X-Kartenn-Cache {j['x_kartenn_cache']}" if n == "kartenn-cached" else ""
    print(f"- {n}: HTTP {j['status']}, {j['bytes'] / 1e6:.2f} MB, undecodable {j['undecodable']}, {lay}{extra}")
PY
} | tee "$OUT/summary.md"
log "results in $OUT"
ln -sfn "$(basename "$OUT")" "$ROOT/bench/tiles/results/latest"
