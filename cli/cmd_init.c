/*
 * cmd_init.c — `kartenn init`: create a store from the layer definitions,
 * or migrate an existing one (only additions; anything that would lose
 * data is refused and the store is left as it was).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kt_cli.h"
#include "kt_engine.h"

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: kartenn init --db FILE [--crs EPSG:N] [--layers DIR] [--dry-run]\n\n"
	        "Creates the store FILE (SpatiaLite) with one table per layer definition of DIR\n"
	        "(default: %s). On an existing store, adds the new layers and attributes;\n"
	        "a change that would drop or reinterpret data is refused.\n\n"
	        "  --db FILE       the store\n"
	        "  --crs EPSG:N    store CRS of a new store (default EPSG:3948, RGF93 / CC48)\n"
	        "  --layers DIR    layer definitions (one JSON file per layer)\n"
	        "  --dry-run       say what would change, change nothing\n",
	        KT_LAYERS_DIR);
}

static void print_change(const char *what, void *data)
{
	printf("%s%s\n", (const char *)data, what);
}

int kt_cli_parse_epsg(const char *s, int *epsg)
{
	if (!strncasecmp(s, "EPSG:", 5))
		s += 5;
	char *end;
	long v = strtol(s, &end, 10);
	if (*s == 0 || *end || v <= 0 || v > 999999)
		return -1;
	*epsg = (int)v;
	return 0;
}

int kt_cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{"db", required_argument, NULL, 'd'}, {"crs", required_argument, NULL, 'c'},
		{"layers", required_argument, NULL, 'l'}, {"dry-run", no_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	kt_init_opts_t o = {.layers_dir = KT_LAYERS_DIR, .on_change = print_change};
	const char *db = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': db = optarg; break;
		case 'l': o.layers_dir = optarg; break;
		case 'n': o.dry_run = 1; break;
		case 'c':
			if (kt_cli_parse_epsg(optarg, &o.epsg)) {
				fprintf(stderr, "kartenn init: --crs %s: expected EPSG:<code>\n", optarg);
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!db || optind != argc) {
		usage(stderr);
		return 2;
	}
	o.data = o.dry_run ? "(dry run) " : "";
	kt_err_t err = {0};
	int rc = kt_store_init(db, &o, &err);
	if (rc) {
		const char *m = err.msg[0] ? err.msg : kt_strerror(rc);
		if (!strncmp(m, db, strlen(db))) /* the engine named the file already */
			fprintf(stderr, "kartenn init: %s\n", m);
		else
			fprintf(stderr, "kartenn init: %s: %s\n", db, m);
		return 1;
	}
	printf("%s: ready\n", db);
	return 0;
}
