/*
 * tile_geom.c — one feature's geometry into an MVT 2.1 command stream.
 *
 * Pipeline (GEOS reentrant API, the worker's handle):
 *   WKB (EPSG:3857) -> tile space (affine: x east, y down, units of an
 *   extent-4096 tile) -> clip to the tile grown by the buffer
 *   (GEOSClipByRect) -> simplify to half a tile unit (lines: Douglas-
 *   Peucker; polygons: topology-preserving) -> integer grid:
 *     points and lines  rounded pointwise, repeated points removed;
 *     polygons          GEOS's precision reducer at grid size 1, which
 *                       snap-rounds with a valid result and removes parts
 *                       that collapse; then GEOSisValid — an invalid
 *                       result is repaired with make-valid and snapped
 *                       again, and dropped when that fails too.
 *   -> commands: MoveTo/LineTo/ClosePath with zigzag deltas.
 *
 * What the output keeps true (checked by mvt_validate.c on every tile the
 * tests serve): no zero-length segment (no two consecutive equal points,
 * the last point of a ring differs from its first), every line has two
 * points or more, every ring three or more with a non-zero area, each
 * exterior ring has a positive surveyor's area in tile coordinates
 * (clockwise on screen) and is followed by its holes (negative area),
 * every coordinate lies within the buffered tile.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <geos_c.h>

#include "kt_tiles_int.h"

#define CMD_MOVE 1
#define CMD_LINE 2
#define CMD_CLOSE 7
#define SIMPLIFY_TOLERANCE 0.5 /* tile units */

void kt_tgeom_reset(kt_tgeom_t *g)
{
	g->type = 0;
	g->n = 0;
	g->measure = 0;
	g->repaired = 0;
}

void kt_tgeom_release(kt_tgeom_t *g)
{
	kt_free(g->cmd);
	memset(g, 0, sizeof *g);
}

static int push(kt_tgeom_t *g, uint32_t v)
{
	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 64;
		uint32_t *p = kt_realloc(g->cmd, cap * sizeof *p);
		if (!p)
			return KT_ENOMEM;
		g->cmd = p;
		g->cap = cap;
	}
	g->cmd[g->n++] = v;
	return 0;
}

static uint32_t command(unsigned id, size_t count)
{
	return (uint32_t)((id & 7) | (count << 3));
}

static uint32_t zigzag(int64_t v)
{
	int32_t n = (int32_t)v;
	return ((uint32_t)n << 1) ^ (uint32_t)(n >> 31);
}

double kt_ring_area(const int64_t *xy, size_t n)
{
	double a = 0;
	for (size_t i = 0; i < n; i++) {
		size_t j = (i + 1) % n;
		a += (double)xy[2 * i] * (double)xy[2 * j + 1] - (double)xy[2 * j] * (double)xy[2 * i + 1];
	}
	return a / 2;
}

/* A growable list of integer points. */
typedef struct pts {
	int64_t *xy;
	size_t n, cap;
} pts_t;

static int pts_add(pts_t *p, int64_t x, int64_t y)
{
	if (p->n && p->xy[2 * p->n - 2] == x && p->xy[2 * p->n - 1] == y)
		return 0; /* repeated point: would be a zero-length segment */
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		int64_t *v = kt_realloc(p->xy, cap * 2 * sizeof *v);
		if (!v)
			return KT_ENOMEM;
		p->xy = v;
		p->cap = cap;
	}
	p->xy[2 * p->n] = x;
	p->xy[2 * p->n + 1] = y;
	p->n++;
	return 0;
}

/* Reads a coordinate sequence into p, rounded, without repeats. */
static int pts_read(GEOSContextHandle_t h, const GEOSCoordSequence *cs, pts_t *p)
{
	unsigned int n = 0;
	p->n = 0;
	if (!cs || !GEOSCoordSeq_getSize_r(h, cs, &n))
		return KT_EGEOM;
	for (unsigned int i = 0; i < n; i++) {
		double x, y;
		if (!GEOSCoordSeq_getXY_r(h, cs, i, &x, &y))
			return KT_EGEOM;
		int rc = pts_add(p, llround(x), llround(y));
		if (rc)
			return rc;
	}
	return 0;
}

