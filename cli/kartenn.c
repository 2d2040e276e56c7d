/*
 * kartenn.c — entry point: dispatches argv[1] to a subcommand through a
 * table. Nothing else lives here.
 */
#include <stdio.h>
#include <string.h>

#include "kt_cli.h"

struct subcommand {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct subcommand subcommands[] = {
	{"init", kt_cmd_init, "create a store, or migrate it to the layer definitions"},
	{"import", kt_cmd_import, "import a file (anything GDAL reads) into a layer"},
	{"export", kt_cmd_export, "export a layer to GeoPackage, GeoJSON, CSV or Shapefile"},
	{"demo", kt_cmd_demo, "generate the fictional Lanester demo quarter"},
	{"serve", kt_cmd_serve, "run the HTTP server"},
	{"layers", kt_cmd_layers, "list the layers of a store with their counts"},
	{"history", kt_cmd_history, "show or restore the history of a feature"},
	{"tiles", kt_cmd_tiles, "vector tile tools: validate a tile against MVT 2.1"},
	{NULL, NULL, NULL},
};

static void usage(FILE *out)
{
	fprintf(out, "kartenn %s — the SIG of Lanester\n\n"
	             "usage: kartenn <command> [options]   (kartenn <command> --help)\n\n"
	             "commands:\n", KT_VERSION);
	for (const struct subcommand *s = subcommands; s->name; s++)
		fprintf(out, "  %-9s %s\n", s->name, s->summary);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("kartenn %s\n", KT_VERSION);
		return 0;
	}
	for (const struct subcommand *s = subcommands; s->name; s++)
		if (!strcmp(argv[1], s->name))
			return s->run(argc - 1, argv + 1);
	fprintf(stderr, "kartenn: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
