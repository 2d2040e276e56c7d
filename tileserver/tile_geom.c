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
 * The fast path (most features, no GEOS): points, and polygons of one
 * part, are read straight from the WKB into tile space (xf: affine, or
 * the tile's reprojection grid); each ring is clipped to the buffered
 * tile (Sutherland-Hodgman), simplified (Douglas-Peucker, half a unit),
 * rounded, stripped of repeated points, and the polygon is written when
 * its rings are still simple and apart — no two edges meet except
 * neighbours at their shared vertex, no two rings meet, holes lie inside
 * the exterior and outside each other, all checked exactly on the
 * integers —, which makes a valid polygon. A clip that leaves several
 * parts runs along the tile's edge and back, so it is not simple. Rings
 * that are not simple after rounding, multipolygons, rings of over
 * FAST_RING_MAX vertices and lines take the GEOS pipeline above, whose
 * result is always valid.
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
#define FAST_RING_MAX 1024     /* vertices of a polygon: the checks are quadratic */
#define NOT_FAST 2             /* the fast path declines: take the GEOS path */

/* A growable list of integer points. */
typedef struct pts {
	int64_t *xy;
	size_t n, cap;
} pts_t;

/* A growable list of points in tile space, before rounding. */
typedef struct dpts {
	double *xy;
	size_t n, cap;
} dpts_t;

/* Buffers of the fast path, kept from one feature to the next. */
struct kt_tgeom_scratch {
	dpts_t in, tmp;       /* a ring in tile space; the clipper's other buffer */
	unsigned char *keep;  /* Douglas-Peucker marks */
	size_t *stack;        /* Douglas-Peucker intervals */
	size_t dp_cap;
	pts_t ring;           /* a ring rounded (the points of a multipoint) */
	pts_t all;            /* the rings of a polygon kept so far, end to end */
	size_t *ends;         /* ring i ends before point ends[i] of all */
	size_t n_rings, cap_rings;
};

void kt_tgeom_reset(kt_tgeom_t *g)
{
	g->type = 0;
	g->n = 0;
	g->measure = 0;
	g->repaired = 0;
}

void kt_tgeom_release(kt_tgeom_t *g)
{
	struct kt_tgeom_scratch *s = g->scratch;
	if (s) {
		kt_free(s->in.xy);
		kt_free(s->tmp.xy);
		kt_free(s->keep);
		kt_free(s->stack);
		kt_free(s->ring.xy);
		kt_free(s->all.xy);
		kt_free(s->ends);
		kt_free(s);
	}
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
	kt_tile_xf_apply(data, x, y);
	return 1;
}

static int in_tile(const kt_tile_xf_t *xf, int64_t x, int64_t y)
{
	int64_t lo = -xf->buffer, hi = xf->extent + xf->buffer;
	return x >= lo && x <= hi && y >= lo && y <= hi;
}

/* ---- points ------------------------------------------------------------ */

/* Adds a world point to p in tile coordinates, unless it lies beyond the
 * buffer or repeats one already there. */
static int add_point(const kt_tile_xf_t *xf, double x, double y, pts_t *p)
{
	to_tile(&x, &y, (void *)xf);
	int64_t ix = llround(x), iy = llround(y);
	if (!in_tile(xf, ix, iy))
		return 0;
	for (size_t k = 0; k < p->n; k++)
		if (p->xy[2 * k] == ix && p->xy[2 * k + 1] == iy)
			return 0;
	return pts_add(p, ix, iy);
}

/* MoveTo(n) with the points of p. 0 when there is none. */
static int emit_points(kt_tgeom_t *g, const pts_t *p)
{
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

/* ---- fast path: WKB straight to tile space ------------------------------- */

/* A bounds-checked reader over WKB (ISO or EWKB, either byte order). */
typedef struct wkb_rd {
	const unsigned char *p;
	size_t len, off;
} wkb_rd_t;

static int host_is_little(void)
{
	const uint16_t one = 1;
	return *(const unsigned char *)&one;
}

static int rd_u32(wkb_rd_t *r, int swap, uint32_t *v)
{
	if (r->len - r->off < 4)
		return KT_EGEOM;
	uint32_t x;
	memcpy(&x, r->p + r->off, 4);
	*v = swap ? __builtin_bswap32(x) : x;
	r->off += 4;
	return 0;
}

static double get_f64(const unsigned char *p, int swap)
{
	uint64_t u;
	double d;
	memcpy(&u, p, 8);
	if (swap)
		u = __builtin_bswap64(u);
	memcpy(&d, &u, 8);
	return d;
}

/* A geometry header: byte order, base type (1 point … 7 collection) and
 * doubles per point (ISO Z/M/ZM types and EWKB flags). */
static int rd_header(wkb_rd_t *r, int *swap, unsigned *type, int *dims)
{
	if (r->off >= r->len || r->p[r->off] > 1)
		return KT_EGEOM;
	*swap = r->p[r->off++] != host_is_little();
	uint32_t t, srid;
	if (rd_u32(r, *swap, &t))
		return KT_EGEOM;
	int z = (t & 0x80000000u) != 0, m = (t & 0x40000000u) != 0;
	if ((t & 0x20000000u) && rd_u32(r, *swap, &srid))
		return KT_EGEOM;
	t &= 0x0fffffffu;
	unsigned iso = t / 1000;
	if (iso > 3)
		return KT_EGEOM;
	*type = t % 1000;
	*dims = 2 + (z || iso == 1 || iso == 3) + (m || iso == 2 || iso == 3);
	return 0;
}

/* n points of dims doubles at the reader, checked to fit; skips them. */
static int rd_points(wkb_rd_t *r, uint32_t n, int dims, const unsigned char **at)
{
	size_t size = (size_t)dims * 8;
	if (n > (r->len - r->off) / size)
		return KT_EGEOM;
	*at = r->p + r->off;
	r->off += n * size;
	return 0;
}

/* Extends b by the coordinates of the geometry at r (depth: nesting). */
static int bounds_of(wkb_rd_t *r, int depth, double b[4])
{
	int swap, dims;
	unsigned type;
	uint32_t parts = 1, n;
	if (depth > 32 || rd_header(r, &swap, &type, &dims))
		return KT_EGEOM;
	if (type >= 4 && type <= 7) {
		if (rd_u32(r, swap, &parts))
			return KT_EGEOM;
		for (uint32_t i = 0; i < parts; i++)
			if (bounds_of(r, depth + 1, b))
				return KT_EGEOM;
		return 0;
	}
	if (type < 1 || type > 3 || (type == 3 && rd_u32(r, swap, &parts)))
		return KT_EGEOM;
	for (uint32_t k = 0; k < parts; k++) {
		const unsigned char *at;
		n = 1;
		if ((type != 1 && rd_u32(r, swap, &n)) || rd_points(r, n, dims, &at))
			return KT_EGEOM;
		for (uint32_t i = 0; i < n; i++, at += (size_t)dims * 8) {
			double x = get_f64(at, swap), y = get_f64(at + 8, swap);
			if (isnan(x) && isnan(y))
				continue; /* an empty point */
			b[0] = x < b[0] ? x : b[0];
			b[1] = y < b[1] ? y : b[1];
			b[2] = x > b[2] ? x : b[2];
			b[3] = y > b[3] ? y : b[3];
		}
	}
	return 0;
}

int kt_wkb_bounds(const unsigned char *wkb, size_t len, double out[4])
{
	wkb_rd_t r = {wkb, len, 0};
	double b[4] = {INFINITY, INFINITY, -INFINITY, -INFINITY};
	if (!wkb || bounds_of(&r, 0, b) || !(b[0] <= b[2] && b[1] <= b[3]) || !isfinite(b[0]) ||
	    !isfinite(b[1]) || !isfinite(b[2]) || !isfinite(b[3]))
		return KT_EGEOM;
	memcpy(out, b, sizeof b);
	return 0;
}

/* A point or a multipoint: tile coordinates, rounded, in the buffered
 * tile, each position once. Empty points are skipped. */
static int fast_points(const kt_tile_xf_t *xf, wkb_rd_t *r, unsigned type, int swap, int dims,
                       kt_tgeom_t *g, pts_t *p)
{
	uint32_t n = 1;
	if (type == 4 && rd_u32(r, swap, &n))
		return KT_EGEOM;
	p->n = 0;
	for (uint32_t i = 0; i < n; i++) {
		unsigned t = 1;
		const unsigned char *at;
		if (type == 4 && (rd_header(r, &swap, &t, &dims) || t != 1))
			return KT_EGEOM;
		if (rd_points(r, 1, dims, &at))
			return KT_EGEOM;
		double x = get_f64(at, swap), y = get_f64(at + 8, swap);
		if (!isfinite(x) || !isfinite(y))
			continue; /* empty (NaN, NaN) */
		int rc = add_point(xf, x, y, p);
		if (rc)
			return rc;
	}
	return emit_points(g, p);
}

static int scratch_get(kt_tgeom_t *g)
{
	if (!g->scratch && !(g->scratch = kt_calloc(1, sizeof *g->scratch)))
		return KT_ENOMEM;
	return 0;
}

static int dpts_add(dpts_t *d, double x, double y)
{
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 64;
		double *v = kt_realloc(d->xy, cap * 2 * sizeof *v);
		if (!v)
			return KT_ENOMEM;
		d->xy = v;
		d->cap = cap;
	}
	d->xy[2 * d->n] = x;
	d->xy[2 * d->n + 1] = y;
	d->n++;
	return 0;
}

/* Room for Douglas-Peucker over n points. */
static int dp_reserve(struct kt_tgeom_scratch *s, size_t n)
{
	if (n <= s->dp_cap)
		return 0;
	unsigned char *k = kt_realloc(s->keep, n);
	if (k)
		s->keep = k;
	size_t *st = kt_realloc(s->stack, 2 * n * sizeof *st);
	if (st)
		s->stack = st;
	if (!k || !st)
		return KT_ENOMEM;
	s->dp_cap = n;
	return 0;
}

/* Square of the distance from q to the segment a-b. */
static double seg_dist2(const double *q, const double *a, const double *b)
{
	double dx = b[0] - a[0], dy = b[1] - a[1], len2 = dx * dx + dy * dy;
	double t = len2 > 0 ? ((q[0] - a[0]) * dx + (q[1] - a[1]) * dy) / len2 : 0;
	t = t < 0 ? 0 : t > 1 ? 1 : t;
	double ex = a[0] + t * dx - q[0], ey = a[1] + t * dy - q[1];
	return ex * ex + ey * ey;
}

/* Douglas-Peucker over xy[0..n): keep[i] for the points kept. */
static void douglas_peucker(const double *xy, size_t n, double tol, unsigned char *keep,
                            size_t *stack)
{
	memset(keep, 0, n);
	keep[0] = keep[n - 1] = 1;
	size_t top = 0;
	stack[top++] = 0;
	stack[top++] = n - 1;
	while (top) {
		size_t b = stack[--top], a = stack[--top], far = 0;
		double best = tol * tol;
		for (size_t i = a + 1; i < b; i++) {
			double d = seg_dist2(xy + 2 * i, xy + 2 * a, xy + 2 * b);
			if (d > best) {
				best = d;
				far = i;
			}
		}
		if (!far)
			continue;
		keep[far] = 1;
		stack[top++] = a;
		stack[top++] = far;
		stack[top++] = far;
		stack[top++] = b;
	}
}

/* The ring's points (those marked in keep, or all) rounded into p, with
 * no repeated point and no closing point. */
static int round_ring(const double *xy, size_t n, const unsigned char *keep, pts_t *p)
{
	p->n = 0;
	for (size_t i = 0; i < n; i++) {
		if (keep && !keep[i])
			continue;
		int rc = pts_add(p, llround(xy[2 * i]), llround(xy[2 * i + 1]));
		if (rc)
			return rc;
	}
	while (p->n > 1 && p->xy[0] == p->xy[2 * p->n - 2] && p->xy[1] == p->xy[2 * p->n - 1])
		p->n--;
	return 0;
}

static int collapsed(const pts_t *p)
{
	return p->n < 3 || kt_ring_area(p->xy, p->n) == 0;
}

/* Sign of the cross product (b - a) x (c - a): exact on tile integers. */
static int orient(const int64_t *a, const int64_t *b, const int64_t *c)
{
	int64_t v = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
	return (v > 0) - (v < 0);
}

/* c, collinear with a-b, lies on the closed segment a-b. */
static int within(const int64_t *a, const int64_t *b, const int64_t *c)
{
	return c[0] >= (a[0] < b[0] ? a[0] : b[0]) && c[0] <= (a[0] > b[0] ? a[0] : b[0]) &&
	       c[1] >= (a[1] < b[1] ? a[1] : b[1]) && c[1] <= (a[1] > b[1] ? a[1] : b[1]);
}

/* The closed segments a-b and c-d share a point. */
static int segments_meet(const int64_t *a, const int64_t *b, const int64_t *c, const int64_t *d)
{
	int o1 = orient(a, b, c), o2 = orient(a, b, d), o3 = orient(c, d, a), o4 = orient(c, d, b);
	if (o1 != o2 && o3 != o4 && o1 && o2 && o3 && o4)
		return 1;
	return (!o1 && within(a, b, c)) || (!o2 && within(a, b, d)) || (!o3 && within(c, d, a)) ||
	       (!o4 && within(c, d, b));
}

/* 1 when the ring of n >= 3 distinct consecutive points is simple: no
 * edge turns back on the previous one, and no two edges meet except
 * neighbours at their shared vertex. */
static int ring_simple(const int64_t *xy, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const int64_t *a = xy + 2 * i, *b = xy + 2 * ((i + 1) % n), *c = xy + 2 * ((i + 2) % n);
		if (!orient(a, b, c) && (a[0] - b[0]) * (c[0] - b[0]) + (a[1] - b[1]) * (c[1] - b[1]) > 0)
			return 0; /* a spike: c goes back along b-a */
	}
	for (size_t i = 0; i + 2 < n; i++) {
		const int64_t *a = xy + 2 * i, *b = xy + 2 * (i + 1);
		int64_t minx = a[0] < b[0] ? a[0] : b[0], maxx = a[0] < b[0] ? b[0] : a[0];
		int64_t miny = a[1] < b[1] ? a[1] : b[1], maxy = a[1] < b[1] ? b[1] : a[1];
		for (size_t j = i + 2; j < n; j++) {
			if (i == 0 && j == n - 1)
				continue; /* neighbours through the closing vertex */
			const int64_t *c = xy + 2 * j, *d = xy + 2 * ((j + 1) % n);
			if ((c[0] < minx && d[0] < minx) || (c[0] > maxx && d[0] > maxx) ||
			    (c[1] < miny && d[1] < miny) || (c[1] > maxy && d[1] > maxy))
				continue;
			if (segments_meet(a, b, c, d))
				return 0;
		}
	}
	return 1;
}

