/*
 * test_ows.c — unit tests of the OGC service parsers (tileserver): the KVP
 * parser, CRS names, FES filters into SQL, GML geometry operands, WKB to
 * GML, and the filtered select of the engine (kt_features_select) on a
 * small store. The services end to end are in
 * tests/integration/test_ows.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kt_ows_int.h"
#include "kt_test.h"

static const char layer_json[] =
	"{\"name\":\"t\",\"title\":\"T\",\"geometry\":\"POINT\",\"public\":true,\"zoom\":[0,22],"
	"\"attributes\":[{\"name\":\"nom\",\"type\":\"text\",\"public\":true},"
	"{\"name\":\"n\",\"type\":\"integer\",\"public\":true},"
	"{\"name\":\"secret\",\"type\":\"text\",\"public\":false}]}";

typedef struct fix {
	kt_arena_t a;
	unsigned char first[1024];
	kt_layer_t *layer;
} fix_t;

static int setup(void **state)
{
	fix_t *f = calloc(1, sizeof *f);
	kt_arena_init(&f->a, f->first, sizeof f->first);
	kt_err_t err;
	f->layer = kt_layer_parse(layer_json, "test", &err);
	assert_non_null(f->layer);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fix_t *f = *state;
	kt_arena_release(&f->a);
	kt_layer_free(f->layer);
	free(f);
	return 0;
}

static void test_ows_kvp_decodes_and_refuses(void **state)
{
	fix_t *f = *state;
	kt_kvp_t k;
	const char *why, *bad;
	const char *q = "SERVICE=WFS&&typeNames=a%3Ab&x=1+2&empty";
	assert_int_equal(kt_kvp_parse(&f->a, q, strlen(q), &k, &why, &bad), 0);
	assert_int_equal(k.n, 4);
	assert_string_equal(kt_kvp_get(&k, "TYPENAMES"), "a:b");
	assert_string_equal(kt_kvp_get(&k, "x"), "1 2");
	assert_string_equal(kt_kvp_get(&k, "EMPTY"), "");
	q = "request=a&REQUEST=b";
	assert_int_equal(kt_kvp_parse(&f->a, q, strlen(q), &k, &why, &bad), KT_EINVAL);
	assert_string_equal(bad, "REQUEST");
	q = "a=%zz";
	assert_int_equal(kt_kvp_parse(&f->a, q, strlen(q), &k, &why, &bad), KT_EINVAL);
	q = "a=%00";
	assert_int_equal(kt_kvp_parse(&f->a, q, strlen(q), &k, &why, &bad), KT_EINVAL);
	q = "=1";
	assert_int_equal(kt_kvp_parse(&f->a, q, strlen(q), &k, &why, &bad), KT_EINVAL);
	double b[4];
	const char *crs;
	assert_int_equal(kt_kvp_bbox(&f->a, "1,2,3,4,EPSG:4326", b, &crs), 0);
	assert_string_equal(crs, "EPSG:4326");
	assert_int_equal(kt_kvp_bbox(&f->a, "3,2,1,4", b, &crs), KT_EINVAL);
	assert_int_equal(kt_kvp_bbox(&f->a, "1,2,3", b, &crs), KT_EINVAL);
	assert_int_equal(kt_kvp_bbox(&f->a, "1,2,3,nan", b, &crs), KT_EINVAL);
}

static void test_ows_crs_names(void **state)
{
	kt_crs_t c;
	assert_int_equal(kt_ows_crs_parse("EPSG:4326", &c), 0);
	assert_int_equal(c.form, KT_CRS_SHORT);
	assert_int_equal(kt_ows_crs_parse("urn:ogc:def:crs:EPSG::3948", &c), 0);
	assert_int_equal(c.epsg, 3948);
	assert_int_equal(c.form, KT_CRS_URN);
	assert_int_equal(kt_ows_crs_parse("urn:x-ogc:def:crs:EPSG:6.9:2154", &c), 0);
	assert_int_equal(c.epsg, 2154);
	assert_int_equal(kt_ows_crs_parse("http://www.opengis.net/def/crs/EPSG/0/3857", &c), 0);
	assert_int_equal(c.form, KT_CRS_URI);
	assert_int_equal(kt_ows_crs_parse("http://www.opengis.net/def/crs/OGC/1.3/CRS84", &c), 0);
	assert_int_equal(c.epsg, 4326);
	assert_int_equal(kt_ows_crs_parse("WGS84", &c), KT_EINVAL);
	assert_int_equal(kt_ows_crs_parse("EPSG:-4", &c), KT_EINVAL);
	char buf[96];
	c = (kt_crs_t){4326, KT_CRS_URN, 1};
	assert_string_equal(kt_ows_crs_name(&c, buf, sizeof buf), "urn:ogc:def:crs:EPSG::4326");
	(void)state;
}

static const char *fes_sql(fix_t *f, const char *xml, kt_sqlw_t *w, kt_ows_exc_t *e)
{
	kt_fes_t *t;
	memset(w, 0, sizeof *w);
	if (kt_fes_parse(&f->a, xml, strlen(xml), &t, e))
		return NULL;
	kt_fes_env_t env = {NULL, f->layer, 3948, {3948, KT_CRS_URN, 0}};
	return kt_fes_sql(&f->a, &env, t, w, e) ? NULL : w->sql.p;
}

static void test_ows_fes_binds_every_value(void **state)
{
	fix_t *f = *state;
	kt_sqlw_t w;
	kt_ows_exc_t e;
	const char *sql = fes_sql(f,
		"<fes:Filter xmlns:fes=\"http://www.opengis.net/fes/2.0\"><fes:Or><fes:PropertyIsEqualTo>"
		"<fes:ValueReference>nom</fes:ValueReference><fes:Literal>a' OR 1=1 --</fes:Literal>"
		"</fes:PropertyIsEqualTo><fes:PropertyIsGreaterThan><fes:ValueReference>kartenn:n"
		"</fes:ValueReference><fes:Literal>3</fes:Literal></fes:PropertyIsGreaterThan></fes:Or>"
		"</fes:Filter>", &w, &e);
	assert_non_null(sql);
	assert_string_equal(sql, "(\"nom\" = ? OR \"n\" > ?)");
	assert_int_equal(w.n_params, 2);
	assert_int_equal(w.params[0].type, KT_SQL_TEXT);
	assert_string_equal(w.params[0].s, "a' OR 1=1 --");
	assert_int_equal(w.params[1].type, KT_SQL_INT);
	assert_int_equal(w.params[1].i, 3);
	kt_sbuf_release(&w.sql);
	/* LIKE: FES wildcards to GLOB, GLOB's own specials escaped */
	sql = fes_sql(f, "<Filter><PropertyIsLike wildCard=\"%\" singleChar=\"_\" escapeChar=\"\\\">"
	                 "<ValueReference>nom</ValueReference><Literal>a%b_c*\\%</Literal>"
	                 "</PropertyIsLike></Filter>", &w, &e);
	assert_non_null(sql);
	assert_string_equal(w.params[0].s, "a*b?c[*]%");
	kt_sbuf_release(&w.sql);
}

