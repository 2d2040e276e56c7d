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