/* A ring of n WKB points into s->in, in tile space, without its closing
 * point. NOT_FAST for a coordinate that is not finite. */
static int read_ring(const kt_tile_xf_t *xf, const unsigned char *at, uint32_t n, int swap,
                     int dims, dpts_t *in)
{
	in->n = 0;
	for (uint32_t i = 0; i + 1 < n; i++, at += (size_t)dims * 8) {
		double x = get_f64(at, swap), y = get_f64(at + 8, swap);
		if (!isfinite(x) || !isfinite(y))
			return NOT_FAST;
		to_tile(&x, &y, (void *)xf);
		int rc = dpts_add(in, x, y);
		if (rc)
			return rc;
	}
	return 0;
}

/* -1: the ring's bbox misses [lo, hi]², 0: it lies inside, 1: it crosses. */
static int ring_where(const dpts_t *d, double lo, double hi)
{
	double minx = INFINITY, miny = INFINITY, maxx = -INFINITY, maxy = -INFINITY;
	for (size_t i = 0; i < d->n; i++) {
		double x = d->xy[2 * i], y = d->xy[2 * i + 1];
		minx = x < minx ? x : minx;
		maxx = x > maxx ? x : maxx;
		miny = y < miny ? y : miny;
		maxy = y > maxy ? y : maxy;
	}
	if (maxx < lo || minx > hi || maxy < lo || miny > hi)
		return -1;
	return minx >= lo && maxx <= hi && miny >= lo && maxy <= hi ? 0 : 1;
}