static void test_ows_fes_refuses_private_and_bad(void **state)
{
	fix_t *f = *state;
	kt_sqlw_t w;
	kt_ows_exc_t e;
	assert_null(fes_sql(f, "<Filter><PropertyIsEqualTo><ValueReference>secret</ValueReference>"
	                       "<Literal>x</Literal></PropertyIsEqualTo></Filter>", &w, &e));
	assert_string_equal(e.code, "InvalidParameterValue");
	kt_sbuf_release(&w.sql);
	assert_null(fes_sql(f, "<Filter><PropertyIsEqualTo><ValueReference>n</ValueReference>"
	                       "<Literal>three</Literal></PropertyIsEqualTo></Filter>", &w, &e));
	assert_string_equal(e.code, "InvalidParameterValue");
	kt_sbuf_release(&w.sql);
	assert_null(fes_sql(f, "<Filter><PropertyIsEqualTo>", &w, &e));
	assert_string_equal(e.code, "OperationParsingFailed");
	assert_null(fes_sql(f, "<Filter><Beyond><ValueReference>geom</ValueReference></Beyond></Filter>",
	                    &w, &e));
	assert_string_equal(e.code, "InvalidParameterValue");
}

static void test_ows_fes_spatial_operand(void **state)
{
	fix_t *f = *state;
	kt_sqlw_t w;
	kt_ows_exc_t e;
	const char *sql = fes_sql(f,
		"<fes:Filter xmlns:fes=\"http://www.opengis.net/fes/2.0\" xmlns:gml=\"http://www.opengis.net/gml/3.2\">"
		"<fes:DWithin><fes:ValueReference>geom</fes:ValueReference><gml:Point gml:id=\"p\">"
		"<gml:pos>10 20</gml:pos></gml:Point><fes:Distance uom=\"km\">0.5</fes:Distance>"
		"</fes:DWithin></fes:Filter>", &w, &e);
	assert_non_null(sql);
	assert_non_null(strstr(sql, "idx_t_geom"));
	assert_non_null(strstr(sql, "ST_Distance(geom, GeomFromWKB(?, 3948)) <= ?"));
	assert_int_equal(w.n_params, 6);
	assert_true(w.params[0].d == 510.0 && w.params[1].d == -490.0); /* index box grown by 500 m */
	assert_true(w.params[5].d == 500.0);
	double env[4];
	assert_int_equal(kt_wkb_envelope(w.params[4].blob, w.params[4].len, env), 0);
	assert_true(env[0] == 10 && env[1] == 20);
	kt_sbuf_release(&w.sql);
}

