# serve.sh — sourced by the integration scripts: starts `kartenn serve`
# on a free port and waits until it answers.
#
#   kt_serve DB OUT_DIR [serve options…]
#
# starts "$KARTENN" serve --db DB --port 0 in the background (stdout in
# OUT_DIR/serve.out, stderr appended to OUT_DIR/serve.err), reads the URL
# it prints, waits for /healthz, and sets
#   pid   the server's process id
#   url   its base URL with a trailing slash ("http://127.0.0.1:PORT/")
#   base  the same without it
# On failure it prints "FAIL: …" with the server's last words and exits 1.
kt_serve() {
	local db=$1 out=$2
	shift 2
	: >"$out/serve.out"
	"$KARTENN" serve --db "$db" --port 0 "$@" >"$out/serve.out" 2>>"$out/serve.err" &
	pid=$!
	url=""
	for _ in $(seq 1 200); do
		url=$(grep -o 'http://[^ ]*/' "$out/serve.out" 2>/dev/null | head -1)
		[ -n "$url" ] && break
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "FAIL: the server exited at start: $(tail -3 "$out/serve.err")"
			exit 1
		fi
		sleep 0.1
	done
	if [ -z "$url" ]; then
		echo "FAIL: the server did not say where it listens"
		exit 1
	fi
	base=${url%/}
	for _ in $(seq 1 100); do
		curl -fs -o /dev/null "$base/healthz" && return 0
		sleep 0.1
	done
	echo "FAIL: the server does not answer /healthz"
	exit 1
}

# kt_check_demo NAME CHECKER PREFIX
#
# The whole run of a checker script against the demo: makes a scratch
# folder $KT_TMP/NAME.XXXXXX (removed on success, kept and named on
# failure), generates the demo store there, starts the server, runs
# /usr/bin/python3 CHECKER with PREFIX_BASE (server URL), PREFIX_DB (the
# store file) and PREFIX_WORK (the folder) in its environment, fails if
# the server died meanwhile, and exits with the checker's status.
kt_check_demo() {
	local name=$1 checker=$2 prefix=$3
	work=$(mktemp -d "$KT_TMP/$name.XXXXXX")
	pid=""
	rc=1
	trap '
		if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill "$pid"; wait "$pid" 2>/dev/null; fi
		if [ "$rc" -eq 0 ]; then rm -rf "$work"; else echo "kept $work for inspection"; fi
	' EXIT
	"$KARTENN" demo --db "$work/store.sqlite" --quiet >"$work/demo.log" 2>&1 \
		|| { echo "FAIL: kartenn demo: $(tail -3 "$work/demo.log")"; exit 1; }
	kt_serve "$work/store.sqlite" "$work" --quiet
	env "${prefix}_BASE=$base" "${prefix}_DB=$work/store.sqlite" "${prefix}_WORK=$work" \
		/usr/bin/python3 "$checker"
	rc=$?
	kill -0 "$pid" 2>/dev/null || { echo "FAIL: the server died during the checks"; rc=1; }
	exit $rc
}
