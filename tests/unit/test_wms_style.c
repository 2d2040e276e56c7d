/*
 * test_wms_style.c — the MapLibre GL expression evaluator of the WMS
 * renderer (tileserver/style_eval.c) and the feature properties it reads
 * (style_load.c): colours, match/case/coalesce, zoom interpolation,
 * filters in both syntaxes, string building, errors for what is outside
 * the subset, privacy of the property accessor, and every property of the
 * repository's own style evaluating without an error at every zoom; and
 * GetMap's way of drawing a whole layer at once (render_batch.c, stamps)
 * against drawing feature by feature.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cairo.h>

#include "kt_wms_int.h"
#include "kt_test.h"

/* A feature given as a JSON object of properties. */
static int json_get(const void *feature, const char *key, kt_sval_t *out)
{
	const json_t *v = json_object_get(feature, key);
	memset(out, 0, sizeof *out);
	if (!v || json_is_null(v))
		return 0;
	if (json_is_string(v)) {
		out->type = KT_SV_STR;
		out->s = json_string_value(v);
	} else if (json_is_boolean(v)) {
		out->type = KT_SV_BOOL;
		out->b = json_is_true(v);
	} else {
		out->type = KT_SV_NUM;
		out->n = json_number_value(v);
	}
	return 1;
}

typedef struct fx {
	kt_arena_t arena;
	unsigned char buf[2048];
	json_t *props;
	kt_style_env_t env;
} fx_t;

static int setup(void **state)
{
	fx_t *f = calloc(1, sizeof *f);
	kt_arena_init(&f->arena, f->buf, sizeof f->buf);
	f->props = json_object();
	f->env = (kt_style_env_t){16, json_get, f->props, "Point", &f->arena};
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx_t *f = *state;
	json_decref(f->props);
	kt_arena_release(&f->arena);
	free(f);
	return 0;
}

static json_t *J(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
	if (!j)
		fail_msg("bad JSON in test: %s: %s", text, e.text);
	return j;
}

static double num(fx_t *f, const char *expr)
{
	json_t *e = J(expr);
	kt_sval_t v;
	assert_int_equal(kt_style_eval(e, &f->env, &v), 0);
	assert_int_equal(v.type, KT_SV_NUM);
	json_decref(e);
	return v.n;
}

static const char *str(fx_t *f, const char *expr)
{
	json_t *e = J(expr);
	kt_sval_t v;
	assert_int_equal(kt_style_eval(e, &f->env, &v), 0);
	/* the value may be borrowed from the expression: copy it first */
	const char *s = v.type == KT_SV_STR ? kt_arena_strdup(&f->arena, v.s) : "(not a string)";
	json_decref(e);
	return s;
}

static void colour(fx_t *f, const char *expr, double out[4])
{
	static const double none[4] = {-1, -1, -1, -1};
	json_t *e = J(expr);
	assert_int_equal(kt_style_color(e, &f->env, none, out), 0);
	json_decref(e);
}

static int filter(fx_t *f, const char *expr)
{
	json_t *e = J(expr);
	int r = kt_style_filter(e, &f->env);
	json_decref(e);
	return r;
}

static void test_wms_style_colour_parse(void **state)
{
	(void)state;
	double c[4];
	assert_int_equal(kt_color_parse("#1a9641", c), 0);
	assert_float_equal(c[0], 0x1a / 255.0, 1e-9);
	assert_float_equal(c[1], 0x96 / 255.0, 1e-9);
	assert_float_equal(c[2], 0x41 / 255.0, 1e-9);
	assert_float_equal(c[3], 1, 1e-9);
	assert_int_equal(kt_color_parse("#fff", c), 0);
	assert_float_equal(c[0] + c[1] + c[2], 3, 1e-9);
	assert_int_equal(kt_color_parse("rgba(255, 0, 0, 0.5)", c), 0);
	assert_float_equal(c[0], 1, 1e-9);
	assert_float_equal(c[3], 0.5, 1e-9);
	assert_int_equal(kt_color_parse("hsl(120, 100%, 25%)", c), 0);
	assert_float_equal(c[1], 0.5, 1e-9);
	assert_float_equal(c[0], 0, 1e-9);
	assert_int_equal(kt_color_parse("white", c), 0);
	assert_int_equal(kt_color_parse("#12345", c), KT_EINVAL);
	assert_int_equal(kt_color_parse("#gggggg", c), KT_EINVAL);
	assert_int_equal(kt_color_parse("rgb(1,2)", c), KT_EINVAL);
	assert_int_equal(kt_color_parse("chartreuse-ish", c), KT_EINVAL);
}