/* One Sutherland-Hodgman pass: keeps the side of the line {axis = v}
 * where the coordinate is >= v (greater) or <= v. */
static int clip_pass(const dpts_t *in, dpts_t *out, int axis, double v, int greater)
{
	out->n = 0;
	for (size_t i = 0, n = in->n; i < n; i++) {
		const double *a = in->xy + 2 * ((i + n - 1) % n), *e = in->xy + 2 * i;
		int a_in = greater ? a[axis] >= v : a[axis] <= v;
		int e_in = greater ? e[axis] >= v : e[axis] <= v;
		if (a_in != e_in) {
			double t = (v - a[axis]) / (e[axis] - a[axis]), q[2];
			q[axis] = v;
			q[1 - axis] = a[1 - axis] + t * (e[1 - axis] - a[1 - axis]);
			if (dpts_add(out, q[0], q[1]))
				return KT_ENOMEM;
		}
		if (e_in && dpts_add(out, e[0], e[1]))
			return KT_ENOMEM;
	}
	return 0;
}

/* Clips s->in to [lo, hi]². Where the intersection has several parts, or
 * touches itself, the result runs along the square's edge and back: it is
 * then not simple and the GEOS path takes the polygon. */
static int clip_ring(struct kt_tgeom_scratch *s, double lo, double hi)
{
	int rc = clip_pass(&s->in, &s->tmp, 0, lo, 1);
	if (!rc)
		rc = clip_pass(&s->tmp, &s->in, 0, hi, 0);
	if (!rc)
		rc = clip_pass(&s->in, &s->tmp, 1, lo, 1);
	if (!rc)
		rc = clip_pass(&s->tmp, &s->in, 1, hi, 0);
	return rc;
}

