/*
 * cmd_history.c — `kartenn history`: every version of a feature (who,
 * when, what), and `--restore V` to bring version V back as a new one.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "kt_cli.h"
#include "kt_engine.h"

static int print_entry(const kt_history_entry_t *e, void *data)
{
	(void)data;
	printf("v%-4lld %-8s %-20s %-20s %s\n", (long long)e->version, e->op, e->at, e->who,
	       e->reason ? e->reason : "");
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: kartenn history --db FILE --layer NAME --uid UID [--restore VERSION] [--who NAME]\n");
}

int kt_cmd_history(int argc, char **argv)
{
	static const struct option opts[] = {
		{"db", required_argument, NULL, 'd'}, {"layer", required_argument, NULL, 'l'},
		{"uid", required_argument, NULL, 'u'}, {"restore", required_argument, NULL, 'r'},
		{"who", required_argument, NULL, 'w'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	const char *db = NULL, *layer = NULL, *uid = NULL, *who = "cli";
	long long restore = 0;
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': db = optarg; break;
		case 'l': layer = optarg; break;
		case 'u': uid = optarg; break;
		case 'w': who = optarg; break;
		case 'r': restore = atoll(optarg); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!db || !layer || !uid || restore < 0) {
		usage(stderr);
		return 2;
	}
	kt_err_t err = {0};
	kt_store_t *store;
	kt_ctx_t *ctx = NULL;
	if (kt_store_open(db, &store, &err) || kt_ctx_open(store, &ctx, &err)) {
		fprintf(stderr, "kartenn history: %s\n", err.msg);
		return 1;
	}
	kt_actor_t actor = {.who = who, .reason = "restored from the command line"};
	int rc = restore ? kt_feature_restore(ctx, layer, uid, restore, &actor)
	                 : kt_history_list(ctx, layer, uid, print_entry, NULL);
	if (rc)
		fprintf(stderr, "kartenn history: %s\n", kt_errmsg(ctx));
	else if (restore)
		printf("%s/%s: version %lld restored\n", layer, uid, restore);
	kt_ctx_close(ctx);
	kt_store_close(store);
	return rc ? 1 : 0;
}
