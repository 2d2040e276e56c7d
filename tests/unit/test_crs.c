/*
 * test_crs.c — CRS transformations (engine/crs.c, engine/wkb.c).
 *
 * Figures are checked against references that do not go through the
 * code under test: the definition of CC48 (its origin 3°E 48°N maps to
 * 1 700 000 / 7 200 000), PROJ's own command-line tools (cs2cs for
 * coordinates, projinfo for the accuracy and the list of candidate
 * operations), and geometry built by hand in every WKB flavour.
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

#include "kt_crs_int.h"
#include "kt_engine.h"
#include "kt_test.h"

static kt_store_t *store;
static kt_ctx_t *ctx;
static char *store_path;

static int group_setup(void **state)
{
	(void)state;
	if (kt_test_store_open("crs.sqlite", &store_path, &store, &ctx))
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	kt_test_store_close(store_path, store, ctx);
	return 0;
}

/* ---- independent references ----------------------------------------- */

/* cs2cs with authority axis order (lat/lon for EPSG:4326). */
static void cs2cs(const char *src, const char *dst, double a, double b, double *oa, double *ob)
{
	char *out = NULL;
	int st = kt_test_run(&out, "echo '%.10f %.10f' | cs2cs -f %%.10f %s %s", a, b, src, dst);
	assert_int_equal(st, 0);
	assert_int_equal(sscanf(out, "%lf %lf", oa, ob), 2);
	free(out);
}

struct pi_summary {
	int n_ops;
	int n_ballpark;
	double first_accuracy; /* NAN when unknown */
};

/* projinfo --summary: candidate operations and the first one's accuracy. */
static void projinfo(const char *src, const char *dst, struct pi_summary *s)
{
	char *out = NULL;
	int st = kt_test_run(&out, "projinfo -s %s -t %s --spatial-test intersects --summary", src,
	                     dst);
	assert_int_equal(st, 0);
	memset(s, 0, sizeof *s);
	s->first_accuracy = NAN;
	char *line = strtok(out, "\n");
	assert_non_null(line);
	assert_int_equal(sscanf(line, "Candidate operations found: %d", &s->n_ops), 1);
	int first = 1;
	while ((line = strtok(NULL, "\n"))) {
		if (strstr(line, "has ballpark transformation"))
			s->n_ballpark++;
		if (first) {
			char *m = strstr(line, " m, ");
			if (m) {
				char *p = m;
				while (p > line && p[-1] != ',')
					p--;
				s->first_accuracy = strtod(p, NULL);
			}
			first = 0;
		}
	}
	free(out);
}

/* ---- points ---------------------------------------------------------- */

static kt_transform_t *must_new(const char *src, const char *dst, int allow)
{
	kt_transform_t *t = NULL;
	int rc = kt_transform_new(ctx, src, dst, allow, &t);
	if (rc)
		fail_msg("%s -> %s: %s", src, dst, kt_errmsg(ctx));
	return t;
}

static void test_crs_cc48_origin(void **state)
{
	(void)state;
	/* CC48 (EPSG:3948): lat_0 = 48, lon_0 = 3, x_0 = 1 700 000,
	 * y_0 = 7 200 000, and WGS 84 -> RGF93 is a null shift. */
	kt_transform_t *t = must_new("EPSG:4326", "EPSG:3948", 0);
	double x = 3.0, y = 48.0, z = 0.0;
	assert_int_equal(kt_transform_point(ctx, t, &x, &y, &z), 0);
	assert_true(fabs(x - 1700000.0) < 1e-6);
	assert_true(fabs(y - 7200000.0) < 1e-6);
	kt_transform_free(t);
}

static void test_crs_point_matches_cs2cs(void **state)
{
	(void)state;
	/* Lanester town hall, lon/lat in, easting/northing out. */
	kt_transform_t *t = must_new("EPSG:4326", "EPSG:3948", 0);
	double x = -3.3466, y = 47.7627, ex, ey;
	assert_int_equal(kt_transform_point(ctx, t, &x, &y, NULL), 0);
	cs2cs("EPSG:4326", "EPSG:3948", 47.7627, -3.3466, &ex, &ey); /* lat lon */
	assert_true(fabs(x - ex) < 1e-6);
	assert_true(fabs(y - ey) < 1e-6);
	kt_transform_free(t);

	t = must_new("EPSG:2154", "EPSG:3948", 0);
	x = 229512.25;
	y = 6759873.5;
	assert_int_equal(kt_transform_point(ctx, t, &x, &y, NULL), 0);
	cs2cs("EPSG:2154", "EPSG:3948", 229512.25, 6759873.5, &ex, &ey);
	assert_true(fabs(x - ex) < 1e-6);
	assert_true(fabs(y - ey) < 1e-6);
	kt_transform_free(t);
}

