/*
 * test_demo.c — the demo generator (kt_demo_generate) read back through
 * the engine: the same seed gives the same store (uids, timestamps, the
 * history and batches included), another seed other data; counts at scale
 * 1 are the targets; every geometry is valid (GEOS) and of its layer's
 * type; names carry accents and Breton forms; every deceased lies in an
 * existing plot, every plot inside its carré; interventions point at
 * existing assets; the store says it is fictional and sits at Lanester.
 *
 * The group generates three stores once (seed 42 twice, seed 43) and the
 * tests read them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#define GEOS_USE_ONLY_R_API
#include <geos_c.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kt_demo.h"
#include "kt_engine.h"
#include "kt_test.h"

struct gen {
	char *path;
	kt_store_t *store;
	kt_ctx_t *ctx;
	kt_demo_report_t report;
};

static struct gen g_a, g_b, g_c;

static void generate(struct gen *g, const char *name, uint64_t seed)
{
	g->path = kt_test_path(name);
	kt_err_t err = {0};
	kt_init_opts_t io = {.layers_dir = kt_test_env("KT_LAYERS_DIR")};
	int rc = kt_store_init(g->path, &io, &err);
	if (rc)
		fail_msg("kt_store_init: %s", err.msg);
	if (kt_store_open(g->path, &g->store, &err) || kt_ctx_open(g->store, &g->ctx, &err))
		fail_msg("open: %s", err.msg);
	kt_demo_opts_t o = {.seed = seed, .scale = 1};
	rc = kt_demo_generate(g->ctx, &o, &g->report);
	if (rc)
		fail_msg("kt_demo_generate: %s", kt_errmsg(g->ctx));
}

static int group_setup(void **state)
{
	generate(&g_a, "demo-a.sqlite", 42);
	generate(&g_b, "demo-b.sqlite", 42);
	generate(&g_c, "demo-c.sqlite", 43);
	return 0;
}

static void release(struct gen *g)
{
	kt_ctx_close(g->ctx);
	kt_store_close(g->store);
	free(g->path);
}

static int group_teardown(void **state)
{
	release(&g_a);
	release(&g_b);
	release(&g_c);
	return 0;
}

/* ---- digest of the content ---------------------------------------------- */

static void mix(uint64_t *h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++) {
		*h ^= b[i];
		*h *= 0x100000001b3ULL;
	}
}

static void mix_rows(sqlite3 *db, const char *sql, uint64_t *h)
{
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW)
		for (int i = 0; i < sqlite3_column_count(st); i++) {
			int type = sqlite3_column_type(st, i);
			mix(h, &type, sizeof type);
			const void *b = sqlite3_column_blob(st, i);
			mix(h, b ? b : "", (size_t)sqlite3_column_bytes(st, i));
		}
	sqlite3_finalize(st);
}

/* Every row of every layer table, the history, the batches and the
 * metadata — all but what kt_store_init stamps with the clock (the store's
 * creation time and the layer catalogue's timestamps). */
static uint64_t content_digest(struct gen *g)
{
	sqlite3 *db = kt_ctx_sqlite(g->ctx);
	uint64_t h = 0xcbf29ce484222325ULL;
	const kt_catalogue_t *cat = kt_store_catalogue(g->store);
	for (size_t i = 0; i < cat->n_layers; i++) {
		char *sql = sqlite3_mprintf("SELECT * FROM \"%w\" ORDER BY fid", cat->layers[i]->name);
		mix(&h, cat->layers[i]->name, strlen(cat->layers[i]->name) + 1);
		mix_rows(db, sql, &h);
		sqlite3_free(sql);
	}
	mix_rows(db, "SELECT * FROM kt_history ORDER BY id", &h);
	mix_rows(db, "SELECT * FROM kt_batches ORDER BY id", &h);
	mix_rows(db, "SELECT key, value FROM kt_meta WHERE key <> 'created_at' ORDER BY key", &h);
	mix_rows(db, "SELECT name, definition FROM kt_layers ORDER BY name", &h);
	return h;
}