/* Points of ring a (na) and ring b (nb) meet. */
static int rings_meet(const int64_t *a, size_t na, const int64_t *b, size_t nb)
{
	for (size_t i = 0; i < na; i++) {
		const int64_t *p = a + 2 * i, *q = a + 2 * ((i + 1) % na);
		for (size_t j = 0; j < nb; j++)
			if (segments_meet(p, q, b + 2 * j, b + 2 * ((j + 1) % nb)))
				return 1;
	}
	return 0;
}

/* p strictly inside the ring (p is on no edge of it: exact crossing
 * count on integers). */
static int point_in_ring(const int64_t *p, const int64_t *r, size_t n)
{
	int inside = 0;
	for (size_t i = 0; i < n; i++) {
		const int64_t *a = r + 2 * i, *b = r + 2 * ((i + 1) % n);
		if ((a[1] > p[1]) == (b[1] > p[1]))
			continue;
		int64_t lhs = (p[0] - a[0]) * (b[1] - a[1]), rhs = (p[1] - a[1]) * (b[0] - a[0]);
		if (b[1] > a[1] ? lhs < rhs : lhs > rhs)
			inside = !inside;
	}
	return inside;
}

/* The rings kept (each simple) make a valid polygon: no two meet, every
 * hole lies inside the exterior and outside the other holes. */
