/*
 * wms_getmap.c — GetMap: the requested layers drawn with their named
 * style into an image of WIDTH × HEIGHT pixels covering BBOX in CRS.
 *
 * Order of work: the MapLibre zoom of the image scale is found from the
 * bbox in EPSG:3857 (so the style's zoom expressions give what the
 * browser shows at that scale); for each layer, in the order of LAYERS
 * (the first is drawn first, at the bottom), the features in the bbox
 * grown by a margin (for strokes and labels) are read once into pixel
 * coordinates (kt_px_set_t, render_batch.c) — the box is first cut to the
 * layer's extent, so an empty area costs no query and a world-wide
 * request never asks PROJ to take the planet into a conic projection; a
 * layer whose style reads no property is read as geometry only (lean
 * rows, in the store CRS through a grid when the image CRS is another,
 * render_grid.c) — and drawn by each non-symbol layer of its style, in
 * style order, a whole layer at a time; then the labels of every layer,
 * in the same order, so that labels are on top of all geometry and
 * collide across layers.
 *
 * Privacy: rows come through kt_ows_select_prepare (unmoderated
 * contributions are never read), values through kt_wms_feature_get.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cairo.h>

#include "kt_wms_int.h"

#define MARGIN_PX 64

/* What reading a layer fills: the set of its features for this image. */
typedef struct reader {
	kt_px_set_t *set;
	const kt_render_t *r;
	int keep;          /* the style reads properties: keep the features */
	int rc;
} reader_t;

static int on_row(const kt_feature_t *f, void *data)
{
	reader_t *rd = data;
	kt_feature_t *copy = NULL;
	if (!f->wkb || !f->wkb_len)
		return 0; /* nothing to draw, nor to label */
	if (rd->keep && !(copy = kt_feature_clone_deep(f))) {
		rd->rc = KT_ENOMEM;
		return 1;
	}
	/* a malformed geometry costs that feature only */
	if (kt_px_set_add(rd->set, rd->r, f->wkb, f->wkb_len, copy) == KT_ENOMEM) {
		rd->rc = KT_ENOMEM;
		return 1;
	}
	return 0;
}

/* 1 when the style layers drawing l at this zoom read feature properties
 * (a filter, data-driven paint, labels): then the features are kept. */
static int style_reads_features(const kt_render_t *r, const kt_wms_style_t *st,
                                const kt_layer_t *l)
{
	size_t k;
	const json_t *sl;
	json_array_foreach(st->layers, k, sl) {
		const char *src = json_string_value(json_object_get(sl, "source-layer"));
		const char *type = json_string_value(json_object_get(sl, "type"));
		if (!src || !type || strcmp(src, l->name) || !kt_render_layer_visible(r, sl))
			continue;
		if (!strcmp(type, "symbol") ? !st->no_labels : !kt_style_layer_constant(sl))
			return 1;
	}
	return 0;
}

/* Layer extents as read, per worker thread. Reading one scans the whole
 * R*Tree of the layer (it was a third of a GetMap's time), and it changes
 * only with the data: an entry holds while the store's last change id
 * (one indexed read) is the one it was read at. The store's path is part
 * of the key, since a store opened later may get the address of a closed
 * one. */
#define EXTENT_MEMO 8

typedef struct extent_memo {
	const kt_store_t *store;
	char path[256];
	char layer[64];
	int64_t change;
	int rc;
	double ext[4];
} extent_memo_t;

static _Thread_local extent_memo_t memo[EXTENT_MEMO];
static _Thread_local unsigned memo_next;

static extent_memo_t *memo_find(const kt_store_t *st, const char *path, const char *layer,
                                int64_t change)
{
	for (int i = 0; i < EXTENT_MEMO; i++) {
		extent_memo_t *m = &memo[i];
		if (m->store == st && m->change == change && !strcmp(m->layer, layer) &&
		    !strcmp(m->path, path))
			return m;
	}
	return NULL;
}

/* The extent of the published features of l in the store CRS: 0, or
 * KT_ENOENT when none has a geometry (or it cannot be read). */
static int layer_extent(kt_ctx_t *ctx, kt_arena_t *a, const kt_layer_t *l, double ext[4])
{
	const kt_store_t *st = kt_ctx_store(ctx);
	const char *path = kt_store_path(st);
	int64_t change;
	int memo_ok = !kt_changes_last(ctx, &change) && path && strlen(path) < sizeof memo->path &&
	              strlen(l->name) < sizeof memo->layer;
	extent_memo_t *m = memo_ok ? memo_find(st, path, l->name, change) : NULL;
	if (m) {
		memcpy(ext, m->ext, sizeof m->ext);
		return m->rc;
	}
	kt_select_t s;
	kt_ows_select_t os = {.layer = l};
	int rc = kt_ows_select_prepare(a, &os, &s);
	if (!rc)
		rc = kt_features_select_extent(ctx, &s, ext);
	if (rc == KT_ENOMEM)
		return rc;
	if (rc) {
		rc = KT_ENOENT;
		memset(ext, 0, 4 * sizeof *ext);
	}
	if (memo_ok) {
		m = &memo[memo_next++ % EXTENT_MEMO];
		m->store = st;
		snprintf(m->path, sizeof m->path, "%s", path);
		snprintf(m->layer, sizeof m->layer, "%s", l->name);
		m->change = change;
		m->rc = rc;
		memcpy(m->ext, ext, sizeof m->ext);
	}
	return rc;
}