/* The DT-DICT class colour of lighting: match on a property. */
static void test_wms_style_match_class(void **state)
{
	fx_t *f = *state;
	const char *m = "[\"match\", [\"get\", \"dtdict_class\"], \"A\", \"#1a9641\", \"B\", "
	                "\"#f08c00\", \"C\", \"#d7191c\", \"#8c8c8c\"]";
	double c[4];
	json_object_set_new(f->props, "dtdict_class", json_string("B"));
	colour(f, m, c);
	assert_float_equal(c[0], 0xf0 / 255.0, 1e-9);
	json_object_set_new(f->props, "dtdict_class", json_string("Z"));
	colour(f, m, c);
	assert_float_equal(c[0], 0x8c / 255.0, 1e-9);
	json_object_del(f->props, "dtdict_class");
	colour(f, m, c); /* missing: the fallback */
	assert_float_equal(c[2], 0x8c / 255.0, 1e-9);
	/* a number is not the string "1" */
	json_object_set_new(f->props, "n", json_integer(1));
	assert_string_equal(str(f, "[\"match\", [\"get\", \"n\"], \"1\", \"str\", 1, \"num\", \"none\"]"),
	                    "num");
}

/* The building fill: case on has, then match with a label array. */
static void test_wms_style_case_has_match_array(void **state)
{
	fx_t *f = *state;
	const char *e = "[\"case\", [\"has\", \"nom\"], \"named\", [\"match\", [\"get\", \"usage\"], "
	                "[\"commerce\", \"bureaux\", \"activité\"], \"work\", \"other\"]]";
	assert_string_equal(str(f, e), "other");
	json_object_set_new(f->props, "usage", json_string("activité"));
	assert_string_equal(str(f, e), "work");
	json_object_set_new(f->props, "nom", json_string("Mairie"));
	assert_string_equal(str(f, e), "named");
	json_object_set_new(f->props, "nom", json_null()); /* null is not "has" */
	assert_string_equal(str(f, e), "work");
}

static void test_wms_style_interpolate_zoom(void **state)
{
	fx_t *f = *state;
	const char *lin = "[\"interpolate\", [\"linear\"], [\"zoom\"], 15, 2.5, 18, 5, 20, 8]";
	f->env.zoom = 10;
	assert_float_equal(num(f, lin), 2.5, 1e-12);
	f->env.zoom = 16.5;
	assert_float_equal(num(f, lin), 3.75, 1e-12);
	f->env.zoom = 19;
	assert_float_equal(num(f, lin), 6.5, 1e-12);
	f->env.zoom = 22;
	assert_float_equal(num(f, lin), 8, 1e-12);
	/* exponential base 2 between 18 (6) and 20 (18): at 19, 6 + 12/3 */
	const char *ex = "[\"interpolate\", [\"exponential\", 2], [\"zoom\"], 15, 1.5, 18, 6, 20, 18]";
	f->env.zoom = 19;
	assert_float_equal(num(f, ex), 6 + 12 * (2.0 - 1) / (4.0 - 1), 1e-12);
	/* colours interpolate channel by channel */
	double c[4];
	f->env.zoom = 15;
	colour(f, "[\"interpolate\", [\"linear\"], [\"zoom\"], 14, \"#000000\", 16, \"#ffffff\"]", c);
	assert_float_equal(c[0], 0.5, 1e-9);
	/* a legacy zoom function */
	f->env.zoom = 16;
	assert_float_equal(num(f, "{\"stops\": [[14, 1], [18, 5]]}"), 3, 1e-12);
	/* step */
	assert_float_equal(num(f, "[\"step\", [\"zoom\"], 1, 15, 2, 17, 3]"), 2, 1e-12);
}

