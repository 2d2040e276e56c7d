/*
 * cmd_serve.c — `kartenn serve`: opens the store, starts the HTTP server
 * on it and waits for SIGINT or SIGTERM, then stops gracefully (requests
 * in flight finish, workers close their store contexts) and exits 0.
 *
 * SIGINT and SIGTERM are blocked before the server starts, so every
 * worker thread inherits the mask and only this thread, in sigwait(),
 * ever receives them: no signal handler, no global flag.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kt_cli.h"
#include "kt_engine.h"
#include "kt_server.h"

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: kartenn serve --db FILE [options]\n\n"
	        "Serves the store FILE over HTTP: the map page (/), /healthz, /metrics,\n"
	        "/api/layers, /api/layers/NAME, /api/features/LAYER/ID,\n"
	        "/styles/NAME.json, /static/, /tiles/TILESET/Z/X/Y.mvt (vector tiles) and\n"
	        "/tiles/TILESET.json (TileJSON), OGC WMS 1.3.0/1.1.1 and WFS 2.0/1.1.0\n"
	        "(/ows, /wms, /wfs) and OGC API Features (/ogcapi/). Stops on SIGINT/SIGTERM.\n\n"
	        "options:\n"
	        "  --db FILE        the store (kartenn init / kartenn demo)\n"
	        "  --bind ADDR      address to listen on (default 127.0.0.1; 0.0.0.0 or ::\n"
	        "                   for every interface)\n"
	        "  --port N         TCP port (default 8080; 0 picks a free one)\n"
	        "  --threads N      worker threads (default: one per core)\n"
	        "  --build-threads N  threads building tiles that are not cached and\n"
	        "                   answering WMS/WFS requests, each with its own store\n"
	        "                   connection, while the workers go on answering\n"
	        "                   (default: one per core)\n"
	        "  --cors ORIGIN    send Access-Control-Allow-Origin: ORIGIN ('*' for any)\n"
	        "  --web-root DIR   folder holding web/, styles/ and\n"
	        "                   node_modules/maplibre-gl/dist (default: ../share/kartenn\n"
	        "                   next to the binary when installed, else the source tree)\n"
	        "  --fonts-dir DIR  label fonts served under /static/fonts/ (default\n"
	        "                   /usr/share/fonts/truetype/dejavu)\n"
	        "  --tile-cache-mb N  in-memory vector tile cache, MiB (default 64; 0 = none)\n"
	        "  --tile-max-kb N    size cap of a tile, KiB (default 500): over it the\n"
	        "                     smallest features are dropped (lines and polygons\n"
	        "                     first, by length / square root of area; points last)\n"
	        "  --tile-poll-ms N   look for edits at most every N ms (default 0: before\n"
	        "                     every tile, so no tile is stale after an edit)\n"
	        "  --tile-max-age S   Cache-Control max-age of tiles (default 0: no-cache,\n"
	        "                     clients revalidate with the ETag)\n"
	        "  --no-tile-cache    build every tile on request\n"
	        "  --wms-max-size N   most pixels a side of a WMS GetMap (default 4096;\n"
	        "                     larger WIDTH/HEIGHT get an InvalidParameterValue)\n"
	        "  --quiet          no request log on stderr\n"
	        "  --help           this text\n");
}

static int parse_uint(const char *s, long max, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > max)
		return -1;
	*out = v;
	return 0;
}

/* The vector-tile options: name, bounds, what a unit is worth. */
static int tile_option(int c, const char *arg, kt_server_opts_t *o)
{
	static const struct {
		int c;
		const char *name;
		long min, max;
	} t[] = {
		{'C', "--tile-cache-mb", 0, 1 << 20}, {'M', "--tile-max-kb", 1, 1 << 20},
		{'P', "--tile-poll-ms", 0, 3600000},  {'A', "--tile-max-age", 0, 31536000},
	};
	long v = 0;
	if (c == 'N') {
		o->tile_cache_off = 1;
		return 0;
	}
	for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
		if (t[i].c != c)
			continue;
		if (parse_uint(arg, t[i].max, &v) || v < t[i].min) {
			fprintf(stderr, "kartenn serve: %s: '%s' is not in %ld..%ld\n", t[i].name, arg,
			        t[i].min, t[i].max);
			return -1;
		}
	}
	switch (c) {
	case 'C':
		o->tile_cache_bytes = (size_t)v << 20;
		o->tile_cache_off = v == 0;
		break;
	case 'M': o->tile_max_bytes = (size_t)v * 1024; break;
	case 'P': o->tile_poll_ms = (unsigned)v; break;
	case 'A': o->tile_max_age_s = (unsigned)v; break;
	}
	return 0;
}