/* BBOX (or Intersects with the same rectangle) on a point layer is a
 * comparison of MBRs, bounds included; any other shape keeps GEOS. */
static void test_ows_fes_point_in_box(void **state)
{
	fix_t *f = *state;
	kt_sqlw_t w;
	kt_ows_exc_t e;
	const char *sql = fes_sql(f,
		"<fes:Filter xmlns:fes=\"http://www.opengis.net/fes/2.0\" xmlns:gml=\"http://www.opengis.net/gml/3.2\">"
		"<fes:BBOX><fes:ValueReference>geom</fes:ValueReference><gml:Envelope>"
		"<gml:lowerCorner>10 20</gml:lowerCorner><gml:upperCorner>30 40</gml:upperCorner>"
		"</gml:Envelope></fes:BBOX></fes:Filter>", &w, &e);
	assert_non_null(sql);
	assert_non_null(strstr(sql, "MbrIntersects(geom, BuildMbr(?, ?, ?, ?, 3948)) = 1"));
	assert_null(strstr(sql, "ST_Intersects"));
	assert_int_equal(w.n_params, 8);
	assert_true(w.params[4].d == 10 && w.params[5].d == 20 && w.params[6].d == 30 &&
	            w.params[7].d == 40);
	kt_sbuf_release(&w.sql);
	sql = fes_sql(f,
		"<fes:Filter xmlns:fes=\"http://www.opengis.net/fes/2.0\" xmlns:gml=\"http://www.opengis.net/gml/3.2\">"
		"<fes:Intersects><fes:ValueReference>geom</fes:ValueReference><gml:Polygon gml:id=\"p\">"
		"<gml:exterior><gml:LinearRing><gml:posList>10 20 30 20 30 40 10 20</gml:posList>"
		"</gml:LinearRing></gml:exterior></gml:Polygon></fes:Intersects></fes:Filter>", &w, &e);
	assert_non_null(sql);
	assert_non_null(strstr(sql, "ST_Intersects(geom, GeomFromWKB(?, 3948)) = 1"));
	assert_int_equal(w.n_params, 5);
	kt_sbuf_release(&w.sql);
}