static void test_wms_style_filters(void **state)
{
	fx_t *f = *state;
	const char *not_aerial = "[\"!=\", [\"get\", \"pose\"], \"aérien\"]";
	const char *aerial = "[\"==\", [\"get\", \"pose\"], \"aérien\"]";
	assert_int_equal(filter(f, not_aerial), 1); /* null != "aérien" */
	assert_int_equal(filter(f, aerial), 0);
	json_object_set_new(f->props, "pose", json_string("aérien"));
	assert_int_equal(filter(f, not_aerial), 0);
	assert_int_equal(filter(f, aerial), 1);
	/* legacy syntax */
	assert_int_equal(filter(f, "[\"==\", \"pose\", \"aérien\"]"), 1);
	assert_int_equal(filter(f, "[\"!in\", \"pose\", \"aérien\", \"souterrain\"]"), 0);
	assert_int_equal(filter(f, "[\"all\", [\"has\", \"pose\"], [\"==\", \"$type\", \"Point\"]]"), 1);
	assert_int_equal(filter(f, "[\"!has\", \"pose\"]"), 0);
	/* expression logic */
	assert_int_equal(filter(f, "[\"all\", [\"has\", \"pose\"], [\"!\", [\"has\", \"x\"]]]"), 1);
	assert_int_equal(filter(f, "[\"any\", false, [\"==\", [\"geometry-type\"], \"Polygon\"]]"), 0);
	/* a filter that cannot be evaluated lets nothing through */
	assert_int_equal(filter(f, "[\"within\", {}]"), 0);
	assert_int_equal(filter(f, "[\"<\", [\"get\", \"pose\"], 3]"), 0);
	assert_int_equal(kt_style_filter(NULL, &f->env), 1);
}

static void test_wms_style_strings(void **state)
{
	fx_t *f = *state;
	json_object_set_new(f->props, "section", json_string("AB"));
	json_object_set_new(f->props, "numero", json_integer(12));
	assert_string_equal(str(f, "[\"concat\", [\"get\", \"section\"], \" \", [\"get\", \"numero\"]]"),
	                    "AB 12");
	assert_string_equal(str(f, "[\"to-string\", [\"get\", \"numero\"]]"), "12");
	assert_string_equal(str(f, "[\"coalesce\", [\"get\", \"nom\"], [\"get\", \"section\"]]"), "AB");
	assert_string_equal(str(f, "[\"upcase\", \"lanester\"]"), "LANESTER");
	assert_float_equal(num(f, "[\"+\", 1, [\"*\", 2, [\"get\", \"numero\"]]]"), 25, 1e-12);
}

static void test_wms_style_unsupported_is_an_error(void **state)
{
	fx_t *f = *state;
	kt_sval_t v;
	json_t *e = J("[\"feature-state\", \"hover\"]");
	assert_int_equal(kt_style_eval(e, &f->env, &v), KT_EINVAL);
	assert_int_equal(v.type, KT_SV_NULL);
	/* the typed read falls back to the default */
	assert_float_equal(kt_style_num(e, &f->env, 7), 7, 0);
	json_decref(e);
	e = J("[\"interpolate\", [\"cubic-bezier\", 0, 0, 1, 1], [\"zoom\"], 1, 1, 2, 2]");
	assert_int_equal(kt_style_eval(e, &f->env, &v), KT_EINVAL);
	json_decref(e);
	e = J("[\"match\", [\"get\", \"x\"], \"a\"]"); /* malformed */
	assert_int_equal(kt_style_eval(e, &f->env, &v), KT_EINVAL);
	json_decref(e);
	/* deep nesting does not overflow the stack */
	char deep[2200] = "";
	for (int i = 0; i < 200; i++)
		strcat(deep, "[\"!\",");
	strcat(deep, "true");
	for (int i = 0; i < 200; i++)
		strcat(deep, "]");
	e = J(deep);
	assert_int_equal(kt_style_eval(e, &f->env, &v), KT_EINVAL);
	json_decref(e);
}

