#!/usr/bin/env bash
# test_styles.sh — the map styles and the files of the map page.
#
# 1. Every styles/*.json passes @maplibre/maplibre-gl-style-spec's
#    validator and kartenn's rules (validate_styles.mjs: public layers and
#    attributes only, offline URLs and fonts, a complete layer list).
# 2. GET /styles/{name}.json serves them with this server's absolute URLs
#    (from the Host header, and X-Forwarded-Proto behind a proxy), valid
#    again; an unknown or malformed name is a JSON problem 404.
# 3. The static files: the page (/), its scripts, MapLibre GL JS and the
#    label fonts with their Content-Type, ETag and 304; path traversal
#    (raw and encoded dot segments, hidden files, symlinks out of the
#    folder, types not in the table) refused.
set -uo pipefail

: "${KARTENN:?run through ctest}" "${KT_TMP:?}" "${KT_SRC:?}"
for tool in curl jq node; do
	command -v "$tool" >/dev/null || { echo "FAIL: $tool is missing (scripts/install-deps.sh)"; exit 1; }
done

work=$(mktemp -d "$KT_TMP/styles.XXXXXX")
pid=""
failures=0
checks=0
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; wait "$pid" 2>/dev/null; fi
	rm -rf "$work"
}
trap cleanup EXIT
ok() { checks=$((checks + 1)); }
fail() { failures=$((failures + 1)); echo "FAIL: $*"; }
check() { local what=$1; shift; if "$@"; then ok; else fail "$what"; fi; }
die() { echo "FAIL: $*"; [ -f "$work/serve.err" ] && tail -20 "$work/serve.err"; exit 1; }
validate() { node "$KT_SRC/tests/integration/validate_styles.mjs" --layers "$KT_SRC/layers" "$@"; }