/* Writes MoveTo + LineTo(n-1) (+ ClosePath) for p, from cursor cur. */
static int emit_path(kt_tgeom_t *g, const pts_t *p, size_t n, int close, int64_t cur[2])
{
	int rc = push(g, command(CMD_MOVE, 1));
	for (size_t i = 0; !rc && i < n; i++) {
		if (i == 1)
			rc = push(g, command(CMD_LINE, n - 1));
		if (!rc)
			rc = push(g, zigzag(p->xy[2 * i] - cur[0]));
		if (!rc)
			rc = push(g, zigzag(p->xy[2 * i + 1] - cur[1]));
		cur[0] = p->xy[2 * i];
		cur[1] = p->xy[2 * i + 1];
	}
	return !rc && close ? push(g, command(CMD_CLOSE, 1)) : rc;
}

static void reverse(pts_t *p, size_t n)
{
	for (size_t i = 0, j = n - 1; i < j; i++, j--) {
		int64_t x = p->xy[2 * i], y = p->xy[2 * i + 1];
		p->xy[2 * i] = p->xy[2 * j];
		p->xy[2 * i + 1] = p->xy[2 * j + 1];
		p->xy[2 * j] = x;
		p->xy[2 * j + 1] = y;
	}
}

static int to_tile(double *x, double *y, void *data)
{
	const kt_tile_xf_t *xf = data;
	*x = (*x - xf->minx) * xf->scale;
	*y = (xf->maxy - *y) * xf->scale;
	return 1;
}

static int in_tile(const kt_tile_xf_t *xf, int64_t x, int64_t y)
{
	int64_t lo = -xf->buffer, hi = xf->extent + xf->buffer;
	return x >= lo && x <= hi && y >= lo && y <= hi;
}

/* ---- points ------------------------------------------------------------ */

static int encode_points(GEOSContextHandle_t h, const kt_tile_xf_t *xf, const GEOSGeometry *geom,
                         kt_tgeom_t *g, pts_t *p)
{
	int parts = GEOSGetNumGeometries_r(h, geom);
	p->n = 0;
	for (int i = 0; i < parts; i++) {
		const GEOSGeometry *pt = GEOSGetGeometryN_r(h, geom, i);
		double x, y;
		if (GEOSisEmpty_r(h, pt) || !GEOSGeomGetX_r(h, pt, &x) || !GEOSGeomGetY_r(h, pt, &y))
			continue;
		to_tile(&x, &y, (void *)xf);
		int64_t ix = llround(x), iy = llround(y);
		if (!in_tile(xf, ix, iy))
			continue;
		int dup = 0;
		for (size_t k = 0; k < p->n && !dup; k++)
			dup = p->xy[2 * k] == ix && p->xy[2 * k + 1] == iy;
		if (!dup) {
			int rc = pts_add(p, ix, iy);
			if (rc)
				return rc;
		}
	}
	if (p->n == 0)
		return 0;
	g->type = 1;
	int rc = push(g, command(CMD_MOVE, p->n));
	int64_t cur[2] = {0, 0};
	for (size_t i = 0; !rc && i < p->n; i++) {
		rc = push(g, zigzag(p->xy[2 * i] - cur[0]));
		if (!rc)
			rc = push(g, zigzag(p->xy[2 * i + 1] - cur[1]));
		cur[0] = p->xy[2 * i];
		cur[1] = p->xy[2 * i + 1];
	}
	return rc ? rc : 1;
}

/* ---- lines --------------------------------------------------------------- */

