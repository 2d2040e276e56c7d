/*
 * cmd_tiles.c — `kartenn tiles`: vector-tile tools.
 *
 *   kartenn tiles validate FILE.mvt [...]
 *
 * checks each tile (raw or gzipped) against the Mapbox Vector Tile 2.1
 * rules (kt_mvt_validate: protobuf structure, layers, dictionaries, tags,
 * geometry commands, winding, closure, zero-length segments, OGC validity
 * of polygons), prints every problem as "FILE: problem" and a verdict per
 * file. Exit status: 0 every file valid, 1 a file invalid or unreadable,
 * 2 bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <geos_c.h>

#include "kt_cli.h"
#include "kt_engine.h"
#include "kt_server.h"

#define TILE_FILE_MAX (256L * 1024 * 1024)

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: kartenn tiles validate [options] FILE.mvt [...]\n\n"
	        "Checks vector tiles (raw or gzipped) against the Mapbox Vector Tile 2.1\n"
	        "specification and prints each problem. Exit 0 when every tile is valid,\n"
	        "1 otherwise.\n\n"
	        "options:\n"
	        "  --no-ogc        do not check polygons for OGC validity (GEOS)\n"
	        "  --max N         print at most N problems per tile (default 50; 0 = all)\n"
	        "  --quiet         print only the invalid files' problems, no verdicts\n"
	        "  --help          this text\n");
}

struct ctx {
	const char *file;
	int quiet;
};

static void on_problem(const char *problem, void *data)
{
	const struct ctx *c = data;
	printf("%s: %s\n", c->file, problem);
}

static int read_file(const char *path, unsigned char **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	size_t cap = 65536, n = 0;
	unsigned char *b = kt_malloc(cap);
	while (b) {
		if (n == cap) {
			unsigned char *nb = cap < (size_t)TILE_FILE_MAX ? kt_realloc(b, cap * 2) : NULL;
			if (!nb) {
				kt_free(b);
				b = NULL;
				break;
			}
			b = nb;
			cap *= 2;
		}
		size_t r = fread(b + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	int bad = ferror(f);
	fclose(f);
	if (!b || bad) {
		kt_free(b);
		errno = bad ? EIO : ENOMEM;
		return -1;
	}
	*buf = b;
	*len = n;
	return 0;
}

static int validate(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"no-ogc", no_argument, NULL, 'n'}, {"max", required_argument, NULL, 'm'},
		{"quiet", no_argument, NULL, 'q'},  {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int ogc = 1, quiet = 0, c;
	long max = 50;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'n': ogc = 0; break;
		case 'q': quiet = 1; break;
		case 'm': max = strtol(optarg, NULL, 10); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "kartenn tiles validate: no tile given\n");
		usage(stderr);
		return 2;
	}
	GEOSContextHandle_t geos = ogc ? GEOS_init_r() : NULL;
	int status = 0;
	for (int i = optind; i < argc; i++) {
		unsigned char *buf = NULL;
		size_t len = 0;
		struct ctx cx = {argv[i], quiet};
		if (read_file(argv[i], &buf, &len)) {
			printf("%s: cannot read: %s\n", argv[i], strerror(errno));
			status = 1;
			continue;
		}
		long n = kt_mvt_validate(buf, len, geos, on_problem, &cx, max);
		kt_free(buf);
		if (n != 0)
			status = 1;
		if (!quiet)
			printf("%s: %s\n", argv[i], n == 0 ? "valid" : n > 0 ? "INVALID" : "cannot check");
	}
	if (geos)
		GEOS_finish_r(geos);
	return status;
}

int kt_cmd_tiles(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "validate"))
		return validate(argc - 1, argv + 1);
	fprintf(stderr, "kartenn tiles: unknown subcommand '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
