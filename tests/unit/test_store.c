/*
 * test_store.c — the SpatiaLite store through the engine's public API:
 * creation and migration (additions only, refusals leave the store as it
 * was), features read/insert/update/delete with optimistic versions, the
 * history and restore, bbox queries in other CRS, one ctx per thread, and
 * bulk transactions (spatial index packed at commit, failed writes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kt_engine.h"
#include "kt_test.h"

static const char lamp_v1[] =
	"{\"name\":\"lamp\",\"title\":\"Lampes\",\"geometry\":\"POINT\",\"network\":\"rigid\","
	"\"public\":true,\"attributes\":[{\"name\":\"ref\",\"type\":\"text\",\"required\":true},"
	"{\"name\":\"watts\",\"type\":\"real\"},{\"name\":\"count\",\"type\":\"integer\"}]}";
static const char zone_v1[] =
	"{\"name\":\"zone\",\"title\":\"Zones\",\"geometry\":\"MULTIPOLYGON\","
	"\"attributes\":[{\"name\":\"label\",\"type\":\"text\"}]}";

static char *write_layers(const char *name, const char *lamp, const char *zone)
{
	char *dir = kt_test_path(name);
	mkdir(dir, 0755);
	char path[4096];
	FILE *f;
	snprintf(path, sizeof path, "%s/lamp.json", dir);
	f = fopen(path, "w");
	fputs(lamp, f);
	fclose(f);
	snprintf(path, sizeof path, "%s/zone.json", dir);
	remove(path);
	if (zone) {
		f = fopen(path, "w");
		fputs(zone, f);
		fclose(f);
	}
	return dir;
}

struct fixture {
	char *db;
	kt_store_t *store;
	kt_ctx_t *ctx;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof *fx);
	char *layers = write_layers("layers-main", lamp_v1, zone_v1);
	fx->db = kt_test_path("store.sqlite");
	kt_init_opts_t o = {.layers_dir = layers, .epsg = 3948};
	kt_err_t err = {0};
	if (kt_store_init(fx->db, &o, &err))
		fail_msg("init: %s", err.msg);
	if (kt_store_open(fx->db, &fx->store, &err) || kt_ctx_open(fx->store, &fx->ctx, &err))
		fail_msg("open: %s", err.msg);
	free(layers);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	kt_ctx_close(fx->ctx);
	kt_store_close(fx->store);
	free(fx->db);
	free(fx);
	return 0;
}

/* ISO WKB of POINT(x y). */
static void point_wkb(unsigned char out[21], double x, double y)
{
	out[0] = 1;
	uint32_t t = 1;
	memcpy(out + 1, &t, 4);
	memcpy(out + 5, &x, 8);
	memcpy(out + 13, &y, 8);
}

static kt_feature_t *lamp(kt_ctx_t *ctx, const char *ref, double x, double y)
{
	kt_feature_t *f = kt_feature_new(kt_store_layer(kt_ctx_store(ctx), "lamp"));
	unsigned char wkb[21];
	point_wkb(wkb, x, y);
	kt_feature_set_text(f, 0, ref);
	kt_feature_set_real(f, 1, 70.5);
	kt_feature_set_int(f, 2, 2);
	kt_feature_set_wkb(f, wkb, sizeof wkb, 3948);
	return f;
}

