#!/usr/bin/env bash
# test_wms.sh — WMS 1.3.0 / 1.1.1 end to end (issue 4, WMS part).
#
# Makes the demo store, starts `kartenn serve` on a free port (with the
# default WIDTH/HEIGHT bound, 4096) and runs wms_check.py (Debian's
# /usr/bin/python3: Pillow, OWSLib) against it: capabilities and exception
# reports validated offline against the official schemas, GetMap images
# read as images (features in their class colour where the store puts
# them, in every advertised CRS and both axis orders; transparency,
# BGCOLOR, JPEG), GetFeatureInfo at a feature's pixel (public attributes
# only), every kind of bad request, and real clients: gdal_translate from
# a WMS: URL and OWSLib's WebMapService 1.3.0 and 1.1.1 on every public
# layer. The server must still be alive at the end.
set -uo pipefail

: "${KARTENN:?run through ctest}" "${KT_TMP:?}" "${KT_SHARED:?}" "${KT_SRC:?}"
for tool in curl xmllint gdal_translate gdalinfo /usr/bin/python3; do
	command -v "$tool" >/dev/null || { echo "FAIL: $tool is missing (scripts/install-deps.sh)"; exit 1; }
done
/usr/bin/python3 -c 'import owslib, PIL' 2>/dev/null \
	|| { echo "FAIL: python3-owslib or python3-pil is missing (scripts/install-deps.sh)"; exit 1; }

. "$(dirname "$0")/../support/serve.sh"
kt_check_demo wms "$(dirname "$0")/wms_check.py" KT_WMS
