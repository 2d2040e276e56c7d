/*
 * tile_grid.c — the Web Mercator XYZ tile grid (EPSG:3857, origin top
 * left, y downwards): tile bounds with a buffer, the range of tiles a
 * bbox touches at a zoom, the world-to-tile transformation (affine from
 * EPSG:3857, or interpolated in a grid from the store CRS) and strict
 * parsing of tile coordinates from a path.
 *
 * Invariant: kt_tile_range is the exact inverse of kt_tile_bounds — a tile
 * is in the range of b iff its buffered bounds intersect b (closed
 * intervals), so the cache invalidation built on it drops every tile a
 * change can appear in, and only those (up to floating-point rounding at
 * exact tile edges, where it errs on dropping).
 */
#include <math.h>
#include <string.h>

#include "kt_tiles_int.h"

static double tile_size(int z)
{
	return 2.0 * KT_MERC_HALF / ldexp(1.0, z);
}

void kt_tile_bounds(int z, uint32_t x, uint32_t y, double buffer, double out[4])
{
	double s = tile_size(z), pad = s * buffer / KT_TILE_EXTENT;
	out[0] = -KT_MERC_HALF + x * s - pad;
	out[2] = -KT_MERC_HALF + (x + 1.0) * s + pad;
	out[3] = KT_MERC_HALF - y * s + pad;
	out[1] = KT_MERC_HALF - (y + 1.0) * s - pad;
}

int kt_tile_range(int z, const double b[4], double buffer, uint32_t r[4])
{
	if (!(b[0] <= b[2] && b[1] <= b[3]))
		return 0;
	double s = tile_size(z);
	/* a hair more than the buffer: rounding at an exact edge then errs on
	 * dropping a tile, never on keeping a stale one */
	double pad = s * buffer / KT_TILE_EXTENT + s * 1e-9 + 1e-6;
	double n = ldexp(1.0, z);
	/* tile x intersects [b0, b2] iff x*s - pad - H <= b2 and (x+1)*s + pad - H >= b0 */
	double x0 = ceil((b[0] + KT_MERC_HALF - pad) / s - 1.0);
	double x1 = floor((b[2] + KT_MERC_HALF + pad) / s);
	double y0 = ceil((KT_MERC_HALF - b[3] - pad) / s - 1.0);
	double y1 = floor((KT_MERC_HALF - b[1] + pad) / s);
	if (x0 < 0) x0 = 0;
	if (y0 < 0) y0 = 0;
	if (x1 > n - 1) x1 = n - 1;
	if (y1 > n - 1) y1 = n - 1;
	if (x0 > x1 || y0 > y1)
		return 0;
	r[0] = (uint32_t)x0;
	r[1] = (uint32_t)y0;
	r[2] = (uint32_t)x1;
	r[3] = (uint32_t)y1;
	return 1;
}

int kt_tile_in_grid(int z, uint64_t x, uint64_t y)
{
	if (z < 0 || z > KT_TILE_ZMAX)
		return 0;
	uint64_t n = (uint64_t)1 << z;
	return x < n && y < n;
}

int kt_tile_parse_coord(const char *s, uint64_t *out)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > 10 || (n > 1 && s[0] == '0'))
		return -1;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

void kt_tile_xf_init(kt_tile_xf_t *xf, int z, uint32_t x, uint32_t y)
{
	double b[4];
	kt_tile_bounds(z, x, y, 0, b);
	xf->minx = b[0];
	xf->maxy = b[3];
	xf->scale = KT_TILE_EXTENT / tile_size(z);
	xf->extent = KT_TILE_EXTENT;
	xf->buffer = KT_TILE_BUFFER;
	xf->z = z;
	xf->grid = NULL;
}

/* Bilinear interpolation in the cell of (x, y); a point a hair outside
 * the grid (float rounding) uses the nearest cell. */
static void grid_apply(const kt_tile_grid_t *g, double *x, double *y)
{
	double fx = (*x - g->x0) / g->dx, fy = (*y - g->y0) / g->dy;
	int i = fx <= 0 ? 0 : fx >= g->n - 1 ? g->n - 1 : (int)fx;
	int j = fy <= 0 ? 0 : fy >= g->n - 1 ? g->n - 1 : (int)fy;
	fx -= i;
	fy -= j;
	const double *a = g->t + 2 * ((size_t)j * (g->n + 1) + i), *c = a + 2 * (g->n + 1);
	double w00 = (1 - fx) * (1 - fy), w10 = fx * (1 - fy), w01 = (1 - fx) * fy, w11 = fx * fy;
	*x = w00 * a[0] + w10 * a[2] + w01 * c[0] + w11 * c[2];
	*y = w00 * a[1] + w10 * a[3] + w01 * c[1] + w11 * c[3];
}

void kt_tile_xf_apply(const kt_tile_xf_t *xf, double *x, double *y)
{
	if (xf->grid) {
		grid_apply(xf->grid, x, y);
		return;
	}
	*x = (*x - xf->minx) * xf->scale;
	*y = (xf->maxy - *y) * xf->scale;
}