static void test_demo_same_seed_same_content(void **state)
{
	assert_int_equal(g_a.report.total, g_b.report.total);
	assert_true(content_digest(&g_a) == content_digest(&g_b));
}

static void test_demo_other_seed_other_content(void **state)
{
	assert_true(content_digest(&g_a) != content_digest(&g_c));
	/* the layout is the scale's, the draw is the seed's: same counts
	 * where they are targets, different names */
	int64_t a, c;
	assert_int_equal(kt_features_count(g_c.ctx, "cimetiere_defunt", &c), 0);
	assert_int_equal(kt_features_count(g_a.ctx, "cimetiere_defunt", &a), 0);
	assert_int_equal(a, c);
}

static void test_demo_counts_match_targets(void **state)
{
	const kt_catalogue_t *cat = kt_store_catalogue(g_a.store);
	int checked = 0;
	for (size_t i = 0; i < cat->n_layers; i++) {
		const char *name = cat->layers[i]->name;
		int64_t n = -1;
		assert_int_equal(kt_features_count(g_a.ctx, name, &n), 0);
		if (n <= 0)
			fail_msg("layer %s is empty", name);
		int64_t want = kt_demo_target(name, 1);
		if (want >= 0) {
			if (n != want)
				fail_msg("layer %s: %lld features, target %lld", name, (long long)n, (long long)want);
			checked++;
		}
	}
	assert_true(checked >= 15);
	assert_int_equal(kt_demo_target("batiment", 1), 500);
	assert_int_equal(kt_demo_target("eclairage_support", 100), 80000);
	assert_int_equal(kt_demo_target("cimetiere_defunt", 100), 300000);
	int64_t plots, supports, sum = 0;
	kt_features_count(g_a.ctx, "cimetiere_emplacement", &plots);
	kt_features_count(g_a.ctx, "eclairage_support", &supports);
	assert_int_equal(plots, 2000);
	assert_int_equal(supports, 800);
	for (int i = 0; i < g_a.report.n_counts; i++)
		sum += g_a.report.counts[i].n;
	assert_int_equal(sum, g_a.report.total);
}

/* ---- geometry ------------------------------------------------------------ */

struct geom_check {
	GEOSContextHandle_t geos;
	GEOSWKBReader *reader;
	int want_type; /* GEOS type id */
	int want_z;
	int64_t n, invalid, wrong_type;
};

static int check_geom(const kt_feature_t *f, void *data)
{
	struct geom_check *c = data;
	GEOSGeometry *g = GEOSWKBReader_read_r(c->geos, c->reader, f->wkb, f->wkb_len);
	c->n++;
	if (!g || GEOSisValid_r(c->geos, g) != 1 || GEOSisEmpty_r(c->geos, g))
		c->invalid++;
	else if (GEOSGeomTypeId_r(c->geos, g) != c->want_type || GEOSHasZ_r(c->geos, g) != c->want_z)
		c->wrong_type++;
	if (g)
		GEOSGeom_destroy_r(c->geos, g);
	return 0;
}

static int geos_type(kt_geom_type_t t)
{
	switch (t) {
	case KT_GEOM_POINT: return GEOS_POINT;
	case KT_GEOM_LINESTRING: return GEOS_LINESTRING;
	case KT_GEOM_POLYGON: return GEOS_POLYGON;
	case KT_GEOM_MULTIPOINT: return GEOS_MULTIPOINT;
	case KT_GEOM_MULTILINESTRING: return GEOS_MULTILINESTRING;
	case KT_GEOM_MULTIPOLYGON: return GEOS_MULTIPOLYGON;
	default: return -1;
	}
}

