/*
 * test_tiles.c — the vector-tile pipeline below HTTP: the tile grid
 * (bounds, ranges, coordinate parsing), one feature's geometry into tile
 * coordinates (clip, quantisation, winding, holes, collapse, repeated
 * points, simplification, validity after snapping), the MVT encoder
 * (dictionaries, size cap and its drop order), the validator on crafted
 * streams, the tile cache (byte bound, exact invalidation by bbox,
 * generations, references), and edits made through the engine reaching
 * the cache (kt_tiles_sync).
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

#include <geos_c.h>

#include "kt_engine.h"
#include "kt_server.h"
#include "kt_test.h"
#include "kt_tiles_int.h"
#include "vector_tile.pb-c.h"

/* ---- helpers -------------------------------------------------------------- */

/* The tile every geometry test draws in, and its transformation. */
#define TZ 16
#define TX 32000
#define TY 22000

static GEOSContextHandle_t geos;

static int setup(void **state)
{
	(void)state;
	geos = GEOS_init_r();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	GEOS_finish_r(geos);
	return 0;
}

static int from_tile(double *x, double *y, void *data)
{
	const kt_tile_xf_t *xf = data;
	*x = *x / xf->scale + xf->minx;
	*y = xf->maxy - *y / xf->scale;
	return 1;
}

/* WKB (EPSG:3857) of a WKT written in tile coordinates of TZ/TX/TY. */
static unsigned char *wkb_of(const char *wkt_tile, size_t *len)
{
	kt_tile_xf_t xf;
	kt_tile_xf_init(&xf, TZ, TX, TY);
	GEOSWKTReader *r = GEOSWKTReader_create_r(geos);
	GEOSGeometry *g = GEOSWKTReader_read_r(geos, r, wkt_tile);
	assert_non_null(g);
	GEOSGeometry *w = GEOSGeom_transformXY_r(geos, g, from_tile, &xf);
	GEOSWKBWriter *wr = GEOSWKBWriter_create_r(geos);
	unsigned char *out = GEOSWKBWriter_write_r(geos, wr, w, len);
	GEOSWKBWriter_destroy_r(geos, wr);
	GEOSWKTReader_destroy_r(geos, r);
	GEOSGeom_destroy_r(geos, g);
	GEOSGeom_destroy_r(geos, w);
	return out;
}

static int encode(const char *wkt_tile, kt_tgeom_t *g)
{
	size_t len;
	unsigned char *wkb = wkb_of(wkt_tile, &len);
	kt_tile_xf_t xf;
	kt_tile_xf_init(&xf, TZ, TX, TY);
	int rc = kt_tile_geom_encode(geos, &xf, wkb, len, g);
	GEOSFree_r(geos, wkb);
	return rc;
}

/* A decoded path: points of one MoveTo/LineTo(/ClosePath) run. */
typedef struct path {
	int64_t xy[2 * 4096];
	size_t n;
	int closed;
} path_t;

/* Decodes a command stream into paths (each MoveTo of a line or polygon
 * starts one; the points of a point geometry make one). */
static size_t decode(const kt_tgeom_t *g, path_t *paths, size_t max)
{
	size_t np = 0, i = 0;
	int64_t x = 0, y = 0;
	while (i < g->n) {
		unsigned id = g->cmd[i] & 7, count = g->cmd[i] >> 3;
		i++;
		if (id == 7) {
			paths[np - 1].closed = 1;
			continue;
		}
		if (id == 1 && (g->type != 1 || np == 0)) {
			assert_true(np < max);
			paths[np].n = 0;
			paths[np].closed = 0;
			np++;
		}
		for (unsigned k = 0; k < count; k++) {
			uint32_t zx = g->cmd[i++], zy = g->cmd[i++];
			x += (int64_t)(zx >> 1) ^ -(int64_t)(zx & 1);
			y += (int64_t)(zy >> 1) ^ -(int64_t)(zy & 1);
			path_t *p = &paths[np - 1];
			p->xy[2 * p->n] = x;
			p->xy[2 * p->n + 1] = y;
			p->n++;
		}
	}
	return np;
}

/* Checks a geometry by wrapping it in a one-feature tile and running the
 * validator with GEOS: returns the number of problems. */
static long validate_one(const kt_tgeom_t *g)
{
	kt_mvt_t *t = kt_mvt_new(KT_TILE_EXTENT);
	assert_int_equal(kt_mvt_layer(t, "l"), 0);
	assert_int_equal(kt_mvt_feature(t, 1, g), 0);
	unsigned char *out;
	size_t len, dropped;
	assert_int_equal(kt_mvt_serialize(t, 0, &out, &len, &dropped), 0);
	long n = kt_mvt_validate(out, len, geos, NULL, NULL, 0);
	kt_free(out);
	kt_mvt_free(t);
	return n;
}

/* ---- grid ------------------------------------------------------------------ */

static void test_tiles_bounds(void **state)
{
	(void)state;
	double b[4];
	kt_tile_bounds(0, 0, 0, 0, b);
	assert_float_equal(b[0], -KT_MERC_HALF, 1e-6);
	assert_float_equal(b[3], KT_MERC_HALF, 1e-6);
	kt_tile_bounds(1, 1, 0, 0, b); /* north-east quarter */
	assert_float_equal(b[0], 0, 1e-6);
	assert_float_equal(b[1], 0, 1e-6);
	assert_float_equal(b[2], KT_MERC_HALF, 1e-6);
	kt_tile_bounds(1, 0, 1, 64, b); /* south-west with a 64-unit buffer */
	double pad = KT_MERC_HALF / 4096 * 64;
	assert_float_equal(b[2], pad, 1e-6);
	assert_float_equal(b[1], -KT_MERC_HALF - pad, 1e-6);
}

/* kt_tile_range must hold exactly the tiles whose buffered bounds meet
 * the bbox: brute force over every tile of z = 4. */