/* The layer's extent in the image CRS cut to box; 0 when they do not meet. */
static int cut_to_layer(kt_ctx_t *ctx, kt_arena_t *a, const kt_layer_t *l, int epsg, double box[4])
{
	double ext[4], img[4];
	kt_transform_t *t;
	if (layer_extent(ctx, a, l, ext))
		return 0;
	double pad = 1; /* a point layer of one feature has no size */
	ext[0] -= pad; ext[1] -= pad; ext[2] += pad; ext[3] += pad;
	if (kt_ctx_transform(ctx, kt_store_epsg(kt_ctx_store(ctx)), epsg, &t) ||
	    kt_transform_bbox(ctx, t, ext, img))
		return 1; /* cannot tell: query the whole box */
	box[0] = fmax(box[0], img[0]);
	box[1] = fmax(box[1], img[1]);
	box[2] = fmin(box[2], img[2]);
	box[3] = fmin(box[3], img[3]);
	return box[0] < box[2] && box[1] < box[3];
}

/* The box read: the image grown by a margin (for strokes and labels). */
static void read_box(const kt_wms_req_t *w, double box[4])
{
	double mx = (w->bbox[2] - w->bbox[0]) / w->width * MARGIN_PX;
	double my = (w->bbox[3] - w->bbox[1]) / w->height * MARGIN_PX;
	box[0] = w->bbox[0] - mx;
	box[1] = w->bbox[1] - my;
	box[2] = w->bbox[2] + mx;
	box[3] = w->bbox[3] + my;
	if (w->crs.epsg == 4326 || w->crs.epsg == 4171) {
		box[0] = fmax(box[0], -180); box[2] = fmin(box[2], 180);
		box[1] = fmax(box[1], -90); box[3] = fmin(box[3], 90);
	}
}

/* Reads layer i of w into out. With a grid (r->grid), geometry that no
 * label needs is read in the store CRS and taken to pixels through it. */
static int read_layer(kt_request_t *req, kt_ctx_t *ctx, const kt_wms_req_t *w, size_t i,
                      const kt_render_t *r, kt_px_set_t *out)
{
	const kt_layer_t *l = w->layers[i];
	double box[4];
	read_box(w, box);
	if (!cut_to_layer(ctx, &req->arena, l, w->crs.epsg, box))
		return 0;
	kt_ows_select_t os = {.layer = l, .has_bbox = 1, .bbox_epsg = w->crs.epsg,
	                      .out_epsg = w->crs.epsg};
	memcpy(os.bbox, box, sizeof box);
	kt_select_t s;
	kt_render_t rg = *r; /* the grid for geometry only (labels need their
	                      * features in the image CRS) */
	reader_t rd = {out, &rg, style_reads_features(r, w->styles[i], l), 0};
	if (rd.keep || !r->grid)
		rg.grid = NULL;
	else
		os.out_epsg = kt_store_epsg(kt_ctx_store(ctx));
	int rc = kt_ows_select_prepare(&req->arena, &os, &s);
	/* Geometry only: lean rows (borrowed, no copy per row), and the index
	 * test alone, since drawing clips what lies outside the image anyway.
	 * Kept features keep the exact test: a label may reach into the image
	 * from a feature of the margin. */
	s.lean = !rd.keep;
	s.bbox_index_only = !rd.keep;
	s.any_order = !rd.keep; /* one constant paint: drawing order is invisible */
	if (!rc)
		rc = kt_features_select(ctx, &s, on_row, &rd);
	return rd.rc ? rd.rc : rc == KT_EABORT ? 0 : rc;
}

/* The MapLibre zoom of the image: its resolution in EPSG:3857 metres. */
static double image_zoom(kt_ctx_t *ctx, const kt_wms_req_t *w)
{
	kt_transform_t *t;
	double m[4];
	if (w->crs.epsg == 3857 || w->crs.epsg == 900913)
		return kt_render_zoom((w->bbox[2] - w->bbox[0]) / w->width);
	if (!kt_ctx_transform(ctx, w->crs.epsg, 3857, &t) && !kt_transform_bbox(ctx, t, w->bbox, m) &&
	    m[2] > m[0])
		return kt_render_zoom((m[2] - m[0]) / w->width);
	double deg = w->crs.epsg == 4326 || w->crs.epsg == 4171;
	return kt_render_zoom((w->bbox[2] - w->bbox[0]) / w->width * (deg ? 111319.49 : 1.5));
}