static void test_demo_geometries_valid(void **state)
{
	const kt_catalogue_t *cat = kt_store_catalogue(g_a.store);
	struct geom_check c = {.geos = kt_ctx_geos(g_a.ctx)};
	c.reader = GEOSWKBReader_create_r(c.geos);
	int64_t total = 0, expected = 0, n;
	for (size_t i = 0; i < cat->n_layers; i++) {
		const kt_layer_t *l = cat->layers[i];
		if (l->geom_type == KT_GEOM_NONE)
			continue;
		assert_int_equal(kt_features_count(g_a.ctx, l->name, &n), 0);
		expected += n;
		c.want_type = geos_type(l->geom_type);
		c.want_z = l->has_z;
		c.n = c.invalid = c.wrong_type = 0;
		kt_query_t q = {.layer = l->name};
		assert_int_equal(kt_features_query(g_a.ctx, &q, check_geom, &c), 0);
		if (c.invalid || c.wrong_type)
			fail_msg("layer %s: %lld invalid, %lld of the wrong type, out of %lld", l->name,
			         (long long)c.invalid, (long long)c.wrong_type, (long long)c.n);
		total += c.n;
	}
	GEOSWKBReader_destroy_r(c.geos, c.reader);
	assert_int_equal(total, expected); /* every feature seen */
	assert_true(total > 4500);
}

struct bbox {
	double b[4];
	int n;
};

/* Extends a bbox with a point feature (ISO WKB point, maybe Z). */
static int extend_bbox(const kt_feature_t *f, void *data)
{
	struct bbox *bb = data;
	double x, y;
	memcpy(&x, f->wkb + 5, 8);
	memcpy(&y, f->wkb + 13, 8);
	bb->b[0] = fmin(bb->b[0], x), bb->b[1] = fmin(bb->b[1], y);
	bb->b[2] = fmax(bb->b[2], x), bb->b[3] = fmax(bb->b[3], y);
	bb->n++;
	return 0;
}

/* The supports read back in WGS84: around Lanester, 3.34 W 47.76 N. */
static void test_demo_sits_at_lanester(void **state)
{
	kt_query_t q = {.layer = "eclairage_support", .out_epsg = 4326};
	struct bbox bb = {{1e9, 1e9, -1e9, -1e9}, 0};
	assert_int_equal(kt_features_query(g_a.ctx, &q, extend_bbox, &bb), 0);
	assert_int_equal(bb.n, 800);
	double lon = (bb.b[0] + bb.b[2]) / 2, lat = (bb.b[1] + bb.b[3]) / 2;
	if (fabs(lon + 3.34) > 0.01 || fabs(lat - 47.76) > 0.01)
		fail_msg("supports centred on %.4f, %.4f, not Lanester", lon, lat);
	assert_int_equal(kt_store_epsg(g_a.store), 3948);
}

/* A store in Lambert-93: the quarter is drawn in CC48 and reprojected by
 * the engine; it still sits at Lanester. */
static void test_demo_into_a_lambert93_store(void **state)
{
	struct gen g = {.path = kt_test_path("demo-2154.sqlite")};
	kt_err_t err = {0};
	kt_init_opts_t io = {.layers_dir = kt_test_env("KT_LAYERS_DIR"), .epsg = 2154};
	assert_int_equal(kt_store_init(g.path, &io, &err), 0);
	assert_int_equal(kt_store_open(g.path, &g.store, &err), 0);
	assert_int_equal(kt_ctx_open(g.store, &g.ctx, &err), 0);
	kt_demo_opts_t o = {.seed = 7, .scale = 1};
	assert_int_equal(kt_demo_generate(g.ctx, &o, &g.report), 0);
	kt_query_t q = {.layer = "eclairage_support", .out_epsg = 4326};
	struct bbox bb = {{1e9, 1e9, -1e9, -1e9}, 0};
	assert_int_equal(kt_features_query(g.ctx, &q, extend_bbox, &bb), 0);
	assert_int_equal(bb.n, 800);
	assert_true(fabs((bb.b[0] + bb.b[2]) / 2 + 3.34) < 0.01 && fabs((bb.b[1] + bb.b[3]) / 2 - 47.76) < 0.01);
	release(&g);
}

/* ---- cemetery ------------------------------------------------------------ */

