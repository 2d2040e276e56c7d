# shellcheck shell=bash disable=SC2034  # MS_URL, KT_URL… are read by the scripts that source this
# bench/lib/common.sh — shared by bench/tiles/run.sh and bench/ows/run.sh (sourced).
#
# Peers: MapServer 8 (FastCGI behind lighttpd) and PostGIS come from the
# shared harness ../shared/bench-peers (its scripts are called, not copied);
# kartenn's side (store, server, request lists, wrk replay, RSS, reports)
# is here. Every server is on 127.0.0.1, every load run is bounded by wrk's
# -d and by timeout(1), and every server this script starts is stopped by
# pid on exit. Servers that were already running (a PostgreSQL or MapServer
# peer someone else started) are used and left running.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PEERS=${KT_BENCH_PEERS:-$(cd "$ROOT/.." && pwd)/shared/bench-peers}
DATA=${KT_SHARED_DATA:-$(cd "$ROOT/.." && pwd)/shared/data}
MTP="$DATA/fr/montpellier"
PEER_WORK=${BENCH_WORK:-/tmp/bench-peer}
LIB="$ROOT/bench/lib"
DUR=${DUR:-10}               # seconds per measurement
[[ "$DUR" =~ ^[0-9]+$ ]] && [ "$DUR" -ge 1 ] && [ "$DUR" -le 120 ] || { echo "DUR must be 1..120" >&2; exit 2; }

STARTED_PIDS=()              # pids of servers this run started (stopped on exit)
STOP_MS=0 STOP_PG=0

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# kill one pid (TERM, then KILL after 5 s) and wait for it
stop_pid() {
	local p=$1 i
	kill -0 "$p" 2>/dev/null || return 0
	kill "$p" 2>/dev/null || true
	for i in $(seq 50); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done
	kill -9 "$p" 2>/dev/null || true
}

cleanup() {
	local p
	for p in "${STARTED_PIDS[@]}"; do stop_pid "$p"; done
	[ "$STOP_MS" = 1 ] && "$PEERS/stop-mapserver.sh" >/dev/null 2>&1
	[ "$STOP_PG" = 1 ] && "$PEERS/pg-stop.sh" >/dev/null 2>&1
	[ -n "${WORK:-}" ] && [ -z "${KEEP:-}" ] && rm -rf "$WORK"
	return 0
}

# the machine: cores, CPU, load, other busy processes
machine_info() {
	echo "date: $(date -Is)"
	echo "host: $(uname -srm), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
	     "$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM"
	echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "kartenn: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo ' + uncommitted changes'), binary $KARTENN"
}

# kartenn binary: KARTENN=path, else build-bench (RelWithDebInfo) rebuilt now
kartenn_bin() {
	if [ -n "${KARTENN:-}" ]; then
		[ -x "$KARTENN" ] || die "KARTENN=$KARTENN is not executable"
	else
		KARTENN="$ROOT/build-bench/kartenn"
		log "building $KARTENN (scripts/build.sh build-bench)"
		"$ROOT/scripts/build.sh" "$ROOT/build-bench" >"$WORK/build.log" 2>&1 ||
			{ tail -20 "$WORK/build.log" >&2; die "build failed"; }
	fi
}

# Debian packages of the peers (their own script) and nginx (for bench/tiles)
peer_deps() {
	[ -d "$PEERS" ] || die "no peer harness at $PEERS"
	[ -s "$MTP/ecl/VilleMTP_MTP_EclairagePublic.shp" ] || die "no Montpellier data in $MTP"
	"$PEERS/install-deps.sh" >"$WORK/deps.log" 2>&1 || { tail "$WORK/deps.log" >&2; die "install-deps.sh failed"; }
	if [ "${1:-}" = nginx ] && ! command -v nginx >/dev/null && ! [ -x /usr/sbin/nginx ]; then
		log "installing nginx-light (benchmark-only dependency)"
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx-light \
			>>"$WORK/deps.log" 2>&1 || die "apt-get install nginx-light failed"
	fi
	command -v wrk >/dev/null || die "wrk missing"
}

