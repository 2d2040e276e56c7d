/*
 * test_geom.c — making geometries fit their layer (engine/geom.c).
 *
 * Inputs are written as WKT and turned into WKB by GEOS's own reader and
 * writer, or built byte by byte where the exact bytes matter (exactness,
 * byte order, dimensions, hostile input). Expected figures are worked out
 * by hand in the comments (areas of triangles, counts of parts).
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
#include "kt_test.h"

static kt_store_t *store;
static kt_ctx_t *ctx;
static char *store_path;
static GEOSContextHandle_t gh; /* the ctx's, for building and reading back */

static int group_setup(void **state)
{
	(void)state;
	if (kt_test_store_open("geom.sqlite", &store_path, &store, &ctx))
		return -1;
	gh = kt_ctx_geos(ctx);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	kt_test_store_close(store_path, store, ctx);
	return 0;
}

/* WKT -> ISO WKB (malloc'd), dims 2 or 3. */
static unsigned char *wkb_of(const char *wkt, int dims, size_t *len)
{
	GEOSWKTReader *r = GEOSWKTReader_create_r(gh);
	GEOSGeometry *g = GEOSWKTReader_read_r(gh, r, wkt);
	GEOSWKTReader_destroy_r(gh, r);
	if (!g)
		fail_msg("bad test WKT: %s", wkt);
	GEOSWKBWriter *w = GEOSWKBWriter_create_r(gh);
	GEOSWKBWriter_setFlavor_r(gh, w, GEOS_WKB_ISO);
	GEOSWKBWriter_setOutputDimension_r(gh, w, dims);
	unsigned char *b = GEOSWKBWriter_write_r(gh, w, g, len);
	GEOSWKBWriter_destroy_r(gh, w);
	GEOSGeom_destroy_r(gh, g);
	unsigned char *copy = malloc(*len);
	memcpy(copy, b, *len);
	GEOSFree_r(gh, b);
	return copy;
}

static GEOSGeometry *geom_of(const unsigned char *wkb, size_t len)
{
	GEOSWKBReader *r = GEOSWKBReader_create_r(gh);
	GEOSGeometry *g = GEOSWKBReader_read_r(gh, r, wkb, len);
	GEOSWKBReader_destroy_r(gh, r);
	assert_non_null(g);
	return g;
}

struct result {
	int rc;
	unsigned char *wkb;
	size_t len;
	kt_geom_fix_t fix;
	char reason[256];
};

static void conform(const unsigned char *in, size_t len, kt_geom_type_t want, int want_z,
                    struct result *r)
{
	memset(r, 0, sizeof *r);
	r->fix = (kt_geom_fix_t)-1;
	r->rc = kt_geom_conform(ctx, in, len, want, want_z, &r->wkb, &r->len, &r->fix, r->reason,
	                        sizeof r->reason);
	if (r->rc) {
		assert_null(r->wkb);
	} else {
		assert_non_null(r->wkb);
		GEOSGeometry *g = geom_of(r->wkb, r->len);
		assert_int_equal(GEOSisValid_r(gh, g), 1); /* every output is valid */
		GEOSGeom_destroy_r(gh, g);
	}
}

static void conform_wkt(const char *wkt, kt_geom_type_t want, int want_z, struct result *r)
{
	size_t len;
	unsigned char *in = wkb_of(wkt, 3, &len);
	conform(in, len, want, want_z, r);
	free(in);
}