static void test_crs_lambert93_cc48_round_trip(void **state)
{
	(void)state;
	kt_transform_t *fwd = must_new("EPSG:2154", "EPSG:3948", 0);
	kt_transform_t *inv = must_new("EPSG:3948", "EPSG:2154", 0);
	struct pi_summary s;
	projinfo("EPSG:2154", "EPSG:3948", &s);
	assert_int_equal(s.n_ops, 1);
	assert_true(s.first_accuracy == 0.0); /* projinfo: "0 m" */
	assert_true(kt_transform_accuracy(fwd) == 0.0);
	assert_true(kt_transform_accuracy(inv) == 0.0);
	for (int i = 0; i < 25; i++) {
		double x0 = 220000 + 1234.567 * i, y0 = 6750000 + 987.654 * i, z0 = 12.5;
		double x = x0, y = y0, z = z0;
		assert_int_equal(kt_transform_point(ctx, fwd, &x, &y, &z), 0);
		assert_true(fabs(x - x0) > 1000); /* it did move */
		assert_int_equal(kt_transform_point(ctx, inv, &x, &y, &z), 0);
		assert_true(fabs(x - x0) < 1e-6);
		assert_true(fabs(y - y0) < 1e-6);
		assert_true(fabs(z - z0) < 1e-9);
	}
	kt_transform_free(fwd);
	kt_transform_free(inv);
}

static void test_crs_wgs84_accuracy(void **state)
{
	(void)state;
	struct pi_summary s;
	projinfo("EPSG:4326", "EPSG:3948", &s);
	assert_int_equal(s.n_ops, 1);
	assert_true(fabs(s.first_accuracy - 1.0) < 1e-9); /* "RGF93 v1 to WGS 84 (1)", 1 m */
	kt_transform_t *t = must_new("EPSG:4326", "EPSG:3948", 0);
	assert_true(fabs(kt_transform_accuracy(t) - s.first_accuracy) < 1e-9);
	assert_non_null(strstr(kt_transform_name(t), "WGS 84"));
	kt_transform_free(t);
}

static void test_crs_ballpark_refused(void **state)
{
	(void)state;
	/* NAD27 has no published transformation usable over France: PROJ can
	 * only offer a ballpark one (checked here, not assumed). */
	struct pi_summary s;
	projinfo("EPSG:3948", "EPSG:26717", &s);
	assert_int_equal(s.n_ops, 1);
	assert_int_equal(s.n_ballpark, 1);
	kt_transform_t *t = NULL;
	assert_int_equal(kt_transform_new(ctx, "EPSG:3948", "EPSG:26717", 0, &t), KT_ECRS);
	assert_null(t);
	assert_non_null(strstr(kt_errmsg(ctx), "ballpark"));
	assert_non_null(strstr(kt_errmsg(ctx), "EPSG:26717"));
	/* allowed explicitly: works, accuracy unknown */
	t = must_new("EPSG:3948", "EPSG:26717", 1);
	assert_true(isnan(kt_transform_accuracy(t)));
	double x = 1700000, y = 7200000;
	assert_int_equal(kt_transform_point(ctx, t, &x, &y, NULL), 0);
	kt_transform_free(t);
	/* and the cache never holds one */
	kt_transform_t *c = NULL;
	assert_int_equal(kt_ctx_transform(ctx, 3948, 26717, &c), KT_ECRS);
	assert_int_equal(kt_ctx_transform(ctx, 3948, 26717, &c), KT_ECRS);
	assert_non_null(strstr(kt_errmsg(ctx), "ballpark"));
}

