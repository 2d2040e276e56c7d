/*
 * tile_build.c — one vector tile of a tileset, from the store.
 *
 * A tileset is a public layer with a geometry, or the composite
 * KT_TILE_COMPOSITE ("lanester": every such layer, each its own MVT
 * layer, in catalogue order). For each layer whose zoom range holds z, the
 * features near the buffered tile are read from the store (an area
 * outside the layer's extent costs no query, and below z12 the query bbox
 * is cut down to that extent, so a low-zoom tile never asks PROJ to
 * transform half the planet into a conic projection), encoded by
 * tile_geom.c and given their properties.
 *
 * The read is lean (kt_select_t lean: one borrowed feature reused for
 * every row, only what a tile shows) and index-only (the R*Tree
 * candidates: tile_geom.c clips to the buffered tile anyway).
 *
 * Geometries come in the store CRS. Rather than PROJ for every vertex
 * (a fifth of a tile's time), a feature lying in the tile's grid — the
 * buffered tile grown by a quarter on each side, cut into cells small
 * enough for the zoom — is transformed by bilinear interpolation between
 * grid nodes that PROJ transformed exactly. The grid is used only when
 * the interpolation error measured at the centres of nine cells (corners,
 * edges' middles, middle: the error varies smoothly across the grid) is
 * within KT_TILE_GRID_TOL (a five-hundredth of a tile unit, below the
 * rounding to integers); features beyond the grid, and every feature of a tile
 * whose grid is not accurate enough (low zooms), are transformed exactly.
 *
 * Privacy: a feature's properties are the attributes its layer marks
 * public — never another one — and, for network layers, its DT-DICT
 * class; a collaborative contribution appears only once published (the
 * layer's publish_when rule, kt_layer_feature_published). Feature ids are
 * the store's fid (its row id), which /api/features/{layer}/{id} accepts:
 * the uid, 36 characters per feature, is not repeated in the tile.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kt_tiles_int.h"

size_t kt_tileset_layers(const kt_store_t *store, const char *tileset,
                         const kt_layer_t **layers, size_t max)
{
	const kt_catalogue_t *cat = kt_store_catalogue(store);
	size_t n = 0;
	if (!tileset || !cat)
		return 0;
	if (!strcmp(tileset, KT_TILE_COMPOSITE)) {
		for (size_t i = 0; i < cat->n_layers; i++) {
			const kt_layer_t *l = cat->layers[i];
			if (l->is_public && l->geom_type != KT_GEOM_NONE && n < max)
				layers[n++] = l;
		}
		return n;
	}
	const kt_layer_t *l = kt_store_layer(store, tileset);
	if (!l || !l->is_public || l->geom_type == KT_GEOM_NONE || max < 1)
		return 0;
	layers[0] = l;
	return 1;
}

struct build {
	kt_ctx_t *ctx;
	const kt_layer_t *layer;
	kt_mvt_t *mvt;
	kt_tile_xf_t xf;     /* EPSG:3857 -> tile, affine */
	kt_tile_xf_t gxf;    /* store CRS -> tile through the grid */
	kt_tile_grid_t grid; /* n == 0: none */
	kt_transform_t *to_merc; /* store CRS -> 3857; NULL when the same */
	double sbox[4];      /* the buffered tile in the store CRS (enclosing) */
	int has_sbox;
	unsigned char *wkb;  /* a geometry reprojected exactly */
	size_t wkb_cap;
	kt_tgeom_t g;
	kt_tile_stats_t *stats;
	int rc; /* why the query was stopped */
};

/* ---- the reprojection grid -------------------------------------------- */

#define GRID_MARGIN 0.25  /* of the tile's size, on each side */
#define GRID_MAX 32       /* cells per side: beyond, PROJ per vertex */
/* Cells per side at z12 for KT_TILE_GRID_TOL: the error of bilinear
 * interpolation goes with the square of the cell size, so the count
 * halves every two zooms. With one cell at z12 the error is 1.4 units
 * from Lambert-93 in Montpellier and 1.6 from CC48 in Lanester (measured
 * with cs2cs): 32 cells give 0.0016. The check at cell centres catches a
 * CRS that bends more. */
