/*
 * wms_featureinfo.c — GetFeatureInfo: the features of QUERY_LAYERS under
 * the pixel (I, J) — (X, Y) in 1.1.1 — of the map GetMap would draw, in
 * HTML, GeoJSON, GML 3.2 or plain text.
 *
 * Hit test, in pixels as the user sees the map: a point within
 * TOLERANCE_PX of the pixel centre, a line within TOLERANCE_PX, a polygon
 * containing the pixel centre (or within 2 px of its outline). Features
 * are read in a box of the tolerance around the pixel; the answer lists
 * the topmost first (the last layer of QUERY_LAYERS, the last feature
 * drawn), at most FEATURE_COUNT (default 1).
 *
 * Privacy: a hit is described by its layer, uid, public attributes and,
 * for network layers, its DT-DICT class — never a private attribute;
 * rows come through kt_ows_select_prepare (moderated contributions only).
 * GeoJSON geometries are in EPSG:4326 longitude/latitude (RFC 7946), GML
 * geometries in the CRS of the request, in its axis order.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kt_wms_int.h"

#define TOLERANCE_PX 6.0

typedef struct hit {
	const kt_layer_t *layer;
	kt_feature_t *f;
} hit_t;

typedef struct gfi {
	kt_request_t *req;
	kt_wms_req_t *w;
	kt_render_t r;       /* the world to pixel transform only */
	const kt_layer_t *layer;
	hit_t *hits;
	size_t n, cap;
	int hit;             /* of the feature being tested */
	int inside;
	int rc;
} gfi_t;

static double seg_dist(double px, double py, double ax, double ay, double bx, double by)
{
	double dx = bx - ax, dy = by - ay, l2 = dx * dx + dy * dy;
	double t = l2 > 0 ? ((px - ax) * dx + (py - ay) * dy) / l2 : 0;
	t = t < 0 ? 0 : t > 1 ? 1 : t;
	return hypot(ax + t * dx - px, ay + t * dy - py);
}

static int on_run(int kind, int first, const double *pts, size_t n, void *data)
{
	gfi_t *g = data;
	double px = g->w->i + 0.5, py = g->w->j + 0.5;
	(void)first;
	for (size_t i = 0; i < n; i++) {
		double ax = kt_render_px(&g->r, pts[2 * i]), ay = kt_render_py(&g->r, pts[2 * i + 1]);
		if (kind == 0) {
			if (hypot(ax - px, ay - py) <= TOLERANCE_PX)
				g->hit = 1;
			continue;
		}
		if (i + 1 == n)
			break;
		double bx = kt_render_px(&g->r, pts[2 * i + 2]), by = kt_render_py(&g->r, pts[2 * i + 3]);
		double d = seg_dist(px, py, ax, ay, bx, by);
		if (d <= (kind == 1 ? TOLERANCE_PX : 2))
			g->hit = 1;
		if (kind == 2 && (ay > py) != (by > py) && px < (bx - ax) * (py - ay) / (by - ay) + ax)
			g->inside = !g->inside;
	}
	return 0;
}

static int on_feature(const kt_feature_t *f, void *data)
{
	gfi_t *g = data;
	g->hit = g->inside = 0;
	if (!f->wkb || kt_wkb_runs(f->wkb, f->wkb_len, on_run, g) || !(g->hit || g->inside))
		return 0;
	if (g->n == g->cap) {
		size_t cap = g->cap ? 2 * g->cap : 16;
		hit_t *v = kt_realloc(g->hits, cap * sizeof *v);
		if (!v) {
			g->rc = KT_ENOMEM;
			return 1;
		}
		g->hits = v;
		g->cap = cap;
	}
	if (!(g->hits[g->n].f = kt_feature_clone_deep(f))) {
		g->rc = KT_ENOMEM;
		return 1;
	}
	g->hits[g->n++].layer = g->layer;
	return 0;
}

static int find(gfi_t *g, kt_ctx_t *ctx)
{
	kt_wms_req_t *w = g->w;
	double rx = (w->bbox[2] - w->bbox[0]) / w->width, ry = (w->bbox[3] - w->bbox[1]) / w->height;
	double cx = w->bbox[0] + (w->i + 0.5) * rx, cy = w->bbox[3] - (w->j + 0.5) * ry;
	double t = TOLERANCE_PX + 1;
	for (size_t i = 0; i < w->n_qlayers && !g->rc; i++) {
		g->layer = w->qlayers[i];
		kt_ows_select_t os = {.layer = g->layer, .has_bbox = 1, .bbox_epsg = w->crs.epsg,
		                      .out_epsg = w->crs.epsg,
		                      .bbox = {cx - t * rx, cy - t * ry, cx + t * rx, cy + t * ry}};
		kt_select_t s;
		int rc = kt_ows_select_prepare(&g->req->arena, &os, &s);
		if (!rc)
			rc = kt_features_select(ctx, &s, on_feature, g);
		if (rc && rc != KT_EABORT)
			return rc;
	}
	return g->rc;
}

/* ---- output -------------------------------------------------------------- */