static void test_crs_ballpark_outside_area_refused(void **state)
{
	(void)state;
	/* NTF Lambert II -> CC48: PROJ lists a grid-based operation over
	 * France and a ballpark one for the rest of the world. */
	struct pi_summary s;
	projinfo("EPSG:27572", "EPSG:3948", &s);
	assert_true(s.n_ops >= 2);
	assert_true(s.n_ballpark >= 1);
	kt_transform_t *t = must_new("EPSG:27572", "EPSG:3948", 0);
	/* in France (near Lorient): fine, and what cs2cs gives */
	double x = 170000, y = 2320000, ex, ey;
	assert_int_equal(kt_transform_point(ctx, t, &x, &y, NULL), 0);
	cs2cs("EPSG:27572", "EPSG:3948", 170000, 2320000, &ex, &ey);
	assert_true(fabs(x - ex) < 1e-6 && fabs(y - ey) < 1e-6);
	assert_true(isfinite(kt_transform_accuracy(t)));
	/* 2000 km west, in the Atlantic: only the ballpark one would do */
	x = -2000000;
	y = 2200000;
	assert_int_equal(kt_transform_point(ctx, t, &x, &y, NULL), KT_ECRS);
	assert_true(x == -2000000 && y == 2200000); /* untouched */
	assert_non_null(strstr(kt_errmsg(ctx), "ballpark"));
	kt_transform_free(t);
	t = must_new("EPSG:27572", "EPSG:3948", 1);
	assert_int_equal(kt_transform_point(ctx, t, &x, &y, NULL), 0);
	assert_true(isnan(kt_transform_accuracy(t))); /* may use ballpark: unknown */
	kt_transform_free(t);
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	char *buf = calloc(1, 65536);
	size_t n = fread(buf, 1, 65535, f);
	fclose(f);
	buf[n] = 0;
	return buf;
}

static void test_crs_inputs(void **state)
{
	(void)state;
	/* Every way of naming Lambert-93 gives the same CC48 point. */
	char prj[4096];
	snprintf(prj, sizeof prj, "%s/fr/montpellier/ecl/VilleMTP_MTP_EclairagePublic.prj",
	         kt_test_env("KT_SHARED_DATA"));
	char *wkt = read_text(prj);
	assert_non_null(strstr(wkt, "Lambert")); /* ESRI WKT of the .prj */
	const char *names[] = { "EPSG:2154", "2154", "IGNF:LAMB93", wkt,
		"+proj=lcc +lat_0=46.5 +lon_0=3 +lat_1=49 +lat_2=44 +x_0=700000 +y_0=6600000 "
		"+ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs" };
	double ex, ey;
	cs2cs("EPSG:2154", "EPSG:3948", 770123.5, 6279876.25, &ex, &ey);
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		kt_transform_t *t = must_new(names[i], "EPSG:3948", 0);
		double x = 770123.5, y = 6279876.25;
		assert_int_equal(kt_transform_point(ctx, t, &x, &y, NULL), 0);
		if (fabs(x - ex) > 1e-6 || fabs(y - ey) > 1e-6)
			fail_msg("CRS #%zu: %.6f %.6f, cs2cs %.6f %.6f", i, x, y, ex, ey);
		kt_transform_free(t);
	}
	/* The .prj is the same CRS as EPSG:2154: a pure conversion. */
	kt_transform_t *t = must_new(wkt, "EPSG:2154", 0);
	assert_true(kt_transform_accuracy(t) == 0.0);
	double x = 770123.5, y = 6279876.25;
	assert_int_equal(kt_transform_point(ctx, t, &x, &y, NULL), 0);
	assert_true(fabs(x - 770123.5) < 1e-6 && fabs(y - 6279876.25) < 1e-6);
	kt_transform_free(t);
	/* A PROJ string datum defined by +towgs84 has no published accuracy. */
	t = must_new(names[4], "EPSG:3948", 0);
	assert_true(isnan(kt_transform_accuracy(t)));
	kt_transform_free(t);
	/* lon/lat order for a geographic CRS whose authority says lat/lon */
	t = must_new("EPSG:3948", "4326", 0);
	x = 1700000;
	y = 7200000;
	assert_int_equal(kt_transform_point(ctx, t, &x, &y, NULL), 0);
	assert_true(fabs(x - 3.0) < 1e-9 && fabs(y - 48.0) < 1e-9);
	kt_transform_free(t);
	free(wkt);
}

