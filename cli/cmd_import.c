/*
 * cmd_import.c — `kartenn import`: parses the command line into
 * kt_import_opts_t, opens the store, runs the import pipeline
 * (importers/), draws a progress bar on stderr when it is a terminal,
 * prints the report and writes it as JSON with --report.
 * Exit status: 0 imported (or dry run clean), 1 failed, 2 bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kt_cli.h"
#include "kt_engine.h"
#include "kt_import.h"

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: kartenn import --db FILE --layer NAME [options] SOURCE\n"
	        "\n"
	        "Imports SOURCE (anything GDAL reads: Shapefile, zipped Shapefile, GeoPackage,\n"
	        "GeoJSON, CSV with X/Y or WKT columns, GML, KML, DXF, DGN, EDIGEO .THF or\n"
	        ".tar.bz2, OSM PBF) into a layer of the store, in one transaction.\n"
	        "\n"
	        "options:\n"
	        "  --db FILE              the store (created by kartenn init)\n"
	        "  --layer NAME           target layer\n"
	        "  --source-layer NAME    layer of a source that has several\n"
	        "  --source-crs CRS       CRS of a source that declares none (EPSG:n, WKT, PROJ)\n"
	        "  --mapping FILE.json    {\"attribute\": \"SOURCE_FIELD\" | null, ...}; other\n"
	        "                         attributes match fields by name (case, accents aside)\n"
	        "  --id-field FIELD       source identifier: re-imports update, not duplicate.\n"
	        "                         Without it every feature is inserted anew.\n"
	        "  --where EXPR           OGR attribute filter, e.g. \"code = '56098'\"\n"
	        "  --precision-xy CM      survey XY precision of every feature (network layers)\n"
	        "  --precision-z CM       survey Z precision of every feature\n"
	        "  --precision-field F    source field holding the XY precision in cm\n"
	        "  --precision-z-field F  source field holding the Z precision in cm\n"
	        "  --skip-rejected        commit the accepted features even if some are rejected\n"
	        "                         (by default one rejected feature aborts the import)\n"
	        "  --dry-run              do everything, report, write nothing\n"
	        "  --allow-ballpark       accept a ballpark CRS transformation (class C)\n"
	        "  --who NAME             who imports, for the history (default: import)\n"
	        "  --report FILE          write the report as JSON\n"
	        "  --quiet                print only errors\n"
	        "  --help                 this help\n");
}

struct progress {
	int active;
	int drawn;
};

static void on_progress(int64_t done, int64_t total, void *data)
{
	struct progress *p = data;
	if (!p->active)
		return;
	if (total > 0) {
		int width = 40, fill = (int)(done * width / (total > done ? total : done));
		fprintf(stderr, "\r  [%.*s%*s] %lld/%lld", fill, "########################################",
		        width - fill, "", (long long)done, (long long)total);
	} else {
		fprintf(stderr, "\r  %lld features", (long long)done);
	}
	p->drawn = 1;
}

static int parse_cm(const char *opt, const char *s, double *out)
{
	char *end;
	errno = 0;
	*out = strtod(s, &end);
	if (end == s || *end || errno || *out < 0 || !isfinite(*out)) {
		fprintf(stderr, "kartenn import: %s: '%s' is not a precision in cm\n", opt, s);
		return 2;
	}
	return 0;
}

struct cli {
	kt_import_opts_t o;
	const char *db;
	const char *report;
	int quiet;
};

/* Fills c from argv; returns -1 to go on, or the exit status. */
static int parse_args(int argc, char **argv, struct cli *c)
{
	enum { O_DB = 256, O_LAYER, O_SLAYER, O_SCRS, O_MAP, O_ID, O_WHERE, O_PXY, O_PZ, O_PF, O_PZF,
	       O_SKIP, O_DRY, O_BALL, O_WHO, O_REPORT, O_QUIET, O_HELP };
	static const struct option longopts[] = {
		{"db", required_argument, 0, O_DB}, {"layer", required_argument, 0, O_LAYER},
		{"source-layer", required_argument, 0, O_SLAYER}, {"source-crs", required_argument, 0, O_SCRS},
		{"mapping", required_argument, 0, O_MAP}, {"id-field", required_argument, 0, O_ID},
		{"where", required_argument, 0, O_WHERE}, {"precision-xy", required_argument, 0, O_PXY},
		{"precision-z", required_argument, 0, O_PZ}, {"precision-field", required_argument, 0, O_PF},
		{"precision-z-field", required_argument, 0, O_PZF}, {"skip-rejected", no_argument, 0, O_SKIP},
		{"dry-run", no_argument, 0, O_DRY}, {"allow-ballpark", no_argument, 0, O_BALL},
		{"who", required_argument, 0, O_WHO}, {"report", required_argument, 0, O_REPORT},
		{"quiet", no_argument, 0, O_QUIET}, {"help", no_argument, 0, O_HELP}, {0, 0, 0, 0},
	};
	kt_import_opts_t *o = &c->o;
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case O_DB: c->db = optarg; break;
		case O_LAYER: o->layer = optarg; break;
		case O_SLAYER: o->source_layer = optarg; break;
		case O_SCRS: o->source_crs = optarg; break;
		case O_MAP: o->mapping_file = optarg; break;
		case O_ID: o->id_field = optarg; break;
		case O_WHERE: o->where = optarg; break;
		case O_PXY: if (parse_cm("--precision-xy", optarg, &o->precision_xy_cm)) return 2; break;
		case O_PZ: if (parse_cm("--precision-z", optarg, &o->precision_z_cm)) return 2; break;
		case O_PF: o->precision_field = optarg; break;
		case O_PZF: o->precision_z_field = optarg; break;
		case O_SKIP: o->skip_rejected = 1; break;
		case O_DRY: o->dry_run = 1; break;
		case O_BALL: o->allow_ballpark = 1; break;
		case O_WHO: o->who = optarg; break;
		case O_REPORT: c->report = optarg; break;
		case O_QUIET: c->quiet = 1; break;
		case O_HELP: usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!c->db || !o->layer || optind != argc - 1) {
		fprintf(stderr, "kartenn import: %s\n",
		        !c->db ? "--db is required" : !o->layer ? "--layer is required"
		        : optind >= argc ? "a SOURCE file is required" : "only one SOURCE at a time");
		usage(stderr);
		return 2;
	}
	o->source = argv[optind];
	return -1;
}