static uint32_t le32(const unsigned char *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static double le_double(const unsigned char *p)
{
	uint64_t u = 0;
	for (int i = 0; i < 8; i++)
		u |= (uint64_t)p[i] << (8 * i);
	double d;
	memcpy(&d, &u, 8);
	return d;
}

static void put_le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put_double(unsigned char *p, double d, int xdr)
{
	uint64_t u;
	memcpy(&u, &d, 8);
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(u >> (xdr ? 56 - 8 * i : 8 * i));
}

/* ---- tests ----------------------------------------------------------- */

static void test_geom_valid_kept_exactly(void **state)
{
	(void)state;
	/* ISO NDR XY polygon, by hand, with surveyed (unrounded) figures:
	 * the output must be the very same bytes. */
	const double c[5][2] = { { 1229727.229946123, 7193825.850464987 },
		{ 1229737.1000000001, 7193825.850464987 }, { 1229737.1000000001, 7193835.333333333 },
		{ 1229727.229946123, 7193835.333333333 }, { 1229727.229946123, 7193825.850464987 } };
	unsigned char in[9 + 4 + 5 * 16];
	in[0] = 1;
	put_le32(in + 1, 3);
	put_le32(in + 5, 1);
	put_le32(in + 9, 5);
	for (int i = 0; i < 5; i++) {
		put_double(in + 13 + 16 * i, c[i][0], 0);
		put_double(in + 21 + 16 * i, c[i][1], 0);
	}
	struct result r;
	conform(in, sizeof in, KT_GEOM_POLYGON, 0, &r);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.fix, KT_GEOM_VALID);
	assert_string_equal(r.reason, "");
	assert_int_equal(r.len, sizeof in);
	assert_memory_equal(r.wkb, in, sizeof in);
	kt_free(r.wkb);

	/* the same in XDR: same coordinates, written NDR */
	unsigned char x[sizeof in];
	x[0] = 0;
	x[1] = x[2] = x[3] = 0, x[4] = 3;
	x[5] = x[6] = x[7] = 0, x[8] = 1;
	x[9] = x[10] = x[11] = 0, x[12] = 5;
	for (int i = 0; i < 5; i++) {
		put_double(x + 13 + 16 * i, c[i][0], 1);
		put_double(x + 21 + 16 * i, c[i][1], 1);
	}
	conform(x, sizeof x, KT_GEOM_POLYGON, 0, &r);
	assert_int_equal(r.rc, 0);
	assert_memory_equal(r.wkb, in, sizeof in);
	kt_free(r.wkb);

	/* promoted to a one-part MultiPolygon, coordinates still exact */
	conform(in, sizeof in, KT_GEOM_MULTIPOLYGON, 0, &r);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.fix, KT_GEOM_PROMOTED);
	assert_int_equal(le32(r.wkb + 1), 6);
	assert_int_equal(le32(r.wkb + 5), 1);
	assert_memory_equal(r.wkb + 9, in, sizeof in);
	kt_free(r.wkb);
}

static void test_geom_bowtie(void **state)
{
	(void)state;
	/* A bow-tie: two triangles touching at (5 5), each of area
	 * 10 * 5 / 2 = 25. */
	const char *bowtie = "POLYGON((0 0, 10 10, 10 0, 0 10, 0 0))";
	struct result r;
	conform_wkt(bowtie, KT_GEOM_MULTIPOLYGON, 0, &r);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.fix, KT_GEOM_REPAIRED);
	assert_non_null(strstr(r.reason, "Self-intersection"));
	GEOSGeometry *g = geom_of(r.wkb, r.len);
	assert_int_equal(GEOSGeomTypeId_r(gh, g), GEOS_MULTIPOLYGON);
	assert_int_equal(GEOSGetNumGeometries_r(gh, g), 2);
	double area = 0, a0 = 0;
	GEOSArea_r(gh, g, &area);
	GEOSArea_r(gh, GEOSGetGeometryN_r(gh, g, 0), &a0);
	assert_true(fabs(area - 50.0) < 1e-9);
	assert_true(fabs(a0 - 25.0) < 1e-9);
	GEOSGeom_destroy_r(gh, g);
	kt_free(r.wkb);

	/* a POLYGON layer cannot hold the two parts */
	conform_wkt(bowtie, KT_GEOM_POLYGON, 0, &r);
	assert_int_equal(r.rc, KT_EGEOM);
	assert_non_null(strstr(kt_errmsg(ctx), "2 parts"));
	assert_non_null(strstr(kt_errmsg(ctx), "Self-intersection"));
	/* a POINT layer refuses it for its type, before any repair */
	conform_wkt(bowtie, KT_GEOM_POINT, 0, &r);
	assert_int_equal(r.rc, KT_EGEOM);
	assert_non_null(strstr(kt_errmsg(ctx), "Polygon does not fit a POINT layer"));
	assert_string_equal(r.reason, "");
}

