/*
 * fuzz_kvp.c — fuzz target for the OGC key-value-pair parser
 * (tileserver/kvp.c) and the value grammars read from it: comma lists,
 * BBOX, CRS names (ows_crs.c), output formats and SORTBY on a layer
 * (wfs_request.c).
 *
 * Built as a libFuzzer target with -DKT_FUZZ=ON (clang), and as a corpus
 * replay (KT_FUZZ_REPLAY, ctest fuzz_kvp_corpus) otherwise. What must hold
 * for any input: no crash, no access outside the input or the arena, no
 * leak; a result of 0 or a negative KT_E*; after a successful parse every
 * key is non-empty, contains no NUL, and kt_kvp_get finds it (keys are
 * unique, case-insensitively).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kt_ows_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char layer_json[] =
	"{\"name\":\"t\",\"title\":\"T\",\"geometry\":\"POINT\",\"public\":true,\"zoom\":[0,22],"
	"\"attributes\":[{\"name\":\"nom\",\"type\":\"text\",\"public\":true},"
	"{\"name\":\"n\",\"type\":\"integer\",\"public\":true},"
	"{\"name\":\"secret\",\"type\":\"text\",\"public\":false}]}";

static void values(kt_arena_t *a, const kt_layer_t *l, const char *v)
{
	char **items;
	long n = kt_kvp_split(a, v, ',', &items, 64);
	if (n > 64)
		abort();
	double bbox[4];
	const char *crs = NULL;
	if (kt_kvp_bbox(a, v, bbox, &crs) == 0 && !(bbox[0] <= bbox[2] && bbox[1] <= bbox[3]))
		abort();
	kt_crs_t c;
	if (kt_ows_crs_parse(v, &c) == 0 && c.epsg <= 0)
		abort();
	(void)kt_wfs_format(v, 1);
	kt_wfs_query_t q = {.layer = l};
	kt_ows_exc_t e;
	if (l && kt_wfs_sortby(a, l, v, &q, &e) == 0)
		for (size_t i = 0; i < q.n_sort; i++)
			if (!kt_ows_public_attr(l, q.sort[i].attr)) /* never a private one */
				abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static kt_layer_t *layer;
	if (!layer) {
		kt_err_t err;
		layer = kt_layer_parse(layer_json, "fuzz", &err);
	}
	unsigned char first[1024];
	kt_arena_t a;
	kt_arena_init(&a, first, sizeof first);
	kt_kvp_t kvp;
	const char *why = NULL, *bad = NULL;
	int rc = kt_kvp_parse(&a, (const char *)data, size, &kvp, &why, &bad);
	if (rc > 0)
		abort();
	if (rc == KT_EINVAL && !why)
		abort();
	for (size_t i = 0; rc == 0 && i < kvp.n; i++) {
		if (!kvp.v[i].key[0] || kt_kvp_get(&kvp, kvp.v[i].key) != kvp.v[i].value)
			abort();
		values(&a, layer, kvp.v[i].value);
	}
	kt_arena_release(&a);
	return 0;
}

#include "kt_fuzz_replay.h"