# --- 1. the files -------------------------------------------------------
shopt -s nullglob
styles=("$KT_SRC"/styles/*.json)
[ "${#styles[@]}" -gt 0 ] || die "no style in $KT_SRC/styles"
check "styles/*.json are valid" validate "${styles[@]}"

# The validator itself must catch a broken style.
jq '.layers[1].paint["fill-color"] = "pas une couleur"
    | .layers += [{"id": "x", "type": "circle", "source": "lanester",
                   "source-layer": "collab_toilettes", "filter": ["has", "contributeur"]}]' \
	"$KT_SRC/styles/lanester.json" >"$work/broken.json"
validate "$work/broken.json" >"$work/broken.out"
check "the validator refuses a broken style" test $? -ne 0
check "… naming the bad colour" grep -q "color expected" "$work/broken.out"
check "… and the private attribute" grep -q 'private attribute "contributeur"' "$work/broken.out"

# --- a server -------------------------------------------------------------
"$KARTENN" init --db "$work/s.sqlite" --layers "$KT_SRC/layers" >"$work/init.log" 2>&1 \
	|| die "kartenn init failed: $(tail -3 "$work/init.log")"
# A web root of our own, to test what the source tree must never hold.
root=$work/root
mkdir -p "$root/web/sub" "$root/styles" "$root/node_modules/maplibre-gl"
cp "$KT_SRC"/web/* "$root/web/"
cp "$KT_SRC"/styles/*.json "$root/styles/"
ln -s "$KT_SRC/node_modules/maplibre-gl/dist" "$root/node_modules/maplibre-gl/dist"
echo "secret" >"$work/outside.txt"
ln -s "$work/outside.txt" "$root/web/escape.txt"
echo "hidden" >"$root/web/.hidden.txt"
echo "backup" >"$root/web/app.js.bak"
echo '{"version": 8, ' >"$root/styles/truncated.json"
echo "sub" >"$root/web/sub/ok.txt"

. "$(dirname "$0")/../support/serve.sh"
kt_serve "$work/s.sqlite" "$work" --web-root "$root"
hostport=${base#http://}

# status CONTENT_TYPE_PREFIX PATH [curl args…]
get() {
	local path=$1; shift
	curl -s --path-as-is -o "$work/body" -D "$work/headers" -w '%{http_code} %{content_type}' "$@" "$base$path"
}
expect() { # expect WHAT "CODE TYPE-PREFIX" PATH [curl args…]
	local what=$1 want=$2 path=$3; shift 3
	local got; got=$(get "$path" "$@")
	if [[ "$got" == "$want"* ]]; then ok; else fail "$what: GET $path gave '$got', expected '$want'"; fi
}
problem404() { # the answer is a JSON problem 404
	jq -e '.status == 404 and (.title | length > 0)' "$work/body" >/dev/null
}

# --- 2. served styles -----------------------------------------------------
expect "style" "200 application/json" /styles/lanester.json
check "served style: source URL on this server" \
	jq -e --arg b "$base" '.sources.lanester.url == ($b + "/tiles/lanester.json")' "$work/body"
check "served style: font URLs on this server" \
	jq -e --arg b "$base" '[."font-faces"[] | strings | startswith($b + "/static/fonts/")] | all' "$work/body"
check "served style is valid" validate --served "$base" "$base/styles/lanester.json"
check "served style: ETag" grep -qi '^etag: "' "$work/headers"
etag=$(grep -i '^etag:' "$work/headers" | cut -d' ' -f2 | tr -d '\r')
expect "style revalidation" "304" /styles/lanester.json -H "If-None-Match: $etag"

expect "style behind a proxy" "200 application/json" /styles/lanester.json \
	-H "Host: carte.lanester.bzh" -H "X-Forwarded-Proto: https"
check "proxy: URLs use the public host and scheme" \
	jq -e '.sources.lanester.url == "https://carte.lanester.bzh/tiles/lanester.json"' "$work/body"
expect "style with a forged Host" "200 application/json" /styles/lanester.json -H 'Host: a"b/c'
check "forged Host: URLs fall back to the server's own" \
	jq -e --arg b "$base" '.sources.lanester.url == ($b + "/tiles/lanester.json")' "$work/body"
expect "unknown style" "404 application/problem+json" /styles/nope.json
check "unknown style: problem body" problem404
expect "style name with a dot" "404 application/problem+json" /styles/..lanester.json
expect "style name encoded traversal" "400 application/problem+json" /styles/%2e%2e%2fx.json
expect "broken style file" "500 application/problem+json" /styles/truncated.json
check "broken style: the log names the file" grep -q "truncated.json" "$work/serve.err"

# --- 3. static files ------------------------------------------------------
expect "the page" "200 text/html; charset=utf-8" /
check "the page loads MapLibre from this server" grep -q '/static/maplibre-gl/maplibre-gl.css' "$work/body"
check "the page is French" grep -q '<html lang="fr">' "$work/body"
check "the page: no URL off the server" bash -c "! grep -Eq '(src|href)=\"(https?:)?//' '$work/body'"
expect "page script" "200 text/javascript" /static/app.js
expect "page style sheet" "200 text/css" /static/app.css
expect "favicon" "200 image/svg+xml" /static/favicon.svg
expect "sub-folder" "200 text/plain" /static/sub/ok.txt
expect "MapLibre GL JS" "200 text/javascript" /static/maplibre-gl/maplibre-gl.mjs
check "MapLibre GL JS: whole file" test "$(stat -c %s "$work/body")" -eq \
	"$(stat -L -c %s "$KT_SRC/node_modules/maplibre-gl/dist/maplibre-gl.mjs")"
check "MapLibre GL JS: long cache" grep -qi '^cache-control: public, max-age=' "$work/headers"
expect "MapLibre worker" "200 text/javascript" "/static/maplibre-gl/maplibre-gl-worker.mjs?v=1"
expect "MapLibre CSS" "200 text/css" /static/maplibre-gl/maplibre-gl.css
expect "label font" "200 font/ttf" /static/fonts/DejaVuSans.ttf
expect "HEAD of a file" "200 text/javascript" /static/app.js -I
check "HEAD: Content-Length of the file" \
	grep -qi "^content-length: $(stat -c %s "$root/web/app.js")" "$work/headers"

get /static/app.js >/dev/null
etag=$(grep -i '^etag:' "$work/headers" | cut -d' ' -f2 | tr -d '\r')
check "static: strong ETag" test -n "$etag"
check "static: page files revalidate" grep -qi '^cache-control: no-cache' "$work/headers"
expect "If-None-Match → 304" "304" /static/app.js -H "If-None-Match: $etag"
expect "If-None-Match list → 304" "304" /static/app.js -H "If-None-Match: \"x\", W/$etag"
expect "other ETag → 200" "200" /static/app.js -H 'If-None-Match: "other"'
touch -d '2001-01-01' "$root/web/app.js"
expect "changed file → 200" "200" /static/app.js -H "If-None-Match: $etag"

for p in /static/../etc/passwd /static/%2e%2e/%2e%2e/etc/passwd /static/..%2fetc%2fpasswd \
	/static/maplibre-gl/../../../../etc/passwd /static/fonts/%2e%2e/%2e%2e/%2e%2e/etc/passwd \
	/static/./app.js "/static/%00app.js"; do
	code=$(get "$p" | cut -d' ' -f1)
	if [ "$code" = 400 ] || [ "$code" = 404 ]; then ok; else fail "traversal $p answered $code"; fi
	check "traversal $p: nothing of /etc/passwd" bash -c "! grep -q 'root:' '$work/body'"
done
expect "symlink out of the folder" "404 application/problem+json" /static/escape.txt
check "symlink: not served" bash -c "! grep -q secret '$work/body'"
expect "hidden file" "404 application/problem+json" /static/.hidden.txt
expect "type not in the table" "404 application/problem+json" /static/app.js.bak
expect "TypeScript declarations not served" "404" /static/maplibre-gl/maplibre-gl.d.ts
expect "a folder" "404" /static/sub
expect "missing file" "404 application/problem+json" /static/nope.js
check "missing file: problem body" problem404
expect "POST refused" "405" /static/app.js -X POST -d x
check "the server still answers" curl -sf -o /dev/null "$base/healthz"

# No web root: the page says so, the API still works.
kill -TERM "$pid"; wait "$pid" 2>/dev/null
kt_serve "$work/s.sqlite" "$work" --web-root "$work/nowhere"
expect "no web root: page 404" "404 application/problem+json" /
check "no web root: the problem says why" grep -q "web-root" "$work/body"
expect "no web root: API still answers" "200 application/json" /api/layers

echo "$checks checks, $failures failures"
[ "$failures" -eq 0 ]
