#!/bin/sh
# Installs what kartenn needs to build, run and test on Debian 12 (as root).
# Idempotent: packages already present are left alone; apt-get update runs
# only when something is missing.
set -eu

PKGS="build-essential cmake pkg-config git
libgdal-dev gdal-bin libspatialite-dev libsqlite3-mod-spatialite libsqlite3-dev sqlite3
libproj-dev proj-data proj-bin libgeos-dev libmicrohttpd-dev libcmocka-dev libjansson-dev
zlib1g-dev libbz2-dev curl ca-certificates time chromium hyperfine jq python3
libprotobuf-c-dev protobuf-c-compiler
libxml2-dev libxml2-utils python3-owslib
fonts-dejavu-core
libcairo2-dev libpango1.0-dev libjpeg-dev libpng-dev python3-pil"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
		|| missing="$missing $p"
done

if [ -n "$missing" ]; then
	echo "kartenn: installing:$missing" >&2
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO="sudo"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi

# Node.js: the machine image may bring its own; Debian's otherwise.
if ! command -v npm >/dev/null 2>&1; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm
fi

# npm packages (MapLibre GL JS served by kartenn, test tools), as locked.
top=$(cd "$(dirname "$0")/.." && pwd)
stamp="$top/node_modules/.kartenn-lock"
if [ ! -f "$stamp" ] || ! cmp -s "$top/package-lock.json" "$stamp"; then
	(cd "$top" && npm ci --no-audit --no-fund --loglevel=error)
	cp "$top/package-lock.json" "$stamp"
fi