static int rings_valid(const struct kt_tgeom_scratch *s)
{
	const int64_t *xy = s->all.xy;
	for (size_t i = 0; i < s->n_rings; i++) {
		size_t ai = i ? s->ends[i - 1] : 0, ni = s->ends[i] - ai;
		for (size_t j = i + 1; j < s->n_rings; j++) {
			size_t aj = s->ends[j - 1], nj = s->ends[j] - aj;
			if (rings_meet(xy + 2 * ai, ni, xy + 2 * aj, nj))
				return 0;
			if (i == 0 && !point_in_ring(xy + 2 * aj, xy, ni))
				return 0; /* a hole outside the exterior */
			if (i > 0 && (point_in_ring(xy + 2 * aj, xy + 2 * ai, ni) ||
			              point_in_ring(xy + 2 * ai, xy + 2 * aj, nj)))
				return 0; /* nested holes */
		}
	}
	return 1;
}

static int keep_ring(struct kt_tgeom_scratch *s)
{
	if (s->n_rings == s->cap_rings) {
		size_t cap = s->cap_rings ? s->cap_rings * 2 : 8;
		size_t *e = kt_realloc(s->ends, cap * sizeof *e);
		if (!e)
			return KT_ENOMEM;
		s->ends = e;
		s->cap_rings = cap;
	}
	for (size_t i = 0; i < s->ring.n; i++) {
		int rc = pts_add(&s->all, s->ring.xy[2 * i], s->ring.xy[2 * i + 1]);
		if (rc)
			return rc;
	}
	s->ends[s->n_rings++] = s->all.n;
	return 0;
}