static void test_geom_repaired_same_type(void **state)
{
	(void)state;
	/* A 10 x 10 square with a zero-width spike up to (5 15): invalid; the
	 * structure repair drops the spike, area 100, still one Polygon. */
	struct result r;
	conform_wkt("POLYGON((0 0, 10 0, 10 10, 5 10, 5 15, 5 10, 0 10, 0 0))", KT_GEOM_POLYGON, 0,
	            &r);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.fix, KT_GEOM_REPAIRED);
	assert_true(strlen(r.reason) > 0);
	GEOSGeometry *g = geom_of(r.wkb, r.len);
	assert_int_equal(GEOSGeomTypeId_r(gh, g), GEOS_POLYGON);
	double area = 0;
	GEOSArea_r(gh, g, &area);
	assert_true(fabs(area - 100.0) < 1e-9);
	double miny, maxy;
	GEOSGeom_getYMin_r(gh, g, &miny);
	GEOSGeom_getYMax_r(gh, g, &maxy);
	assert_true(maxy == 10.0); /* the spike is gone */
	GEOSGeom_destroy_r(gh, g);
	kt_free(r.wkb);
}

static void test_geom_types(void **state)
{
	(void)state;
	struct {
		const char *wkt;
		kt_geom_type_t want;
		int rc;
		kt_geom_fix_t fix;
		int out_type; /* GEOS id */
		const char *msg;
	} cases[] = {
		{ "POINT(1 2)", KT_GEOM_POINT, 0, KT_GEOM_VALID, GEOS_POINT, NULL },
		{ "MULTIPOINT((1 2))", KT_GEOM_POINT, 0, KT_GEOM_PROMOTED, GEOS_POINT, NULL },
		{ "MULTIPOINT((1 2),(3 4))", KT_GEOM_POINT, KT_EGEOM, 0, 0, "of 2 parts" },
		{ "POINT(1 2)", KT_GEOM_MULTIPOINT, 0, KT_GEOM_PROMOTED, GEOS_MULTIPOINT, NULL },
		{ "MULTIPOINT((1 2),(3 4))", KT_GEOM_MULTIPOINT, 0, KT_GEOM_VALID, GEOS_MULTIPOINT, NULL },
		{ "LINESTRING(0 0, 1 1)", KT_GEOM_POINT, KT_EGEOM, 0, 0, "LineString does not fit a POINT" },
		{ "LINESTRING(0 0, 1 1)", KT_GEOM_LINESTRING, 0, KT_GEOM_VALID, GEOS_LINESTRING, NULL },
		{ "MULTILINESTRING((0 0, 1 1))", KT_GEOM_LINESTRING, 0, KT_GEOM_PROMOTED, GEOS_LINESTRING, NULL },
		{ "MULTILINESTRING((0 0, 1 1),(2 2, 3 3))", KT_GEOM_LINESTRING, KT_EGEOM, 0, 0, "of 2 parts" },
		{ "LINESTRING(0 0, 1 1)", KT_GEOM_MULTILINESTRING, 0, KT_GEOM_PROMOTED, GEOS_MULTILINESTRING, NULL },
		{ "LINESTRING(0 0, 1 1)", KT_GEOM_POLYGON, KT_EGEOM, 0, 0, "LineString does not fit a POLYGON" },
		{ "POLYGON((0 0, 1 0, 1 1, 0 0))", KT_GEOM_MULTILINESTRING, KT_EGEOM, 0, 0, "Polygon does not fit" },
		{ "MULTIPOLYGON(((0 0, 1 0, 1 1, 0 0)))", KT_GEOM_POLYGON, 0, KT_GEOM_PROMOTED, GEOS_POLYGON, NULL },
		{ "GEOMETRYCOLLECTION(POINT(1 1))", KT_GEOM_POINT, KT_EGEOM, 0, 0, "GeometryCollection (of points)" },
		{ "GEOMETRYCOLLECTION(POLYGON((0 0, 1 0, 1 1, 0 0)), LINESTRING(0 0, 5 5))", KT_GEOM_MULTIPOLYGON,
		  KT_EGEOM, 0, 0, "GeometryCollection (of polygons and lines)" },
		/* empty, whole or in part */
		{ "POINT EMPTY", KT_GEOM_POINT, KT_EGEOM, 0, 0, "empty" },
		{ "POLYGON EMPTY", KT_GEOM_POLYGON, KT_EGEOM, 0, 0, "empty" },
		{ "MULTIPOLYGON EMPTY", KT_GEOM_MULTIPOLYGON, KT_EGEOM, 0, 0, "empty" },
		{ "GEOMETRYCOLLECTION EMPTY", KT_GEOM_POINT, KT_EGEOM, 0, 0, "empty" },
		{ "MULTILINESTRING((0 0, 1 1), EMPTY)", KT_GEOM_MULTILINESTRING, KT_EGEOM, 0, 0, "part 2 is empty" },
		/* invalid lines: repaired, or refused when nothing is left */
		{ "LINESTRING(5 5, 5 5)", KT_GEOM_LINESTRING, KT_EGEOM, 0, 0, "collapses" },
		{ "MULTILINESTRING((0 0, 1 1),(2 2, 2 2))", KT_GEOM_MULTILINESTRING, 0, KT_GEOM_REPAIRED,
		  GEOS_MULTILINESTRING, NULL },
		/* overlapping parts of a multipolygon merge into one polygon */
		{ "MULTIPOLYGON(((0 0, 2 0, 2 2, 0 2, 0 0)),((1 1, 3 1, 3 3, 1 3, 1 1)))", KT_GEOM_MULTIPOLYGON,
		  0, KT_GEOM_REPAIRED, GEOS_MULTIPOLYGON, NULL },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct result r;
		conform_wkt(cases[i].wkt, cases[i].want, 0, &r);
		if (r.rc != cases[i].rc)
			fail_msg("%s as %s: rc %d, expected %d (%s)", cases[i].wkt,
			         kt_geom_type_name(cases[i].want), r.rc, cases[i].rc, kt_errmsg(ctx));
		if (r.rc) {
			if (cases[i].msg && !strstr(kt_errmsg(ctx), cases[i].msg))
				fail_msg("%s: message \"%s\" lacks \"%s\"", cases[i].wkt, kt_errmsg(ctx),
				         cases[i].msg);
			continue;
		}
		assert_int_equal(r.fix, cases[i].fix);
		GEOSGeometry *g = geom_of(r.wkb, r.len);
		if (GEOSGeomTypeId_r(gh, g) != cases[i].out_type)
			fail_msg("%s: type %d, expected %d", cases[i].wkt, GEOSGeomTypeId_r(gh, g),
			         cases[i].out_type);
		GEOSGeom_destroy_r(gh, g);
		kt_free(r.wkb);
	}
	/* a layer without geometry takes none */
	size_t len;
	unsigned char *p = wkb_of("POINT(1 2)", 2, &len);
	struct result r;
	conform(p, len, KT_GEOM_NONE, 0, &r);
	assert_int_equal(r.rc, KT_EGEOM);
	conform(p, len, (kt_geom_type_t)42, 0, &r);
	assert_int_equal(r.rc, KT_EINVAL);
	free(p);
}