pg_running() { runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$PEER_WORK/pgdata" status >/dev/null 2>&1; }
ms_running() { [ -s "$PEER_WORK/run/lighttpd.pid" ] && kill -0 "$(cat "$PEER_WORK/run/lighttpd.pid")" 2>/dev/null; }

# Montpellier data in the peers (mtp.sqlite, PostGIS db "mtp"), PostgreSQL
# and MapServer up. $1 = "pg" when PostGIS is needed too.
peers_up() {
	local want_pg=${1:-}
	if [ "$want_pg" = pg ]; then
		pg_running || STOP_PG=1
		if [ -s "$PEER_WORK/mtp.sqlite" ]; then "$PEERS/pg-start.sh" >/dev/null; fi
		if ! [ -s "$PEER_WORK/mtp.sqlite" ] ||
		   [ "$(PGHOST=127.0.0.1 PGPORT=5433 psql -U postgres -d mtp -AtXc \
		        "select to_regclass('lamps') is not null and to_regclass('bench_tiles') is not null" 2>/dev/null)" != t ]; then
			ms_running && die "MapServer peer is running on an old mtp.sqlite: stop it ($PEERS/stop-mapserver.sh)"
			log "loading the peers' data (make-data.sh)"
			"$PEERS/make-data.sh" >"$WORK/make-data.log" 2>&1 || { tail "$WORK/make-data.log" >&2; die "make-data.sh failed"; }
		fi
	elif ! [ -s "$PEER_WORK/mtp.sqlite" ]; then
		log "loading the peers' data (make-data.sh --no-pg)"
		"$PEERS/make-data.sh" --no-pg >"$WORK/make-data.log" 2>&1 || die "make-data.sh failed"
	fi
	if ms_running; then
		log "MapServer peer already running (lighttpd pid $(cat "$PEER_WORK/run/lighttpd.pid")): using it"
	else
		STOP_MS=1
		"$PEERS/start-mapserver.sh" >"$WORK/mapserver.log" 2>&1 || { cat "$WORK/mapserver.log" >&2; die "start-mapserver.sh failed"; }
	fi
	MS_URL="http://127.0.0.1:${MS_PORT:-8091}"
}

# A kartenn store in EPSG:2154 (the peers' CRS) with the same Montpellier
# files: lamps → eclairage_support, buildings → batiment. The bench layer
# definitions are the repository's with the zoom range opened to 0–24, so
# that a z12–14 tile holds the same layers as the peers' tiles (the
# deployment shows supports from z15 and buildings from z14 only).
kartenn_store() {
	local db=$1 d="$WORK/layers"
	mkdir -p "$d"
	for l in eclairage_support batiment; do
		python3 - "$ROOT/layers/$l.json" "$d/$l.json" <<-'PY'
		import json, sys
		d = json.load(open(sys.argv[1]))
		d["zoom"] = [0, 24]
		json.dump(d, open(sys.argv[2], "w"), ensure_ascii=False)
		PY
	done
	echo '{"nom": "PATRLIB", "usage": "TYPE", "quartier": "LIBQUART", "surface": "AREA"}' >"$WORK/batiment-map.json"
	"$KARTENN" init --db "$db" --crs EPSG:2154 --layers "$d" >"$WORK/import.log" 2>&1 || die "kartenn init failed"
	"$KARTENN" import --db "$db" --layer eclairage_support "$MTP/ecl/VilleMTP_MTP_EclairagePublic.shp" \
		>>"$WORK/import.log" 2>&1 || { cat "$WORK/import.log" >&2; die "import of the lamps failed"; }
	"$KARTENN" import --db "$db" --layer batiment --mapping "$WORK/batiment-map.json" \
		"$MTP/VilleMTP_MTP_Batiments.geojson" >>"$WORK/import.log" 2>&1 ||
		{ cat "$WORK/import.log" >&2; die "import of the buildings failed"; }
	grep -E '^  read ' "$WORK/import.log" | sed 's/^ */  kartenn import: /' >&2
}

# kartenn_start LOG ARGS… → KT_PID, KT_URL (the server picks a free port)
kartenn_start() {
	local logf=$1 port=""
	shift
	# shellcheck disable=SC2086  # KT_ARGS: extra serve options, e.g. "--threads 4"
	"$KARTENN" serve --bind 127.0.0.1 --port 0 --quiet "$@" ${KT_ARGS:-} >"$logf" 2>&1 &
	KT_PID=$!
	STARTED_PIDS+=("$KT_PID")
	for _ in $(seq 100); do
		port=$(sed -n 's#.*on http://127\.0\.0\.1:\([0-9]*\)/.*#\1#p' "$logf" | head -1)
		[ -n "$port" ] && curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null && break
		kill -0 "$KT_PID" 2>/dev/null || { cat "$logf" >&2; die "kartenn serve exited"; }
		sleep 0.1
	done
	[ -n "$port" ] || { cat "$logf" >&2; die "kartenn serve did not come up"; }
	KT_URL="http://127.0.0.1:$port"
}

kartenn_stop() { stop_pid "$KT_PID"; }

# rss_watch OUTFILE PID… : in the background, the largest sum of VmRSS (KiB)
# of the pids seen every 0.2 s, written to OUTFILE; stops after 600 s at most
rss_watch() {
	local out=$1
	shift
	(
		max=0 end=$((SECONDS + 600))
		while [ $SECONDS -lt $end ]; do
			s=0
			for p in "$@"; do
				r=$(awk '/^VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null)
				s=$((s + ${r:-0}))
			done
			[ "$s" -gt "$max" ] && { max=$s; echo "$max" >"$out"; }
			sleep 0.2
		done
	) &
	RSS_PID=$!
}

# wrk_run LABEL BASEURL PATHS CONNS [wrk args…] → one row in $OUT/results.tsv,
# the raw wrk output in $OUT/raw/LABEL-cCONNS.txt. With RSS_PIDS set, the
# peak RSS of those pids during the run is recorded.
wrk_run() {
	local label=$1 url=$2 paths=$3 c=$4
	shift 4
	local t=$((c < 2 ? c : 2)) raw="$OUT/raw/$label-c$c-r${REP:-1}.txt" rss="-"
	mkdir -p "$OUT/raw"
	# shellcheck disable=SC2086  # RSS_PIDS is a list of pids
	[ -n "${RSS_PIDS:-}" ] && { rm -f "$WORK/rss"; rss_watch "$WORK/rss" $RSS_PIDS; }
	timeout -k 5 $((DUR + 40)) wrk -t"$t" -c"$c" -d"${DUR}s" --timeout 10s --latency "$@" \
		-s "$LIB/replay.lua" "$url" -- "$paths" "$t" >"$raw" 2>&1 || true
	if [ -n "${RSS_PIDS:-}" ]; then
		kill "$RSS_PID" 2>/dev/null; wait "$RSS_PID" 2>/dev/null || true
		rss=$(cat "$WORK/rss" 2>/dev/null || echo -)
	fi
	python3 - "${REP:-1}" "$label" "$c" "$raw" "$rss" >>"$OUT/results.tsv" <<-'PY'
	import json, sys
	rep, label, c, raw, rss = sys.argv[1:]
	line = next((l for l in open(raw) if l.startswith("BENCH ")), None)
	if line is None:
	    print("\t".join([rep, label, c, "0", "-", "-", "-", "-", rss, "no result"]))
	else:
	    r = json.loads(line[6:])
	    print("\t".join([rep, label, c, "%.1f" % r["rps"], "%.2f" % r["p50_ms"], "%.2f" % r["p99_ms"],
	                     str(r["non2xx"]), str(r["sock_errors"]), rss,
	                     "%.0f" % (r["bytes"] / max(r["requests"], 1))]))
	PY
	tail -1 "$OUT/results.tsv" | awk -F'\t' '{printf "  %-16s c=%-4s %9s req/s  p50 %8s ms  p99 %8s ms  non2xx %s  sockerr %s  rss %s KiB\n", $2, $3, $4, $5, $6, $7, $8, $9}' >&2
}

results_header() {
	mkdir -p "$OUT"
	printf 'rep\tlabel\tconns\trps\tp50_ms\tp99_ms\tnon2xx\tsock_errors\trss_kib\tbytes_per_resp\n' >"$OUT/results.tsv"
}