/* The accessor never hands a private attribute to a style. */
static void test_wms_style_feature_get_is_public_only(void **state)
{
	(void)state;
	kt_err_t err = {0};
	kt_layer_t *l = kt_layer_parse(
		"{\"name\":\"armoire\",\"title\":\"A\",\"geometry\":\"point\",\"network\":\"rigid\","
		"\"public\":true,\"attributes\":[{\"name\":\"reference\",\"type\":\"text\",\"public\":true},"
		"{\"name\":\"pdl\",\"type\":\"text\",\"public\":false},"
		"{\"name\":\"kva\",\"type\":\"real\",\"public\":true}]}", "t.json", &err);
	assert_non_null(l);
	kt_feature_t *ft = kt_feature_new(l);
	kt_feature_set_text(ft, 0, "ARM-01");
	kt_feature_set_text(ft, 1, "PDL-SECRET");
	kt_feature_set_real(ft, 2, 36);
	ft->precision.dtdict_class = 'B';
	kt_wms_feat_t wf = {l, ft};
	kt_sval_t v;
	assert_int_equal(kt_wms_feature_get(&wf, "reference", &v), 1);
	assert_string_equal(v.s, "ARM-01");
	assert_int_equal(kt_wms_feature_get(&wf, "pdl", &v), 0);
	assert_int_equal(kt_wms_feature_get(&wf, "kva", &v), 1);
	assert_float_equal(v.n, 36, 0);
	assert_int_equal(kt_wms_feature_get(&wf, "dtdict_class", &v), 1);
	assert_string_equal(v.s, "B");
	assert_int_equal(kt_wms_feature_get(&wf, "nope", &v), 0);
	kt_feature_free(ft);
	kt_layer_free(l);
}

/* Every paint and layout property of styles/lanester.json evaluates with
 * no error at every zoom, for features with and without properties: the
 * subset covers the style the browser draws. */
static int is_literal_array(const char *key)
{
	return !strcmp(key, "line-dasharray") || !strcmp(key, "text-offset") ||
	       !strcmp(key, "text-font");
}

static void test_wms_style_repository_style_is_covered(void **state)
{
	fx_t *f = *state;
	char path[4096];
	snprintf(path, sizeof path, "%s/styles/lanester.json", kt_test_env("KT_SRC"));
	json_error_t je;
	json_t *style = json_load_file(path, 0, &je);
	assert_non_null(style);
	json_object_set_new(f->props, "dtdict_class", json_string("A"));
	json_object_set_new(f->props, "nom", json_string("Nom"));
	json_object_set_new(f->props, "numero", json_integer(3));
	json_object_set_new(f->props, "section", json_string("AB"));
	json_object_set_new(f->props, "reference", json_string("R"));
	size_t i, checked = 0;
	json_t *l;
	json_array_foreach(json_object_get(style, "layers"), i, l) {
		const char *groups[2] = {"paint", "layout"};
		for (int g = 0; g < 2; g++) {
			const char *key;
			json_t *v;
			json_object_foreach(json_object_get(l, groups[g]), key, v) {
				if (is_literal_array(key))
					continue;
				for (double z = 10; z <= 21; z += 0.5) {
					kt_sval_t out;
					f->env.zoom = z;
					int rc = kt_style_eval(v, &f->env, &out);
					if (rc)
						fail_msg("%s %s.%s at z%.1f: not evaluated",
						         json_string_value(json_object_get(l, "id")), groups[g], key, z);
					checked++;
				}
			}
		}
		json_t *flt = json_object_get(l, "filter");
		if (flt) {
			kt_sval_t out;
			assert_true(kt_style_eval(flt, &f->env, &out) == 0 || !json_is_array(json_array_get(flt, 1)));
		}
	}
	assert_true(checked > 500);
	json_decref(style);
}

/* ---- drawing a whole layer (render_batch.c, render_stamp.c) -------------- */