static void test_geom_dimensions(void **state)
{
	(void)state;
	struct result r;
	/* 2D into a Z layer: ISO "Point Z" (1001) with Z = 0 */
	size_t len;
	unsigned char *p = wkb_of("POINT(1.5 2.5)", 2, &len);
	assert_int_equal(len, 21);
	conform(p, len, KT_GEOM_POINT, 1, &r);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.len, 29);
	assert_int_equal(r.wkb[0], 1);
	assert_int_equal(le32(r.wkb + 1), 1001);
	assert_true(le_double(r.wkb + 5) == 1.5 && le_double(r.wkb + 13) == 2.5);
	assert_true(le_double(r.wkb + 21) == 0.0);
	kt_free(r.wkb);
	free(p);
	/* 3D kept in a Z layer, promoted too: MultiPoint Z (1004) */
	p = wkb_of("POINT Z (1.5 2.5 3.25)", 3, &len);
	assert_int_equal(len, 29);
	conform(p, len, KT_GEOM_MULTIPOINT, 1, &r);
	assert_int_equal(r.rc, 0);
	assert_int_equal(le32(r.wkb + 1), 1004);
	assert_int_equal(le32(r.wkb + 9 + 1), 1001);
	assert_true(le_double(r.wkb + 9 + 21) == 3.25);
	kt_free(r.wkb);
	/* 3D into a 2D layer: Z dropped */
	conform(p, len, KT_GEOM_POINT, 0, &r);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.len, 21);
	assert_int_equal(le32(r.wkb + 1), 1);
	assert_true(le_double(r.wkb + 5) == 1.5 && le_double(r.wkb + 13) == 2.5);
	kt_free(r.wkb);
	free(p);
	/* an unknown (NaN) Z into a Z layer: 0 as well */
	unsigned char nz[9 + 3 * 24];
	const double zs[3] = { 1.0, NAN, 3.0 };
	nz[0] = 1;
	put_le32(nz + 1, 1002);
	put_le32(nz + 5, 3);
	for (int i = 0; i < 3; i++) {
		put_double(nz + 9 + 24 * i, i, 0);
		put_double(nz + 17 + 24 * i, i % 2, 0);
		put_double(nz + 25 + 24 * i, zs[i], 0);
	}
	conform(nz, sizeof nz, KT_GEOM_LINESTRING, 1, &r);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.len, sizeof nz);
	assert_true(le_double(r.wkb + 25) == 1.0);
	assert_true(le_double(r.wkb + 25 + 24) == 0.0);
	assert_true(le_double(r.wkb + 25 + 48) == 3.0);
	kt_free(r.wkb);
	/* a 2D line into a Z layer: every vertex gets Z = 0 */
	p = wkb_of("LINESTRING(0 0, 1 1, 2 0)", 2, &len);
	conform(p, len, KT_GEOM_MULTILINESTRING, 1, &r);
	assert_int_equal(r.rc, 0);
	assert_int_equal(le32(r.wkb + 1), 1005);
	assert_int_equal(le32(r.wkb + 9 + 1), 1002);
	assert_int_equal(le32(r.wkb + 9 + 5), 3);
	for (int i = 0; i < 3; i++)
		assert_true(le_double(r.wkb + 9 + 9 + 24 * i + 16) == 0.0);
	kt_free(r.wkb);
	free(p);
}