static void test_ows_gml_write_axis_order(void **state)
{
	/* POINT(1 2) little-endian ISO WKB */
	unsigned char wkb[21] = {1, 1, 0, 0, 0};
	double xy[2] = {-3.34, 47.76};
	memcpy(wkb + 5, xy, sizeof xy);
	kt_sbuf_t b = {0};
	kt_gml_opts_t o = {1, 1, "urn:ogc:def:crs:EPSG::4326", "t.1"};
	assert_int_equal(kt_gml_write(&b, wkb, sizeof wkb, &o), 0);
	assert_non_null(strstr(b.p, "<gml:pos>47.76 -3.34</gml:pos>"));
	assert_non_null(strstr(b.p, "gml:id=\"t.1.g1\""));
	kt_sbuf_release(&b);
	assert_int_equal(kt_gml_write(&b, wkb, 20, &o), KT_EINVAL); /* truncated */
	kt_sbuf_release(&b);
	assert_int_equal(kt_wkb_swap_xy(wkb, sizeof wkb), 0);
	memcpy(xy, wkb + 5, sizeof xy);
	assert_true(xy[0] == 47.76 && xy[1] == -3.34);
	(void)state;
}

/* ---- GeoJSON written as text: the same bytes as jansson's tree --------- */

static const char typed_json[] =
	"{\"name\":\"g\",\"title\":\"G\",\"geometry\":\"MULTIPOLYGON\",\"public\":true,\"zoom\":[0,22],"
	"\"attributes\":[{\"name\":\"nom\",\"type\":\"text\",\"public\":true},"
	"{\"name\":\"n\",\"type\":\"integer\",\"public\":true},"
	"{\"name\":\"x\",\"type\":\"real\",\"public\":true},"
	"{\"name\":\"ok\",\"type\":\"boolean\",\"public\":true},"
	"{\"name\":\"secret\",\"type\":\"text\",\"public\":false}]}";

/* A little WKB writer: byte order, type, then counts and doubles. */
typedef struct wkbw {
	unsigned char b[2048];
	size_t n;
	int be;
} wkbw_t;

static void w_u32(wkbw_t *w, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		w->b[w->n++] = (unsigned char)(v >> (w->be ? 24 - 8 * i : 8 * i));
}

static void w_f64(wkbw_t *w, double d)
{
	uint64_t u;
	memcpy(&u, &d, 8);
	for (int i = 0; i < 8; i++)
		w->b[w->n++] = (unsigned char)(u >> (w->be ? 56 - 8 * i : 8 * i));
}

static void w_head(wkbw_t *w, uint32_t type)
{
	w->b[w->n++] = w->be ? 0 : 1;
	w_u32(w, type);
}

static void w_ring(wkbw_t *w, const double *xy, uint32_t n, int dims)
{
	w_u32(w, n);
	for (uint32_t i = 0; i < n * (uint32_t)dims; i++)
		w_f64(w, xy[i]);
}

/* json_dumps of kt_ows_feature_json against kt_ows_feature_geojson. */
static void same_text(const kt_layer_t *l, kt_feature_t *f, const char *id)
{
	json_t *j = kt_ows_feature_json(l, f, id);
	kt_sbuf_t b = {0};
	int rc = kt_ows_feature_geojson(&b, l, f, id);
	if (!j) {
		assert_int_equal(rc, KT_EINVAL);
	} else {
		char *want = json_dumps(j, KT_JSON_FLAGS);
		assert_int_equal(rc, 0);
		assert_string_equal(b.p, want);
		free(want);
	}
	json_decref(j);
	kt_sbuf_release(&b);
}