struct strings {
	char **v;
	size_t n, cap;
	const kt_layer_t *layer;
	int attr;
};

static int collect(const kt_feature_t *f, void *data)
{
	struct strings *s = data;
	const char *v = s->attr >= 0 ? f->values[s->attr].s : f->ascol_ref;
	if (!v)
		return 0;
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 1024;
		s->v = realloc(s->v, s->cap * sizeof *s->v);
	}
	s->v[s->n++] = strdup(v);
	return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Values of attr (NULL: ascol_ref) of a layer, sorted. */
static void strings_of(kt_ctx_t *ctx, const char *layer, const char *attr, struct strings *s)
{
	s->layer = kt_store_layer(kt_ctx_store(ctx), layer);
	assert_non_null(s->layer);
	s->attr = attr ? kt_layer_attr_index(s->layer, attr) : -1;
	assert_true(!attr || s->attr >= 0);
	kt_query_t q = {.layer = layer};
	assert_int_equal(kt_features_query(ctx, &q, collect, s), 0);
	qsort(s->v, s->n, sizeof *s->v, cmp_str);
}

static int has(const struct strings *s, const char *v)
{
	return v && bsearch(&v, s->v, s->n, sizeof *s->v, cmp_str) != NULL;
}

static void strings_free(struct strings *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof *s);
}

static void test_demo_deceased_in_existing_plots(void **state)
{
	struct strings plots = {0}, dead = {0}, conc = {0}, dead_conc = {0};
	strings_of(g_a.ctx, "cimetiere_emplacement", "reference", &plots);
	strings_of(g_a.ctx, "cimetiere_defunt", "emplacement", &dead);
	strings_of(g_a.ctx, "cimetiere_concession", "reference", &conc);
	strings_of(g_a.ctx, "cimetiere_defunt", "concession", &dead_conc);
	assert_int_equal(plots.n, 2000);
	assert_int_equal(dead.n, 3000);
	for (size_t i = 0; i < dead.n; i++)
		if (!has(&plots, dead.v[i]))
			fail_msg("deceased in plot %s, which does not exist", dead.v[i]);
	for (size_t i = 0; i < dead_conc.n; i++)
		if (!has(&conc, dead_conc.v[i]))
			fail_msg("deceased under concession %s, which does not exist", dead_conc.v[i]);
	strings_free(&plots);
	strings_free(&dead);
	strings_free(&conc);
	strings_free(&dead_conc);
}

struct sections {
	GEOSContextHandle_t geos;
	GEOSWKBReader *reader;
	char codes[64][8];
	GEOSGeometry *geom[64];
	int n, code_attr;
	int64_t plots, outside;
};

static int add_section(const kt_feature_t *f, void *data)
{
	struct sections *s = data;
	if (s->n == 64)
		return 1;
	snprintf(s->codes[s->n], 8, "%s", f->values[s->code_attr].s);
	s->geom[s->n++] = GEOSWKBReader_read_r(s->geos, s->reader, f->wkb, f->wkb_len);
	return 0;
}

static int check_plot(const kt_feature_t *f, void *data)
{
	struct sections *s = data;
	GEOSGeometry *g = GEOSWKBReader_read_r(s->geos, s->reader, f->wkb, f->wkb_len);
	int inside = 0;
	for (int i = 0; i < s->n; i++)
		if (!strcmp(s->codes[i], f->values[s->code_attr].s))
			inside = GEOSWithin_r(s->geos, g, s->geom[i]) == 1;
	s->plots++;
	s->outside += !inside;
	GEOSGeom_destroy_r(s->geos, g);
	return 0;
}