static void test_geom_hostile(void **state)
{
	(void)state;
	struct result r;
	size_t len;
	unsigned char *p = wkb_of("MULTIPOLYGON(((0 0, 10 0, 10 10, 0 0)),((20 20, 30 20, 30 30, 20 20)))",
	                          3, &len);
	/* every truncation, in a buffer of exactly that size */
	for (size_t n = 0; n < len; n++) {
		unsigned char *b = malloc(n ? n : 1);
		memcpy(b, p, n);
		conform(b, n, KT_GEOM_MULTIPOLYGON, 0, &r);
		if (r.rc != KT_EINVAL)
			fail_msg("truncated to %zu of %zu: rc %d", n, len, r.rc);
		free(b);
	}
	/* a huge ring count: refused without GEOS allocating for it */
	unsigned char huge[9 + 4 + 16];
	huge[0] = 1;
	put_le32(huge + 1, 3);
	put_le32(huge + 5, 1);
	put_le32(huge + 9, 0xfffffff0u);
	put_double(huge + 13, 1.0, 0);
	put_double(huge + 21, 2.0, 0);
	conform(huge, sizeof huge, KT_GEOM_POLYGON, 0, &r);
	assert_int_equal(r.rc, KT_EINVAL);
	/* bytes after the geometry, and nesting deep enough to exhaust a
	 * recursive reader's stack: refused before GEOS reads them */
	unsigned char *longer = malloc(len + 1);
	memcpy(longer, p, len);
	longer[len] = 0;
	conform(longer, len + 1, KT_GEOM_MULTIPOLYGON, 0, &r);
	assert_int_equal(r.rc, KT_EINVAL);
	free(longer);
	size_t depth = 200000, dlen = depth * 9 + 21;
	unsigned char *deep = malloc(dlen);
	for (size_t i = 0; i < depth; i++) {
		deep[9 * i] = 1;
		put_le32(deep + 9 * i + 1, 7);
		put_le32(deep + 9 * i + 5, 1);
	}
	deep[9 * depth] = 1;
	put_le32(deep + 9 * depth + 1, 1);
	put_double(deep + 9 * depth + 5, 1.0, 0);
	put_double(deep + 9 * depth + 13, 2.0, 0);
	conform(deep, dlen, KT_GEOM_POINT, 0, &r);
	assert_int_equal(r.rc, KT_EINVAL);
	free(deep);
	/* a curve (CircularString): refused, whether GEOS reads curves or not */
	unsigned char arc[9 + 3 * 16];
	arc[0] = 1;
	put_le32(arc + 1, 8);
	put_le32(arc + 5, 3);
	for (int i = 0; i < 3; i++) {
		put_double(arc + 9 + 16 * i, i, 0);
		put_double(arc + 17 + 16 * i, i == 1, 0);
	}
	conform(arc, sizeof arc, KT_GEOM_LINESTRING, 0, &r);
	assert_true(r.rc == KT_EINVAL || r.rc == KT_EGEOM);
	/* non-finite coordinates are not valid, and make-valid cannot mend them */
	unsigned char inf[21];
	inf[0] = 1;
	put_le32(inf + 1, 1);
	put_double(inf + 5, INFINITY, 0);
	put_double(inf + 13, 2.0, 0);
	conform(inf, sizeof inf, KT_GEOM_POINT, 0, &r);
	assert_int_equal(r.rc, KT_EGEOM);
	assert_int_equal(kt_geom_conform(ctx, NULL, 0, KT_GEOM_POINT, 0, &r.wkb, &r.len, NULL, NULL, 0),
	                 KT_EINVAL);
	free(p);
}

static void test_geom_alloc_failures(void **state)
{
	(void)state;
	size_t len;
	unsigned char *p = wkb_of("POINT(1 2)", 2, &len);
	int failures = 0;
	for (long n = 0; n < 10; n++) {
		unsigned char *out = NULL;
		size_t out_len;
		kt_alloc_fail_after(n);
		int rc = kt_geom_conform(ctx, p, len, KT_GEOM_MULTIPOINT, 1, &out, &out_len, NULL,
		                         NULL, 0);
		kt_alloc_fail_after(-1);
		if (rc == 0) {
			kt_free(out);
			break;
		}
		assert_int_equal(rc, KT_ENOMEM);
		assert_null(out);
		failures++;
	}
	assert_true(failures >= 1);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_geom_valid_kept_exactly),
		cmocka_unit_test(test_geom_bowtie),
		cmocka_unit_test(test_geom_repaired_same_type),
		cmocka_unit_test(test_geom_types),
		cmocka_unit_test(test_geom_dimensions),
		cmocka_unit_test(test_geom_hostile),
		cmocka_unit_test(test_geom_alloc_failures),
	};
	return cmocka_run_group_tests_name("geom", tests, group_setup, group_teardown);
}