#define GRID_CELLS_Z12 32.0
#define GRID_PROBES 3     /* cell centres checked per side: first, middle, last */

static int grid_cells(int z)
{
	double n = ceil(GRID_CELLS_Z12 * pow(2.0, (12 - z) / 2.0));
	return n < 2 ? 2 : n > GRID_MAX ? GRID_MAX + 1 : (int)n;
}

/* The cell of probe k (0 .. GRID_PROBES - 1) along a side of n cells. */
static size_t probe_cell(size_t k, size_t n)
{
	return k * (n - 1) / (GRID_PROBES - 1);
}

/* The store CRS point i cells east and j cells north of the grid origin. */
static void grid_point(const kt_tile_grid_t *g, double i, double j, double xy[2])
{
	xy[0] = g->x0 + i * g->dx;
	xy[1] = g->y0 + j * g->dy;
}

/* The grid's nodes then the centres of the probed cells, as one
 * LineString WKB in the store CRS (kt_transform_wkb transforms it in one
 * PROJ call). */
static unsigned char *grid_wkb(const kt_tile_grid_t *g, size_t *len)
{
	size_t n = (size_t)g->n, npts = (n + 1) * (n + 1) + GRID_PROBES * GRID_PROBES;
	*len = 9 + npts * 16;
	unsigned char *w = kt_malloc(*len);
	if (!w)
		return NULL;
	unsigned char *p = w + 9;
	const uint16_t one = 1;
	uint32_t type = 2, count = (uint32_t)npts;
	w[0] = *(const unsigned char *)&one; /* the host's byte order */
	memcpy(w + 1, &type, 4);
	memcpy(w + 5, &count, 4);
	double xy[2];
	for (size_t j = 0; j <= n; j++)
		for (size_t i = 0; i <= n; i++, p += 16) {
			grid_point(g, (double)i, (double)j, xy);
			memcpy(p, xy, 16);
		}
	for (size_t j = 0; j < GRID_PROBES; j++)
		for (size_t i = 0; i < GRID_PROBES; i++, p += 16) {
			grid_point(g, probe_cell(i, n) + 0.5, probe_cell(j, n) + 0.5, xy);
			memcpy(p, xy, 16);
		}
	return w;
}

/* Builds b->grid around the buffered tile tb (3857). 0 when the tile gets
 * no grid: PROJ failed, or the grid is not accurate enough. */
static int grid_build(struct build *b, const double tb[4])
{
	kt_store_t *store = kt_ctx_store(b->ctx);
	kt_transform_t *to_store;
	double sb[4];
	kt_tile_grid_t *g = &b->grid;
	g->n = grid_cells(b->xf.z);
	if (g->n > GRID_MAX || kt_ctx_transform(b->ctx, 3857, kt_store_epsg(store), &to_store) ||
	    kt_transform_bbox(b->ctx, to_store, tb, sb))
		return g->n = 0;
	memcpy(b->sbox, sb, sizeof sb);
	b->has_sbox = 1;
	double mx = (sb[2] - sb[0]) * GRID_MARGIN, my = (sb[3] - sb[1]) * GRID_MARGIN;
	g->x0 = sb[0] - mx;
	g->y0 = sb[1] - my;
	g->dx = (sb[2] - sb[0] + 2 * mx) / g->n;
	g->dy = (sb[3] - sb[1] + 2 * my) / g->n;
	size_t len, nodes = (size_t)(g->n + 1) * (g->n + 1);
	unsigned char *w = grid_wkb(g, &len);
	g->t = kt_malloc(nodes * 2 * sizeof *g->t);
	int ok = w && g->t && kt_transform_wkb(b->ctx, b->to_merc, w, len) == 0;
	for (size_t k = 0; ok && k < nodes + GRID_PROBES * GRID_PROBES; k++) {
		double xy[2], c[2];
		memcpy(xy, w + 9 + k * 16, 16);
		kt_tile_xf_apply(&b->xf, &xy[0], &xy[1]);
		if (k < nodes) {
			memcpy(g->t + 2 * k, xy, 16);
			continue;
		}
		/* a probed cell's centre: interpolated against exact */
		size_t i = (k - nodes) % GRID_PROBES, j = (k - nodes) / GRID_PROBES;
		grid_point(g, probe_cell(i, (size_t)g->n) + 0.5, probe_cell(j, (size_t)g->n) + 0.5, c);
		kt_tile_xf_apply(&b->gxf, &c[0], &c[1]);
		ok = hypot(c[0] - xy[0], c[1] - xy[1]) <= KT_TILE_GRID_TOL;
	}
	kt_free(w);
	if (!ok) {
		kt_free(g->t);
		g->t = NULL;
		g->n = 0;
	}
	return ok;
}