static int encode_lines(GEOSContextHandle_t h, const GEOSGeometry *geom, kt_tgeom_t *g,
                        pts_t *p, int64_t cur[2])
{
	int type = GEOSGeomTypeId_r(h, geom);
	if (type == GEOS_MULTILINESTRING || type == GEOS_GEOMETRYCOLLECTION) {
		for (int i = 0; i < GEOSGetNumGeometries_r(h, geom); i++) {
			int rc = encode_lines(h, GEOSGetGeometryN_r(h, geom, i), g, p, cur);
			if (rc < 0)
				return rc;
		}
		return 0;
	}
	if (type != GEOS_LINESTRING)
		return 0; /* points left by the clip: not part of a line layer */
	int rc = pts_read(h, GEOSGeom_getCoordSeq_r(h, geom), p);
	if (rc || p->n < 2)
		return rc;
	for (size_t i = 1; i < p->n; i++)
		g->measure += hypot((double)(p->xy[2 * i] - p->xy[2 * i - 2]),
		                    (double)(p->xy[2 * i + 1] - p->xy[2 * i - 1]));
	return emit_path(g, p, p->n, 0, cur);
}

/* ---- polygons ------------------------------------------------------------ */

/* One ring: read, drop the closing point, check, orient (exterior > 0). */
static int encode_ring(GEOSContextHandle_t h, const GEOSGeometry *ring, int exterior,
                       kt_tgeom_t *g, pts_t *p, int64_t cur[2], double *area)
{
	int rc = pts_read(h, GEOSGeom_getCoordSeq_r(h, ring), p);
	if (rc)
		return rc;
	size_t n = p->n;
	while (n > 1 && p->xy[0] == p->xy[2 * n - 2] && p->xy[1] == p->xy[2 * n - 1])
		n--; /* the closing point, and any repeat of the first point */
	if (n < 3)
		return 0;
	double a = kt_ring_area(p->xy, n);
	if (a == 0)
		return 0;
	if ((exterior && a < 0) || (!exterior && a > 0)) {
		reverse(p, n);
		a = -a;
	}
	*area = a;
	return emit_path(g, p, n, 1, cur);
}

static int encode_polygon(GEOSContextHandle_t h, const GEOSGeometry *poly, kt_tgeom_t *g,
                          pts_t *p, int64_t cur[2])
{
	double a = 0;
	size_t before = g->n;
	int rc = encode_ring(h, GEOSGetExteriorRing_r(h, poly), 1, g, p, cur, &a);
	if (rc || g->n == before)
		return rc; /* an exterior that collapsed takes its holes with it */
	g->measure += a;
	int holes = GEOSGetNumInteriorRings_r(h, poly);
	for (int i = 0; !rc && i < holes; i++) {
		double ha = 0;
		rc = encode_ring(h, GEOSGetInteriorRingN_r(h, poly, i), 0, g, p, cur, &ha);
		g->measure += ha; /* negative */
	}
	return rc;
}

