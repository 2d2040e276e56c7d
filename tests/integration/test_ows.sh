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

. "$(dirname "$0")/../support/serve.sh"
kt_check_demo ows "$(dirname "$0")/ows_check.py" KT_OWS