/* One ring of WKB: tile space, clipped, simplified, rounded, checked
 * simple, added to s->all. 1 kept, 0 gone (outside the tile, or
 * collapsed), NOT_FAST, or a negative code. */
static int fast_ring(const kt_tile_xf_t *xf, const unsigned char *at, uint32_t n, int swap,
                     int dims, struct kt_tgeom_scratch *s)
{
	double lo = -xf->buffer, hi = xf->extent + xf->buffer;
	if (n < 4)
		return NOT_FAST;
	int rc = read_ring(xf, at, n, swap, dims, &s->in);
	if (rc)
		return rc;
	int where = ring_where(&s->in, lo, hi);
	if (where < 0)
		return 0;
	if (where > 0 && (rc = clip_ring(s, lo, hi)))
		return rc;
	if (s->in.n < 3)
		return 0;
	/* closed again for Douglas-Peucker, which keeps both ends */
	if ((rc = dpts_add(&s->in, s->in.xy[0], s->in.xy[1])) || (rc = dp_reserve(s, s->in.n)))
		return rc;
	douglas_peucker(s->in.xy, s->in.n, SIMPLIFY_TOLERANCE, s->keep, s->stack);
	if ((rc = round_ring(s->in.xy, s->in.n, s->keep, &s->ring)))
		return rc;
	if (collapsed(&s->ring)) {
		/* all the vertices rounded onto a line: GEOS would drop it too */
		if ((rc = round_ring(s->in.xy, s->in.n, NULL, &s->ring)))
			return rc;
		return collapsed(&s->ring) ? 0 : NOT_FAST;
	}
	if (!ring_simple(s->ring.xy, s->ring.n))
		return NOT_FAST;
	rc = keep_ring(s);
	return rc ? rc : 1;
}

/* Writes the rings of s->all: the exterior clockwise on screen, the holes
 * the other way. */
static int emit_rings(kt_tgeom_t *g, struct kt_tgeom_scratch *s)
{
	int64_t cur[2] = {0, 0};
	g->type = 3;
	g->measure = 0;
	for (size_t i = 0; i < s->n_rings; i++) {
		size_t a = i ? s->ends[i - 1] : 0, n = s->ends[i] - a;
		pts_t r = {s->all.xy + 2 * a, n, n};
		double area = kt_ring_area(r.xy, n);
		if ((i == 0) != (area > 0)) {
			reverse(&r, n);
			area = -area;
		}
		g->measure += area;
		int rc = emit_path(g, &r, n, 1, cur);
		if (rc)
			return rc;
	}
	if (g->measure < 0)
		g->measure = 0;
	return 1;
}