static void test_crs_unknown(void **state)
{
	(void)state;
	const char *bad[] = { "EPSG:99999", "99999", "not a crs", "", "   ",
		"PROJCS[\"broken\",GEOGCS[", "+proj=nosuchprojection" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		kt_transform_t *t = (kt_transform_t *)&t;
		assert_int_equal(kt_transform_new(ctx, bad[i], "EPSG:3948", 0, &t), KT_ECRS);
		assert_null(t);
		assert_non_null(strstr(kt_errmsg(ctx), "kt_transform_new"));
		assert_int_equal(kt_transform_new(ctx, "EPSG:3948", bad[i], 0, &t), KT_ECRS);
	}
	kt_transform_t *t = NULL;
	assert_int_equal(kt_transform_new(ctx, "EPSG:99999", "EPSG:3948", 0, &t), KT_ECRS);
	assert_non_null(strstr(kt_errmsg(ctx), "EPSG:99999")); /* names the CRS */
	/* a coordinate operation is not a CRS */
	assert_int_equal(kt_transform_new(ctx, "urn:ogc:def:coordinateOperation:EPSG::1671",
	                                  "EPSG:3948", 0, &t), KT_ECRS);
	assert_non_null(strstr(kt_errmsg(ctx), "not a coordinate reference system"));
	assert_int_equal(kt_transform_new(ctx, NULL, "EPSG:3948", 0, &t), KT_EINVAL);
}

/* ---- WKB ------------------------------------------------------------- */

enum flavour { ISO, EWKB };

struct wb {
	unsigned char *buf;
	size_t len, cap;
	int xdr;
	enum flavour fl;
	int has_z, has_m;
	int srid;            /* EWKB only; 0 = none */
	size_t n_pts;
	size_t off[4096];    /* offset of x of each point */
	double orig[4096][4];
	int seq;             /* coordinate generator */
};

