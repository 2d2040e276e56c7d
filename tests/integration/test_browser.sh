#!/usr/bin/env bash
# test_browser.sh — the map page in headless Chromium (issue 3).
#
# Generates the demo store, starts `kartenn serve` on a free port and runs
# browser_map.mjs (playwright-core driving Debian's /usr/bin/chromium):
# the page loads offline, the map becomes idle without a console error,
# the screenshot is not blank and shows the DT-DICT colours, a click on a
# street-lighting support opens its popup with its reference. The
# screenshots stay in $KT_TMP/browser/ (map.png, popup.png) to be looked
# at. Needs chromium and node_modules (scripts/install-deps.sh).
set -uo pipefail

: "${KARTENN:?run through ctest}" "${KT_TMP:?}" "${KT_SRC:?}"
command -v node >/dev/null || { echo "FAIL: node is missing (scripts/install-deps.sh)"; exit 1; }
[ -x "${KT_CHROMIUM:-/usr/bin/chromium}" ] || { echo "FAIL: chromium is missing (scripts/install-deps.sh)"; exit 1; }
[ -d "$KT_SRC/node_modules/playwright-core" ] || { echo "FAIL: node_modules missing (scripts/install-deps.sh)"; exit 1; }

work=$(mktemp -d "$KT_TMP/browser.XXXXXX")
shots=$KT_TMP/browser
pid=""
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		wait "$pid" 2>/dev/null
	fi
	rm -rf "$work"
}
trap cleanup EXIT
die() { echo "FAIL: $*"; [ -f "$work/serve.err" ] && tail -20 "$work/serve.err"; exit 1; }

"$KARTENN" demo --db "$work/demo.sqlite" --quiet >"$work/demo.log" 2>&1 \
	|| die "kartenn demo failed: $(tail -3 "$work/demo.log")"

. "$(dirname "$0")/../support/serve.sh"
kt_serve "$work/demo.sqlite" "$work"

rm -rf "$shots"
cd "$KT_SRC" && node tests/integration/browser_map.mjs "${url%/}" "$shots"
rc=$?
if [ "$rc" -ne 0 ]; then
	echo "--- server log (errors) ---"
	grep -Ev '" (200|204|304) ' "$work/serve.err" | tail -20
fi
exit "$rc"