/* 1 when the bounds b (store CRS) lie in the grid. */
static int grid_holds(const kt_tile_grid_t *g, const double b[4])
{
	return g->n && b[0] >= g->x0 && b[1] >= g->y0 && b[2] <= g->x0 + g->n * g->dx &&
	       b[3] <= g->y0 + g->n * g->dy;
}

/* The geometry of f and the transformation to tile space: through the
 * grid when f lies in it, else reprojected exactly into b->wkb. */
static int feature_geometry(struct build *b, const kt_feature_t *f, const unsigned char **wkb,
                            const kt_tile_xf_t **xf)
{
	double bounds[4];
	*wkb = f->wkb;
	*xf = &b->xf;
	if (!b->to_merc)
		return 0;
	if (kt_wkb_bounds(f->wkb, f->wkb_len, bounds) == 0 && grid_holds(&b->grid, bounds)) {
		*xf = &b->gxf;
		return 0;
	}
	if (f->wkb_len > b->wkb_cap) {
		unsigned char *p = kt_realloc(b->wkb, f->wkb_len);
		if (!p)
			return KT_ENOMEM;
		b->wkb = p;
		b->wkb_cap = f->wkb_len;
	}
	memcpy(b->wkb, f->wkb, f->wkb_len);
	*wkb = b->wkb;
	return kt_transform_wkb(b->ctx, b->to_merc, b->wkb, f->wkb_len);
}

/* ---- features ----------------------------------------------------------- */

static int feature_props(kt_mvt_t *mvt, const kt_layer_t *l, const kt_feature_t *f)
{
	int rc = 0;
	for (size_t i = 0; !rc && i < l->n_attrs && i < f->n_values; i++)
		if (l->attrs[i].is_public)
			rc = kt_mvt_prop(mvt, l->attrs[i].name, &f->values[i]);
	if (!rc && l->network != KT_NETWORK_NONE && f->precision.dtdict_class) {
		char cls[2] = {f->precision.dtdict_class, 0};
		rc = kt_mvt_prop_text(mvt, "dtdict_class", cls);
	}
	return rc;
}

static int on_feature(const kt_feature_t *f, void *data)
{
	struct build *b = data;
	if (!f->wkb || !kt_layer_feature_published(b->layer, f))
		return 0;
	const unsigned char *wkb;
	const kt_tile_xf_t *xf;
	int rc = feature_geometry(b, f, &wkb, &xf);
	if (!rc)
		rc = kt_tile_geom_encode(kt_ctx_geos(b->ctx), xf, wkb, f->wkb_len, &b->g);
	else
		b->g.repaired = 0;
	if (b->g.repaired > 0)
		b->stats->repaired++;
	if (rc == KT_ENOMEM) {
		b->rc = rc;
		return 1;
	}
	if (rc < 0 || b->g.repaired < 0) {
		/* one unreadable geometry must not take the tile down with it */
		b->stats->invalid++;
		dprintf(STDERR_FILENO, "kartenn: tiles: %s (fid %lld) left out of z%d: %s\n",
		        b->layer->name, (long long)f->fid, b->xf.z,
		        rc < 0 ? "geometry unreadable or not reprojectable"
		                 : "invalid after quantisation, not repairable");
		return 0;
	}
	if (rc == 0)
		return 0;
	rc = kt_mvt_feature(b->mvt, (uint64_t)f->fid, &b->g);
	if (!rc)
		rc = feature_props(b->mvt, b->layer, f);
	if (rc) {
		b->rc = rc;
		return 1;
	}
	return 0;
}