static void html_value(kt_sbuf_t *b, const kt_value_t *v)
{
	if (v->is_null)
		return;
	switch (v->type) {
	case KT_ATTR_INTEGER: kt_sbuf_printf(b, "%lld", (long long)v->i); break;
	case KT_ATTR_REAL: kt_sbuf_printf(b, "%.15g", v->d); break;
	case KT_ATTR_BOOLEAN: kt_sbuf_puts(b, v->i ? "oui" : "non"); break;
	default: kt_sbuf_xml(b, v->s ? v->s : "");
	}
}

static void out_html(kt_sbuf_t *b, const hit_t *h, size_t n)
{
	kt_sbuf_puts(b, "<!DOCTYPE html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\">"
	                "<title>Informations</title><style>body{font-family:sans-serif;font-size:13px}"
	                "table{border-collapse:collapse;margin-bottom:1em}th,td{border:1px solid #ccc;"
	                "padding:2px 6px;text-align:left}caption{font-weight:bold;text-align:left}"
	                "</style></head><body>\n");
	if (!n)
		kt_sbuf_puts(b, "<p>Aucun objet à cet endroit.</p>\n");
	for (size_t k = 0; k < n; k++) {
		const kt_layer_t *l = h[k].layer;
		const kt_feature_t *f = h[k].f;
		kt_sbuf_puts(b, "<table class=\"feature\" data-layer=\"");
		kt_sbuf_xml(b, l->name);
		kt_sbuf_puts(b, "\"><caption>");
		kt_sbuf_xml(b, l->title ? l->title : l->name);
		kt_sbuf_puts(b, "</caption>\n<tr><th>uid</th><td>");
		kt_sbuf_xml(b, f->uid ? f->uid : "");
		kt_sbuf_puts(b, "</td></tr>\n");
		for (size_t i = 0; i < l->n_attrs && i < f->n_values; i++) {
			if (!l->attrs[i].is_public)
				continue;
			kt_sbuf_puts(b, "<tr><th title=\"");
			kt_sbuf_xml(b, l->attrs[i].name);
			kt_sbuf_puts(b, "\">");
			kt_sbuf_xml(b, l->attrs[i].title ? l->attrs[i].title : l->attrs[i].name);
			kt_sbuf_puts(b, "</th><td>");
			html_value(b, &f->values[i]);
			kt_sbuf_puts(b, "</td></tr>\n");
		}
		if (l->network != KT_NETWORK_NONE && f->precision.dtdict_class)
			kt_sbuf_printf(b, "<tr><th title=\"dtdict_class\">Classe de précision DT-DICT</th>"
			                  "<td>%c</td></tr>\n", f->precision.dtdict_class);
		kt_sbuf_puts(b, "</table>\n");
	}
	kt_sbuf_puts(b, "</body></html>\n");
}

static void out_text(kt_sbuf_t *b, const hit_t *h, size_t n)
{
	if (!n)
		kt_sbuf_puts(b, "no feature\n");
	for (size_t k = 0; k < n; k++) {
		const kt_layer_t *l = h[k].layer;
		const kt_feature_t *f = h[k].f;
		kt_sbuf_printf(b, "layer %s, feature %s\n", l->name, f->uid ? f->uid : "");
		for (size_t i = 0; i < l->n_attrs && i < f->n_values; i++) {
			if (!l->attrs[i].is_public || f->values[i].is_null)
				continue;
			kt_sbuf_printf(b, "  %s = ", l->attrs[i].name);
			kt_xml_value(b, &f->values[i]);
			kt_sbuf_puts(b, "\n");
		}
		if (l->network != KT_NETWORK_NONE && f->precision.dtdict_class)
			kt_sbuf_printf(b, "  dtdict_class = %c\n", f->precision.dtdict_class);
	}
}

static int out_json(gfi_t *g, kt_ctx_t *ctx, kt_sbuf_t *b, size_t n, const hit_t *h)
{
	json_t *fc = json_pack("{s:s, s:[]}", "type", "FeatureCollection", "features");
	json_t *arr = json_object_get(fc, "features");
	for (size_t k = 0; fc && k < n; k++) {
		kt_feature_t *f4326 = NULL;
		const kt_feature_t *f = h[k].f;
		if (f->uid && !kt_feature_get(ctx, h[k].layer->name, f->uid, 4326, &f4326))
			f = f4326;
		const char *id = kt_arena_printf(&g->req->arena, "%s.%s", h[k].layer->name,
		                                 f->uid ? f->uid : "");
		json_t *j = id ? kt_ows_feature_json(h[k].layer, f, id) : NULL;
		if (j) {
			json_object_set_new(j, "layer", json_string(h[k].layer->name));
			if (h[k].layer->network != KT_NETWORK_NONE && f->precision.dtdict_class) {
				char c[2] = {f->precision.dtdict_class, 0};
				json_object_set_new(json_object_get(j, "properties"), "dtdict_class", json_string(c));
			}
		}
		kt_feature_free(f4326);
		if (!j || json_array_append_new(arr, j)) {
			json_decref(fc);
			return KT_ENOMEM;
		}
	}
	char *s = fc ? json_dumps(fc, KT_JSON_FLAGS) : NULL;
	json_decref(fc);
	if (!s)
		return KT_ENOMEM;
	kt_sbuf_puts(b, s);
	free(s);
	return 0;
}

