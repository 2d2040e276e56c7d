#!/usr/bin/env bash
# test_ows.sh — WFS 2.0 / 1.1.0 and OGC API Features end to end (issue 4).
#
# Makes the demo store, starts `kartenn serve` on a free port and runs
# ows_check.py (with Debian's /usr/bin/python3: OWSLib, lxml) against it.
# The checker validates answers against the official schemas offline
# (xmllint + ../shared/specs/ogc/catalog.xml), reads every public layer
# back through GDAL (WFS: and OAPIF:) and OWSLib (WFS 1.1.0 and 2.0.0) and
# compares counts, public attribute values and coordinates (1 mm, store
# CRS) with the store read independently (ogr2ogr and SpatiaLite on the
# file), runs FES filters, paging and every kind of bad request, and
# searches every answer for private values read from the store file.
set -uo pipefail

: "${KARTENN:?run through ctest}" "${KT_TMP:?}" "${KT_SHARED:?}" "${KT_LAYERS_DIR:?}"
for tool in curl xmllint ogr2ogr /usr/bin/python3; do
	command -v "$tool" >/dev/null || { echo "FAIL: $tool is missing (scripts/install-deps.sh)"; exit 1; }
done
/usr/bin/python3 -c 'import owslib, lxml' 2>/dev/null \
	|| { echo "FAIL: python3-owslib is missing (scripts/install-deps.sh)"; exit 1; }

work=$(mktemp -d "$KT_TMP/ows.XXXXXX")
pid=""
rc=1
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill "$pid"; wait "$pid" 2>/dev/null; fi
	if [ "$rc" -eq 0 ]; then rm -rf "$work"; else echo "kept $work for inspection"; fi
}
trap cleanup EXIT

"$KARTENN" demo --db "$work/store.sqlite" --quiet >"$work/demo.log" 2>&1 \
	|| { echo "FAIL: kartenn demo: $(tail -3 "$work/demo.log")"; exit 1; }

. "$(dirname "$0")/../support/serve.sh"
kt_serve "$work/store.sqlite" "$work" --quiet

KT_OWS_BASE=${url%/} KT_OWS_DB="$work/store.sqlite" KT_OWS_WORK="$work" \
	/usr/bin/python3 "$(dirname "$0")/ows_check.py"
rc=$?
kill -0 "$pid" 2>/dev/null || { echo "FAIL: the server died during the checks"; rc=1; }
exit $rc