/* The query bbox: the buffered tile cut to the layer's extent. 0: none. */
static int query_box(kt_ctx_t *ctx, kt_tiles_t *tiles, const kt_layer_t *l, const double tb[4],
                     double q[4], int *rc)
{
	double merc[4];
	int empty = 0;
	*rc = kt_tiles_extent(tiles, ctx, l, merc, NULL, &empty);
	if (*rc || empty)
		return 0;
	const double pad = 1.0; /* a metre: the extent is computed through PROJ */
	q[0] = tb[0] > merc[0] - pad ? tb[0] : merc[0] - pad;
	q[1] = tb[1] > merc[1] - pad ? tb[1] : merc[1] - pad;
	q[2] = tb[2] < merc[2] + pad ? tb[2] : merc[2] + pad;
	q[3] = tb[3] < merc[3] + pad ? tb[3] : merc[3] + pad;
	return q[0] <= q[2] && q[1] <= q[3];
}

static int build_layer(struct build *b, kt_tiles_t *tiles, const double tb[4])
{
	double q[4];
	int rc = 0;
	if (!query_box(b->ctx, tiles, b->layer, tb, q, &rc))
		return rc;
	rc = kt_mvt_layer(b->mvt, b->layer->name);
	if (rc)
		return rc;
	kt_select_t sel = {.q = {.layer = b->layer->name, .has_bbox = 1, .bbox_epsg = 3857},
	                   .bbox_index_only = 1, .lean = 1};
	memcpy(sel.q.bbox, q, sizeof q);
	if (b->has_sbox) {
		/* the grid's bbox, already in the store CRS: no second PROJ
		 * bbox transform (the index finds nothing beyond the extent) */
		sel.q.bbox_epsg = kt_store_epsg(kt_ctx_store(b->ctx));
		memcpy(sel.q.bbox, b->sbox, sizeof b->sbox);
	}
	b->rc = 0;
	rc = kt_features_select(b->ctx, &sel, on_feature, b);
	return rc == KT_EABORT && b->rc ? b->rc : rc;
}

int kt_tile_build(kt_ctx_t *ctx, kt_tiles_t *tiles, const kt_layer_t *const *layers,
                  size_t n_layers, int z, uint32_t x, uint32_t y, unsigned char **out,
                  size_t *len, kt_tile_stats_t *stats)
{
	kt_tile_stats_t local;
	if (!stats)
		stats = &local;
	memset(stats, 0, sizeof *stats);
	*out = NULL;
	*len = 0;
	struct build b = {.ctx = ctx, .stats = stats};
	b.mvt = kt_mvt_new(KT_TILE_EXTENT);
	if (!b.mvt)
		return KT_ENOMEM;
	kt_tile_xf_init(&b.xf, z, x, y);
	b.gxf = b.xf;
	b.gxf.grid = &b.grid;
	double tb[4];
	kt_tile_bounds(z, x, y, KT_TILE_BUFFER, tb);
	int epsg = kt_store_epsg(kt_ctx_store(ctx));
	int rc = epsg == 3857 ? 0 : kt_ctx_transform(ctx, epsg, 3857, &b.to_merc);
	if (!rc && b.to_merc)
		grid_build(&b, tb);
	for (size_t i = 0; !rc && i < n_layers; i++) {
		b.layer = layers[i];
		if (z < layers[i]->minzoom || z > layers[i]->maxzoom)
			continue;
		rc = build_layer(&b, tiles, tb);
	}
	if (!rc)
		rc = kt_mvt_serialize(b.mvt, tiles->opts.max_tile_bytes, out, len, &stats->dropped);
	if (!rc)
		stats->features = kt_mvt_feature_count(b.mvt) - stats->dropped;
	kt_tgeom_release(&b.g);
	kt_free(b.grid.t);
	kt_free(b.wkb);
	kt_mvt_free(b.mvt);
	return rc;
}