static int encode_polygons(GEOSContextHandle_t h, const GEOSGeometry *geom, kt_tgeom_t *g,
                           pts_t *p, int64_t cur[2])
{
	int type = GEOSGeomTypeId_r(h, geom);
	if (type == GEOS_POLYGON)
		return encode_polygon(h, geom, g, p, cur);
	if (type != GEOS_MULTIPOLYGON && type != GEOS_GEOMETRYCOLLECTION)
		return 0; /* lines or points left by a repair: not polygonal */
	for (int i = 0; i < GEOSGetNumGeometries_r(h, geom); i++) {
		int rc = encode_polygons(h, GEOSGetGeometryN_r(h, geom, i), g, p, cur);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int round_xy(double *x, double *y, void *data)
{
	(void)data;
	*x = nearbyint(*x);
	*y = nearbyint(*y);
	return 1;
}

/* Snaps a polygonal geometry to the integer grid; valid or NULL. Most
 * polygons stay valid when each vertex is simply rounded: that is tried
 * first, since GEOS's precision reducer runs a full snap-rounding overlay
 * (a quarter of a tile's time when used on every polygon). */
static GEOSGeometry *snap_valid(GEOSContextHandle_t h, const GEOSGeometry *in, int *repaired)
{
	GEOSGeometry *s = GEOSGeom_transformXY_r(h, in, round_xy, NULL);
	if (s && GEOSisValid_r(h, s) == 1)
		return s;
	if (s)
		GEOSGeom_destroy_r(h, s);
	s = GEOSGeom_setPrecision_r(h, in, 1.0, GEOS_PREC_VALID_OUTPUT);
	if (s && GEOSisValid_r(h, s) == 1)
		return s;
	/* repair: make-valid (of the snapped result, or of the input when
	 * the reducer gave up), snapped again */
	GEOSGeometry *fixed = GEOSMakeValid_r(h, s ? s : in);
	if (s)
		GEOSGeom_destroy_r(h, s);
	if (!fixed)
		return NULL;
	s = GEOSGeom_setPrecision_r(h, fixed, 1.0, GEOS_PREC_VALID_OUTPUT);
	GEOSGeom_destroy_r(h, fixed);
	if (s && GEOSisValid_r(h, s) == 1) {
		*repaired = 1;
		return s;
	}
	if (s)
		GEOSGeom_destroy_r(h, s);
	*repaired = -1;
	return NULL;
}

/* Lines and polygons: tile space, clip, simplify, snap, encode. */
static int encode_shapes(GEOSContextHandle_t h, const kt_tile_xf_t *xf, const GEOSGeometry *geom,
                         int polygonal, kt_tgeom_t *g, pts_t *p)
{
	double lo = -xf->buffer, hi = xf->extent + xf->buffer;
	GEOSGeometry *t = GEOSGeom_transformXY_r(h, geom, to_tile, (void *)xf);
	GEOSGeometry *c = t ? GEOSClipByRect_r(h, t, lo, lo, hi, hi) : NULL;
	GEOSGeometry *s = NULL, *q = NULL;
	int rc = 0;
	if (c && !GEOSisEmpty_r(h, c))
		s = polygonal ? GEOSTopologyPreserveSimplify_r(h, c, SIMPLIFY_TOLERANCE)
		              : GEOSSimplify_r(h, c, SIMPLIFY_TOLERANCE);
	if (!t || !c)
		rc = KT_EGEOM;
	else if (s && polygonal)
		q = snap_valid(h, s, &g->repaired);
	int64_t cur[2] = {0, 0};
	g->type = polygonal ? 3 : 2;
	if (!rc && polygonal && q)
		rc = encode_polygons(h, q, g, p, cur);
	else if (!rc && !polygonal && s)
		rc = encode_lines(h, s, g, p, cur);
	GEOSGeometry *all[] = {t, c, s, q};
	for (size_t i = 0; i < 4; i++)
		if (all[i])
			GEOSGeom_destroy_r(h, all[i]);
	if (rc < 0)
		return rc;
	if (polygonal && g->measure < 0)
		g->measure = 0;
	return g->n ? 1 : 0;
}

int kt_tile_geom_encode(void *geos, const kt_tile_xf_t *xf, const unsigned char *wkb, size_t len,
                        kt_tgeom_t *g)
{
	GEOSContextHandle_t h = geos;
	kt_tgeom_reset(g);
	GEOSGeometry *geom = GEOSGeomFromWKB_buf_r(h, wkb, len);
	if (!geom)
		return KT_EGEOM;
	pts_t p = {0};
	int rc;
	switch (GEOSGeomTypeId_r(h, geom)) {
	case GEOS_POINT:
	case GEOS_MULTIPOINT:
		rc = encode_points(h, xf, geom, g, &p);
		break;
	case GEOS_LINESTRING:
	case GEOS_MULTILINESTRING:
		rc = encode_shapes(h, xf, geom, 0, g, &p);
		break;
	case GEOS_POLYGON:
	case GEOS_MULTIPOLYGON:
		rc = encode_shapes(h, xf, geom, 1, g, &p);
		break;
	default:
		rc = 0; /* collections: no layer holds them */
		break;
	}
	GEOSGeom_destroy_r(h, geom);
	kt_free(p.xy);
	if (rc <= 0)
		g->n = 0;
	return rc;
}
