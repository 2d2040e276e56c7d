/*
 * render_grid.c — store CRS to pixels through a grid sampled with PROJ,
 * for GetMap in a CRS other than the store's (see kt_wms_int.h).
 *
 * What it keeps true: a grid is used only when it agrees with PROJ to
 * MAX_ERR_PX at every cell centre (where bilinear interpolation is worst)
 * — far below what antialiasing shows; otherwise the caller reads in the
 * image CRS and the engine transforms every vertex, as before. Points
 * outside the grid go through PROJ. A point PROJ cannot transform becomes
 * NaN, which the renderer clamps like any other bad coordinate.
 */
#include <math.h>
#include <string.h>

#include "kt_wms_int.h"

#define GRID_CELLS 8
#define MAX_ERR_PX 0.02

/* PROJ, then the affine of the image. */
static void exact(const kt_px_grid_t *g, double x, double y, double *px, double *py)
{
	if (kt_transform_point(g->ctx, g->t, &x, &y, NULL) || !isfinite(x) || !isfinite(y)) {
		*px = *py = NAN;
		return;
	}
	*px = kt_render_px(g->r, x);
	*py = kt_render_py(g->r, y);
}

static void interpolate(const kt_px_grid_t *g, double u, double v, double *px, double *py)
{
	int n = g->n;
	int i = (int)u, j = (int)v;
	if (i >= n)
		i = n - 1;
	if (j >= n)
		j = n - 1;
	double fu = u - i, fv = v - j;
	const double *a = g->px + 2 * ((size_t)j * (n + 1) + i), *c = a + 2 * (n + 1);
	double w00 = (1 - fu) * (1 - fv), w10 = fu * (1 - fv), w01 = (1 - fu) * fv, w11 = fu * fv;
	*px = w00 * a[0] + w10 * a[2] + w01 * c[0] + w11 * c[2];
	*py = w00 * a[1] + w10 * a[3] + w01 * c[1] + w11 * c[3];
}

void kt_px_grid_map(const kt_px_grid_t *g, double x, double y, double *px, double *py)
{
	double u = (x - g->x0) / g->dx, v = (y - g->y0) / g->dy;
	if (u >= 0 && v >= 0 && u <= g->n && v <= g->n)
		interpolate(g, u, v, px, py);
	else
		exact(g, x, y, px, py);
}

void kt_px_grid_release(kt_px_grid_t *g)
{
	kt_free(g->px);
	memset(g, 0, sizeof *g);
}

/* 1 when the grid agrees with PROJ at every cell centre. */
static int precise(const kt_px_grid_t *g)
{
	for (int j = 0; j < g->n; j++) {
		for (int i = 0; i < g->n; i++) {
			double ex, ey, ix, iy;
			exact(g, g->x0 + (i + 0.5) * g->dx, g->y0 + (j + 0.5) * g->dy, &ex, &ey);
			interpolate(g, i + 0.5, j + 0.5, &ix, &iy);
			if (!(fabs(ex - ix) <= MAX_ERR_PX && fabs(ey - iy) <= MAX_ERR_PX))
				return 0;
		}
	}
	return 1;
}

int kt_px_grid_init(kt_px_grid_t *g, kt_ctx_t *ctx, const kt_render_t *r, int store_epsg,
                    int image_epsg, const double box[4])
{
	memset(g, 0, sizeof *g);
	kt_transform_t *back;
	double sbox[4];
	if (store_epsg == image_epsg || kt_ctx_transform(ctx, image_epsg, store_epsg, &back) ||
	    kt_transform_bbox(ctx, back, box, sbox) || kt_ctx_transform(ctx, store_epsg, image_epsg,
	                                                                &g->t))
		return 1;
	if (!(sbox[2] > sbox[0] && sbox[3] > sbox[1]) || !isfinite(sbox[2] - sbox[0]) ||
	    !isfinite(sbox[3] - sbox[1]))
		return 1;
	g->ctx = ctx;
	g->r = r;
	g->n = GRID_CELLS;
	g->x0 = sbox[0];
	g->y0 = sbox[1];
	g->dx = (sbox[2] - sbox[0]) / g->n;
	g->dy = (sbox[3] - sbox[1]) / g->n;
	size_t nodes = (size_t)(g->n + 1) * (g->n + 1);
	if (!(g->px = kt_malloc(2 * nodes * sizeof *g->px)))
		return KT_ENOMEM;
	for (int j = 0; j <= g->n; j++) {
		for (int i = 0; i <= g->n; i++) {
			double *o = g->px + 2 * ((size_t)j * (g->n + 1) + i);
			exact(g, g->x0 + i * g->dx, g->y0 + j * g->dy, &o[0], &o[1]);
			if (!isfinite(o[0]) || !isfinite(o[1])) {
				kt_px_grid_release(g);
				return 1;
			}
		}
	}
	if (!precise(g)) {
		kt_px_grid_release(g);
		return 1;
	}
	return 0;
}