static void test_ows_geojson_text_as_jansson(void **state)
{
	kt_err_t err;
	kt_layer_t *l = kt_layer_parse(typed_json, "test", &err);
	assert_non_null(l);
	kt_feature_t *f = kt_feature_new(l);
	assert_non_null(f);
	static const double reals[] = {768996.0, 6281497.17, -3.34, 47.760000000001, 0.1, 1e-7,
	                               1e20, -123456789012.5, 0.0, -0.0, 99999999999.99999,
	                               999999.9999999999, 5e-324, 1.5, 100, 12345678901.234567};
	size_t nr = sizeof reals / sizeof *reals;
	/* points, 2D and Z, both byte orders, every real above */
	for (size_t i = 0; i < nr; i++) {
		wkbw_t w = {.be = (int)(i % 2)};
		w_head(&w, i % 3 ? 1 : 1001);
		w_f64(&w, reals[i]);
		w_f64(&w, reals[nr - 1 - i]);
		if (!(i % 3))
			w_f64(&w, reals[(i + 5) % nr]);
		assert_int_equal(kt_feature_set_wkb(f, w.b, w.n, 2154), 0);
		assert_int_equal(kt_feature_set_real(f, 2, reals[i]), 0);
		assert_int_equal(kt_feature_set_int(f, 1, (int64_t)i * -1234567890123LL), 0);
		assert_int_equal(kt_feature_set_int(f, 3, (int64_t)(i % 2)), 0);
		same_text(l, f, "g.1");
	}
	/* a multipolygon with a hole, M dropped (ISO 3000: ZM) */
	static const double sq[] = {0, 0, 1, 2, 10, 0, 3, 4, 10, 10, 5, 6, 0, 0, 1, 2};
	wkbw_t w = {0};
	w_head(&w, 3006);
	w_u32(&w, 2);
	for (int k = 0; k < 2; k++) {
		w_head(&w, 3003);
		w_u32(&w, 2);
		w_ring(&w, sq, 4, 4);
		w_ring(&w, sq, 4, 4);
	}
	assert_int_equal(kt_feature_set_wkb(f, w.b, w.n, 2154), 0);
	same_text(l, f, "g.2");
	/* a collection of a line string and a point */
	wkbw_t c = {0};
	w_head(&c, 7);
	w_u32(&c, 2);
	w_head(&c, 2);
	w_ring(&c, sq, 3, 2);
	w_head(&c, 1);
	w_f64(&c, 768612.4);
	w_f64(&c, 6281135.6);
	assert_int_equal(kt_feature_set_wkb(f, c.b, c.n, 2154), 0);
	/* texts: escapes, UTF-8, and one that is not UTF-8 (left out) */
	assert_int_equal(kt_feature_set_text(f, 0, "a \"q\" \\ / \t\n\r\b\f \x01 é ŋ 🗺"), 0);
	same_text(l, f, "g.3");
	assert_int_equal(kt_feature_set_text(f, 0, "bad \xc3\x28 utf-8"), 0);
	assert_int_equal(kt_feature_set_null(f, 2), 0);
	same_text(l, f, "g.4");
	/* failures: a Multi* member of another type, a NaN coordinate */
	wkbw_t m = {0};
	w_head(&m, 4);
	w_u32(&m, 1);
	w_head(&m, 2);
	w_ring(&m, sq, 2, 2);
	assert_int_equal(kt_feature_set_wkb(f, m.b, m.n, 2154), 0);
	same_text(l, f, "g.5");
	wkbw_t nan = {0};
	w_head(&nan, 1);
	w_f64(&nan, 0.0 / 0.0);
	w_f64(&nan, 1);
	assert_int_equal(kt_feature_set_wkb(f, nan.b, nan.n, 2154), 0);
	same_text(l, f, "g.6");
	kt_feature_free(f);
	kt_layer_free(l);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ows_kvp_decodes_and_refuses, setup, teardown),
		cmocka_unit_test(test_ows_crs_names),
		cmocka_unit_test_setup_teardown(test_ows_fes_binds_every_value, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ows_fes_refuses_private_and_bad, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ows_fes_spatial_operand, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ows_fes_point_in_box, setup, teardown),
		cmocka_unit_test(test_ows_gml_write_axis_order),
		cmocka_unit_test(test_ows_geojson_text_as_jansson),
	};
	return cmocka_run_group_tests_name("ows", tests, NULL, NULL);
}
