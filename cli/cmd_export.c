/*
 * cmd_export.c — `kartenn export`: writes one layer of the store to a
 * GeoPackage, GeoJSON, CSV or Shapefile through GDAL (importers/export.c),
 * optionally reprojected. Exit status: 0 written, 1 failed, 2 bad usage.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kt_cli.h"
#include "kt_engine.h"
#include "kt_import.h"

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: kartenn export --db FILE --layer NAME --format gpkg|geojson|csv|shp\n"
	        "                      [--crs EPSG:N] [--overwrite] OUT\n"
	        "\n"
	        "Writes every feature of a layer (all attributes, uid, version; precision and\n"
	        "DT-DICT class for network layers) to OUT, in the store CRS or in --crs.\n"
	        "\n"
	        "options:\n"
	        "  --db FILE        the store\n"
	        "  --layer NAME     the layer to export\n"
	        "  --format F       gpkg, geojson, csv (geometry as WKT) or shp\n"
	        "  --crs EPSG:N     output CRS (default: the store CRS)\n"
	        "  --overwrite      replace OUT if it exists\n"
	        "  --quiet          print only errors\n"
	        "  --help           this help\n");
}

static int parse_epsg(const char *s, int *out)
{
	if (!strncasecmp(s, "EPSG:", 5))
		s += 5;
	char *end;
	long v = strtol(s, &end, 10);
	if (end == s || *end || v <= 0 || v > 999999)
		return -1;
	*out = (int)v;
	return 0;
}

int kt_cmd_export(int argc, char **argv)
{
	enum { O_DB = 256, O_LAYER, O_FORMAT, O_CRS, O_OVER, O_QUIET, O_HELP };
	static const struct option longopts[] = {
		{"db", required_argument, 0, O_DB}, {"layer", required_argument, 0, O_LAYER},
		{"format", required_argument, 0, O_FORMAT}, {"crs", required_argument, 0, O_CRS},
		{"overwrite", no_argument, 0, O_OVER}, {"quiet", no_argument, 0, O_QUIET},
		{"help", no_argument, 0, O_HELP}, {0, 0, 0, 0},
	};
	kt_export_opts_t o;
	memset(&o, 0, sizeof o);
	const char *db = NULL;
	int quiet = 0, opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case O_DB: db = optarg; break;
		case O_LAYER: o.layer = optarg; break;
		case O_FORMAT: o.format = optarg; break;
		case O_CRS:
			if (parse_epsg(optarg, &o.epsg)) {
				fprintf(stderr, "kartenn export: --crs '%s': expected EPSG:N\n", optarg);
				return 2;
			}
			break;
		case O_OVER: o.overwrite = 1; break;
		case O_QUIET: quiet = 1; break;
		case O_HELP: usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!db || !o.layer || !o.format || optind != argc - 1) {
		fprintf(stderr, "kartenn export: %s\n",
		        !db ? "--db is required" : !o.layer ? "--layer is required"
		        : !o.format ? "--format is required" : "exactly one OUT file is required");
		usage(stderr);
		return 2;
	}
	o.path = argv[optind];
	kt_err_t err = {0, ""};
	kt_store_t *store = NULL;
	kt_ctx_t *ctx = NULL;
	if (kt_store_open(db, &store, &err) || kt_ctx_open(store, &ctx, &err)) {
		fprintf(stderr, "kartenn export: %s: %s\n", db, err.msg);
		kt_store_close(store);
		return 1;
	}
	int64_t n = 0;
	int rc = kt_export_run(ctx, &o, &n);
	if (rc)
		fprintf(stderr, "kartenn export: %s: %s\n", o.path, kt_errmsg(ctx));
	else if (!quiet)
		printf("%s: %lld features of %s written (%s, EPSG:%d)\n", o.path, (long long)n, o.layer, o.format,
		       o.epsg ? o.epsg : kt_store_epsg(store));
	kt_ctx_close(ctx);
	kt_store_close(store);
	return rc ? 1 : 0;
}