static void test_demo_plots_inside_their_section(void **state)
{
	struct sections s = {.geos = kt_ctx_geos(g_a.ctx)};
	s.reader = GEOSWKBReader_create_r(s.geos);
	s.code_attr = kt_layer_attr_index(kt_store_layer(g_a.store, "cimetiere_carre"), "code");
	kt_query_t q = {.layer = "cimetiere_carre"};
	assert_int_equal(kt_features_query(g_a.ctx, &q, add_section, &s), 0);
	assert_int_equal(s.n, 8);
	s.code_attr = kt_layer_attr_index(kt_store_layer(g_a.store, "cimetiere_emplacement"), "carre");
	q.layer = "cimetiere_emplacement";
	assert_int_equal(kt_features_query(g_a.ctx, &q, check_plot, &s), 0);
	assert_int_equal(s.plots, 2000);
	assert_int_equal(s.outside, 0);
	for (int i = 0; i < s.n; i++)
		GEOSGeom_destroy_r(s.geos, s.geom[i]);
	GEOSWKBReader_destroy_r(s.geos, s.reader);
}

struct names {
	int nom, usage, prenoms;
	int64_t n, accented, breton, apostrophe, usage_names, compound;
};

static int non_ascii(const char *s)
{
	for (; s && *s; s++)
		if ((unsigned char)*s >= 0x80)
			return 1;
	return 0;
}

static int look_at_name(const kt_feature_t *f, void *data)
{
	struct names *c = data;
	const char *nom = f->values[c->nom].s, *usage = f->values[c->usage].s, *pre = f->values[c->prenoms].s;
	c->n++;
	c->accented += non_ascii(nom) || non_ascii(pre);
	c->breton += !strncmp(nom, "Ker", 3) || !strncmp(nom, "Le ", 3);
	c->apostrophe += strchr(nom, '\'') != NULL;
	c->usage_names += usage != NULL;
	c->compound += pre && strchr(pre, '-') != NULL;
	return 0;
}

static void test_demo_names_french_and_breton(void **state)
{
	const kt_layer_t *l = kt_store_layer(g_a.store, "cimetiere_defunt");
	struct names c = {.nom = kt_layer_attr_index(l, "nom"), .usage = kt_layer_attr_index(l, "nom_usage"),
	                  .prenoms = kt_layer_attr_index(l, "prenoms")};
	kt_query_t q = {.layer = "cimetiere_defunt"};
	assert_int_equal(kt_features_query(g_a.ctx, &q, look_at_name, &c), 0);
	assert_int_equal(c.n, 3000);
	assert_true(c.accented > 300);    /* Guégan, Quéméner, Thérèse… */
	assert_true(c.breton > 300);      /* Le Gall, Kerbrat… */
	assert_true(c.apostrophe > 0);    /* Le Floc'h, Créac'h */
	assert_true(c.usage_names > 300); /* married women with their husband's name */
	assert_true(c.compound > 100);    /* Jean-Yves, Marie-Thérèse */
}

static void test_demo_interventions_reach_assets(void **state)
{
	struct strings bat = {0}, sup = {0}, arm = {0}, itv = {0};
	strings_of(g_a.ctx, "batiment", NULL, &bat);
	strings_of(g_a.ctx, "eclairage_support", NULL, &sup);
	strings_of(g_a.ctx, "eclairage_armoire", NULL, &arm);
	strings_of(g_a.ctx, "intervention", NULL, &itv);
	assert_int_equal(itv.n, 1000);
	assert_true(bat.n > 20 && bat.n < 500); /* municipal buildings only */
	int64_t on_bat = 0, on_sup = 0;
	for (size_t i = 0; i < itv.n; i++) {
		on_bat += has(&bat, itv.v[i]);
		on_sup += has(&sup, itv.v[i]);
		if (!has(&bat, itv.v[i]) && !has(&sup, itv.v[i]) && !has(&arm, itv.v[i]))
			fail_msg("intervention on %s, which no layer holds", itv.v[i]);
	}
	assert_true(on_bat > 400 && on_sup > 200);
	strings_free(&bat);
	strings_free(&sup);
	strings_free(&arm);
	strings_free(&itv);
}

/* ---- labels, privacy, precision ----------------------------------------- */