static void test_tiles_range_is_exact(void **state)
{
	(void)state;
	srand(7);
	for (int iter = 0; iter < 300; iter++) {
		double b[4];
		double cx = (rand() / (double)RAND_MAX * 2 - 1) * KT_MERC_HALF * 1.1;
		double cy = (rand() / (double)RAND_MAX * 2 - 1) * KT_MERC_HALF * 1.1;
		double w = rand() / (double)RAND_MAX * KT_MERC_HALF / (iter % 3 ? 40 : 2);
		b[0] = cx - w; b[2] = cx + w; b[1] = cy - w / 2; b[3] = cy + w / 2;
		uint32_t r[4];
		int any = kt_tile_range(4, b, 64, r);
		for (uint32_t x = 0; x < 16; x++)
			for (uint32_t y = 0; y < 16; y++) {
				double t[4];
				kt_tile_bounds(4, x, y, 64, t);
				int meets = t[0] <= b[2] && t[2] >= b[0] && t[1] <= b[3] && t[3] >= b[1];
				int in = any && x >= r[0] && x <= r[2] && y >= r[1] && y <= r[3];
				if (meets != in)
					fail_msg("tile 4/%u/%u: meets %d, in range %d", x, y, meets, in);
			}
	}
}

static void test_tiles_parse_coord(void **state)
{
	(void)state;
	uint64_t v;
	assert_int_equal(kt_tile_parse_coord("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(kt_tile_parse_coord("16777215", &v), 0);
	assert_int_equal(v, 16777215);
	const char *bad[] = {"", "01", "-1", "+1", "1a", "1.5", " 1", "12345678901", "0x10"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		assert_int_equal(kt_tile_parse_coord(bad[i], &v), -1);
	assert_true(kt_tile_in_grid(0, 0, 0));
	assert_false(kt_tile_in_grid(0, 1, 0));
	assert_true(kt_tile_in_grid(24, 16777215, 0));
	assert_false(kt_tile_in_grid(25, 0, 0));
	assert_false(kt_tile_in_grid(3, 0, 8));
}

/* ---- geometry ------------------------------------------------------------- */

static void test_tiles_polygon_winding_and_holes(void **state)
{
	(void)state;
	kt_tgeom_t g = {0};
	path_t *p = malloc(4 * sizeof *p);
	/* the same square in both orientations, with a hole in both too */
	const char *wkts[] = {
		"POLYGON((100 100, 1000 100, 1000 1000, 100 1000, 100 100),"
		"(300 300, 300 600, 600 600, 600 300, 300 300))",
		"POLYGON((100 100, 100 1000, 1000 1000, 1000 100, 100 100),"
		"(300 300, 600 300, 600 600, 300 600, 300 300))",
	};
	for (int k = 0; k < 2; k++) {
		assert_int_equal(encode(wkts[k], &g), 1);
		assert_int_equal(g.type, 3);
		size_t n = decode(&g, p, 4);
		assert_int_equal(n, 2);
		assert_true(p[0].closed && p[1].closed);
		assert_int_equal(p[0].n, 4); /* closing point not repeated */
		assert_true(kt_ring_area(p[0].xy, p[0].n) > 0); /* exterior: clockwise on screen */
		assert_true(kt_ring_area(p[1].xy, p[1].n) < 0); /* hole after it, opposite */
		assert_float_equal(g.measure, 900.0 * 900 - 300.0 * 300, 1);
		assert_int_equal(validate_one(&g), 0);
	}
	kt_tgeom_release(&g);
	free(p);
}

static void test_tiles_clip_to_buffer(void **state)
{
	(void)state;
	kt_tgeom_t g = {0};
	path_t *p = malloc(2 * sizeof *p);
	assert_int_equal(encode("POLYGON((-5000 -5000, 9000 -5000, 9000 9000, -5000 9000, -5000 -5000))",
	                        &g), 1);
	assert_int_equal(decode(&g, p, 2), 1);
	for (size_t i = 0; i < p[0].n; i++) {
		assert_in_range(p[0].xy[2 * i] + 64, 0, 4096 + 128);
		assert_in_range(p[0].xy[2 * i + 1] + 64, 0, 4096 + 128);
	}
	assert_float_equal(g.measure, 4224.0 * 4224, 1);
	/* a line across the tile is cut at the buffer */
	assert_int_equal(encode("LINESTRING(-9000 2000, 9000 2000)", &g), 1);
	assert_int_equal(decode(&g, p, 2), 1);
	assert_int_equal(p[0].n, 2);
	assert_int_equal(p[0].xy[0], -64);
	assert_int_equal(p[0].xy[2], 4160);
	/* points beyond the buffer are left out; within it they stay */
	assert_int_equal(encode("MULTIPOINT((-100 5), (-60 5), (4150 4150), (5000 5))", &g), 1);
	assert_int_equal(decode(&g, p, 2), 1);
	assert_int_equal(p[0].n, 2);
	assert_int_equal(encode("POINT(-65 10)", &g), 0);
	assert_int_equal(encode("POLYGON((5000 5000, 6000 5000, 6000 6000, 5000 5000))", &g), 0);
	kt_tgeom_release(&g);
	free(p);
}

static void test_tiles_quantise_drops_collapse_and_repeats(void **state)
{
	(void)state;
	kt_tgeom_t g = {0};
	path_t *p = malloc(2 * sizeof *p);
	/* smaller than a tile unit: collapses, dropped */
	assert_int_equal(encode("POLYGON((10.1 10.1, 10.3 10.1, 10.3 10.3, 10.1 10.1))", &g), 0);
	/* a line whose points round onto each other: no zero-length segment */
	assert_int_equal(encode("LINESTRING(10 10, 10.2 10.1, 10.4 9.9, 20 10, 20.1 10.2, 30 30)", &g), 1);
	size_t n = decode(&g, p, 2);
	assert_int_equal(n, 1);
	for (size_t i = 1; i < p[0].n; i++)
		assert_false(p[0].xy[2 * i] == p[0].xy[2 * i - 2] &&
		             p[0].xy[2 * i + 1] == p[0].xy[2 * i - 1]);
	assert_int_equal(validate_one(&g), 0);
	/* a line entirely within one unit: gone */
	assert_int_equal(encode("LINESTRING(10 10, 10.2 10.1)", &g), 0);
	kt_tgeom_release(&g);
	free(p);
}

/* Snapping can make a valid polygon self-touch or self-intersect (two
 * edges 0.3 units apart): the output must still be valid. */
static void test_tiles_snapping_keeps_validity(void **state)
{
	(void)state;
	kt_tgeom_t g = {0};
	const char *wkts[] = {
		/* a comb whose teeth are thinner than a unit */
		"POLYGON((0 0, 100 0, 100 10.4, 50.2 10.4, 50.2 0.6, 49.9 0.6, 49.9 10.4, 0 10.4, 0 0))",
		/* two squares of a multipolygon 0.2 units apart */
		"MULTIPOLYGON(((0 0, 10 0, 10 10, 0 10, 0 0)), ((10.2 0, 20 0, 20 10, 10.2 10, 10.2 0)))",
		/* a hole nearly touching its shell */
		"POLYGON((0 0, 100 0, 100 100, 0 100, 0 0), (0.3 40, 50 40, 50 60, 0.3 60, 0.3 40))",
		/* a thin spike */
		"POLYGON((0 0, 100 0, 100 100, 50.3 100, 50.1 300, 49.9 100, 0 100, 0 0))",
	};
	for (size_t i = 0; i < sizeof wkts / sizeof *wkts; i++) {
		int rc = encode(wkts[i], &g);
		assert_true(rc == 1);
		if (validate_one(&g) != 0)
			fail_msg("case %zu: encoded polygon is not valid", i);
	}
	kt_tgeom_release(&g);
}

static void test_tiles_simplify_per_zoom(void **state)
{
	(void)state;
	/* 2000 vertices wiggling by a tenth of a unit along a straight line */
	size_t cap = 2000 * 40 + 64;
	char *wkt = malloc(cap), *q = wkt;
	q += sprintf(q, "LINESTRING(");
	for (int i = 0; i < 2000; i++)
		q += sprintf(q, "%s%.3f %.3f", i ? ", " : "", 100 + i * 1.5, 200 + (i % 2) * 0.1);
	sprintf(q, ")");
	kt_tgeom_t g = {0};
	assert_int_equal(encode(wkt, &g), 1);
	assert_true(g.n < 20); /* one straight segment, give or take */
	assert_float_equal(g.measure, 1999 * 1.5, 2);
	free(wkt);
	kt_tgeom_release(&g);
}

/* A concave polygon whose clip leaves two parts: the fast path's
 * Sutherland-Hodgman ring would run along the buffer's edge between them,
 * so the GEOS path takes it — two valid exteriors. A square crossing the
 * edge with a hole crossing it too: valid whatever the path. */
static void test_tiles_clip_concave_and_holes(void **state)
{
	(void)state;
	kt_tgeom_t g = {0};
	path_t *p = malloc(4 * sizeof *p);
	/* a U whose bottom lies beyond the buffer: its two arms enter the tile */
	assert_int_equal(encode("POLYGON((100 -300, 400 -300, 400 100, 300 100, 300 -200, 200 -200, "
	                        "200 100, 100 100, 100 -300))", &g), 1);
	assert_int_equal(decode(&g, p, 4), 2);
	assert_true(kt_ring_area(p[0].xy, p[0].n) > 0 && kt_ring_area(p[1].xy, p[1].n) > 0);
	assert_float_equal(g.measure, 2 * 100.0 * 164, 1);
	assert_int_equal(validate_one(&g), 0);
	/* a hole well inside, one crossing the edge (it opens the polygon),
	 * and one beyond the buffer (gone with the clip) */
	assert_int_equal(encode("POLYGON((-500 100, 1000 100, 1000 1000, -500 1000, -500 100),"
	                        "(300 300, 600 300, 600 600, 300 600, 300 300),"
	                        "(-300 700, 100 700, 100 800, -300 800, -300 700),"
	                        "(-400 200, -200 200, -200 300, -400 300, -400 200))", &g), 1);
	assert_int_equal(validate_one(&g), 0);
	assert_float_equal(g.measure, 1064.0 * 900 - 300.0 * 300 - 164.0 * 100, 1);
	/* a ring of a polygon with a hole: exterior then hole, in the tile */
	assert_int_equal(encode("MULTIPOLYGON(((10 10, 90 10, 90 90, 10 90, 10 10),"
	                        "(20 20, 20 30, 30 30, 30 20, 20 20)))", &g), 1);
	assert_int_equal(decode(&g, p, 4), 2);
	assert_true(kt_ring_area(p[0].xy, p[0].n) > 0 && kt_ring_area(p[1].xy, p[1].n) < 0);
	assert_int_equal(validate_one(&g), 0);
	kt_tgeom_release(&g);
	free(p);
}

/* Extents of WKB geometries, and refusals of malformed bytes. */
static void test_tiles_wkb_bounds(void **state)
{
	(void)state;
	struct { const char *wkt; double b[4]; } cases[] = {
		{"POINT(3 4)", {3, 4, 3, 4}},
		{"POINT Z(3 4 5)", {3, 4, 3, 4}},
		{"MULTIPOLYGON(((0 0, 10 0, 10 5, 0 0)), ((-2 1, 1 1, 1 7, -2 1)))", {-2, 0, 10, 7}},
		{"GEOMETRYCOLLECTION(POINT(1 1), LINESTRING(-1 2, 5 -3))", {-1, -3, 5, 2}},
	};
	GEOSWKTReader *r = GEOSWKTReader_create_r(geos);
	GEOSWKBWriter *w = GEOSWKBWriter_create_r(geos);
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		GEOSGeometry *g = GEOSWKTReader_read_r(geos, r, cases[i].wkt);
		GEOSWKBWriter_setOutputDimension_r(geos, w, GEOSHasZ_r(geos, g) ? 3 : 2);
		GEOSWKBWriter_setByteOrder_r(geos, w, i % 2 ? GEOS_WKB_XDR : GEOS_WKB_NDR);
		size_t len;
		unsigned char *wkb = GEOSWKBWriter_write_r(geos, w, g, &len);
		double b[4];
		assert_int_equal(kt_wkb_bounds(wkb, len, b), 0);
		for (int k = 0; k < 4; k++)
			assert_float_equal(b[k], cases[i].b[k], 1e-12);
		/* truncated anywhere: refused, never read beyond */
		for (size_t cut = 0; cut < len; cut++)
			assert_int_equal(kt_wkb_bounds(wkb, cut, b), KT_EGEOM);
		GEOSFree_r(geos, wkb);
		GEOSGeom_destroy_r(geos, g);
	}
	GEOSWKBWriter_destroy_r(geos, w);
	GEOSWKTReader_destroy_r(geos, r);
}

/* The reprojection grid interpolates bilinearly: with nodes laid out by
 * an affine map it must give that map back at any point, and the encoder
 * must give the same commands through the grid as through the map. */
static void test_tiles_grid_interpolation(void **state)
{
	(void)state;
	kt_tile_xf_t xf;
	kt_tile_xf_init(&xf, TZ, TX, TY);
	double t[2 * 5 * 5];
	/* a store CRS that is 3857 shifted by (1000, -2000) metres */
	kt_tile_grid_t grid = {.x0 = xf.minx + 1000 - 50, .y0 = xf.maxy - 2000 - 700, .dx = 200,
	                       .dy = 200, .n = 4, .t = t};
	for (int j = 0; j <= 4; j++)
		for (int i = 0; i <= 4; i++) {
			double x = grid.x0 + i * grid.dx - 1000, y = grid.y0 + j * grid.dy + 2000;
			kt_tile_xf_apply(&xf, &x, &y);
			t[2 * (j * 5 + i)] = x;
			t[2 * (j * 5 + i) + 1] = y;
		}
	kt_tile_xf_t gxf = xf;
	gxf.grid = &grid;
	srand(11);
	for (int k = 0; k < 1000; k++) {
		double sx = grid.x0 + rand() / (double)RAND_MAX * 800;
		double sy = grid.y0 + rand() / (double)RAND_MAX * 800;
		double ax = sx - 1000, ay = sy + 2000, gx = sx, gy = sy;
		kt_tile_xf_apply(&xf, &ax, &ay);
		kt_tile_xf_apply(&gxf, &gx, &gy);
		assert_float_equal(ax, gx, 1e-6);
		assert_float_equal(ay, gy, 1e-6);
	}
}

/* ---- encoder ---------------------------------------------------------------- */

static KartennMvt__Tile *unpack(const unsigned char *b, size_t n)
{
	KartennMvt__Tile *t = kartenn_mvt__tile__unpack(NULL, n, b);
	assert_non_null(t);
	return t;
}

static void test_tiles_dictionaries(void **state)
{
	(void)state;
	kt_mvt_t *t = kt_mvt_new(KT_TILE_EXTENT);
	kt_tgeom_t g = {0};
	assert_int_equal(encode("POINT(10 10)", &g), 1);
	assert_int_equal(kt_mvt_layer(t, "a"), 0);
	assert_int_equal(kt_mvt_layer(t, "a"), KT_EEXIST);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(kt_mvt_feature(t, (uint64_t)i + 1, &g), 0);
		kt_value_t s = {.type = KT_ATTR_TEXT, .s = "même"}, one = {.type = KT_ATTR_INTEGER, .i = 1};
		kt_value_t neg = {.type = KT_ATTR_INTEGER, .i = -5}, nul = {.type = KT_ATTR_REAL, .is_null = 1};
		kt_value_t txt1 = {.type = KT_ATTR_TEXT, .s = "1"};
		assert_int_equal(kt_mvt_prop(t, "name", &s), 0);
		assert_int_equal(kt_mvt_prop(t, "n", &one), 0);
		assert_int_equal(kt_mvt_prop(t, "m", &neg), 0);
		assert_int_equal(kt_mvt_prop(t, "gone", &nul), 0);
		assert_int_equal(kt_mvt_prop(t, "t", &txt1), 0);
	}
	unsigned char *out;
	size_t len, dropped;
	assert_int_equal(kt_mvt_serialize(t, 0, &out, &len, &dropped), 0);
	assert_int_equal(kt_mvt_validate(out, len, geos, NULL, NULL, 0), 0);
	KartennMvt__Tile *d = unpack(out, len);
	assert_int_equal(d->n_layers, 1);
	KartennMvt__Tile__Layer *l = d->layers[0];
	assert_int_equal(l->version, 2);
	assert_int_equal(l->extent, 4096);
	assert_int_equal(l->n_features, 10);
	assert_int_equal(l->n_keys, 4);   /* the null one is not written */
	assert_int_equal(l->n_values, 4); /* "même", 1, -5, "1": 1 and "1" differ */
	assert_int_equal(l->features[3]->id, 4);
	assert_int_equal(l->features[0]->n_tags, 8);
	int seen_sint = 0, seen_uint = 0;
	for (size_t i = 0; i < l->n_values; i++) {
		seen_sint |= l->values[i]->has_sint_value && l->values[i]->sint_value == -5;
		seen_uint |= l->values[i]->has_uint_value && l->values[i]->uint_value == 1;
	}
	assert_true(seen_sint && seen_uint);
	kartenn_mvt__tile__free_unpacked(d, NULL);
	kt_free(out);
	kt_mvt_free(t);
	kt_tgeom_release(&g);
}

/* Over the cap, polygons and lines go before points, smaller first. */
static void test_tiles_size_cap_drop_order(void **state)
{
	(void)state;
	kt_mvt_t *t = kt_mvt_new(KT_TILE_EXTENT);
	kt_tgeom_t g = {0};
	assert_int_equal(kt_mvt_layer(t, "l"), 0);
	char wkt[256];
	for (int i = 1; i <= 40; i++) { /* squares of side 10*i, ids 1..40 */
		snprintf(wkt, sizeof wkt, "POLYGON((0 0, %d 0, %d %d, 0 %d, 0 0))", 10 * i, 10 * i,
		         10 * i, 10 * i);
		assert_int_equal(encode(wkt, &g), 1);
		assert_int_equal(kt_mvt_feature(t, (uint64_t)i, &g), 0);
		assert_int_equal(kt_mvt_prop_text(t, "k", wkt), 0); /* distinct values */
	}
	for (int i = 0; i < 10; i++) { /* points, ids 101..110 */
		snprintf(wkt, sizeof wkt, "POINT(%d 7)", i * 3);
		assert_int_equal(encode(wkt, &g), 1);
		assert_int_equal(kt_mvt_feature(t, 101 + (uint64_t)i, &g), 0);
	}
	unsigned char *out;
	size_t len, full, dropped;
	assert_int_equal(kt_mvt_serialize(t, 0, &out, &full, &dropped), 0);
	kt_free(out);
	size_t cap = full / 2;
	assert_int_equal(kt_mvt_serialize(t, cap, &out, &len, &dropped), 0);
	assert_true(len <= cap);
	assert_true(dropped > 0 && dropped < 40);
	KartennMvt__Tile *d = unpack(out, len);
	KartennMvt__Tile__Layer *l = d->layers[0];
	assert_int_equal(l->n_features, 50 - dropped);
	/* the kept polygons are the largest ones; every point is kept */
	int points = 0;
	for (size_t i = 0; i < l->n_features; i++) {
		if (l->features[i]->type == KARTENN_MVT__TILE__GEOM_TYPE__POINT)
			points++;
		else
			assert_true(l->features[i]->id > dropped);
	}
	assert_int_equal(points, 10);
	/* the dictionaries hold only what the kept features use */
	assert_int_equal(l->n_values, 40 - dropped);
	assert_int_equal(kt_mvt_validate(out, len, geos, NULL, NULL, 0), 0);
	kartenn_mvt__tile__free_unpacked(d, NULL);
	kt_free(out);
	/* a tiny cap: points go last, the later first */
	assert_int_equal(kt_mvt_serialize(t, 60, &out, &len, &dropped), 0);
	assert_true(len <= 60);
	d = unpack(out, len);
	for (size_t i = 0; i < d->layers[0]->n_features; i++)
		assert_true(d->layers[0]->features[i]->id >= 101 && d->layers[0]->features[i]->id < 106);
	kartenn_mvt__tile__free_unpacked(d, NULL);
	kt_free(out);
	kt_mvt_free(t);
	kt_tgeom_release(&g);
}

/* ---- validator on crafted streams ------------------------------------------ */

static long check_stream(int type, const uint32_t *cmd, size_t n)
{
	kt_tgeom_t g = {.type = type, .cmd = (uint32_t *)cmd, .n = n};
	return validate_one(&g);
}

static void test_tiles_validator_rules(void **state)
{
	(void)state;
	/* valid: clockwise square (screen) */
	const uint32_t sq[] = {9, 0, 0, 26, 20, 0, 0, 20, 19, 0, 15};
	assert_int_equal(check_stream(3, sq, 11), 0);
	/* counter-clockwise first ring */
	const uint32_t ccw[] = {9, 0, 0, 26, 0, 20, 20, 0, 0, 19, 15};
	assert_true(check_stream(3, ccw, 11) > 0);
	/* ring whose last point repeats the first */
	const uint32_t closed[] = {9, 0, 0, 34, 20, 0, 0, 20, 19, 0, 0, 19, 15};
	assert_true(check_stream(3, closed, 13) > 0);
	/* zero-length segment in a line */
	const uint32_t zl[] = {9, 4, 4, 18, 0, 0, 2, 2};
	assert_true(check_stream(2, zl, 8) > 0);
	/* ClosePath in a line */
	const uint32_t lc[] = {9, 4, 4, 10, 2, 2, 15};
	assert_true(check_stream(2, lc, 7) > 0);
	/* MoveTo count larger than its parameters */
	const uint32_t big[] = {(1u << 3 * 8) | 1, 2, 2};
	assert_true(check_stream(1, big, 3) > 0);
	/* bow-tie: passes the command rules, not OGC validity */
	const uint32_t bow[] = {9, 0, 0, 26, 40, 0, 0, 40, 29, 59, 15};
	assert_true(check_stream(3, bow, 11) > 0);
}

/* ---- cache ------------------------------------------------------------------- */

static kt_tile_entry_t *entry(const char *ts, int z, uint32_t x, uint32_t y, size_t size)
{
	unsigned char *raw = kt_malloc(size);
	for (size_t i = 0; i < size; i++)
		raw[i] = (unsigned char)(i * 7 + x * 13 + y * 31 + (size_t)z);
	kt_tile_entry_t *e;
	assert_int_equal(kt_tile_entry_new(ts, z, x, y, raw, size, &e), 0);
	return e;
}

static void test_tiles_cache_byte_bound(void **state)
{
	(void)state;
	kt_tilecache_t *c;
	size_t max = 2 * 1024 * 1024;
	assert_int_equal(kt_tilecache_new(max, &c), 0);
	for (uint32_t i = 0; i < 3000; i++) {
		kt_tile_entry_t *e = entry("a", 18, i, i / 7, 4000);
		kt_tilecache_put(c, e, kt_tilecache_gen(c));
		kt_tilecache_unref(e);
		assert_true(kt_tilecache_bytes(c) <= max);
	}
	assert_true(kt_tilecache_count(c) > 100); /* it holds tiles, not nothing */
	/* the most recent tile is still there, the first one is gone */
	kt_tile_entry_t *e = kt_tilecache_get(c, "a", 18, 2999, 2999 / 7);
	assert_non_null(e);
	kt_tilecache_unref(e);
	assert_null(kt_tilecache_get(c, "a", 18, 0, 0));
	/* a tile larger than a shard's budget is not cached */
	e = entry("a", 1, 0, 0, max);
	assert_int_equal(kt_tilecache_put(c, e, kt_tilecache_gen(c)), 0);
	kt_tilecache_unref(e);
	kt_tilecache_free(c);
}

/* Invalidation drops exactly the tiles whose buffered bounds meet the
 * bbox, at the zooms asked, of the tileset asked. */
static void test_tiles_cache_invalidation_is_exact(void **state)
{
	(void)state;
	kt_tilecache_t *c;
	assert_int_equal(kt_tilecache_new(64 * 1024 * 1024, &c), 0);
	const int zs[] = {10, 14, 16};
	uint32_t base[] = {500, 8000, 32000};
	for (size_t k = 0; k < 3; k++)
		for (uint32_t dx = 0; dx < 12; dx++)
			for (uint32_t dy = 0; dy < 12; dy++) {
				kt_tile_entry_t *e = entry("a", zs[k], base[k] + dx, base[k] + dy, 10);
				kt_tilecache_put(c, e, kt_tilecache_gen(c));
				kt_tilecache_unref(e);
				e = entry("b", zs[k], base[k] + dx, base[k] + dy, 10);
				kt_tilecache_put(c, e, kt_tilecache_gen(c));
				kt_tilecache_unref(e);
			}
	/* a small box inside tile 16/32005/32005, near its west edge */
	double t[4], b[4];
	kt_tile_bounds(16, 32005, 32005, 0, t);
	double w = (t[2] - t[0]) / 4096;
	b[0] = t[0] + 10 * w; b[2] = t[0] + 20 * w; b[1] = t[1] + 2000 * w; b[3] = t[1] + 2010 * w;
	size_t n = kt_tilecache_invalidate(c, "a", 0, 24, b, 64);
	size_t expect = 0;
	for (size_t k = 0; k < 3; k++)
		for (uint32_t dx = 0; dx < 12; dx++)
			for (uint32_t dy = 0; dy < 12; dy++) {
				double tb[4];
				uint32_t x = base[k] + dx, y = base[k] + dy;
				kt_tile_bounds(zs[k], x, y, 64, tb);
				int meets = tb[0] <= b[2] && tb[2] >= b[0] && tb[1] <= b[3] && tb[3] >= b[1];
				kt_tile_entry_t *e = kt_tilecache_get(c, "a", zs[k], x, y);
				if (meets == (e != NULL))
					fail_msg("a/%d/%u/%u: meets %d, cached %d", zs[k], x, y, meets, e != NULL);
				expect += meets;
				kt_tilecache_unref(e);
				e = kt_tilecache_get(c, "b", zs[k], x, y); /* other tileset: untouched */
				assert_non_null(e);
				kt_tilecache_unref(e);
			}
	assert_int_equal(n, expect);
	/* 16/32005/32005 and its west neighbour (buffer), 14/8001/8001, 10/500/500 */
	assert_int_equal(expect, 4);
	/* a bbox covering many tiles takes the scanning path, same rule */
	kt_tile_bounds(10, 500, 500, 0, b);
	n = kt_tilecache_invalidate(c, "b", 16, 16, b, 64);
	assert_int_equal(n, 144); /* every z16 tile of b lies inside 10/500/500 */
	kt_tile_entry_t *kept = kt_tilecache_get(c, "b", 14, 8000, 8000);
	assert_non_null(kept); /* other zooms untouched */
	kt_tilecache_unref(kept);
	kt_tilecache_free(c);
}

static void test_tiles_cache_generation_and_refs(void **state)
{
	(void)state;
	kt_tilecache_t *c;
	assert_int_equal(kt_tilecache_new(1024 * 1024, &c), 0);
	uint64_t gen = kt_tilecache_gen(c);
	kt_tile_entry_t *e = entry("a", 3, 1, 1, 100);
	kt_tilecache_gen_bump(c); /* an invalidation ran while e was built */
	assert_int_equal(kt_tilecache_put(c, e, gen), 0);
	assert_null(kt_tilecache_get(c, "a", 3, 1, 1));
	assert_int_equal(kt_tilecache_put(c, e, kt_tilecache_gen(c)), 1);
	kt_tile_entry_t *held = kt_tilecache_get(c, "a", 3, 1, 1);
	assert_ptr_equal(held, e);
	kt_tilecache_unref(e);
	double world[4] = {-KT_MERC_HALF, -KT_MERC_HALF, KT_MERC_HALF, KT_MERC_HALF};
	assert_int_equal(kt_tilecache_invalidate(c, "a", 0, 24, world, 0), 1);
	/* dropped from the cache, still readable by its holder */
	assert_int_equal(held->raw_len, 100);
	assert_non_null(held->gz);
	assert_string_equal(held->tileset, "a");
	assert_int_equal(strlen(held->etag), 18);
	kt_tilecache_unref(held);
	/* same bytes, same ETag; an empty tile has one too */
	kt_tile_entry_t *e1 = entry("x", 5, 2, 2, 50), *e2 = entry("y", 6, 3, 3, 50);
	kt_tile_entry_t *e3;
	assert_int_equal(kt_tile_entry_new("z", 1, 0, 0, NULL, 0, &e3), 0);
	assert_string_not_equal(e1->etag, e3->etag);
	kt_tilecache_unref(e1);
	kt_tilecache_unref(e2);
	kt_tilecache_unref(e3);
	kt_tilecache_free(c);
}

/* ---- edits reach the cache (tile_watch.c) --------------------------------- */

/* ISO WKB of POINT Z (x y 0). */
static void wkb_point_z(unsigned char out[29], double x, double y)
{
	uint32_t type = 1001;
	double z = 0;
	out[0] = 1;
	memcpy(out + 1, &type, 4);
	memcpy(out + 5, &x, 8);
	memcpy(out + 13, &y, 8);
	memcpy(out + 21, &z, 8);
}

/* The z18 tile of a point of the store CRS (EPSG:3948). */
static void tile18(kt_ctx_t *ctx, double x, double y, uint32_t *tx, uint32_t *ty)
{
	kt_transform_t *t;
	assert_int_equal(kt_ctx_transform(ctx, 3948, 3857, &t), 0);
	assert_int_equal(kt_transform_point(ctx, t, &x, &y, NULL), 0);
	double size = 2 * KT_MERC_HALF / (1 << 18);
	*tx = (uint32_t)((x + KT_MERC_HALF) / size);
	*ty = (uint32_t)((KT_MERC_HALF - y) / size);
}

static void cache_tile(kt_tiles_t *t, const char *ts, uint32_t x, uint32_t y)
{
	kt_tile_entry_t *e = entry(ts, 18, x, y, 20);
	assert_int_equal(kt_tilecache_put(t->cache, e, kt_tilecache_gen(t->cache)), 1);
	kt_tilecache_unref(e);
}

static int cached(kt_tiles_t *t, const char *ts, uint32_t x, uint32_t y)
{
	kt_tile_entry_t *e = kt_tilecache_get(t->cache, ts, 18, x, y);
	kt_tilecache_unref(e);
	return e != NULL;
}

/* Insert, move, delete a lamp support through the engine: each sync drops
 * exactly the z18 tiles of its old and new positions, in its tileset and
 * the composite; a tile elsewhere stays; a sync with no change changes
 * nothing. */
static void test_tiles_sync_drops_old_and_new_positions(void **state)
{
	(void)state;
	char *path = kt_test_path("tiles-sync.sqlite");
	assert_int_equal(kt_test_init_store(path), 0);
	kt_err_t err = {0};
	kt_store_t *store;
	kt_ctx_t *ctx;
	assert_int_equal(kt_store_open(path, &store, &err), 0);
	assert_int_equal(kt_ctx_open(store, &ctx, &err), 0);
	kt_tiles_opts_t o = {.cache_bytes = 4 << 20, .max_tile_bytes = 500 << 10};
	kt_tiles_t *t;
	assert_int_equal(kt_tiles_new(store, &o, &t), 0);
	assert_int_equal(kt_tiles_sync(t, ctx), 0);
	double ax = 1225000, ay = 7193000, bx = 1225400, by = 7193000, cx = 1227000, cy = 7193000;
	uint32_t a[2], b[2], c[2];
	tile18(ctx, ax, ay, &a[0], &a[1]);
	tile18(ctx, bx, by, &b[0], &b[1]);
	tile18(ctx, cx, cy, &c[0], &c[1]);
	assert_true(a[0] + 2 < b[0] && b[0] + 2 < c[0]); /* far apart at z18 */
	const char *sets[] = {"eclairage_support", KT_TILE_COMPOSITE};
	for (int i = 0; i < 2; i++) {
		cache_tile(t, sets[i], a[0], a[1]);
		cache_tile(t, sets[i], b[0], b[1]);
		cache_tile(t, sets[i], c[0], c[1]);
	}
	uint64_t gen = kt_tilecache_gen(t->cache);
	assert_int_equal(kt_tiles_sync(t, ctx), 0); /* nothing happened */
	assert_int_equal(kt_tilecache_gen(t->cache), gen);
	assert_int_equal(kt_tilecache_count(t->cache), 6);

	const kt_layer_t *l = kt_store_layer(store, "eclairage_support");
	kt_feature_t *f = kt_feature_new(l);
	unsigned char wkb[29];
	wkb_point_z(wkb, ax, ay);
	assert_int_equal(kt_feature_set_wkb(f, wkb, 29, 3948), 0);
	kt_actor_t who = {"test", NULL};
	assert_int_equal(kt_feature_insert(ctx, "eclairage_support", f, &who), 0);
	assert_int_equal(kt_tiles_sync(t, ctx), 0);
	for (int i = 0; i < 2; i++) {
		assert_false(cached(t, sets[i], a[0], a[1])); /* the new position */
		assert_true(cached(t, sets[i], b[0], b[1]));
		assert_true(cached(t, sets[i], c[0], c[1]));
	}
	for (int i = 0; i < 2; i++)
		cache_tile(t, sets[i], a[0], a[1]);

	wkb_point_z(wkb, bx, by); /* move A -> B */
	assert_int_equal(kt_feature_set_wkb(f, wkb, 29, 3948), 0);
	assert_int_equal(kt_feature_update(ctx, "eclairage_support", f, &who), 0);
	assert_int_equal(kt_tiles_sync(t, ctx), 0);
	for (int i = 0; i < 2; i++) {
		assert_false(cached(t, sets[i], a[0], a[1])); /* old */
		assert_false(cached(t, sets[i], b[0], b[1])); /* new */
		assert_true(cached(t, sets[i], c[0], c[1]));  /* elsewhere */
		cache_tile(t, sets[i], a[0], a[1]);
		cache_tile(t, sets[i], b[0], b[1]);
	}

	assert_int_equal(kt_feature_delete(ctx, "eclairage_support", f->uid, f->version, &who), 0);
	assert_int_equal(kt_tiles_sync(t, ctx), 0);
	for (int i = 0; i < 2; i++) {
		assert_true(cached(t, sets[i], a[0], a[1]));
		assert_false(cached(t, sets[i], b[0], b[1])); /* where it was */
		assert_true(cached(t, sets[i], c[0], c[1]));
	}
	kt_feature_free(f);
	kt_tiles_free(t);
	kt_ctx_close(ctx);
	kt_store_close(store);
	free(path);
}

struct lean_seen {
	int n, published;
	int64_t fids[4];
};

static int lean_cb(const kt_feature_t *f, void *data)
{
	struct lean_seen *seen = data;
	assert_null(f->uid);            /* lean: not read */
	assert_null(f->source_id);
	assert_non_null(f->wkb);
	assert_int_equal(f->epsg, 3948); /* the store CRS, as asked */
	int etat = 6, contributeur = 7, nom = 0;
	assert_false(f->values[nom].is_null);
	assert_string_equal(f->values[nom].s, "Place");
	assert_false(f->values[etat].is_null);  /* public, and the publication rule's */
	assert_true(f->values[contributeur].is_null); /* private: never read */
	seen->published += !strcmp(f->values[etat].s, "published");
	seen->fids[seen->n++] = f->fid;
	return 0;
}

/* A lean, index-only select reads fid, geometry, the public attributes
 * and the publication rule's, nothing private, and finds what the index
 * finds in the bbox. */
static void test_tiles_lean_select(void **state)
{
	(void)state;
	char *path = kt_test_path("tiles-lean.sqlite");
	assert_int_equal(kt_test_init_store(path), 0);
	kt_err_t err = {0};
	kt_store_t *store;
	kt_ctx_t *ctx;
	assert_int_equal(kt_store_open(path, &store, &err), 0);
	assert_int_equal(kt_ctx_open(store, &ctx, &err), 0);
	const kt_layer_t *l = kt_store_layer(store, "collab_toilettes");
	assert_int_equal(kt_layer_attr_index(l, "etat"), 6);
	assert_int_equal(kt_layer_attr_index(l, "contributeur"), 7);
	kt_actor_t who = {"test", NULL};
	const double xs[] = {1225000, 1225100, 1240000};
	const char *etats[] = {"published", "proposed", "published"};
	int64_t fids[3];
	for (int i = 0; i < 3; i++) {
		kt_feature_t *f = kt_feature_new(l);
		unsigned char wkb[21];
		uint32_t type = 1;
		double y = 7193000;
		wkb[0] = 1;
		memcpy(wkb + 1, &type, 4);
		memcpy(wkb + 5, &xs[i], 8);
		memcpy(wkb + 13, &y, 8);
		assert_int_equal(kt_feature_set_wkb(f, wkb, sizeof wkb, 3948), 0);
		assert_int_equal(kt_feature_set_text(f, 0, "Place"), 0);
		assert_int_equal(kt_feature_set_text(f, 6, etats[i]), 0);
		assert_int_equal(kt_feature_set_text(f, 7, "Personne Secrète"), 0);
		assert_int_equal(kt_feature_insert(ctx, "collab_toilettes", f, &who), 0);
		fids[i] = f->fid;
		kt_feature_free(f);
	}
	/* twice: the second run uses the statement cached on the ctx; then
	 * twice in any order (the R*Tree walk of WMS drawing): the same rows */
	for (int run = 0; run < 4; run++) {
		struct lean_seen seen = {0};
		kt_select_t s = {.q = {.layer = "collab_toilettes", .has_bbox = 1,
		                       .bbox = {1224900, 7192900, 1225200, 7193100}},
		                 .bbox_index_only = 1, .lean = 1, .any_order = run >= 2};
		assert_int_equal(kt_features_select(ctx, &s, lean_cb, &seen), 0);
		assert_int_equal(seen.n, 2);
		assert_int_equal(seen.published, 1);
		if (run < 2) /* fid order */
			assert_true(seen.fids[0] == fids[0] && seen.fids[1] == fids[1]);
		else
			assert_true((seen.fids[0] == fids[0] && seen.fids[1] == fids[1]) ||
			            (seen.fids[0] == fids[1] && seen.fids[1] == fids[0]));
	}
	kt_ctx_close(ctx);
	kt_store_close(store);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tiles_bounds),
		cmocka_unit_test(test_tiles_range_is_exact),
		cmocka_unit_test(test_tiles_parse_coord),
		cmocka_unit_test(test_tiles_polygon_winding_and_holes),
		cmocka_unit_test(test_tiles_clip_to_buffer),
		cmocka_unit_test(test_tiles_quantise_drops_collapse_and_repeats),
		cmocka_unit_test(test_tiles_snapping_keeps_validity),
		cmocka_unit_test(test_tiles_simplify_per_zoom),
		cmocka_unit_test(test_tiles_clip_concave_and_holes),
		cmocka_unit_test(test_tiles_wkb_bounds),
		cmocka_unit_test(test_tiles_grid_interpolation),
		cmocka_unit_test(test_tiles_lean_select),
		cmocka_unit_test(test_tiles_dictionaries),
		cmocka_unit_test(test_tiles_size_cap_drop_order),
		cmocka_unit_test(test_tiles_validator_rules),
		cmocka_unit_test(test_tiles_cache_byte_bound),
		cmocka_unit_test(test_tiles_cache_invalidation_is_exact),
		cmocka_unit_test(test_tiles_cache_generation_and_refs),
		cmocka_unit_test(test_tiles_sync_drops_old_and_new_positions),
	};
	return cmocka_run_group_tests_name("tiles", tests, setup, teardown);
}
