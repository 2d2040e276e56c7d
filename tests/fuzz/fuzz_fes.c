/*
 * fuzz_fes.c — fuzz target for the FES 2.0 / Filter 1.1 parser
 * (tileserver/fes_parse.c with gml_read.c, on libxml2) and the
 * translation of the tree to SQL (fes_sql.c) on a test layer.
 *
 * Built as a libFuzzer target with -DKT_FUZZ=ON (clang), and as a corpus
 * replay (KT_FUZZ_REPLAY, ctest fuzz_fes_corpus) otherwise. What must hold
 * for any input: no crash, no leak, no access outside the input; a
 * refusal always carries an exception code and text; when the SQL is
 * made, it holds exactly one '?' per bound value, no quote but those
 * around column names and the fixed ESCAPE '\' (user text is never in
 * it), and never names the private attribute.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#include "kt_ows_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char layer_json[] =
	"{\"name\":\"t\",\"title\":\"T\",\"geometry\":\"MULTIPOLYGON\",\"public\":true,\"zoom\":[0,22],"
	"\"attributes\":[{\"name\":\"nom\",\"type\":\"text\",\"public\":true},"
	"{\"name\":\"n\",\"type\":\"integer\",\"public\":true},"
	"{\"name\":\"x\",\"type\":\"real\",\"public\":true},"
	"{\"name\":\"ok\",\"type\":\"boolean\",\"public\":true},"
	"{\"name\":\"d\",\"type\":\"date\",\"public\":true},"
	"{\"name\":\"secret\",\"type\":\"text\",\"public\":false}]}";

static void check_sql(const kt_sqlw_t *w)
{
	size_t marks = 0;
	const char *s = w->sql.p ? w->sql.p : "";
	for (const char *p = s; *p; p++)
		marks += *p == '?';
	if (marks != w->n_params || strstr(s, "secret"))
		abort();
	char *copy = strdup(s); /* blank the fixed ESCAPE '\', then no quote may remain */
	if (!copy)
		return;
	for (char *p = copy; (p = strstr(p, "ESCAPE '\\'"));)
		memset(p, ' ', 10);
	int quoted = strchr(copy, '\'') != NULL;
	free(copy);
	if (quoted)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static kt_layer_t *layer;
	if (!layer) {
		kt_err_t err;
		layer = kt_layer_parse(layer_json, "fuzz", &err);
		xmlInitParser();
	}
	unsigned char first[4096];
	kt_arena_t a;
	kt_arena_init(&a, first, sizeof first);
	kt_fes_t *f = NULL;
	kt_ows_exc_t e = {0};
	int rc = kt_fes_parse(&a, (const char *)data, size, &f, &e);
	if (rc > 0 || (rc == KT_EINVAL && (!e.code || !e.text)))
		abort();
	if (rc == 0 && layer) {
		kt_fes_env_t env = {NULL, layer, 3948, {3948, KT_CRS_URN, 0}};
		kt_sqlw_t w = {0};
		rc = kt_fes_sql(&a, &env, f, &w, &e);
		if (rc == 0)
			check_sql(&w);
		else if (rc == KT_EINVAL && (!e.code || !e.text))
			abort();
		kt_sbuf_release(&w.sql);
	}
	kt_arena_release(&a);
	return 0;
}

#include "kt_fuzz_replay.h"