static void test_demo_labelled_fictional(void **state)
{
	char *v = NULL;
	assert_int_equal(kt_meta_get(g_a.ctx, "fictional", &v), 0);
	assert_string_equal(v, KT_DEMO_LABEL);
	kt_free(v);
	assert_int_equal(kt_meta_get(g_a.ctx, "demo_seed", &v), 0);
	assert_string_equal(v, "42");
	kt_free(v);
	assert_int_equal(kt_meta_get(g_a.ctx, "demo_scale", &v), 0);
	assert_string_equal(v, "1");
	kt_free(v);
}

static void test_demo_refuses_a_second_run(void **state)
{
	uint64_t before = content_digest(&g_a);
	kt_demo_opts_t o = {.seed = 42, .scale = 1};
	assert_int_equal(kt_demo_generate(g_a.ctx, &o, NULL), KT_EEXIST);
	assert_non_null(strstr(kt_errmsg(g_a.ctx), "already holds demo data"));
	assert_true(content_digest(&g_a) == before);
	o.scale = 0;
	assert_int_equal(kt_demo_generate(g_a.ctx, &o, NULL), KT_EINVAL);
}

static void test_demo_private_data_is_private(void **state)
{
	const kt_layer_t *conc = kt_store_layer(g_a.store, "cimetiere_concession");
	assert_false(conc->is_public);
	assert_false(kt_layer_attr(conc, "titulaires")->is_public);
	static const char *const collab[] = {"collab_toilettes", "collab_stationnement", "collab_commerce",
	                                     "collab_equipement"};
	for (int i = 0; i < 4; i++) {
		const kt_layer_t *l = kt_store_layer(g_a.store, collab[i]);
		assert_true(l->is_public);
		assert_false(kt_layer_attr(l, "contributeur")->is_public);
		assert_true(kt_layer_attr(l, "etat")->is_public);
	}
	const kt_layer_t *dead = kt_store_layer(g_a.store, "cimetiere_defunt");
	assert_true(kt_layer_attr(dead, "nom")->is_public);
	assert_false(kt_layer_attr(dead, "date_naissance")->is_public);
}

struct classes {
	int64_t n[4]; /* A, B, C, other */
};

static int count_class(const kt_feature_t *f, void *data)
{
	struct classes *c = data;
	char k = f->precision.dtdict_class;
	c->n[k == 'A' ? 0 : k == 'B' ? 1 : k == 'C' ? 2 : 3]++;
	return 0;
}

static void test_demo_precision_classes_mixed(void **state)
{
	static const char *const layers[] = {"eclairage_support", "eclairage_cable"};
	for (int i = 0; i < 2; i++) {
		struct classes c = {{0}};
		kt_query_t q = {.layer = layers[i]};
		assert_int_equal(kt_features_query(g_a.ctx, &q, count_class, &c), 0);
		if (!c.n[0] || !c.n[1] || !c.n[2] || c.n[3])
			fail_msg("%s: A %lld, B %lld, C %lld, none %lld", layers[i], (long long)c.n[0],
			         (long long)c.n[1], (long long)c.n[2], (long long)c.n[3]);
		assert_true(c.n[0] > c.n[1] && c.n[1] > c.n[2]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_demo_same_seed_same_content),
		cmocka_unit_test(test_demo_other_seed_other_content),
		cmocka_unit_test(test_demo_counts_match_targets),
		cmocka_unit_test(test_demo_geometries_valid),
		cmocka_unit_test(test_demo_sits_at_lanester),
		cmocka_unit_test(test_demo_into_a_lambert93_store),
		cmocka_unit_test(test_demo_deceased_in_existing_plots),
		cmocka_unit_test(test_demo_plots_inside_their_section),
		cmocka_unit_test(test_demo_names_french_and_breton),
		cmocka_unit_test(test_demo_interventions_reach_assets),
		cmocka_unit_test(test_demo_labelled_fictional),
		cmocka_unit_test(test_demo_private_data_is_private),
		cmocka_unit_test(test_demo_precision_classes_mixed),
		cmocka_unit_test(test_demo_refuses_a_second_run),
	};
	return cmocka_run_group_tests_name("demo", tests, group_setup, group_teardown);
}
