/*
 * cmd_demo.c — `kartenn demo`: generate the fictional Lanester quarter
 * into a store (created from the layer definitions when the file does not
 * exist), then print what was written and how long it took.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kt_cli.h"
#include "kt_demo.h"
#include "kt_engine.h"

struct demo_args {
	const char *db, *layers;
	int epsg, quiet;
	kt_demo_opts_t o;
};

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: kartenn demo --db FILE [--scale N] [--seed S] [--layers DIR] [--crs EPSG:N] [--quiet]\n\n"
	        "Generates the fictional Lanester demo quarter (streets, buildings, parcels, street\n"
	        "lighting, the Corpont cemetery, collaborative points, ASCOL interventions) into\n"
	        "FILE, deterministically from the seed; the store is labelled \"%s\".\n"
	        "FILE is created from the layer definitions when it does not exist.\n\n"
	        "  --db FILE       the store\n"
	        "  --scale N       multiply every count by N, 1 to %d (default 1: 500 buildings,\n"
	        "                  800 supports, 2,000 plots, 3,000 deceased, 1,000 interventions)\n"
	        "  --seed S        the seed, an unsigned integer (default %u)\n"
	        "  --layers DIR    layer definitions for a new store (default %s)\n"
	        "  --crs EPSG:N    CRS of a new store (default EPSG:3948)\n"
	        "  --quiet         print nothing but errors\n",
	        KT_DEMO_LABEL, KT_DEMO_MAX_SCALE, KT_DEMO_DEFAULT_SEED, KT_LAYERS_DIR);
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 10);
	if (!*s || *end || errno || *s == '-')
		return -1;
	*v = x;
	return 0;
}

static int parse_args(int argc, char **argv, struct demo_args *a)
{
	static const struct option opts[] = {
		{"db", required_argument, NULL, 'd'},    {"scale", required_argument, NULL, 's'},
		{"seed", required_argument, NULL, 'S'},  {"layers", required_argument, NULL, 'l'},
		{"crs", required_argument, NULL, 'c'},   {"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
	};
	uint64_t v;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': a->db = optarg; break;
		case 'l': a->layers = optarg; break;
		case 'q': a->quiet = 1; break;
		case 'S':
			if (parse_u64(optarg, &a->o.seed)) {
				fprintf(stderr, "kartenn demo: --seed %s: expected an unsigned integer\n", optarg);
				return 2;
			}
			break;
		case 's':
			if (parse_u64(optarg, &v) || v < 1 || v > KT_DEMO_MAX_SCALE) {
				fprintf(stderr, "kartenn demo: --scale %s: expected 1 to %d\n", optarg, KT_DEMO_MAX_SCALE);
				return 2;
			}
			a->o.scale = (int)v;
			break;
		case 'c':
			if (kt_cli_parse_epsg(optarg, &a->epsg)) {
				fprintf(stderr, "kartenn demo: --crs %s: expected EPSG:<code>\n", optarg);
				return 2;
			}
			break;
		case 'h': usage(stdout); return 1;
		default: usage(stderr); return 2;
		}
	}
	if (!a->db || optind != argc) {
		usage(stderr);
		return 2;
	}
	return 0;
}

static void progress(const char *stage, int64_t written, void *data)
{
	fprintf(stderr, "\r%-24s %12lld features", stage, (long long)written);
}

/* Creates the store if needed, opens a ctx on it. */
static int open_store(const struct demo_args *a, kt_store_t **store, kt_ctx_t **ctx)
{
	kt_err_t err = {0};
	struct stat st;
	int rc = 0;
	if (stat(a->db, &st) != 0) {
		kt_init_opts_t io = {.layers_dir = a->layers, .epsg = a->epsg};
		rc = kt_store_init(a->db, &io, &err);
	}
	if (!rc)
		rc = kt_store_open(a->db, store, &err);
	if (!rc && (rc = kt_ctx_open(*store, ctx, &err)))
		kt_store_close(*store);
	if (rc)
		fprintf(stderr, "kartenn demo: %s: %s\n", a->db, err.msg[0] ? err.msg : kt_strerror(rc));
	return rc;
}

static void print_report(const struct demo_args *a, const kt_demo_report_t *r)
{
	printf("%s: %s (seed %llu, scale %d)\n", a->db, KT_DEMO_LABEL, (unsigned long long)a->o.seed, a->o.scale);
	for (int i = 0; i < r->n_counts; i++)
		printf("  %-24s %10lld\n", r->counts[i].layer, (long long)r->counts[i].n);
	printf("  %-24s %10lld features in %.1f s (%.0f features/s)\n", "total", (long long)r->total,
	       r->elapsed_s, r->elapsed_s > 0 ? r->total / r->elapsed_s : 0.0);
}

int kt_cmd_demo(int argc, char **argv)
{
	struct demo_args a = {.layers = KT_LAYERS_DIR, .o = {.seed = KT_DEMO_DEFAULT_SEED, .scale = 1}};
	int rc = parse_args(argc, argv, &a);
	if (rc)
		return rc == 1 ? 0 : rc;
	if (!a.quiet && isatty(STDERR_FILENO))
		a.o.on_progress = progress;
	kt_store_t *store;
	kt_ctx_t *ctx;
	if (open_store(&a, &store, &ctx))
		return 1;
	kt_demo_report_t report;
	rc = kt_demo_generate(ctx, &a.o, &report);
	if (a.o.on_progress)
		fprintf(stderr, "\r%50s\r", "");
	if (rc)
		fprintf(stderr, "kartenn demo: %s: %s\n", a.db, kt_errmsg(ctx));
	else if (!a.quiet)
		print_report(&a, &report);
	kt_ctx_close(ctx);
	kt_store_close(store);
	return rc ? 1 : 0;
}