static int run(struct cli *c, kt_ctx_t *ctx)
{
	struct progress prog = {isatty(STDERR_FILENO) && !c->quiet, 0};
	c->o.on_progress = on_progress;
	c->o.data = &prog;
	kt_import_report_t *rep = NULL;
	int rc = kt_import_run(ctx, &c->o, &rep);
	if (prog.drawn)
		fputc('\n', stderr);
	if (rep && !c->quiet && (rc == 0 || rep->read > 0))
		kt_import_report_print(rep, stdout, 20);
	if (rc)
		fprintf(stderr, "kartenn import: %s\n", kt_errmsg(ctx));
	if (rep && c->report) {
		kt_err_t err = {0, ""};
		if (kt_import_report_write(rep, c->report, &err)) {
			fprintf(stderr, "kartenn import: %s\n", err.msg);
			rc = rc ? rc : err.code;
		}
	}
	kt_import_report_free(rep);
	return rc ? 1 : 0;
}

int kt_cmd_import(int argc, char **argv)
{
	struct cli c;
	memset(&c, 0, sizeof c);
	kt_import_opts_init(&c.o);
	int status = parse_args(argc, argv, &c);
	if (status >= 0)
		return status;
	kt_err_t err = {0, ""};
	kt_store_t *store = NULL;
	kt_ctx_t *ctx = NULL;
	if (kt_store_open(c.db, &store, &err) || kt_ctx_open(store, &ctx, &err)) {
		fprintf(stderr, "kartenn import: %s: %s\n", c.db, err.msg);
		kt_store_close(store);
		return 1;
	}
	if (!kt_store_layer(store, c.o.layer)) {
		const kt_catalogue_t *cat = kt_store_catalogue(store);
		fprintf(stderr, "kartenn import: %s: unknown layer '%s'; layers:", c.o.source, c.o.layer);
		for (size_t i = 0; cat && i < cat->n_layers; i++)
			fprintf(stderr, " %s", cat->layers[i]->name);
		fputc('\n', stderr);
		kt_ctx_close(ctx);
		kt_store_close(store);
		return 1;
	}
	status = run(&c, ctx);
	kt_ctx_close(ctx);
	kt_store_close(store);
	return status;
}
