#!/usr/bin/env bash
# test_server.sh — `kartenn serve` end to end, through HTTP only.
#
# Builds a store (`kartenn demo` when it exists, else `kartenn init`),
# starts the server on a free port (--port 0, the URL read from its
# output), and checks: /healthz, the public catalogue (only public layers,
# no private attribute, derived from layers/*.json), features (GeoJSON,
# no private attribute, no private value found anywhere in the answers),
# problem bodies for 404/405/400/414, HEAD, OPTIONS, CORS, keep-alive,
# /metrics, hostile requests (long URL, dot segments, bad escapes, raw
# garbage, ~1000 concurrent connections) after which the server still
# answers, "port in use" and "store missing" failures, and a clean stop
# on SIGTERM. Needs curl, jq, python3 and sqlite3 (scripts/install-deps.sh).
set -uo pipefail

: "${KARTENN:?run through ctest}" "${KT_LAYERS_DIR:?}" "${KT_TMP:?}"
for tool in curl jq python3 sqlite3; do
	command -v "$tool" >/dev/null || { echo "FAIL: $tool is missing (scripts/install-deps.sh)"; exit 1; }
done

work=$(mktemp -d "$KT_TMP/server.XXXXXX")
db=$work/store.sqlite
out=$work/answers   # every body the server sent, for the privacy search
mkdir -p "$out"
pid=""
failures=0
checks=0

cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; fi
	if [ "$failures" -eq 0 ]; then rm -rf "$work"; else echo "kept $work for inspection"; fi
}
trap cleanup EXIT

ok() { checks=$((checks + 1)); }
fail() { failures=$((failures + 1)); echo "FAIL: $*"; }
check() { # check DESCRIPTION COMMAND...
	local what=$1; shift
	if "$@"; then ok; else fail "$what"; fi
}
jqc() { jq -e "$@" >/dev/null; }  # a jq condition, quietly
die() { echo "FAIL: $*"; [ -f "$work/serve.err" ] && tail -20 "$work/serve.err"; exit 1; }

# --- a store -----------------------------------------------------------
if "$KARTENN" demo --help >/dev/null 2>&1; then
	"$KARTENN" demo --db "$db" >"$work/demo.log" 2>&1 || die "kartenn demo failed: $(tail -3 "$work/demo.log")"
	echo "store: kartenn demo"
else
	"$KARTENN" init --db "$db" --layers "$KT_LAYERS_DIR" >"$work/init.log" 2>&1 \
		|| die "kartenn init failed: $(tail -3 "$work/init.log")"
	echo "store: kartenn init (no demo command yet: feature checks limited)"
fi

# Two contributions with a known private value: one published, one only
# proposed (which must not be served at all).
secret="Contributrice Secrète Kerlann"
cat >"$work/toilettes.geojson" <<EOF
{"type":"FeatureCollection","features":[
 {"type":"Feature","properties":{"id":"t1","nom":"Toilettes du Rohu","etat":"published",
  "contributeur":"$secret","acces_pmr":true},
  "geometry":{"type":"Point","coordinates":[-3.3412345,47.7612345]}},
 {"type":"Feature","properties":{"id":"t2","nom":"Toilettes proposées","etat":"proposed",
  "contributeur":"$secret"},
  "geometry":{"type":"Point","coordinates":[-3.35,47.77]}}]}
EOF
"$KARTENN" import --db "$db" --layer collab_toilettes --id-field id --quiet \
	"$work/toilettes.geojson" >"$work/import.log" 2>&1 \
	|| die "kartenn import failed: $(tail -3 "$work/import.log")"

