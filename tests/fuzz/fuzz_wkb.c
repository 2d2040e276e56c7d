/*
 * fuzz_wkb.c — fuzz target for the engine's WKB readers: kt_transform_wkb
 * (engine/crs.c over engine/wkb.c) and kt_geom_conform (engine/geom.c,
 * GEOS), on arbitrary bytes.
 *
 * Two builds of the same file:
 *  - with clang and -DKT_FUZZ=ON, a libFuzzer target (`fuzz_wkb corpus/`);
 *  - with any compiler, KT_FUZZ_REPLAY defined: a plain program that runs
 *    every file of the directories (or files) it is given once, so the
 *    seed corpus runs under ASan/UBSan in the ordinary suite (ctest
 *    fuzz_wkb_corpus).
 * What must hold for any input: no crash, no read or write outside the
 * buffer, no leak, and a result that is 0 or a negative KT_E* code; when
 * kt_geom_conform accepts, its output is accepted again, unchanged, by a
 * second call (it is a fixed point).
 * The store the ctx needs is made once, in $KT_TMP (or /tmp), and removed
 * at exit.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kt_engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static kt_ctx_t *ctx;
static char store_path[4096]; /* removed at exit */

static void cleanup(void)
{
	kt_store_t *store = kt_ctx_store(ctx);
	kt_ctx_close(ctx);
	kt_store_close(store);
	const char *side[] = { "", "-wal", "-shm" };
	for (int k = 0; k < 3; k++) {
		char p[4200];
		snprintf(p, sizeof p, "%s%s", store_path, side[k]);
		unlink(p);
	}
}

static void setup(void)
{
	if (ctx)
		return;
	const char *tmp = getenv("KT_TMP");
	const char *layers = getenv("KT_LAYERS_DIR");
	char path[4096];
	snprintf(path, sizeof path, "%s/fuzz_wkb-%ld.sqlite", tmp && *tmp ? tmp : "/tmp",
	         (long)getpid());
	unlink(path);
	kt_init_opts_t o = { .layers_dir = layers && *layers ? layers : KT_LAYERS_DIR };
	kt_err_t err = { 0 };
	kt_store_t *store;
	if (kt_store_init(path, &o, &err) || kt_store_open(path, &store, &err) ||
	    kt_ctx_open(store, &ctx, &err)) {
		fprintf(stderr, "fuzz_wkb: cannot make a store at %s: %s\n", path, err.msg);
		abort();
	}
	snprintf(store_path, sizeof store_path, "%s", path);
	atexit(cleanup);
}

static void check_code(int rc, const char *what)
{
	if (rc > 0 || rc <= KT_EINTERNAL) { /* KT_EINTERNAL is a bug too */
		fprintf(stderr, "fuzz_wkb: %s returned %d: %s\n", what, rc, kt_errmsg(ctx));
		abort();
	}
}

static void conform_all(const uint8_t *data, size_t size)
{
	for (int want = KT_GEOM_POINT; want <= KT_GEOM_MULTIPOLYGON; want++) {
		int want_z = want & 1;
		unsigned char *out = NULL, *again = NULL;
		size_t out_len = 0, again_len = 0;
		kt_geom_fix_t fix;
		char reason[128];
		int rc = kt_geom_conform(ctx, data, size, (kt_geom_type_t)want, want_z, &out, &out_len,
		                         &fix, reason, sizeof reason);
		check_code(rc, "kt_geom_conform");
		if (rc)
			continue;
		rc = kt_geom_conform(ctx, out, out_len, (kt_geom_type_t)want, want_z, &again,
		                     &again_len, &fix, NULL, 0);
		if (rc || fix != KT_GEOM_VALID || again_len != out_len ||
		    memcmp(out, again, out_len)) {
			fprintf(stderr, "fuzz_wkb: conform is not a fixed point (rc %d, fix %d): %s\n", rc,
			        (int)fix, kt_errmsg(ctx));
			abort();
		}
		kt_free(out);
		kt_free(again);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup();
	/* An exact-size copy: any overrun is outside the allocation. */
	unsigned char *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	kt_transform_t *t;
	if (kt_ctx_transform(ctx, 2154, 3948, &t))
		abort();
	int rc = kt_transform_wkb(ctx, t, buf, size);
	check_code(rc, "kt_transform_wkb");
	if (rc && size && memcmp(buf, data, size)) {
		fprintf(stderr, "fuzz_wkb: kt_transform_wkb failed but changed the bytes\n");
		abort();
	}
	conform_all(data, size);
	if (rc == 0)
		conform_all(buf, size);
	free(buf);
	return 0;
}

#include "kt_fuzz_replay.h"