/* A polygon, or a multipolygon of one polygon, whose rings stay simple
 * and apart once clipped, simplified and rounded: 1 encoded, 0 gone
 * (outside the tile or collapsed), NOT_FAST for anything else (the GEOS
 * path decides). */
static int fast_polygon(const kt_tile_xf_t *xf, wkb_rd_t *r, unsigned type, int swap, int dims,
                        kt_tgeom_t *g)
{
	uint32_t parts, rings;
	if (type == 6 && (rd_u32(r, swap, &parts) || parts != 1 ||
	                  rd_header(r, &swap, &type, &dims) || type != 3))
		return NOT_FAST;
	if (rd_u32(r, swap, &rings) || rings == 0)
		return NOT_FAST;
	int rc = scratch_get(g);
	if (rc)
		return rc;
	struct kt_tgeom_scratch *s = g->scratch;
	s->all.n = 0;
	s->n_rings = 0;
	size_t total = 0;
	for (uint32_t k = 0; k < rings; k++) {
		uint32_t n;
		const unsigned char *at;
		if (rd_u32(r, swap, &n) || rd_points(r, n, dims, &at) ||
		    (total += n) > FAST_RING_MAX)
			return NOT_FAST;
		rc = fast_ring(xf, at, n, swap, dims, s);
		if (rc == 0 && k == 0)
			return 0; /* the exterior is gone: its holes with it */
		if (rc < 0 || rc == NOT_FAST)
			return rc;
	}
	return rings_valid(s) ? emit_rings(g, s) : NOT_FAST;
}

/* Points, and polygons when fast_polygon takes them: 1, 0, a negative
 * code, or NOT_FAST. */
static int encode_fast(const kt_tile_xf_t *xf, const unsigned char *wkb, size_t len,
                       kt_tgeom_t *g)
{
	wkb_rd_t r = {wkb, len, 0};
	unsigned type;
	int swap, dims;
	if (rd_header(&r, &swap, &type, &dims))
		return NOT_FAST; /* GEOS says what is wrong */
	if (type == 1 || type == 4) {
		int rc = scratch_get(g);
		return rc ? rc : fast_points(xf, &r, type, swap, dims, g, &g->scratch->ring);
	}
	if (type != 3 && type != 6)
		return NOT_FAST;
	int rc = fast_polygon(xf, &r, type, swap, dims, g);
	if (rc == NOT_FAST)
		kt_tgeom_reset(g);
	return rc;
}

int kt_tile_geom_encode(void *geos, const kt_tile_xf_t *xf, const unsigned char *wkb, size_t len,
                        kt_tgeom_t *g)
{
	GEOSContextHandle_t h = geos;
	kt_tgeom_reset(g);
	int rc = wkb ? encode_fast(xf, wkb, len, g) : KT_EGEOM;
	if (rc != NOT_FAST) {
		if (rc <= 0)
			g->n = 0;
		return rc;
	}
	if ((rc = scratch_get(g)))
		return rc;
	GEOSGeometry *geom = GEOSGeomFromWKB_buf_r(h, wkb, len);
	if (!geom)
		return KT_EGEOM;
	pts_t *p = &g->scratch->ring;
	switch (GEOSGeomTypeId_r(h, geom)) {
	case GEOS_LINESTRING:
	case GEOS_MULTILINESTRING:
		rc = encode_shapes(h, xf, geom, 0, g, p);
		break;
	case GEOS_POLYGON:
	case GEOS_MULTIPOLYGON:
		rc = encode_shapes(h, xf, geom, 1, g, p);
		break;
	default:
		rc = 0; /* collections: no layer holds them */
		break;
	}
	GEOSGeom_destroy_r(h, geom);
	if (rc <= 0)
		g->n = 0;
	return rc;
}
