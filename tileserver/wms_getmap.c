/*
 * wms_getmap.c — GetMap: the requested layers drawn with their named
 * style into an image of WIDTH × HEIGHT pixels covering BBOX in CRS.
 *
 * Order of work: the MapLibre zoom of the image scale is found from the
 * bbox in EPSG:3857 (so the style's zoom expressions give what the
 * browser shows at that scale); for each layer, in the order of LAYERS
 * (the first is drawn first, at the bottom), the features in the bbox
 * grown by a margin (for strokes and labels) are read in the image CRS —
 * the box is first cut to the layer's extent, so an empty area costs no
 * query and a world-wide request never asks PROJ to take the planet into
 * a conic projection — and drawn by each non-symbol layer of its style,
 * in style order; then the labels of every layer, in the same order, so
 * that labels are on top of all geometry and collide across layers.
 *
 * Privacy: rows come through kt_ows_select_prepare (unmoderated
 * contributions are never read), values through kt_wms_feature_get.
 */
#include <math.h>
#include <string.h>

#include <cairo.h>

#include "kt_wms_int.h"

#define MARGIN_PX 64

typedef struct fset {
	kt_feature_t **v;
	size_t n, cap;
	int rc;
} fset_t;

static int keep(const kt_feature_t *f, void *data)
{
	fset_t *s = data;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 256;
		kt_feature_t **v = kt_realloc(s->v, cap * sizeof *v);
		if (!v) {
			s->rc = KT_ENOMEM;
			return 1;
		}
		s->v = v;
		s->cap = cap;
	}
	if (!(s->v[s->n] = kt_feature_clone_deep(f))) {
		s->rc = KT_ENOMEM;
		return 1;
	}
	s->n++;
	return 0;
}

static void fset_free(fset_t *s)
{
	for (size_t i = 0; i < s->n; i++)
		kt_feature_free(s->v[i]);
	kt_free(s->v);
	memset(s, 0, sizeof *s);
}

/* The layer's extent in the image CRS cut to box; 0 when they do not meet. */
static int cut_to_layer(kt_ctx_t *ctx, kt_arena_t *a, const kt_layer_t *l, int epsg, double box[4])
{
	kt_select_t s;
	kt_ows_select_t os = {.layer = l};
	double ext[4], img[4];
	kt_transform_t *t;
	if (kt_ows_select_prepare(a, &os, &s) || kt_features_select_extent(ctx, &s, ext))
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

static int read_layer(kt_request_t *req, kt_ctx_t *ctx, const kt_wms_req_t *w,
                      const kt_layer_t *l, fset_t *out)
{
	double mx = (w->bbox[2] - w->bbox[0]) / w->width * MARGIN_PX;
	double my = (w->bbox[3] - w->bbox[1]) / w->height * MARGIN_PX;
	double box[4] = {w->bbox[0] - mx, w->bbox[1] - my, w->bbox[2] + mx, w->bbox[3] + my};
	if (w->crs.epsg == 4326 || w->crs.epsg == 4171) {
		box[0] = fmax(box[0], -180); box[2] = fmin(box[2], 180);
		box[1] = fmax(box[1], -90); box[3] = fmin(box[3], 90);
	}
	if (!cut_to_layer(ctx, &req->arena, l, w->crs.epsg, box))
		return 0;
	kt_ows_select_t os = {.layer = l, .has_bbox = 1, .bbox_epsg = w->crs.epsg,
	                      .out_epsg = w->crs.epsg};
	memcpy(os.bbox, box, sizeof box);
	kt_select_t s;
	int rc = kt_ows_select_prepare(&req->arena, &os, &s);
	if (!rc)
		rc = kt_features_select(ctx, &s, keep, out);
	return out->rc ? out->rc : rc == KT_EABORT ? 0 : rc;
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

static int draw_pass(kt_render_t *r, const kt_wms_req_t *w, fset_t *sets, int labels)
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
			for (size_t f = 0; f < sets[i].n; f++) {
				int rc = kt_render_feature(r, sl, w->layers[i], sets[i].v[f]);
				if (rc)
					return rc;
			}
		}
	}
	return 0;
}

int kt_wms_draw(kt_request_t *req, kt_ctx_t *ctx, kt_wms_req_t *w, void *surface, kt_ows_exc_t *e)
{
	cairo_t *cr = cairo_create(surface);
	kt_render_t r = {.cr = cr, .width = w->width, .height = w->height, .pixel_ratio = 1,
	                 .arena = &req->arena};
	memcpy(r.bbox, w->bbox, sizeof r.bbox);
	r.zoom = image_zoom(ctx, w);
	fset_t *sets = kt_calloc(w->n_layers ? w->n_layers : 1, sizeof *sets);
	int rc = sets ? 0 : KT_ENOMEM;
	for (size_t i = 0; !rc && i < w->n_layers; i++)
		if ((rc = read_layer(req, ctx, w, w->layers[i], &sets[i])) && rc != KT_ENOMEM)
			kt_ows_fail(e, &req->arena, "NoApplicableCode", NULL, "reading %s: %s",
			            w->layers[i]->name, kt_errmsg(ctx));
	if (!rc)
		rc = draw_pass(&r, w, sets, 0);
	if (!rc)
		rc = draw_pass(&r, w, sets, 1);
	for (size_t i = 0; sets && i < w->n_layers; i++)
		fset_free(&sets[i]);
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