static void wb_bytes(struct wb *w, const void *p, size_t n)
{
	if (w->len + n > w->cap) {
		w->cap = (w->len + n) * 2;
		w->buf = realloc(w->buf, w->cap);
	}
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

static void wb_u32(struct wb *w, uint32_t v)
{
	unsigned char b[4];
	for (int i = 0; i < 4; i++)
		b[i] = w->xdr ? (unsigned char)(v >> (24 - 8 * i)) : (unsigned char)(v >> (8 * i));
	wb_bytes(w, b, 4);
}

static void wb_double(struct wb *w, double d)
{
	uint64_t u;
	memcpy(&u, &d, 8);
	unsigned char b[8];
	for (int i = 0; i < 8; i++)
		b[i] = w->xdr ? (unsigned char)(u >> (56 - 8 * i)) : (unsigned char)(u >> (8 * i));
	wb_bytes(w, b, 8);
}

static double rd_double(const unsigned char *p, int xdr)
{
	uint64_t u = 0;
	for (int i = 0; i < 8; i++)
		u |= (uint64_t)p[i] << (xdr ? 56 - 8 * i : 8 * i);
	double d;
	memcpy(&d, &u, 8);
	return d;
}

static void wb_header(struct wb *w, uint32_t base, int top)
{
	unsigned char order = w->xdr ? 0 : 1;
	wb_bytes(w, &order, 1);
	if (w->fl == ISO) {
		wb_u32(w, base + (w->has_z ? 1000 : 0) + (w->has_m ? 2000 : 0));
	} else {
		uint32_t t = base | (w->has_z ? 0x80000000u : 0) | (w->has_m ? 0x40000000u : 0);
		if (top && w->srid)
			t |= 0x20000000u;
		wb_u32(w, t);
		if (top && w->srid)
			wb_u32(w, (uint32_t)w->srid);
	}
}

static void wb_coord(struct wb *w)
{
	int i = w->seq++;
	double c[4] = { 229000 + 10.123 * i, 6759000 + 7.77 * i, 10.5 + i, 100.25 + i };
	assert_true(w->n_pts < 4096);
	w->off[w->n_pts] = w->len;
	memcpy(w->orig[w->n_pts], c, sizeof c);
	w->n_pts++;
	wb_double(w, c[0]);
	wb_double(w, c[1]);
	if (w->has_z)
		wb_double(w, c[2]);
	if (w->has_m)
		wb_double(w, c[3]);
}

static void wb_point(struct wb *w, int top)
{
	wb_header(w, 1, top);
	wb_coord(w);
}

static void wb_line(struct wb *w, int top, uint32_t n)
{
	wb_header(w, 2, top);
	wb_u32(w, n);
	for (uint32_t i = 0; i < n; i++)
		wb_coord(w);
}

static void wb_polygon(struct wb *w, int top, uint32_t rings, uint32_t n)
{
	wb_header(w, 3, top);
	wb_u32(w, rings);
	for (uint32_t r = 0; r < rings; r++) {
		wb_u32(w, n);
		for (uint32_t i = 0; i < n; i++)
			wb_coord(w);
	}
}

/* Builds geometry number `kind` (0..7) at the top level. */
static void wb_geometry(struct wb *w, int kind)
{
	switch (kind) {
	case 0: wb_point(w, 1); break;
	case 1: wb_line(w, 1, 300); break; /* > one chunk of 128 */
	case 2: wb_polygon(w, 1, 2, 5); break;
	case 3:
		wb_header(w, 4, 1);
		wb_u32(w, 3);
		for (int i = 0; i < 3; i++)
			wb_point(w, 0);
		break;
	case 4:
		wb_header(w, 5, 1);
		wb_u32(w, 2);
		wb_line(w, 0, 4);
		wb_line(w, 0, 2);
		break;
	case 5:
		wb_header(w, 6, 1);
		wb_u32(w, 2);
		wb_polygon(w, 0, 1, 4);
		wb_polygon(w, 0, 3, 4);
		break;
	case 6: /* nested collections */
		wb_header(w, 7, 1);
		wb_u32(w, 3);
		wb_point(w, 0);
		wb_header(w, 7, 0);
		wb_u32(w, 2);
		wb_line(w, 0, 3);
		wb_header(w, 7, 0);
		wb_u32(w, 1);
		wb_polygon(w, 0, 1, 4);
		wb_polygon(w, 0, 1, 4);
		break;
	case 7: /* a curve polygon made of a circular string (type 10 of 8) */
		wb_header(w, 10, 1);
		wb_u32(w, 1);
		wb_header(w, 8, 0);
		wb_u32(w, 5);
		for (int i = 0; i < 5; i++)
			wb_coord(w);
		break;
	}
}

static void test_crs_wkb_all_flavours(void **state)
{
	(void)state;
	kt_transform_t *t = must_new("EPSG:2154", "EPSG:3948", 0);
	int cases = 0;
	for (int kind = 0; kind < 8; kind++)
		for (int xdr = 0; xdr < 2; xdr++)
			for (int fl = 0; fl < 2; fl++)
				for (int dims = 0; dims < 4; dims++) {
					struct wb w = { 0 };
					w.xdr = xdr;
					w.fl = fl;
					w.has_z = dims & 1;
					w.has_m = (dims & 2) >> 1;
					w.srid = fl == EWKB ? 2154 : 0;
					wb_geometry(&w, kind);
					/* exactly len bytes, so ASan sees any overrun */
					unsigned char *b = malloc(w.len);
					memcpy(b, w.buf, w.len);
					int rc = kt_transform_wkb(ctx, t, b, w.len);
					if (rc)
						fail_msg("kind %d xdr %d fl %d dims %d: %s", kind, xdr, fl, dims,
						         kt_errmsg(ctx));
					for (size_t i = 0; i < w.n_pts; i++) {
						const unsigned char *p = b + w.off[i];
						double ex = w.orig[i][0], ey = w.orig[i][1];
						assert_int_equal(kt_transform_point(ctx, t, &ex, &ey, NULL), 0);
						double x = rd_double(p, xdr), y = rd_double(p + 8, xdr);
						if (fabs(x - ex) > 1e-9 || fabs(y - ey) > 1e-9)
							fail_msg("kind %d xdr %d fl %d dims %d point %zu: %f %f vs %f %f",
							         kind, xdr, fl, dims, i, x, y, ex, ey);
						int k = 16;
						if (w.has_z) {
							assert_true(rd_double(p + k, xdr) == w.orig[i][2]);
							k += 8;
						}
						if (w.has_m)
							assert_true(rd_double(p + k, xdr) == w.orig[i][3]);
					}
					/* headers untouched: only coordinate bytes changed */
					size_t changed = 0;
					for (size_t i = 0; i < w.len; i++)
						changed += b[i] != w.buf[i];
					assert_true(changed > 0);
					free(b);
					free(w.buf);
					cases++;
				}
	assert_int_equal(cases, 8 * 2 * 2 * 4);
	kt_transform_free(t);
}

static void test_crs_wkb_empty_point(void **state)
{
	(void)state;
	kt_transform_t *t = must_new("EPSG:2154", "EPSG:3948", 0);
	struct wb w = { 0 };
	wb_header(&w, 4, 1); /* MULTIPOINT(EMPTY, p) */
	wb_u32(&w, 2);
	wb_header(&w, 1, 0);
	wb_double(&w, NAN);
	wb_double(&w, NAN);
	wb_point(&w, 0);
	unsigned char *b = malloc(w.len);
	memcpy(b, w.buf, w.len);
	assert_int_equal(kt_transform_wkb(ctx, t, b, w.len), 0);
	assert_memory_equal(b, w.buf, 9 + 5 + 16); /* header and empty point as they were */
	assert_true(isnan(rd_double(b + 14, 0)));
	assert_true(rd_double(b + w.off[0], 0) != w.orig[0][0]);
	free(b);
	free(w.buf);
	kt_transform_free(t);
}

static void expect_einval(kt_transform_t *t, const unsigned char *bytes, size_t len,
                          const char *what)
{
	unsigned char *b = malloc(len ? len : 1);
	memcpy(b, bytes, len);
	int rc = kt_transform_wkb(ctx, t, b, len);
	if (rc != KT_EINVAL)
		fail_msg("%s: expected KT_EINVAL, got %d", what, rc);
	if (len && memcmp(b, bytes, len))
		fail_msg("%s: the buffer was changed", what);
	free(b);
}

static void test_crs_wkb_hostile(void **state)
{
	(void)state;
	kt_transform_t *t = must_new("EPSG:2154", "EPSG:3948", 0);
	/* every truncation of a nested ZM collection */
	struct wb w = { 0 };
	w.has_z = w.has_m = 1;
	wb_geometry(&w, 6);
	for (size_t n = 0; n < w.len; n++)
		expect_einval(t, w.buf, n, "truncated");
	/* one byte too many */
	unsigned char *longer = malloc(w.len + 1);
	memcpy(longer, w.buf, w.len);
	longer[w.len] = 0;
	expect_einval(t, longer, w.len + 1, "trailing byte");
	free(longer);
	free(w.buf);

	/* counts far beyond the bytes */
	const uint32_t huge[] = { 0xffffffffu, 0x80000000u, 0x10000000u, 3 };
	for (size_t i = 0; i < sizeof huge / sizeof *huge; i++) {
		for (int type = 2; type <= 7; type++) {
			struct wb h = { 0 };
			wb_header(&h, (uint32_t)type, 1);
			wb_u32(&h, huge[i]);
			if (type == 3)
				wb_u32(&h, huge[i]); /* ring point count */
			wb_double(&h, 1.0);      /* a few bytes of payload */
			wb_double(&h, 2.0);
			expect_einval(t, h.buf, h.len, "huge count");
			free(h.buf);
		}
	}
	/* bad byte order, unknown types, mixed ISO and EWKB flags */
	const unsigned char bad_order[] = { 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
	expect_einval(t, bad_order, sizeof bad_order, "byte order 2");
	const uint32_t bad_types[] = { 0, 13, 14, 18, 99, 4001, 1000, 0x80000000u | 1001u, 0x0fffffffu };
	for (size_t i = 0; i < sizeof bad_types / sizeof *bad_types; i++) {
		struct wb h = { 0 };
		unsigned char order = 1;
		wb_bytes(&h, &order, 1);
		wb_u32(&h, bad_types[i]);
		for (int k = 0; k < 4; k++)
			wb_double(&h, 1.0);
		expect_einval(t, h.buf, h.len, "bad type");
		free(h.buf);
	}
	/* nesting 100 000 collections deep: refused, no stack overflow */
	{
		size_t depth = 100000;
		struct wb h = { 0 };
		for (size_t i = 0; i < depth; i++) {
			wb_header(&h, 7, 0);
			wb_u32(&h, 1);
		}
		wb_point(&h, 0);
		expect_einval(t, h.buf, h.len, "deep nesting");
		free(h.buf);
	}
	/* NULL and empty */
	assert_int_equal(kt_transform_wkb(ctx, t, NULL, 10), KT_EINVAL);
	unsigned char one = 1;
	assert_int_equal(kt_transform_wkb(ctx, t, &one, 0), KT_EINVAL);
	kt_transform_free(t);
}

static void test_crs_wkb_all_or_nothing(void **state)
{
	(void)state;
	/* MULTIPOINT(in France, in the Atlantic) from NTF Lambert II: the
	 * second point fails, so the first must not stay transformed. */
	kt_transform_t *t = must_new("EPSG:27572", "EPSG:3948", 0);
	struct wb w = { 0 };
	wb_header(&w, 4, 1);
	wb_u32(&w, 2);
	wb_header(&w, 1, 0);
	wb_double(&w, 170000);
	wb_double(&w, 2320000);
	wb_header(&w, 1, 0);
	wb_double(&w, -2000000);
	wb_double(&w, 2200000);
	unsigned char *b = malloc(w.len);
	memcpy(b, w.buf, w.len);
	assert_int_equal(kt_transform_wkb(ctx, t, b, w.len), KT_ECRS);
	assert_memory_equal(b, w.buf, w.len);
	/* and an allocation failure changes nothing either */
	kt_transform_t *ok = must_new("EPSG:2154", "EPSG:3948", 0);
	kt_alloc_fail_after(0);
	int rc = kt_transform_wkb(ctx, ok, b, w.len);
	kt_alloc_fail_after(-1);
	assert_int_equal(rc, KT_ENOMEM);
	assert_memory_equal(b, w.buf, w.len);
	free(b);
	free(w.buf);
	kt_transform_free(t);
	kt_transform_free(ok);
}

/* ---- bbox ------------------------------------------------------------ */

static void test_crs_bbox_densified(void **state)
{
	(void)state;
	/* A lon/lat box straddling CC48's central meridian (3°E): the bottom
	 * edge, a parallel, is an arc whose lowest point is at 3°E, hundreds of
	 * metres below the corners. */
	kt_transform_t *t = must_new("EPSG:4326", "EPSG:3948", 0);
	const double in[4] = { 2.0, 47.0, 4.0, 48.0 };
	double out[4];
	assert_int_equal(kt_transform_bbox(ctx, t, in, out), 0);
	double cx = 2.0, cy = 47.0, mx = 3.0, my = 47.0, lat, lon;
	assert_int_equal(kt_transform_point(ctx, t, &cx, &cy, NULL), 0);
	assert_int_equal(kt_transform_point(ctx, t, &mx, &my, NULL), 0);
	cs2cs("EPSG:4326", "EPSG:3948", 47.0, 3.0, &lon, &lat); /* independent y of (3, 47) */
	assert_true(fabs(my - lat) < 1e-6);
	assert_true(cy - my > 100.0);          /* the sag is real */
	assert_true(out[1] <= my + 1e-3);      /* and the bbox encloses it */
	assert_true(out[1] > my - 1.0);        /* without being loose */
	/* every point along every edge is inside */
	for (int i = 0; i <= 100; i++) {
		double f = i / 100.0;
		double pts[4][2] = { { 2 + 2 * f, 47 }, { 2 + 2 * f, 48 }, { 2, 47 + f }, { 4, 47 + f } };
		for (int k = 0; k < 4; k++) {
			double x = pts[k][0], y = pts[k][1];
			assert_int_equal(kt_transform_point(ctx, t, &x, &y, NULL), 0);
			assert_true(x >= out[0] - 1e-3 && x <= out[2] + 1e-3);
			assert_true(y >= out[1] - 1e-3 && y <= out[3] + 1e-3);
		}
	}
	const double bad[4] = { 4.0, 47.0, 2.0, 48.0 };
	assert_int_equal(kt_transform_bbox(ctx, t, bad, out), KT_EINVAL);
	const double inf[4] = { 2.0, 47.0, INFINITY, 48.0 };
	assert_int_equal(kt_transform_bbox(ctx, t, inf, out), KT_EINVAL);
	kt_transform_free(t);
}

/* ---- cache, ownership, allocation failures ---------------------------- */

static void test_crs_ctx_cache(void **state)
{
	(void)state;
	kt_transform_t *a = NULL, *b = NULL, *c = NULL;
	assert_int_equal(kt_ctx_transform(ctx, 4326, 3948, &a), 0);
	assert_int_equal(kt_ctx_transform(ctx, 2154, 3948, &b), 0);
	assert_int_equal(kt_ctx_transform(ctx, 4326, 3948, &c), 0);
	assert_ptr_equal(a, c);
	assert_ptr_not_equal(a, b);
	assert_true(fabs(kt_transform_accuracy(a) - 1.0) < 1e-9);
	assert_int_equal(kt_ctx_transform(ctx, 0, 3948, &c), KT_ECRS);
	assert_int_equal(kt_ctx_transform(ctx, 999999, 3948, &c), KT_ECRS);
	/* more pairs than the first allocation holds */
	const int codes[] = { 2154, 3942, 3943, 3944, 3945, 3946, 3947, 3949, 3950, 32630, 3857 };
	for (size_t i = 0; i < sizeof codes / sizeof *codes; i++)
		assert_int_equal(kt_ctx_transform(ctx, codes[i], 4326, &c), 0);
	assert_int_equal(kt_ctx_transform(ctx, 4326, 3948, &c), 0);
	assert_ptr_equal(a, c);
	/* a cache of its own, freed explicitly */
	struct kt_transform_cache *own = NULL;
	assert_int_equal(kt__transform_cache_get(&own, ctx, 3948, 2154, &c), 0);
	assert_non_null(own);
	kt__transform_cache_free(own);
	kt__transform_cache_free(NULL);
}

static void test_crs_other_ctx_refused(void **state)
{
	(void)state;
	kt_ctx_t *other;
	kt_err_t err;
	assert_int_equal(kt_ctx_open(store, &other, &err), 0);
	kt_transform_t *t = must_new("EPSG:2154", "EPSG:3948", 0);
	double x = 229000, y = 6759000;
	assert_int_equal(kt_transform_point(other, t, &x, &y, NULL), KT_EINVAL);
	assert_non_null(strstr(kt_errmsg(other), "another ctx"));
	kt_transform_free(t);
	kt_ctx_close(other);
}

static void test_crs_alloc_failures(void **state)
{
	(void)state;
	int failures = 0;
	for (long n = 0; n < 100; n++) {
		kt_transform_t *t = NULL;
		kt_alloc_fail_after(n);
		int rc = kt_transform_new(ctx, "EPSG:4326", "EPSG:3948", 0, &t);
		kt_alloc_fail_after(-1);
		if (rc == 0) {
			assert_non_null(t);
			kt_transform_free(t);
			break;
		}
		assert_int_equal(rc, KT_ENOMEM);
		assert_null(t);
		failures++;
	}
	assert_true(failures >= 3); /* transform, name, survey */
	struct kt_transform_cache *own = NULL;
	kt_transform_t *t;
	for (long n = 0; n < 100; n++) {
		kt_alloc_fail_after(n);
		int rc = kt__transform_cache_get(&own, ctx, 2154, 3948, &t);
		kt_alloc_fail_after(-1);
		if (rc == 0)
			break;
		assert_int_equal(rc, KT_ENOMEM);
	}
	kt__transform_cache_free(own); /* LeakSanitizer checks the rest */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crs_cc48_origin),
		cmocka_unit_test(test_crs_point_matches_cs2cs),
		cmocka_unit_test(test_crs_lambert93_cc48_round_trip),
		cmocka_unit_test(test_crs_wgs84_accuracy),
		cmocka_unit_test(test_crs_ballpark_refused),
		cmocka_unit_test(test_crs_ballpark_outside_area_refused),
		cmocka_unit_test(test_crs_inputs),
		cmocka_unit_test(test_crs_unknown),
		cmocka_unit_test(test_crs_wkb_all_flavours),
		cmocka_unit_test(test_crs_wkb_empty_point),
		cmocka_unit_test(test_crs_wkb_hostile),
		cmocka_unit_test(test_crs_wkb_all_or_nothing),
		cmocka_unit_test(test_crs_bbox_densified),
		cmocka_unit_test(test_crs_ctx_cache),
		cmocka_unit_test(test_crs_other_ctx_refused),
		cmocka_unit_test(test_crs_alloc_failures),
	};
	return cmocka_run_group_tests_name("crs", tests, group_setup, group_teardown);
}
