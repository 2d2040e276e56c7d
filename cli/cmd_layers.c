/*
 * cmd_layers.c — `kartenn layers`: the layers of a store, their geometry,
 * feature counts and whether they are public.
 */
#include <getopt.h>
#include <stdio.h>

#include "kt_cli.h"
#include "kt_engine.h"

int kt_cmd_layers(int argc, char **argv)
{
	static const struct option opts[] = {
		{"db", required_argument, NULL, 'd'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	const char *db = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'd')
			db = optarg;
		else {
			fprintf(c == 'h' ? stdout : stderr, "usage: kartenn layers --db FILE\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (!db) {
		fprintf(stderr, "usage: kartenn layers --db FILE\n");
		return 2;
	}
	kt_err_t err = {0};
	kt_store_t *store;
	kt_ctx_t *ctx;
	if (kt_store_open(db, &store, &err)) {
		fprintf(stderr, "kartenn layers: %s\n", err.msg);
		return 1;
	}
	if (kt_ctx_open(store, &ctx, &err)) {
		fprintf(stderr, "kartenn layers: %s\n", err.msg);
		kt_store_close(store);
		return 1;
	}
	const kt_catalogue_t *cat = kt_store_catalogue(store);
	printf("store %s, EPSG:%d\n", db, kt_store_epsg(store));
	printf("%-24s %-16s %-8s %10s  %s\n", "layer", "geometry", "access", "features", "title");
	int status = 0;
	for (size_t i = 0; i < cat->n_layers; i++) {
		const kt_layer_t *l = cat->layers[i];
		int64_t n = 0;
		if (kt_features_count(ctx, l->name, &n)) {
			fprintf(stderr, "kartenn layers: %s\n", kt_errmsg(ctx));
			status = 1;
		}
		printf("%-24s %-16s %-8s %10lld  %s\n", l->name, kt_geom_type_name(l->geom_type),
		       l->is_public ? "public" : "private", (long long)n, l->title);
	}
	kt_ctx_close(ctx);
	kt_store_close(store);
	return status;
}