static int draw_pass(kt_render_t *r, const kt_wms_req_t *w, kt_px_set_t *sets, int labels)
{
	for (size_t i = 0; i < w->n_layers; i++) {
		const kt_wms_style_t *st = w->styles[i];
		size_t k;
		const json_t *sl;
		if (labels && st->no_labels)
			continue;
		json_array_foreach(st->layers, k, sl) {
			const char *src = json_string_value(json_object_get(sl, "source-layer"));
			const char *type = json_string_value(json_object_get(sl, "type"));
			if (!src || !type || strcmp(src, w->layers[i]->name) ||
			    !strcmp(type, "symbol") != !!labels || !kt_render_layer_visible(r, sl))
				continue;
			if (!labels) {
				int rc = kt_render_set(r, sl, w->layers[i], &sets[i]);
				if (rc)
					return rc;
				continue;
			}
			for (size_t f = 0; f < sets[i].n_feat; f++) {
				const kt_feature_t *feat = sets[i].feats[f].f;
				int rc = feat ? kt_render_feature(r, sl, w->layers[i], feat) : 0;
				if (rc)
					return rc;
			}
		}
	}
	return 0;
}

/* 1 when cr draws straight into the pixels of an image surface. */
static int direct_target(cairo_surface_t *s)
{
	cairo_format_t f = cairo_surface_get_type(s) == CAIRO_SURFACE_TYPE_IMAGE
		? cairo_image_surface_get_format(s) : CAIRO_FORMAT_INVALID;
	return f == CAIRO_FORMAT_ARGB32 || f == CAIRO_FORMAT_RGB24;
}

int kt_wms_draw(kt_request_t *req, kt_ctx_t *ctx, kt_wms_req_t *w, void *surface, kt_ows_exc_t *e)
{
	cairo_t *cr = cairo_create(surface);
	kt_render_t r = {.cr = cr, .width = w->width, .height = w->height, .pixel_ratio = 1,
	                 .arena = &req->arena, .direct = direct_target(surface)};
	memcpy(r.bbox, w->bbox, sizeof r.bbox);
	r.zoom = image_zoom(ctx, w);
	kt_px_set_t *sets = kt_calloc(w->n_layers ? w->n_layers : 1, sizeof *sets);
	int rc = sets ? 0 : KT_ENOMEM;
	double box[4];
	read_box(w, box);
	int geometry_only = 0; /* some layer is read without its features */
	for (size_t i = 0; i < w->n_layers; i++)
		geometry_only |= !style_reads_features(&r, w->styles[i], w->layers[i]);
	kt_px_grid_t grid = {0};
	int no_grid = rc || !geometry_only
		? 1 : kt_px_grid_init(&grid, ctx, &r, kt_store_epsg(kt_ctx_store(ctx)), w->crs.epsg, box);
	if (no_grid == KT_ENOMEM)
		rc = KT_ENOMEM;
	r.grid = no_grid ? NULL : &grid;
	for (size_t i = 0; !rc && i < w->n_layers; i++)
		if ((rc = read_layer(req, ctx, w, i, &r, &sets[i])) && rc != KT_ENOMEM)
			kt_ows_fail(e, &req->arena, "NoApplicableCode", NULL, "reading %s: %s",
			            w->layers[i]->name, kt_errmsg(ctx));
	r.grid = NULL; /* the sets are in pixels */
	kt_px_grid_release(&grid);
	if (!rc)
		rc = draw_pass(&r, w, sets, 0);
	if (!rc)
		rc = draw_pass(&r, w, sets, 1);
	for (size_t i = 0; sets && i < w->n_layers; i++)
		kt_px_set_release(&sets[i]);
	kt_free(sets);
	kt_render_release(&r);
	cairo_destroy(cr);
	return rc;
}

int kt_wms_getmap(kt_request_t *req, kt_wms_req_t *w)
{
	kt_ows_exc_t e = {"NoApplicableCode", NULL, "out of memory"};
	kt_ctx_t *ctx = kt_req_ctx(req, NULL);
	cairo_surface_t *s = cairo_image_surface_create(
		w->transparent ? CAIRO_FORMAT_ARGB32 : CAIRO_FORMAT_RGB24, w->width, w->height);
	if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
		cairo_surface_destroy(s);
		w->exc = KT_WMS_EXC_XML;
		return kt_wms_respond_exc(req, w, &e);
	}
	if (!w->transparent) {
		cairo_t *cr = cairo_create(s);
		cairo_set_source_rgb(cr, w->bg[0], w->bg[1], w->bg[2]);
		cairo_paint(cr);
		cairo_destroy(cr);
	}
	int rc = kt_wms_draw(req, ctx, w, s, &e);
	if (rc == KT_ENOMEM || !rc)
		rc = rc ? rc : kt_wms_respond_image(req, s, w->format);
	else
		rc = kt_wms_respond_exc(req, w, &e);
	cairo_surface_destroy(s);
	return rc;
}