static void test_wms_style_layer_constant(void **state)
{
	(void)state;
	static const struct {
		const char *layer;
		int constant;
	} cases[] = {
		{"{\"type\":\"fill\",\"paint\":{\"fill-color\":\"rgb(200,190,180)\"}}", 1},
		{"{\"type\":\"line\",\"paint\":{\"line-width\":[\"interpolate\",[\"linear\"],[\"zoom\"],"
		 "15,0.4,19,1.2]}}", 1},
		{"{\"type\":\"line\",\"paint\":{\"line-width\":{\"stops\":[[10,1],[16,3]]}}}", 1},
		{"{\"type\":\"circle\",\"paint\":{\"circle-color\":[\"literal\",[\"get\",\"x\"]]}}", 1},
		{"{\"type\":\"fill\",\"filter\":[\"has\",\"nom\"],\"paint\":{}}", 0},
		{"{\"type\":\"fill\",\"paint\":{\"fill-color\":[\"case\",[\"has\",\"nom\"],\"#d9b99b\","
		 "\"#dcd6cc\"]}}", 0},
		{"{\"type\":\"circle\",\"paint\":{\"circle-color\":[\"match\",[\"get\",\"dtdict_class\"],"
		 "\"A\",\"#1a9641\",\"#8c8c8c\"]}}", 0},
		{"{\"type\":\"line\",\"layout\":{\"line-cap\":[\"coalesce\",[\"get\",\"cap\"],\"round\"]}}", 0},
		{"{\"type\":\"line\",\"paint\":{\"line-width\":{\"property\":\"w\",\"stops\":[[1,1]]}}}", 0},
		{"{\"type\":\"symbol\",\"layout\":{\"text-field\":\"x\"}}", 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		json_t *sl = json_loads(cases[i].layer, 0, NULL);
		assert_non_null(sl);
		if (kt_style_layer_constant(sl) != cases[i].constant)
			fail_msg("case %zu: %s", i, cases[i].layer);
		json_decref(sl);
	}
}

/* A little ISO WKB writer (little-endian). */
static size_t wkb_polygon(unsigned char *b, const double *rings[], const uint32_t *n, uint32_t k)
{
	size_t o = 0;
	uint32_t t = 3;
	b[o++] = 1;
	memcpy(b + o, &t, 4), o += 4;
	memcpy(b + o, &k, 4), o += 4;
	for (uint32_t r = 0; r < k; r++) {
		memcpy(b + o, &n[r], 4), o += 4;
		memcpy(b + o, rings[r], 16 * (size_t)n[r]), o += 16 * (size_t)n[r];
	}
	return o;
}

static size_t wkb_point(unsigned char *b, double x, double y)
{
	uint32_t t = 1;
	b[0] = 1;
	memcpy(b + 1, &t, 4);
	memcpy(b + 5, &x, 8);
	memcpy(b + 13, &y, 8);
	return 21;
}

/* Pixels (of 3 channels) differing by more than tol. */
static long differing(cairo_surface_t *a, cairo_surface_t *b, int tol)
{
	cairo_surface_flush(a);
	cairo_surface_flush(b);
	int w = cairo_image_surface_get_width(a), h = cairo_image_surface_get_height(a);
	int sa = cairo_image_surface_get_stride(a), sb = cairo_image_surface_get_stride(b);
	const unsigned char *pa = cairo_image_surface_get_data(a), *pb = cairo_image_surface_get_data(b);
	long n = 0;
	for (int y = 0; y < h; y++) {
		const uint32_t *ra = (const uint32_t *)(const void *)(pa + (size_t)y * sa);
		const uint32_t *rb = (const uint32_t *)(const void *)(pb + (size_t)y * sb);
		for (int x = 0; x < w; x++)
			for (int c = 0; c < 24; c += 8)
				if (abs((int)(ra[x] >> c & 0xff) - (int)(rb[x] >> c & 0xff)) > tol) {
					n++;
					break;
				}
	}
	return n;
}

static cairo_surface_t *white(int w, int h)
{
	cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
	cairo_t *cr = cairo_create(s);
	cairo_set_source_rgb(cr, 1, 1, 1);
	cairo_paint(cr);
	cairo_destroy(cr);
	return s;
}

/* The bench style (buildings filled and outlined, lamps as dots) drawn a
 * layer at a time gives the pixels of drawing feature by feature: dots
 * stamped at quarter pixels, paths filled and stroked together. */
static void test_wms_style_layer_drawn_as_features(void **state)
{
	(void)state;
	kt_err_t err = {0};
	kt_layer_t *l = kt_layer_parse(
		"{\"name\":\"b\",\"title\":\"B\",\"geometry\":\"POLYGON\",\"public\":true,"
		"\"attributes\":[]}", "b.json", &err);
	assert_non_null(l);
	const char *styles[] = {
		"{\"type\":\"fill\",\"paint\":{\"fill-color\":\"rgb(200,190,180)\"}}",
		"{\"type\":\"line\",\"paint\":{\"line-color\":\"rgb(120,110,100)\",\"line-width\":0.5}}",
		"{\"type\":\"circle\",\"paint\":{\"circle-color\":\"rgb(255,200,0)\",\"circle-radius\":1.5,"
		"\"circle-stroke-color\":\"rgb(80,60,0)\",\"circle-stroke-width\":1}}",
		"{\"type\":\"fill\",\"paint\":{\"fill-color\":\"rgba(0,0,255,0.5)\"}}",
	};
	int w = 120, h = 90;
	cairo_surface_t *a = white(w, h), *b = white(w, h);
	cairo_t *ca = cairo_create(a), *cb = cairo_create(b);
	unsigned char buf[8192];
	kt_arena_t arena;
	kt_arena_init(&arena, buf, sizeof buf);
	kt_render_t ra = {.cr = ca, .width = w, .height = h, .bbox = {0, 0, 120, 90}, .zoom = 16,
	                  .pixel_ratio = 1, .arena = &arena, .direct = 1};
	kt_render_t rb = ra;
	rb.cr = cb;
	rb.direct = 0;
	kt_px_set_t set = {0};
	kt_feature_t *fs[24];
	size_t nf = 0;
	/* squares with a hole, on fractional coordinates, some touching */
	for (int i = 0; i < 12; i++) {
		double x = 5.3 + (i % 4) * 28.1, y = 4.7 + (i / 4) * 27.6, s = i % 3 ? 20 : 27.6;
		double outer[] = {x, y, x + s, y, x + s, y + s, x, y + s, x, y};
		double inner[] = {x + 5, y + 5, x + 5, y + 11.5, x + 12.25, y + 11.5, x + 12.25, y + 5,
		                  x + 5, y + 5};
		if (i % 2) { /* WKB does not orient rings: the hole as the exterior turns */
			double cw[] = {x + 5, y + 5, x + 12.25, y + 5, x + 12.25, y + 11.5, x + 5, y + 11.5,
			               x + 5, y + 5};
			memcpy(inner, cw, sizeof cw);
		}
		const double *rings[] = {outer, inner};
		uint32_t n[] = {5, 5};
		unsigned char wkb[512];
		size_t len = wkb_polygon(wkb, rings, n, 2);
		fs[nf] = kt_feature_new(l);
		assert_int_equal(kt_feature_set_wkb(fs[nf], wkb, len, 3948), 0);
		assert_int_equal(kt_px_set_add(&set, &ra, wkb, len, NULL), 0);
		nf++;
	}
	/* points, at every quarter (and eighth) pixel */
	for (int i = 0; i < 12; i++) {
		unsigned char wkb[32];
		size_t len = wkb_point(wkb, 7 + i * 9.125, 85 - i * 0.375);
		fs[nf] = kt_feature_new(l);
		assert_int_equal(kt_feature_set_wkb(fs[nf], wkb, len, 3948), 0);
		assert_int_equal(kt_px_set_add(&set, &ra, wkb, len, NULL), 0);
		nf++;
	}
	for (size_t k = 0; k < sizeof styles / sizeof *styles; k++) {
		json_t *sl = json_loads(styles[k], 0, NULL);
		assert_non_null(sl);
		assert_int_equal(kt_render_set(&ra, sl, l, &set), 0);
		for (size_t i = 0; i < nf; i++)
			assert_int_equal(kt_render_feature(&rb, sl, l, fs[i]), 0);
		json_decref(sl);
	}
	/* antialiased edges may differ by rounding, by where two fills meet
	 * (no seam in one path) and by a dot's quarter-pixel position; nothing
	 * else. And the layers were drawn at all. */
	long n = differing(a, b, 40), total = (long)w * h;
	print_message("%ld of %ld pixels differ by more than 40\n", n, total);
	if (n > total / 200)
		fail_msg("%ld of %ld pixels differ", n, total);
	cairo_surface_t *blank = white(w, h);
	assert_true(differing(a, blank, 40) > total / 4);
	cairo_surface_destroy(blank);
	for (size_t i = 0; i < nf; i++)
		kt_feature_free(fs[i]);
	kt_px_set_release(&set);
	kt_render_release(&ra);
	kt_render_release(&rb);
	kt_arena_release(&arena);
	cairo_destroy(ca);
	cairo_destroy(cb);
	cairo_surface_destroy(a);
	cairo_surface_destroy(b);
	kt_layer_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wms_style_colour_parse),
		cmocka_unit_test_setup_teardown(test_wms_style_match_class, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wms_style_case_has_match_array, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wms_style_interpolate_zoom, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wms_style_filters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wms_style_strings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wms_style_unsupported_is_an_error, setup, teardown),
		cmocka_unit_test(test_wms_style_feature_get_is_public_only),
		cmocka_unit_test_setup_teardown(test_wms_style_repository_style_is_covered, setup, teardown),
		cmocka_unit_test(test_wms_style_layer_constant),
		cmocka_unit_test(test_wms_style_layer_drawn_as_features),
	};
	return cmocka_run_group_tests_name("wms_style", tests, NULL, NULL);
}