# --- start -------------------------------------------------------------
cors="https://carte.lanester.example"
. "$(dirname "$0")/../support/serve.sh"
kt_serve "$db" "$work" --cors "$cors"
hostport=${base#http://}
host=${hostport%:*}
port=${hostport##*:}
echo "server: $base (pid $pid)"

# get PATH NAME [curl args]: body in $out/NAME, headers in $out/NAME.h,
# status in $status
get() {
	local path=$1 name=$2; shift 2
	status=$(curl -s -o "$out/$name" -D "$out/$name.h" -w '%{http_code}' "$@" "$base$path")
}
header() { # header NAME FILE.h -> value (case-insensitive name)
	grep -i "^$1:" "$2" | head -1 | cut -d: -f2- | tr -d '\r' | sed 's/^ //'
}
is_problem() { # is_problem NAME STATUS: an RFC 9457 body with that status
	local name=$1 want=$2
	[ "$status" = "$want" ] || { echo "  status $status, wanted $want"; return 1; }
	[ "$(header Content-Type "$out/$name.h")" = "application/problem+json" ] \
		|| { echo "  content type $(header Content-Type "$out/$name.h")"; return 1; }
	jq -e --argjson s "$want" '(.type|type)=="string" and (.title|type)=="string"
		and .status==$s and (.detail|type)=="string"' "$out/$name" >/dev/null \
		|| { echo "  body: $(head -c 300 "$out/$name")"; return 1; }
}

# --- health ------------------------------------------------------------
get /healthz health
check "healthz 200" test "$status" = 200
check "healthz body" jqc '.status=="ok" and .store=="ok" and (.layers|type)=="number" and .layers>0' "$out/health"
check "healthz JSON content type" test "$(header Content-Type "$out/health.h")" = application/json
check "healthz not cached" test "$(header Cache-Control "$out/health.h")" = no-store

# --- the catalogue against layers/*.json -------------------------------
jq -r 'select(.public==true) | .name' "$KT_LAYERS_DIR"/*.json | sort >"$work/public_layers"
jq -r 'select(.public!=true) | .name' "$KT_LAYERS_DIR"/*.json | sort >"$work/private_layers"
jq -r 'select(.public==true) | .name as $l | .attributes[] | select(.public==true) | "\($l).\(.name)"' \
	"$KT_LAYERS_DIR"/*.json | sort >"$work/public_attrs"
jq -r '.name as $l | .attributes[] | select(.public!=true) | "\($l).\(.name)"' \
	"$KT_LAYERS_DIR"/*.json | sort >"$work/private_attrs"
[ -s "$work/private_layers" ] && [ -s "$work/private_attrs" ] \
	|| die "layers/*.json declare no private layer or attribute: nothing to check"

get /api/layers layers
check "/api/layers 200" test "$status" = 200
jq -r '.layers[].name' "$out/layers" | sort >"$work/served_layers"
check "/api/layers lists exactly the public layers" diff "$work/public_layers" "$work/served_layers"
jq -r '.layers[] | .name as $l | .attributes[] | "\($l).\(.name)"' "$out/layers" | sort >"$work/served_attrs"
check "/api/layers lists exactly the public attributes of public layers" \
	diff "$work/public_attrs" "$work/served_attrs"
check "/api/layers entries are complete" jqc '.layers | all(has("title") and has("geometry")
	and (.zoom.min|type)=="number" and (.zoom.max|type)=="number" and has("licence")
	and has("attribution") and ((.count|type)=="number"))' "$out/layers"
check "/api/layers: a concession holder attribute is not listed" \
	bash -c "! grep -q titulaires '$out/layers'"

while read -r layer; do
	get "/api/layers/$layer" "layer_$layer"
	check "/api/layers/$layer 200" test "$status" = 200
	check "/api/layers/$layer name" jqc --arg n "$layer" '.name==$n' "$out/layer_$layer"
done <"$work/public_layers"
while read -r layer; do
	get "/api/layers/$layer" "private_$layer"
	check "/api/layers/$layer (private) is a 404 problem" is_problem "private_$layer" 404
	uid=$(sqlite3 "$db" "SELECT uid FROM \"$layer\" LIMIT 1" 2>/dev/null)
	get "/api/features/$layer/${uid:-x}" "private_feature_$layer"
	check "/api/features/$layer/… (private layer) is a 404 problem" is_problem "private_feature_$layer" 404
done <"$work/private_layers"

# --- features ------------------------------------------------------------
features=0
while read -r layer; do
	# a few features per public layer (published ones for collaborative maps)
	where=""
	jq -e -s --arg n "$layer" 'any(.[]; .name==$n and (.attributes | any(.name=="etat")))' \
		"$KT_LAYERS_DIR"/*.json >/dev/null && where="WHERE etat='published'"
	for uid in $(sqlite3 "$db" "SELECT uid FROM \"$layer\" $where ORDER BY fid LIMIT 3" 2>/dev/null); do
		get "/api/features/$layer/$uid" "feature_${layer}_$uid"
		features=$((features + 1))
		f="$out/feature_${layer}_$uid"
		check "feature $layer/$uid 200" test "$status" = 200
		check "feature $layer/$uid is a GeoJSON Feature" jqc --arg u "$uid" \
			'.type=="Feature" and .id==$u and .properties.uid==$u and (.properties.version|type)=="number"
			 and (.geometry==null or (.geometry.type|type)=="string")' "$f"
		check "feature $layer/$uid content type" test "$(header Content-Type "$f.h")" = application/geo+json
		jq -r --arg l "$layer" '.properties | keys[] | select(. != "layer" and . != "uid" and . != "version"
			and . != "updated_at" and . != "dtdict_class") | "\($l).\(.)"' "$f" | sort >"$work/fattrs"
		check "feature $layer/$uid has only public attributes" \
			bash -c "[ -z \"\$(comm -23 '$work/fattrs' '$work/public_attrs')\" ]"
		# EPSG:4326 near Lanester when the demo put it there
		jq -e '.geometry==null or ([.geometry.coordinates] | flatten | .[0] | . >= -180 and . <= 180)' "$f" >/dev/null \
			|| fail "feature $layer/$uid coordinates are not longitudes"
		etag=$(header ETag "$f.h")
		if [ -n "$etag" ]; then
			get "/api/features/$layer/$uid" "feature_304" -H "If-None-Match: $etag"
			check "feature $layer/$uid If-None-Match gives 304" test "$status" = 304
		fi
	done
done <"$work/public_layers"
echo "features fetched: $features"
t1=$(sqlite3 "$db" "SELECT uid FROM collab_toilettes WHERE source_id='t1'")
t2=$(sqlite3 "$db" "SELECT uid FROM collab_toilettes WHERE source_id='t2'")
get "/api/features/collab_toilettes/$t1" t1
check "published contribution 200" test "$status" = 200
check "published contribution: public values, WGS84 coordinates as imported" jqc \
	'.properties.nom=="Toilettes du Rohu" and .properties.acces_pmr==true
	 and (.geometry.coordinates[0] + 3.3412345 | fabs) < 1e-7
	 and (.geometry.coordinates[1] - 47.7612345 | fabs) < 1e-7' "$out/t1"
check "published contribution: no contributor" jqc '.properties | has("contributeur") | not' "$out/t1"
check "published contribution: the secret is not in the answer" bash -c "! grep -q Kerlann '$out/t1'"
get "/api/features/collab_toilettes/$t2" t2
check "a proposed contribution is a 404 problem" is_problem t2 404
t2fid=$(sqlite3 "$db" "SELECT fid FROM collab_toilettes WHERE source_id='t2'")
get "/api/features/collab_toilettes/$t2fid" t2fid
check "a proposed contribution asked by its tile id is a 404 problem" is_problem t2fid 404
get "/api/layers/collab_toilettes" t_layer
published=$(sqlite3 "$db" "SELECT count(*) FROM collab_toilettes WHERE etat='published'")
check "the catalogue counts the published contributions only ($published)" \
	jqc --argjson n "$published" '.count==$n' "$out/t_layer"
echo "$secret" >>"$work/known_secrets"
get /api/features/batiment/no-such-uid nouid
check "unknown uid is a 404 problem" is_problem nouid 404
get /api/features/no_such_layer/x nolayer
check "unknown layer is a 404 problem" is_problem nolayer 404

# every private value stored (6 chars or more, to avoid false matches)
# must be absent from every answer the server gave
: >"$work/private_values"
while IFS=. read -r layer attr; do
	sqlite3 "$db" "SELECT DISTINCT \"$attr\" FROM \"$layer\" WHERE length(\"$attr\") >= 6 LIMIT 50" \
		2>/dev/null >>"$work/private_values" || true
done <"$work/private_attrs"
# a private value that is also a public value somewhere is not a secret
: >"$work/public_values"
while IFS=. read -r layer attr; do
	sqlite3 "$db" "SELECT DISTINCT \"$attr\" FROM \"$layer\" WHERE length(\"$attr\") >= 6" \
		2>/dev/null >>"$work/public_values" || true
done <"$work/public_attrs"
cat "$work/known_secrets" >>"$work/private_values" 2>/dev/null
sort -u "$work/private_values" | comm -23 - <(sort -u "$work/public_values") | grep -v '^$' >"$work/secrets" || true
leaks=0
echo "private values searched for in the answers: $(wc -l <"$work/secrets")"
if [ -s "$work/secrets" ]; then
	cat "$out"/* | python3 -c '
import json, sys
data = sys.stdin.buffer.read().decode("utf-8", "replace")
# the answers are JSON: compare unescaped text too
try:
    import re
    data += "".join(json.loads("\"" + s + "\"") for s in re.findall(r"\"((?:[^\"\\\\]|\\\\.)*)\"", data))
except Exception:
    pass
leaks = [s for s in open(sys.argv[1], encoding="utf-8").read().splitlines() if s and s in data]
print("\n".join(leaks[:5]))
sys.exit(1 if leaks else 0)' "$work/secrets" >"$work/leaks" || leaks=1
fi
check "no private value in any answer ($(wc -l <"$work/secrets") searched)" test "$leaks" = 0
[ "$leaks" = 0 ] || { echo "  leaked:"; cat "$work/leaks"; }

# --- protocol ------------------------------------------------------------
get /no/such/thing nf
check "unknown path is a 404 problem" is_problem nf 404
get /api/layers post405 -X POST -d '{}'
check "POST /api/layers is a 405 problem" is_problem post405 405
check "405 carries Allow: GET, HEAD" test "$(header Allow "$out/post405.h")" = "GET, HEAD"
get /healthz del405 -X DELETE
check "DELETE /healthz is a 405 problem" is_problem del405 405
get /healthz brew405 -X BREW
check "an unknown method is a 405 problem" is_problem brew405 405
get /api/layers/%zz badesc
check "bad percent-encoding is a 400 problem" is_problem badesc 400
get /api/layers/a%00b nul
check "encoded NUL is a 400 problem" is_problem nul 400
get /api/../healthz dotdot --path-as-is
check "'..' in the path is a 400 problem" is_problem dotdot 400
get /api/%2e%2e/healthz dotdot2 --path-as-is
check "encoded '..' is a 400 problem" is_problem dotdot2 400
get "/api/layers/$(head -c 20000 /dev/zero | tr '\0' a)" long
check "a 20 kB URL is a 414 problem" is_problem long 414

head=$(curl -s -I -o /dev/null -D "$out/head.h" -w '%{http_code} %{size_download}' "$base/api/layers")
check "HEAD /api/layers 200 without a body (got $head)" test "$head" = "200 0"
check "HEAD announces the GET length" test "$(header Content-Length "$out/head.h")" = "$(stat -c %s "$out/layers")"
get /api/layers opt -X OPTIONS
check "OPTIONS 204" test "$status" = 204
check "OPTIONS Allow" test "$(header Allow "$out/opt.h")" = "GET, HEAD, OPTIONS"
check "CORS origin on answers" test "$(header Access-Control-Allow-Origin "$out/layers.h")" = "$cors"
check "CORS origin on problems" test "$(header Access-Control-Allow-Origin "$out/nf.h")" = "$cors"
check "CORS preflight methods" test -n "$(header Access-Control-Allow-Methods "$out/opt.h")"
check "catalogue is cacheable" bash -c "grep -qi '^Cache-Control: public' '$out/layers.h'"

curl -sv -o /dev/null -o /dev/null "$base/healthz" "$base/api/layers" 2>"$work/keepalive" >/dev/null
check "keep-alive: the connection is reused" grep -q "Re-using existing connection" "$work/keepalive"
curl -sv -o /dev/null -o /dev/null "$base/nope" "$base/healthz" 2>"$work/keepalive2" >/dev/null
check "keep-alive after a 404" grep -q "Re-using existing connection" "$work/keepalive2"

# --- hostile clients -------------------------------------------------------
python3 - "$host" "$port" >"$work/hostile" 2>&1 <<'EOF'
import socket, sys, concurrent.futures as cf
host, port = sys.argv[1], int(sys.argv[2])

def raw(data, timeout=3):
    # no half-close: libmicrohttpd may not notice a FIN that came with the
    # request and keep the connection until its idle timeout
    s = socket.create_connection((host, port), timeout=timeout)
    got = b""
    try:
        s.sendall(data)
        while True:
            b = s.recv(65536)
            if not b:
                break
            got += b
        return got
    except OSError as e:
        return got or b"(" + str(e).encode() + b")"
    finally:
        s.close()

cases = {
    "garbage": b"\x00\x01\x02garbage\r\n\r\n",
    "http09": b"GET /\r\n\r\n",
    "no host": b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n",
    "huge url": b"GET /" + b"a" * 300000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "huge header": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: " + b"b" * 200000 + b"\r\n\r\n",
    "many headers": b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-H: v\r\n" * 5000 + b"\r\n",
    "bad content-length": b"POST /api/layers HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    "big body to 404": b"POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n" + b"x" * 100000,
    "chunked to 405": b"POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    "pipelined": b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /api/../x HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    "tab in path": b"GET /api/layers/a\tb HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    "utf8 in path": b"GET /api/layers/b\xc3\xa2timent\xff HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
}
for name, data in cases.items():
    got = raw(data)
    print(f"{name}: {got[:60]!r}")
pipelined = raw(cases["pipelined"])
n200 = pipelined.count(b"HTTP/1.1 200")
n400 = pipelined.count(b"HTTP/1.1 400")
print(f"pipelined: {n200} x 200, {n400} x 400")
if (n200, n400) != (2, 1):
    print("FAIL pipelined answers")
    sys.exit(1)

# ~1000 concurrent connections, each one request, in a bounded pool
def one(i):
    try:
        s = socket.create_connection((host, port), timeout=20)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        got = b""
        while True:
            b = s.recv(4096)
            if not b:
                break
            got += b
        s.close()
        return got.startswith(b"HTTP/1.1 200")
    except OSError:
        return False

socks = []
for i in range(1000):  # hold 1000 idle connections open at once...
    try:
        socks.append(socket.create_connection((host, port), timeout=5))
    except OSError:
        break
print(f"idle connections opened: {len(socks)}")
for s in socks[:500]:
    try:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # ...half of them slowloris
    except OSError:
        pass
for s in socks:
    s.close()
with cf.ThreadPoolExecutor(max_workers=200) as pool:  # ...then 1000 requests, 200 at a time
    results = list(pool.map(one, range(1000)))
print(f"concurrent requests answered 200: {sum(results)}/1000")
if sum(results) < 900:
    print("FAIL too many concurrent requests failed")
    sys.exit(1)
EOF
hostile_rc=$?
sed 's/^/  /' "$work/hostile"
check "hostile clients handled" test "$hostile_rc" = 0
check "the server survived the hostile clients" kill -0 "$pid"
get /healthz health2
check "healthz still 200 after the hostile clients" test "$status" = 200

# --- metrics and log -------------------------------------------------------
get /metrics metrics
check "/metrics 200" test "$status" = 200
check "/metrics is Prometheus text" bash -c "grep -q '^text/plain; version=0.0.4' <<<'$(header Content-Type "$out/metrics.h")'"
n4xx=$(awk '/^kartenn_http_requests_total\{code="4xx"\}/ {print $2}' "$out/metrics")
n2xx=$(awk '/^kartenn_http_requests_total\{code="2xx"\}/ {print $2}' "$out/metrics")
check "/metrics counts 4xx answers (got ${n4xx:-none})" test "${n4xx:-0}" -ge 12
check "/metrics counts 2xx answers (got ${n2xx:-none})" test "${n2xx:-0}" -ge 900
check "/metrics in-flight gauge" grep -q '^kartenn_http_requests_in_flight 1$' "$out/metrics"
check "/metrics uptime" grep -q '^kartenn_uptime_seconds [0-9]' "$out/metrics"
check "request log: one line per request with status and time" \
	grep -Eq '"GET /api/layers" 200 [0-9]+ [0-9.]+ms$' "$work/serve.err"
check "request log: escaped control characters" bash -c "! grep -qP '\\x00|\\x1b' '$work/serve.err'"

# --- failures at start -----------------------------------------------------
"$KARTENN" serve --db "$db" --port "$port" --bind "$host" >"$work/busy.out" 2>"$work/busy.err"
rc=$?
check "a busy port exits 1 (got $rc)" test "$rc" = 1
check "a busy port says so" grep -qi "in use" "$work/busy.err"
"$KARTENN" serve --db "$work/missing.sqlite" --port 0 >"$work/missing.out" 2>"$work/missing.err"
rc=$?
check "a missing store exits 1 (got $rc)" test "$rc" = 1
check "a missing store says so" grep -q "missing.sqlite" "$work/missing.err"
"$KARTENN" serve --db "$db" --port 99999 >/dev/null 2>&1
check "a bad port is a usage error" test "$?" = 2
"$KARTENN" serve --help >"$work/help" 2>&1
check "serve --help" grep -q -- "--port" "$work/help"

# --- tiles built on the work pool ---------------------------------------------
# Cache misses are built by the pool threads while their connections wait
# suspended: many at once must all be answered, and the same tiles again
# must be cache hits with the same status and ETag. Then a batch of misses
# is left in flight for the stop below: suspended connections must not
# keep the server from stopping cleanly.
python3 - -3.34 47.76 >"$work/tiles.list" <<'PYTILES'
import math, sys
lon, lat = float(sys.argv[1]), float(sys.argv[2])
for z in (14, 15, 16, 17):
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            print(f"/tiles/lanester/{z}/{x + dx}/{y + dy}.mvt")
PYTILES
fetch_all() { # fetch_all TAG: every tile of the list at once -> "status cache etag" lines
	local tag=$1 i
	mkdir -p "$work/t-$tag"
	awk '{print NR, $0}' "$work/tiles.list" | xargs -P 36 -n 2 sh -c \
		'curl -s -o /dev/null -D "$0/$2.h" -H "Accept-Encoding: gzip" "$1$3"' "$work/t-$tag" "$base"
	for i in $(seq 1 "$(wc -l <"$work/tiles.list")"); do
		echo "$(head -1 "$work/t-$tag/$i.h" | cut -d' ' -f2) $(header X-Kartenn-Cache "$work/t-$tag/$i.h")" \
			"$(header ETag "$work/t-$tag/$i.h")"
	done >"$work/t-$tag.txt"
}
fetch_all miss
fetch_all hit
check "36 concurrent tile misses all answered 200 or 204" \
	test "$(grep -cE '^(200|204) miss "' "$work/t-miss.txt")" = 36
check "the same tiles again are cache hits" test "$(grep -c ' hit "' "$work/t-hit.txt")" = 36
check "a hit answers the status and ETag of the miss" \
	cmp -s <(awk '{print $1, $3}' "$work/t-miss.txt") <(awk '{print $1, $3}' "$work/t-hit.txt")
get /healthz health3
check "healthz still 200 after the tile batch" test "$status" = 200
# misses (single-layer tiles: not cached yet) in flight when SIGTERM comes
sed 's#/lanester/#/eclairage_support/#' "$work/tiles.list" |
	xargs -P 36 -n 1 sh -c 'curl -s -o /dev/null "$0$1"' "$base" &
inflight=$!

# --- graceful stop ---------------------------------------------------------
kill -TERM "$pid"
stopped=0
for _ in $(seq 1 100); do
	kill -0 "$pid" 2>/dev/null || { stopped=1; break; }
	sleep 0.1
done
check "SIGTERM stops the server within 10 s" test "$stopped" = 1
wait "$pid"
rc=$?
pid=""
check "the server exits 0 on SIGTERM (got $rc)" test "$rc" = 0
check "the server says it stopped" grep -q "stopped" "$work/serve.err"
wait "$inflight" 2>/dev/null

echo "$checks checks passed, $failures failed"
[ "$failures" -eq 0 ]