static void test_store_init_creates_layers(void **state)
{
	struct fixture *fx = *state;
	const kt_catalogue_t *cat = kt_store_catalogue(fx->store);
	assert_int_equal(cat->n_layers, 2);
	assert_int_equal(kt_store_epsg(fx->store), 3948);
	int64_t n = -1;
	assert_int_equal(kt_features_count(fx->ctx, "lamp", &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(kt_features_count(fx->ctx, "nope", &n), KT_ENOENT);
	assert_non_null(strstr(kt_errmsg(fx->ctx), "nope"));
}

static void test_store_feature_roundtrip(void **state)
{
	struct fixture *fx = *state;
	kt_feature_t *f = lamp(fx->ctx, "L-001", 1400000.125, 7200000.5);
	kt_feature_set_string(&f->source_id, "src-1");
	f->precision.xy_cm = 2.5;
	f->precision.dtdict_class = 'A';
	kt_actor_t who = {.who = "test"};
	if (kt_feature_insert(fx->ctx, "lamp", f, &who))
		fail_msg("insert: %s", kt_errmsg(fx->ctx));
	assert_non_null(f->uid);
	assert_int_equal(f->version, 1);
	kt_feature_t *g = NULL;
	assert_int_equal(kt_feature_get(fx->ctx, "lamp", f->uid, 0, &g), 0);
	assert_true(kt_feature_same(f, g));
	assert_string_equal(g->values[0].s, "L-001");
	assert_true(g->values[1].d == 70.5);
	assert_int_equal(g->values[2].i, 2);
	assert_int_equal(g->precision.dtdict_class, 'A');
	double x, y;
	memcpy(&x, g->wkb + 5, 8);
	memcpy(&y, g->wkb + 13, 8);
	assert_true(x == 1400000.125 && y == 7200000.5); /* exactly as given */
	kt_feature_t *h = NULL;
	assert_int_equal(kt_feature_get_by_source(fx->ctx, "lamp", "src-1", &h), 0);
	assert_string_equal(h->uid, f->uid);
	assert_int_equal(kt_feature_get(fx->ctx, "lamp", "no-such-uid", 0, &h), KT_ENOENT);
	kt_feature_free(f);
	kt_feature_free(g);
	kt_feature_free(h);
}

static void test_store_stale_version_refused(void **state)
{
	struct fixture *fx = *state;
	kt_actor_t who = {.who = "alice"};
	kt_feature_t *f = lamp(fx->ctx, "L-002", 1400010, 7200010);
	assert_int_equal(kt_feature_insert(fx->ctx, "lamp", f, &who), 0);
	kt_feature_t *a = kt_feature_clone_deep(f), *b = kt_feature_clone_deep(f);
	kt_feature_set_text(a, 0, "L-002a");
	assert_int_equal(kt_feature_update(fx->ctx, "lamp", a, &who), 0);
	assert_int_equal(a->version, 2);
	kt_feature_set_text(b, 0, "L-002b"); /* b still says version 1 */
	assert_int_equal(kt_feature_update(fx->ctx, "lamp", b, &who), KT_ECONFLICT);
	assert_non_null(strstr(kt_errmsg(fx->ctx), "version 2"));
	kt_feature_t *now = NULL;
	assert_int_equal(kt_feature_get(fx->ctx, "lamp", f->uid, 0, &now), 0);
	assert_string_equal(now->values[0].s, "L-002a");
	assert_int_equal(kt_feature_delete(fx->ctx, "lamp", f->uid, 1, &who), KT_ECONFLICT);
	assert_int_equal(kt_feature_delete(fx->ctx, "lamp", f->uid, 2, &who), 0);
	assert_int_equal(kt_feature_get(fx->ctx, "lamp", f->uid, 0, &now), KT_ENOENT);
	kt_feature_free(f);
	kt_feature_free(a);
	kt_feature_free(b);
	kt_feature_free(now);
}

struct hist {
	int n;
	char ops[8][16];
	int64_t versions[8];
	char who[8][16];
};

static int collect(const kt_history_entry_t *e, void *data)
{
	struct hist *h = data;
	if (h->n < 8) {
		snprintf(h->ops[h->n], 16, "%s", e->op);
		snprintf(h->who[h->n], 16, "%s", e->who);
		h->versions[h->n] = e->version;
	}
	h->n++;
	return 0;
}

static void test_store_history_and_restore(void **state)
{
	struct fixture *fx = *state;
	kt_actor_t alice = {.who = "alice"}, bob = {.who = "bob", .reason = "typo"};
	kt_feature_t *f = lamp(fx->ctx, "L-003", 1400020, 7200020);
	assert_int_equal(kt_feature_insert(fx->ctx, "lamp", f, &alice), 0);
	kt_feature_set_text(f, 0, "L-003-wrong");
	assert_int_equal(kt_feature_update(fx->ctx, "lamp", f, &bob), 0);
	assert_int_equal(kt_feature_delete(fx->ctx, "lamp", f->uid, 2, &bob), 0);
	/* bring back version 1 of a deleted feature: it returns under its uid */
	assert_int_equal(kt_feature_restore(fx->ctx, "lamp", f->uid, 1, &alice), 0);
	kt_feature_t *g = NULL;
	assert_int_equal(kt_feature_get(fx->ctx, "lamp", f->uid, 0, &g), 0);
	assert_string_equal(g->values[0].s, "L-003");
	assert_int_equal(g->version, 4);
	struct hist h = {0};
	assert_int_equal(kt_history_list(fx->ctx, "lamp", f->uid, collect, &h), 0);
	assert_int_equal(h.n, 4);
	assert_string_equal(h.ops[0], "insert");
	assert_string_equal(h.ops[1], "update");
	assert_string_equal(h.who[1], "bob");
	assert_string_equal(h.ops[2], "delete");
	assert_string_equal(h.ops[3], "restore");
	assert_int_equal(h.versions[3], 4);
	assert_int_equal(kt_feature_restore(fx->ctx, "lamp", f->uid, 3, &alice), KT_ENOENT);
	kt_feature_free(f);
	kt_feature_free(g);
}

static int count_cb(const kt_feature_t *f, void *data)
{
	(void)f;
	(*(int *)data)++;
	return 0;
}

static void test_store_query_bbox_other_crs(void **state)
{
	struct fixture *fx = *state;
	kt_actor_t who = {.who = "t"};
	/* a row of lamps 10 m apart in CC48 */
	assert_int_equal(kt_tx_begin(fx->ctx), 0);
	for (int i = 0; i < 50; i++) {
		char ref[16];
		snprintf(ref, sizeof ref, "Q-%02d", i);
		kt_feature_t *f = lamp(fx->ctx, ref, 1500000 + 10.0 * i, 7300000);
		assert_int_equal(kt_feature_insert(fx->ctx, "lamp", f, &who), 0);
		kt_feature_free(f);
	}
	assert_int_equal(kt_tx_commit(fx->ctx), 0);
	int n = 0;
	kt_query_t q = {.layer = "lamp", .has_bbox = 1, .bbox = {1500000 - 1, 7300000 - 1, 1500000 + 95, 7300000 + 1}};
	assert_int_equal(kt_features_query(fx->ctx, &q, count_cb, &n), 0);
	assert_int_equal(n, 10);
	/* the same box expressed in WGS84: transform its corners with the
	 * engine, then query in 4326 */
	kt_transform_t *t;
	assert_int_equal(kt_ctx_transform(fx->ctx, 3948, 4326, &t), 0);
	double in[4] = {1500000 - 1, 7300000 - 1, 1500000 + 95, 7300000 + 1}, out[4];
	assert_int_equal(kt_transform_bbox(fx->ctx, t, in, out), 0);
	kt_query_t q2 = {.layer = "lamp", .has_bbox = 1, .bbox_epsg = 4326, .bbox = {out[0], out[1], out[2], out[3]}};
	n = 0;
	assert_int_equal(kt_features_query(fx->ctx, &q2, count_cb, &n), 0);
	assert_true(n >= 10 && n <= 11);
	q.limit = 3;
	q.offset = 8;
	n = 0;
	assert_int_equal(kt_features_query(fx->ctx, &q, count_cb, &n), 0);
	assert_int_equal(n, 2);
}

static void test_store_rejects_wrong_geometry(void **state)
{
	struct fixture *fx = *state;
	kt_actor_t who = {.who = "t"};
	kt_feature_t *f = lamp(fx->ctx, "Z-1", 1400000, 7200000);
	/* a point into the multipolygon layer */
	kt_feature_t *z = kt_feature_new(kt_store_layer(fx->store, "zone"));
	kt_feature_set_wkb(z, f->wkb, f->wkb_len, 3948);
	assert_int_equal(kt_feature_insert(fx->ctx, "zone", z, &who), KT_EGEOM);
	/* a missing required attribute */
	kt_feature_set_null(f, 0);
	assert_int_equal(kt_feature_insert(fx->ctx, "lamp", f, &who), KT_EINVAL);
	assert_non_null(strstr(kt_errmsg(fx->ctx), "required"));
	kt_feature_free(f);
	kt_feature_free(z);
}

static void test_store_migration_adds_and_refuses(void **state)
{
	struct fixture *fx = *state;
	kt_err_t err = {0};
	uint64_t before, after;
	/* refused: an attribute removed */
	char *dir = write_layers("layers-drop",
		"{\"name\":\"lamp\",\"title\":\"Lampes\",\"geometry\":\"POINT\",\"network\":\"rigid\","
		"\"attributes\":[{\"name\":\"ref\",\"type\":\"text\"}]}", zone_v1);
	kt_init_opts_t o = {.layers_dir = dir};
	assert_int_equal(kt_test_store_digest(fx->db, &before), 0);
	assert_int_equal(kt_store_init(fx->db, &o, &err), KT_ESCHEMA);
	assert_non_null(strstr(err.msg, "watts"));
	assert_int_equal(kt_test_store_digest(fx->db, &after), 0);
	assert_true(before == after);
	free(dir);
	/* refused: a type changed, and a geometry changed */
	dir = write_layers("layers-type",
		"{\"name\":\"lamp\",\"title\":\"Lampes\",\"geometry\":\"POINT\",\"network\":\"rigid\","
		"\"attributes\":[{\"name\":\"ref\",\"type\":\"text\"},{\"name\":\"watts\",\"type\":\"text\"},"
		"{\"name\":\"count\",\"type\":\"integer\"}]}",
		"{\"name\":\"zone\",\"title\":\"Zones\",\"geometry\":\"POINT\",\"attributes\":[{\"name\":\"label\",\"type\":\"text\"}]}");
	o.layers_dir = dir;
	assert_int_equal(kt_store_init(fx->db, &o, &err), KT_ESCHEMA);
	assert_int_equal(kt_test_store_digest(fx->db, &after), 0);
	assert_true(before == after);
	free(dir);
	/* refused: another CRS */
	dir = write_layers("layers-same", lamp_v1, zone_v1);
	o.layers_dir = dir;
	o.epsg = 2154;
	assert_int_equal(kt_store_init(fx->db, &o, &err), KT_ESCHEMA);
	assert_non_null(strstr(err.msg, "3948"));
	free(dir);
	/* accepted: a new attribute and a new layer, data kept */
	dir = write_layers("layers-add",
		"{\"name\":\"lamp\",\"title\":\"Lampes\",\"geometry\":\"POINT\",\"network\":\"rigid\","
		"\"attributes\":[{\"name\":\"ref\",\"type\":\"text\",\"required\":true},{\"name\":\"watts\",\"type\":\"real\"},"
		"{\"name\":\"count\",\"type\":\"integer\"},{\"name\":\"colour_k\",\"type\":\"integer\"}]}", NULL);
	char path[4200];
	snprintf(path, sizeof path, "%s/pole.json", dir);
	FILE *f = fopen(path, "w");
	fputs("{\"name\":\"pole\",\"title\":\"Poteaux\",\"geometry\":\"POINT\"}", f);
	fclose(f);
	o = (kt_init_opts_t){.layers_dir = dir};
	assert_int_equal(kt_store_init(fx->db, &o, &err), 0);
	kt_store_t *s2;
	assert_int_equal(kt_store_open(fx->db, &s2, &err), 0);
	const kt_layer_t *l = kt_store_layer(s2, "lamp");
	assert_int_equal(l->n_attrs, 4);
	assert_non_null(kt_store_layer(s2, "pole"));
	assert_non_null(kt_store_layer(s2, "zone")); /* not in the definitions: kept */
	kt_store_close(s2);
	free(dir);
}

struct seen {
	int n;
	char ops[8][16];
	int has_before[8], has_after[8];
	double before_x[8], after_x[8];
};

static int on_change(const kt_change_t *c, void *data)
{
	struct seen *s = data;
	if (s->n < 8) {
		snprintf(s->ops[s->n], 16, "%s", c->op);
		s->has_before[s->n] = c->has_before;
		s->has_after[s->n] = c->has_after;
		s->before_x[s->n] = c->before[0];
		s->after_x[s->n] = c->after[0];
	}
	s->n++;
	return 0;
}

/* The change feed: every write has an id; each change carries the box of
 * the geometry before and after it. */
static void test_store_changes_feed(void **state)
{
	struct fixture *fx = *state;
	kt_actor_t who = {.who = "t"};
	int64_t start, last;
	assert_int_equal(kt_changes_last(fx->ctx, &start), 0);
	kt_feature_t *f = lamp(fx->ctx, "C-1", 1400100, 7200100);
	assert_int_equal(kt_feature_insert(fx->ctx, "lamp", f, &who), 0);
	unsigned char wkb[21];
	point_wkb(wkb, 1400500, 7200500);
	kt_feature_set_wkb(f, wkb, sizeof wkb, 3948);
	assert_int_equal(kt_feature_update(fx->ctx, "lamp", f, &who), 0);
	assert_int_equal(kt_feature_delete(fx->ctx, "lamp", f->uid, f->version, &who), 0);
	assert_int_equal(kt_changes_last(fx->ctx, &last), 0);
	assert_int_equal(last - start, 3);
	struct seen s = {0};
	assert_int_equal(kt_changes_list(fx->ctx, start, last, on_change, &s), 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.ops[0], "insert");
	assert_true(!s.has_before[0] && s.has_after[0] && s.after_x[0] == 1400100);
	assert_string_equal(s.ops[1], "update");
	assert_true(s.has_before[1] && s.before_x[1] == 1400100 && s.has_after[1] && s.after_x[1] == 1400500);
	assert_string_equal(s.ops[2], "delete");
	assert_true(s.has_before[2] && s.before_x[2] == 1400500 && !s.has_after[2]);
	/* a window lists only its own changes */
	s = (struct seen){0};
	assert_int_equal(kt_changes_list(fx->ctx, start + 1, start + 2, on_change, &s), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.ops[0], "update");
	kt_feature_free(f);
}

/* ---- bulk transactions ----------------------------------------------------- */

/* One integer or text answer of the ctx's own connection. */
static int64_t sql_int(kt_ctx_t *ctx, const char *sql)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(kt_ctx_sqlite(ctx), sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(kt_ctx_sqlite(ctx)));
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static char *sql_text(kt_ctx_t *ctx, const char *sql)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(kt_ctx_sqlite(ctx), sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(kt_ctx_sqlite(ctx)));
	char *v = NULL;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		v = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return v;
}

static const char lamp_triggers_sql[] =
	"SELECT group_concat(name || ':' || sql, '|') FROM (SELECT name, sql FROM sqlite_master "
	"WHERE type = 'trigger' AND tbl_name = 'lamp' ORDER BY name)";

/* The R*Tree of lamp is sound (the module's own check) and holds, box for
 * box, what the module itself enters for every stored geometry. */
static void assert_lamp_index_exact(kt_ctx_t *ctx, int64_t n)
{
	char *check = sql_text(ctx, "SELECT rtreecheck('idx_lamp_geom')");
	assert_non_null(check);
	assert_string_equal(check, "ok");
	free(check);
	assert_int_equal(sql_int(ctx, "SELECT count(*) FROM idx_lamp_geom"), n);
	assert_int_equal(sqlite3_exec(kt_ctx_sqlite(ctx),
	                              "CREATE VIRTUAL TABLE temp.ref USING rtree(pkid, xmin, xmax, ymin, ymax);"
	                              "INSERT INTO temp.ref SELECT fid, MbrMinX(geom), MbrMaxX(geom), MbrMinY(geom),"
	                              " MbrMaxY(geom) FROM lamp",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	assert_int_equal(sql_int(ctx, "SELECT count(*) FROM (SELECT * FROM temp.ref EXCEPT "
	                              "SELECT * FROM idx_lamp_geom)"), 0);
	assert_int_equal(sql_int(ctx, "SELECT count(*) FROM (SELECT * FROM idx_lamp_geom EXCEPT "
	                              "SELECT * FROM temp.ref)"), 0);
	assert_int_equal(sqlite3_exec(kt_ctx_sqlite(ctx), "DROP TABLE temp.ref", NULL, NULL, NULL), SQLITE_OK);
}

/* Scattered lamps: x, y of lamp i (deterministic). */
static void scatter(int i, double *x, double *y)
{
	uint32_t h = (uint32_t)i * 2654435761u;
	*x = 1500000 + (double)(h % 20000) + 0.123456789 * (i % 7);
	*y = 7300000 + (double)((h >> 12) % 15000) - 0.987654321 * (i % 5);
}

#define N_BULK 3000 /* 59 leaves of 51 cells: a root over inner nodes */

static void test_store_bulk_packs_spatial_index(void **state)
{
	struct fixture *fx = *state;
	kt_actor_t who = {.who = "t"};
	char *triggers = sql_text(fx->ctx, lamp_triggers_sql);
	assert_non_null(strstr(triggers, "gii_lamp_geom"));
	assert_int_equal(kt_tx_begin_bulk(fx->ctx, "lamp"), 0);
	for (int i = 0; i < N_BULK; i++) {
		double x, y;
		scatter(i, &x, &y);
		kt_feature_t *f = lamp(fx->ctx, "B", x, y);
		assert_int_equal(kt_feature_insert(fx->ctx, "lamp", f, &who), 0);
		kt_feature_free(f);
	}
	assert_int_equal(kt_tx_commit(fx->ctx), 0);
	/* the triggers are back, word for word, and the tree is deep */
	char *after = sql_text(fx->ctx, lamp_triggers_sql);
	assert_string_equal(after, triggers);
	free(after);
	assert_true(sql_int(fx->ctx, "SELECT rtreedepth(data) FROM idx_lamp_geom_node WHERE nodeno = 1") >= 2);
	assert_lamp_index_exact(fx->ctx, N_BULK);
	/* bbox queries find exactly the lamps inside */
	double boxes[3][4] = {{1500000, 7300000, 1505000, 7310000},
	                      {1512345.5, 7301234.25, 1519999, 7314999},
	                      {1500000, 7300000, 1520000, 7315000}};
	for (int b = 0; b < 3; b++) {
		int want = 0, n = 0;
		for (int i = 0; i < N_BULK; i++) {
			double x, y;
			scatter(i, &x, &y);
			want += x >= boxes[b][0] && x <= boxes[b][2] && y >= boxes[b][1] && y <= boxes[b][3];
		}
		kt_query_t q = {.layer = "lamp", .has_bbox = 1,
		                .bbox = {boxes[b][0], boxes[b][1], boxes[b][2], boxes[b][3]}};
		assert_int_equal(kt_features_query(fx->ctx, &q, count_cb, &n), 0);
		assert_int_equal(n, want);
	}
	/* a later plain insert goes through the re-created trigger */
	kt_feature_t *f = lamp(fx->ctx, "After", 1400000, 7200000);
	assert_int_equal(kt_feature_insert(fx->ctx, "lamp", f, &who), 0);
	kt_feature_free(f);
	assert_lamp_index_exact(fx->ctx, N_BULK + 1);
	free(triggers);
}

static void test_store_bulk_update_and_delete_in_the_same_tx(void **state)
{
	struct fixture *fx = *state;
	kt_actor_t who = {.who = "t"};
	char *uids[200];
	assert_int_equal(kt_tx_begin_bulk(fx->ctx, "lamp"), 0);
	for (int i = 0; i < 200; i++) {
		double x, y;
		scatter(i, &x, &y);
		kt_feature_t *f = lamp(fx->ctx, "U", x, y);
		assert_int_equal(kt_feature_insert(fx->ctx, "lamp", f, &who), 0);
		uids[i] = strdup(f->uid);
		kt_feature_free(f);
	}
	kt_feature_t *g = NULL;
	assert_int_equal(kt_feature_get(fx->ctx, "lamp", uids[7], 0, &g), 0);
	unsigned char wkb[21];
	point_wkb(wkb, 1390000, 7190000);
	kt_feature_set_wkb(g, wkb, sizeof wkb, 3948);
	assert_int_equal(kt_feature_update(fx->ctx, "lamp", g, &who), 0);
	assert_int_equal(kt_feature_delete(fx->ctx, "lamp", uids[8], 1, &who), 0);
	assert_int_equal(kt_tx_commit(fx->ctx), 0);
	assert_lamp_index_exact(fx->ctx, 199);
	int n = 0;
	kt_query_t q = {.layer = "lamp", .has_bbox = 1, .bbox = {1389999, 7189999, 1390001, 7190001}};
	assert_int_equal(kt_features_query(fx->ctx, &q, count_cb, &n), 0);
	assert_int_equal(n, 1);
	kt_feature_free(g);
	for (int i = 0; i < 200; i++)
		free(uids[i]);
}

static void test_store_bulk_into_a_layer_with_features(void **state)
{
	struct fixture *fx = *state;
	kt_actor_t who = {.who = "t"};
	kt_feature_t *f = lamp(fx->ctx, "First", 1400000, 7200000);
	assert_int_equal(kt_feature_insert(fx->ctx, "lamp", f, &who), 0);
	kt_feature_free(f);
	assert_int_equal(kt_tx_begin_bulk(fx->ctx, "lamp"), 0);
	/* nothing is deferred: the index follows row by row */
	assert_int_equal(sql_int(fx->ctx, "SELECT count(*) FROM sqlite_master WHERE name = 'gii_lamp_geom'"), 1);
	for (int i = 0; i < 100; i++) {
		double x, y;
		scatter(i, &x, &y);
		f = lamp(fx->ctx, "N", x, y);
		assert_int_equal(kt_feature_insert(fx->ctx, "lamp", f, &who), 0);
		kt_feature_free(f);
	}
	assert_int_equal(sql_int(fx->ctx, "SELECT count(*) FROM idx_lamp_geom"), 101);
	assert_int_equal(kt_tx_commit(fx->ctx), 0);
	assert_lamp_index_exact(fx->ctx, 101);
}

static void test_store_bulk_failed_write_refuses_commit(void **state)
{
	struct fixture *fx = *state;
	kt_actor_t who = {.who = "t"};
	uint64_t before, after;
	char *triggers = sql_text(fx->ctx, lamp_triggers_sql);
	assert_int_equal(kt_test_store_digest(fx->db, &before), 0);
	assert_int_equal(kt_tx_begin_bulk(fx->ctx, "lamp"), 0);
	/* deferred: the insert triggers are gone inside the transaction */
	assert_int_equal(sql_int(fx->ctx, "SELECT count(*) FROM sqlite_master WHERE name = 'gii_lamp_geom'"), 0);
	kt_feature_t *f = lamp(fx->ctx, "F-1", 1400000, 7200000);
	assert_int_equal(kt_feature_insert(fx->ctx, "lamp", f, &who), 0);
	/* a rejected feature is no failed write: nothing was written */
	kt_feature_t *bad = lamp(fx->ctx, "F-2", 1400000, 7200000);
	kt_feature_set_null(bad, 0);
	assert_int_equal(kt_feature_insert(fx->ctx, "lamp", bad, &who), KT_EINVAL);
	/* a write that fails in the database is */
	kt_feature_t *g = lamp(fx->ctx, "F-3", 1400001, 7200001);
	kt_feature_set_string(&g->uid, f->uid);
	assert_int_equal(kt_feature_insert(fx->ctx, "lamp", g, &who), KT_EEXIST);
	assert_int_equal(kt_tx_commit(fx->ctx), KT_EINVAL);
	assert_non_null(strstr(kt_errmsg(fx->ctx), "rolled back"));
	assert_int_equal(kt_tx_rollback(fx->ctx), 0);
	assert_int_equal(kt_test_store_digest(fx->db, &after), 0);
	assert_true(before == after);
	char *now = sql_text(fx->ctx, lamp_triggers_sql);
	assert_string_equal(now, triggers);
	/* and the next transaction is an ordinary one again: a failed write is
	 * undone by its own savepoint and the rest commits */
	assert_int_equal(kt_tx_begin(fx->ctx), 0);
	assert_int_equal(kt_feature_insert(fx->ctx, "lamp", f, &who), 0);
	assert_int_equal(kt_feature_insert(fx->ctx, "lamp", g, &who), KT_EEXIST);
	assert_int_equal(kt_tx_commit(fx->ctx), 0);
	int64_t n = 0;
	assert_int_equal(kt_features_count(fx->ctx, "lamp", &n), 0);
	assert_int_equal(n, 1);
	assert_lamp_index_exact(fx->ctx, 1);
	free(now);
	free(triggers);
	kt_feature_free(f);
	kt_feature_free(g);
	kt_feature_free(bad);
}

static int history_cb(const kt_history_entry_t *e, void *data)
{
	char *ops = data;
	strcat(ops, e->op);
	strcat(ops, ",");
	return 0;
}

/* The history entries of a bulk transaction: all of them, in the order of
 * the changes, with their own actor, visible to the ctx's own reads before
 * the commit, and gone with a rollback. */
static void test_store_bulk_history_in_order(void **state)
{
	struct fixture *fx = *state;
	kt_actor_t alice = {.who = "alice", .reason = "survey"}, bob = {.who = "bob"};
	int64_t start, last;
	assert_int_equal(kt_changes_last(fx->ctx, &start), 0);
	assert_int_equal(kt_tx_begin_bulk(fx->ctx, "lamp"), 0);
	char *uids[75];
	for (int i = 0; i < 75; i++) { /* two full batches and a part, two actors */
		double x, y;
		scatter(i, &x, &y);
		kt_feature_t *f = lamp(fx->ctx, "H", x, y);
		assert_int_equal(kt_feature_insert(fx->ctx, "lamp", f, i < 40 ? &alice : &bob), 0);
		uids[i] = strdup(f->uid);
		kt_feature_free(f);
	}
	assert_int_equal(kt_changes_last(fx->ctx, &last), 0);
	assert_int_equal(last - start, 75);
	kt_feature_t *g = NULL;
	assert_int_equal(kt_feature_get(fx->ctx, "lamp", uids[74], 0, &g), 0);
	kt_feature_set_real(g, 1, 150);
	assert_int_equal(kt_feature_update(fx->ctx, "lamp", g, &alice), 0);
	for (int i = 75; i < 80; i++) { /* waiting again at the commit */
		kt_feature_t *f = lamp(fx->ctx, "H", 1400000 + i, 7200000);
		assert_int_equal(kt_feature_insert(fx->ctx, "lamp", f, &bob), 0);
		kt_feature_free(f);
	}
	assert_int_equal(kt_tx_commit(fx->ctx), 0);
	assert_int_equal(kt_changes_last(fx->ctx, &last), 0);
	assert_int_equal(last - start, 81);
	char ops[256] = "";
	assert_int_equal(kt_history_list(fx->ctx, "lamp", uids[74], history_cb, ops), 0);
	assert_string_equal(ops, "insert,update,");
	char sql[512];
	snprintf(sql, sizeof sql, "SELECT count(*) FROM kt_history WHERE id > %lld AND op = 'insert' AND "
	         "((who = 'alice' AND reason = 'survey') OR (who = 'bob' AND reason IS NULL))", (long long)start);
	assert_int_equal(sql_int(fx->ctx, sql), 80);
	snprintf(sql, sizeof sql, "SELECT count(*) FROM kt_history h JOIN lamp l ON l.uid = h.uid AND h.op = "
	         "'insert' WHERE (h.who = 'alice') <> (l.fid <= (SELECT min(fid) FROM lamp) + 39)");
	assert_int_equal(sql_int(fx->ctx, sql), 0);
	/* ids in the order of the changes: every insert before the update */
	assert_int_equal(sql_int(fx->ctx, "SELECT count(*) FROM kt_history a, kt_history b WHERE a.op = 'insert' "
	                                  "AND b.op = 'update' AND a.id > b.id AND a.uid = b.uid"), 0);
	/* a rollback takes the waiting entries with it */
	assert_int_equal(kt_tx_begin_bulk(fx->ctx, "lamp"), 0);
	kt_feature_t *f = lamp(fx->ctx, "R", 1400000, 7200000);
	assert_int_equal(kt_feature_insert(fx->ctx, "lamp", f, &bob), 0);
	assert_int_equal(kt_tx_rollback(fx->ctx), 0);
	assert_int_equal(kt_changes_last(fx->ctx, &last), 0);
	assert_int_equal(last - start, 81);
	kt_feature_free(f);
	kt_feature_free(g);
	for (int i = 0; i < 75; i++)
		free(uids[i]);
}

/* The DT-DICT class column takes A, B, C or nothing, whoever writes. */
static void test_store_class_checked(void **state)
{
	struct fixture *fx = *state;
	sqlite3 *db = kt_ctx_sqlite(fx->ctx);
	const char *ins = "INSERT INTO zone (uid, version, created_at, updated_at, dtdict_class) "
	                  "VALUES ('%s', 1, 'x', 'x', %s)";
	const char *ok[] = {"'A'", "'B'", "'C'", "NULL"}, *bad[] = {"'D'", "'a'", "''", "'AB'"};
	char sql[256], uid[8];
	for (int i = 0; i < 4; i++) {
		snprintf(uid, sizeof uid, "u%d", i);
		snprintf(sql, sizeof sql, ins, uid, ok[i]);
		assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
		snprintf(sql, sizeof sql, ins, "bad", bad[i]);
		assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_CONSTRAINT);
	}
	assert_int_equal(sql_int(fx->ctx, "SELECT count(*) FROM zone"), 4);
}

/* A geometry conformed just before it is written is not conformed again,
 * and that shortcut never lets through what conforming would refuse or
 * change: bytes conformed for one layer type are checked again for
 * another, and a write of the raw bytes stores what the shortcut stores. */
static void test_store_conformed_once_same_result(void **state)
{
	struct fixture *fx = *state;
	kt_actor_t who = {.who = "t"};
	/* a bow-tie: invalid, repaired into a two-part multipolygon */
	static const double ring[5][2] = {{1400000, 7200000}, {1400010, 7200010}, {1400010, 7200000},
	                                  {1400000, 7200010}, {1400000, 7200000}};
	unsigned char bow[9 + 4 + 5 * 16];
	uint32_t v = 3, one = 1, five = 5;
	bow[0] = 1;
	memcpy(bow + 1, &v, 4);
	memcpy(bow + 5, &one, 4);
	memcpy(bow + 9, &five, 4);
	memcpy(bow + 13, ring, sizeof ring);
	unsigned char *out = NULL;
	size_t out_len = 0;
	kt_geom_fix_t fix;
	assert_int_equal(kt_geom_conform(fx->ctx, bow, sizeof bow, KT_GEOM_MULTIPOLYGON, 0, &out, &out_len, &fix,
	                                 NULL, 0), 0);
	assert_int_equal(fix, KT_GEOM_REPAIRED);
	/* the conformed bytes, written right away */
	kt_feature_t *a = kt_feature_new(kt_store_layer(fx->store, "zone"));
	kt_feature_set_wkb(a, out, out_len, 3948);
	assert_int_equal(kt_feature_insert(fx->ctx, "zone", a, &who), 0);
	/* the raw bytes: conformed by the write itself, to the same result */
	kt_feature_t *b = kt_feature_new(kt_store_layer(fx->store, "zone"));
	kt_feature_set_wkb(b, bow, sizeof bow, 3948);
	assert_int_equal(kt_feature_insert(fx->ctx, "zone", b, &who), 0);
	kt_feature_t *ga = NULL, *gb = NULL;
	assert_int_equal(kt_feature_get(fx->ctx, "zone", a->uid, 0, &ga), 0);
	assert_int_equal(kt_feature_get(fx->ctx, "zone", b->uid, 0, &gb), 0);
	assert_int_equal(ga->wkb_len, out_len);
	assert_memory_equal(ga->wkb, out, out_len);
	assert_int_equal(gb->wkb_len, out_len);
	assert_memory_equal(gb->wkb, out, out_len);
	kt_free(out);
	/* a point conformed for a POINT layer, then written to the zones */
	unsigned char pt[21];
	point_wkb(pt, 1400000, 7200000);
	assert_int_equal(kt_geom_conform(fx->ctx, pt, sizeof pt, KT_GEOM_POINT, 0, &out, &out_len, NULL, NULL, 0), 0);
	kt_feature_t *c = kt_feature_new(kt_store_layer(fx->store, "zone"));
	kt_feature_set_wkb(c, out, out_len, 3948);
	assert_int_equal(kt_feature_insert(fx->ctx, "zone", c, &who), KT_EGEOM);
	kt_free(out);
	kt_feature_free(a);
	kt_feature_free(b);
	kt_feature_free(c);
	kt_feature_free(ga);
	kt_feature_free(gb);
}

struct worker {
	kt_store_t *store;
	int id;
	int errors;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	kt_err_t err;
	kt_ctx_t *ctx;
	if (kt_ctx_open(w->store, &ctx, &err)) {
		w->errors++;
		return NULL;
	}
	kt_actor_t who = {.who = "thread"};
	for (int i = 0; i < 25; i++) {
		char ref[32];
		snprintf(ref, sizeof ref, "T%d-%d", w->id, i);
		kt_feature_t *f = lamp(ctx, ref, 1600000 + w->id * 100 + i, 7100000);
		if (kt_feature_insert(ctx, "lamp", f, &who)) {
			fprintf(stderr, "thread %d: %s\n", w->id, kt_errmsg(ctx));
			w->errors++;
		}
		kt_feature_t *g = NULL;
		if (kt_feature_get(ctx, "lamp", f->uid, 4326, &g) || g->epsg != 4326)
			w->errors++;
		kt_feature_free(f);
		kt_feature_free(g);
	}
	kt_ctx_close(ctx);
	return NULL;
}

static void test_store_threads_each_with_ctx(void **state)
{
	struct fixture *fx = *state;
	pthread_t th[4];
	struct worker w[4];
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){.store = fx->store, .id = i};
		pthread_create(&th[i], NULL, worker_main, &w[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].errors, 0);
	}
	int n = 0;
	kt_query_t q = {.layer = "lamp", .has_bbox = 1, .bbox = {1599999, 7099999, 1600500, 7100001}};
	assert_int_equal(kt_features_query(fx->ctx, &q, count_cb, &n), 0);
	assert_int_equal(n, 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_store_init_creates_layers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_feature_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_stale_version_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_history_and_restore, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_query_bbox_other_crs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_rejects_wrong_geometry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_migration_adds_and_refuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_threads_each_with_ctx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_changes_feed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_bulk_packs_spatial_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_bulk_update_and_delete_in_the_same_tx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_bulk_into_a_layer_with_features, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_bulk_failed_write_refuses_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_bulk_history_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_class_checked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_conformed_once_same_result, setup, teardown),
	};
	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