/* Fills opts from argv; returns 0, or the exit status to return. */
static int parse_args(int argc, char **argv, const char **db, kt_server_opts_t *o)
{
	static const struct option longopts[] = {
		{"db", required_argument, NULL, 'd'},   {"bind", required_argument, NULL, 'b'},
		{"port", required_argument, NULL, 'p'}, {"threads", required_argument, NULL, 't'},
		{"build-threads", required_argument, NULL, 'B'},
		{"cors", required_argument, NULL, 'c'}, {"quiet", no_argument, NULL, 'q'},
		{"web-root", required_argument, NULL, 'w'},
		{"fonts-dir", required_argument, NULL, 'f'},
		{"tile-cache-mb", required_argument, NULL, 'C'},
		{"tile-max-kb", required_argument, NULL, 'M'},
		{"tile-poll-ms", required_argument, NULL, 'P'},
		{"tile-max-age", required_argument, NULL, 'A'},
		{"no-tile-cache", no_argument, NULL, 'N'},
		{"wms-max-size", required_argument, NULL, 'W'},
		{"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0},
	};
	long v;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': *db = optarg; break;
		case 'b': o->bind = optarg; break;
		case 'c': o->cors_origin = optarg; break;
		case 'q': o->quiet = 1; break;
		case 'w': o->web_root = optarg; break;
		case 'f': o->fonts_dir = optarg; break;
		case 'p':
			if (parse_uint(optarg, 65535, &v)) {
				fprintf(stderr, "kartenn serve: --port: '%s' is not a port (0..65535)\n", optarg);
				return 2;
			}
			o->port = (int)v;
			break;
		case 't':
			if (parse_uint(optarg, 256, &v) || v == 0) {
				fprintf(stderr, "kartenn serve: --threads: '%s' is not in 1..256\n", optarg);
				return 2;
			}
			o->threads = (unsigned)v;
			break;
		case 'B':
			if (parse_uint(optarg, 256, &v) || v == 0) {
				fprintf(stderr, "kartenn serve: --build-threads: '%s' is not in 1..256\n",
				        optarg);
				return 2;
			}
			o->build_threads = (unsigned)v;
			break;
		case 'C': case 'M': case 'P': case 'A': case 'N':
			if (tile_option(c, optarg, o))
				return 2;
			break;
		case 'W':
			if (parse_uint(optarg, 16384, &v) || v < 16) {
				fprintf(stderr, "kartenn serve: --wms-max-size: '%s' is not in 16..16384\n",
				        optarg);
				return 2;
			}
			o->wms_max_size = (unsigned)v;
			break;
		case 'h': usage(stdout); return -1;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "kartenn serve: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (!*db) {
		fprintf(stderr, "kartenn serve: --db FILE is required\n");
		usage(stderr);
		return 2;
	}
	return 0;
}

/* An installed kartenn finds its pages in ../share/kartenn next to its
 * binary; a build tree leaves web_root NULL: the server then uses the
 * source tree it was built from. */
static char *installed_web_root(void)
{
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return NULL;
	exe[n] = 0;
	char *slash = strrchr(exe, '/');
	if (!slash)
		return NULL;
	*slash = 0;
	char root[4200], page[4300];
	snprintf(root, sizeof root, "%s/../share/kartenn", exe);
	snprintf(page, sizeof page, "%s/web/index.html", root);
	return access(page, R_OK) ? NULL : realpath(root, NULL);
}

int kt_cmd_serve(int argc, char **argv)
{
	const char *db = NULL;
	kt_server_opts_t opts = {.port = -1};
	int rc = parse_args(argc, argv, &db, &opts);
	if (rc)
		return rc < 0 ? 0 : rc;

	kt_err_t err = {0};
	kt_store_t *store = NULL;
	if (kt_store_open(db, &store, &err)) {
		fprintf(stderr, "kartenn serve: cannot open the store %s: %s\n", db, err.msg);
		return 1;
	}
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);

	char *installed = opts.web_root ? NULL : installed_web_root();
	if (installed)
		opts.web_root = installed;
	kt_server_t *srv = NULL;
	if (kt_server_start(store, &opts, &srv, &err)) {
		fprintf(stderr, "kartenn serve: %s\n", err.msg);
		kt_store_close(store);
		free(installed);
		return 1;
	}
	printf("kartenn: serving %s on %s\n", db, kt_server_url(srv));
	fflush(stdout);

	int sig = 0;
	while (sigwait(&stop, &sig))
		;
	fprintf(stderr, "kartenn serve: %s received, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
	kt_server_stop(srv);
	kt_store_close(store);
	free(installed);
	fprintf(stderr, "kartenn serve: stopped\n");
	return 0;
}