static void out_gml(gfi_t *g, kt_sbuf_t *b, size_t n, const hit_t *h)
{
	kt_wms_req_t *w = g->w;
	char srs[96];
	kt_crs_t crs = w->crs;
	if (crs.form == KT_CRS_SHORT && w->v130)
		crs.form = KT_CRS_URN;
	kt_ows_crs_name(&crs, srs, sizeof srs);
	kt_sbuf_printf(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<wfs:FeatureCollection "
	                  "xmlns:wfs=\"http://www.opengis.net/wfs/2.0\" "
	                  "xmlns:gml=\"http://www.opengis.net/gml/3.2\" xmlns:" KT_OWS_PREFIX "=\""
	                  KT_OWS_NS "\" numberMatched=\"%zu\" numberReturned=\"%zu\" "
	                  "timeStamp=\"1970-01-01T00:00:00Z\">\n", n, n);
	for (size_t k = 0; k < n; k++) {
		const kt_layer_t *l = h[k].layer;
		const kt_feature_t *f = h[k].f;
		const char *id = kt_arena_printf(&g->req->arena, "%s.%s", l->name, f->uid ? f->uid : "x");
		for (char *p = (char *)id; p && *p; p++)
			if (!(*p == '.' || *p == '-' || *p == '_' || (*p >= '0' && *p <= '9') ||
			      (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
				*p = '_';
		kt_sbuf_printf(b, "<wfs:member><" KT_OWS_PREFIX ":%s gml:id=\"%s\">", l->name, id ? id : "f");
		for (size_t i = 0; i < l->n_attrs && i < f->n_values; i++) {
			if (!l->attrs[i].is_public || f->values[i].is_null)
				continue;
			kt_sbuf_printf(b, "<" KT_OWS_PREFIX ":%s>", l->attrs[i].name);
			kt_xml_value(b, &f->values[i]);
			kt_sbuf_printf(b, "</" KT_OWS_PREFIX ":%s>", l->attrs[i].name);
		}
		kt_gml_opts_t o = {1, crs.swap, srs, id};
		kt_sbuf_puts(b, "<" KT_OWS_PREFIX ":geom>");
		kt_gml_write(b, f->wkb, f->wkb_len, &o);
		kt_sbuf_printf(b, "</" KT_OWS_PREFIX ":geom></" KT_OWS_PREFIX ":%s></wfs:member>\n", l->name);
	}
	kt_sbuf_puts(b, "</wfs:FeatureCollection>\n");
}

int kt_wms_featureinfo(kt_request_t *req, kt_wms_req_t *w)
{
	kt_ctx_t *ctx = kt_req_ctx(req, NULL);
	gfi_t g = {.req = req, .w = w,
	           .r = {.width = w->width, .height = w->height, .pixel_ratio = 1}};
	memcpy(g.r.bbox, w->bbox, sizeof g.r.bbox);
	int rc = find(&g, ctx);
	kt_sbuf_t b = {0};
	size_t n = g.n < (size_t)w->feature_count ? g.n : (size_t)w->feature_count;
	hit_t *top = kt_malloc((n ? n : 1) * sizeof *top);
	for (size_t k = 0; top && k < n; k++)
		top[k] = g.hits[g.n - 1 - k]; /* topmost first */
	const char *f = w->info_format, *ct;
	if (!rc && !top)
		rc = KT_ENOMEM;
	if (rc) {
		ct = NULL;
	} else if (!strcasecmp(f, "text/html")) {
		ct = "text/html; charset=UTF-8";
		out_html(&b, top, n);
	} else if (!strcasecmp(f, "text/plain")) {
		ct = "text/plain; charset=UTF-8";
		out_text(&b, top, n);
	} else if (!strcasecmp(f, "application/json") || !strcasecmp(f, "application/geo+json")) {
		ct = "application/json";
		rc = out_json(&g, ctx, &b, n, top);
	} else {
		ct = "application/vnd.ogc.gml; charset=UTF-8";
		out_gml(&g, &b, n, top);
	}
	for (size_t k = 0; k < g.n; k++)
		kt_feature_free(g.hits[k].f);
	kt_free(g.hits);
	kt_free(top);
	size_t len;
	char *body = rc ? NULL : kt_sbuf_take(&b, &len);
	kt_sbuf_release(&b);
	if (rc && rc != KT_ENOMEM) {
		kt_ows_exc_t e = {"NoApplicableCode", NULL, kt_errmsg(ctx)};
		return kt_wms_respond_exc(req, w, &e);
	}
	if (!body)
		return KT_ENOMEM;
	req->cache_control = "no-cache";
	return kt_respond(req, 200, ct, body, len, KT_BUF_KT_FREE);
}
