/*
 * wms_caps.c — GetCapabilities of WMS 1.3.0 (capabilities_1_3_0.xsd, with
 * SLD 1.1's GetLegendGraphic operation) and 1.1.1 (WMS_MS_Capabilities
 * DTD).
 *
 * The layer tree: a root layer "lanester" (every layer, drawn in the
 * style's order) holding the CRS list, and one child per public layer
 * with a geometry: title, abstract, theme keyword, geographic and
 * per-CRS bounding boxes, attribution, and its styles with a legend URL
 * (sized as GetLegendGraphic will draw it). Bounding boxes come from the
 * store (spatial index) reprojected; in 1.3.0 a CRS whose authority order
 * is latitude first (EPSG:4326, 4171) gets its box in that order.
 * Layers that are private, or without geometry, never appear.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kt_wms_int.h"

/* Every OnlineResource binds xlink itself (1.1.1 has no namespace on
 * the root, and its DTD fixes the attribute there). */
#define ONLINE "<OnlineResource xmlns:xlink=\"http://www.w3.org/1999/xlink\" " \
               "xlink:type=\"simple\" xlink:href=\""

typedef struct caps {
	kt_request_t *req;
	kt_wms_req_t *w;
	kt_ctx_t *ctx;
	kt_sbuf_t b;
	const char *url;    /* ".../wms?" */
	const char **styles;
	long n_styles;
	kt_wms_style_t loaded[8];
	size_t n_loaded;
} caps_t;

static void put_elem(kt_sbuf_t *b, const char *name, const char *text)
{
	kt_sbuf_printf(b, "<%s>", name);
	kt_sbuf_xml(b, text ? text : "");
	kt_sbuf_printf(b, "</%s>", name);
}

static void operation(caps_t *c, const char *elem, const char *const *formats, size_t n)
{
	kt_sbuf_printf(&c->b, "<%s>", elem);
	for (size_t i = 0; i < n; i++)
		put_elem(&c->b, "Format", formats[i]);
	kt_sbuf_puts(&c->b, "<DCPType><HTTP><Get>" ONLINE);
	kt_sbuf_xml(&c->b, c->url);
	kt_sbuf_printf(&c->b, "\"/></Get></HTTP></DCPType></%s>", elem);
}

static void service(caps_t *c)
{
	kt_sbuf_t *b = &c->b;
	kt_sbuf_puts(b, "<Service>");
	put_elem(b, "Name", c->w->v130 ? "WMS" : "OGC:WMS");
	put_elem(b, "Title", "Ville de Lanester — plan de la ville (kartenn)");
	put_elem(b, "Abstract", "Couches publiques du SIG de la ville de Lanester : éclairage public "
	                        "(classes de précision DT-DICT), bâtiments, cimetières, cartes "
	                        "collaboratives, parcelles, limite communale. Rendu côté serveur du "
	                        "même style MapLibre que la carte web.");
	kt_sbuf_puts(b, "<KeywordList><Keyword>Lanester</Keyword><Keyword>SIG</Keyword>"
	                "<Keyword>WMS</Keyword></KeywordList>");
	kt_sbuf_puts(b, ONLINE);
	kt_sbuf_xml(b, c->url);
	kt_sbuf_puts(b, "\"/><Fees>none</Fees><AccessConstraints>none</AccessConstraints>");
	if (c->w->v130)
		kt_sbuf_printf(b, "<LayerLimit>%d</LayerLimit><MaxWidth>%d</MaxWidth><MaxHeight>%d</MaxHeight>",
		               KT_WMS_MAX_LAYERS, kt_wms_max_size(c->req), kt_wms_max_size(c->req));
	kt_sbuf_puts(b, "</Service>");
}

static void request(caps_t *c)
{
	static const char *const maps[] = {"image/png", "image/jpeg"};
	static const char *const infos[] = {"text/html", "application/json", "application/vnd.ogc.gml",
	                                    "text/xml", "text/plain"};
	static const char *const legend[] = {"image/png", "image/jpeg"};
	const char *caps_fmt = c->w->v130 ? "text/xml" : "application/vnd.ogc.wms_xml";
	kt_sbuf_puts(&c->b, "<Capability><Request>");
	operation(c, "GetCapabilities", &caps_fmt, 1);
	operation(c, "GetMap", maps, 2);
	operation(c, "GetFeatureInfo", infos, 5);
	operation(c, c->w->v130 ? "sld:GetLegendGraphic" : "GetLegendGraphic", legend, 2);
	kt_sbuf_puts(&c->b, "</Request><Exception>");
	if (c->w->v130)
		kt_sbuf_puts(&c->b, "<Format>XML</Format><Format>INIMAGE</Format><Format>BLANK</Format>");
	else
		kt_sbuf_puts(&c->b, "<Format>application/vnd.ogc.se_xml</Format>"
		                    "<Format>application/vnd.ogc.se_inimage</Format>"
		                    "<Format>application/vnd.ogc.se_blank</Format>");
	kt_sbuf_puts(&c->b, "</Exception>");
}

/* The bounding boxes of a store-CRS extent ext. */
static void bboxes(caps_t *c, const double ext[4])
{
	kt_sbuf_t *b = &c->b;
	int store = kt_store_epsg(kt_ctx_store(c->ctx));
	double g[4];
	kt_transform_t *t;
	if (kt_ctx_transform(c->ctx, store, 4326, &t) || kt_transform_bbox(c->ctx, t, ext, g))
		return;
	if (c->w->v130)
		kt_sbuf_printf(b, "<EX_GeographicBoundingBox><westBoundLongitude>%.7f</westBoundLongitude>"
		                  "<eastBoundLongitude>%.7f</eastBoundLongitude><southBoundLatitude>%.7f"
		                  "</southBoundLatitude><northBoundLatitude>%.7f</northBoundLatitude>"
		                  "</EX_GeographicBoundingBox>", g[0], g[2], g[1], g[3]);
	else
		kt_sbuf_printf(b, "<LatLonBoundingBox minx=\"%.7f\" miny=\"%.7f\" maxx=\"%.7f\" "
		                  "maxy=\"%.7f\"/>", g[0], g[1], g[2], g[3]);
	for (size_t i = 0; i < kt_wms_n_crs; i++) {
		kt_crs_t crs;
		double o[4];
		if (kt_ows_crs_parse(kt_wms_crs_list[i], &crs))
			continue;
		if (c->w->v130 && crs.form == KT_CRS_SHORT)
			crs.form = KT_CRS_URN;
		if (kt_ows_crs_resolve(c->ctx, &crs) || kt_ctx_transform(c->ctx, store, crs.epsg, &t) ||
		    kt_transform_bbox(c->ctx, t, ext, o))
			continue;
		int deg = crs.epsg == 4326 || crs.epsg == 4171;
		const char *fmt = deg ? "<BoundingBox %s=\"%s\" minx=\"%.7f\" miny=\"%.7f\" maxx=\"%.7f\" "
		                        "maxy=\"%.7f\"/>"
		                      : "<BoundingBox %s=\"%s\" minx=\"%.3f\" miny=\"%.3f\" maxx=\"%.3f\" "
		                        "maxy=\"%.3f\"/>";
		if (crs.swap)
			kt_sbuf_printf(b, fmt, c->w->v130 ? "CRS" : "SRS", kt_wms_crs_list[i], o[1], o[0], o[3],
			               o[2]);
		else
			kt_sbuf_printf(b, fmt, c->w->v130 ? "CRS" : "SRS", kt_wms_crs_list[i], o[0], o[1], o[2],
			               o[3]);
	}
}

static int layer_extent(caps_t *c, const kt_layer_t *l, double ext[4])
{
	kt_select_t s;
	kt_ows_select_t os = {.layer = l};
	if (kt_ows_select_prepare(&c->req->arena, &os, &s) || kt_features_select_extent(c->ctx, &s, ext))
		return KT_ENOENT;
	if (ext[0] == ext[2] && ext[1] == ext[3]) {
		ext[0] -= 1; ext[1] -= 1; ext[2] += 1; ext[3] += 1;
	}
	return 0;
}

static const kt_wms_style_t *style_named(caps_t *c, const char *name)
{
	for (size_t i = 0; i < c->n_loaded; i++)
		if (!strcmp(c->loaded[i].name, name))
			return &c->loaded[i];
	if (c->n_loaded == sizeof c->loaded / sizeof c->loaded[0] ||
	    kt_wms_style_load(c->req, name, &c->loaded[c->n_loaded]))
		return NULL;
	return &c->loaded[c->n_loaded++];
}

static void styles(caps_t *c, const kt_layer_t *l)
{
	kt_sbuf_t *b = &c->b;
	for (long i = 0; i < c->n_styles; i++) {
		const kt_wms_style_t *st = style_named(c, c->styles[i]);
		int lw, lh;
		if (!st || !kt_wms_style_draws(st, l->name) ||
		    kt_wms_legend_size(c->req, st, l, 20, 20, &lw, &lh))
			continue;
		kt_sbuf_puts(b, "<Style>");
		put_elem(b, "Name", st->name);
		put_elem(b, "Title", st->no_labels ? "Plan de Lanester, sans étiquettes" : "Plan de Lanester");
		kt_sbuf_printf(b, "<LegendURL width=\"%d\" height=\"%d\"><Format>image/png</Format>" ONLINE,
		               lw, lh);
		kt_sbuf_t u = {0};
		kt_sbuf_printf(&u, "%sSERVICE=WMS&VERSION=%s&REQUEST=GetLegendGraphic&FORMAT=image/png"
		                   "&SLD_VERSION=1.1.0&LAYER=%s&STYLE=%s", c->url, c->w->version, l->name,
		               st->name);
		kt_sbuf_xml(b, u.p ? u.p : "");
		kt_sbuf_release(&u);
		kt_sbuf_puts(b, "\"/></LegendURL></Style>");
	}
}

static void child(caps_t *c, const kt_layer_t *l, const double root_ext[4])
{
	kt_sbuf_t *b = &c->b;
	double ext[4];
	kt_sbuf_puts(b, "<Layer queryable=\"1\" opaque=\"0\">");
	put_elem(b, "Name", l->name);
	put_elem(b, "Title", l->title ? l->title : l->name);
	if (l->abstract)
		put_elem(b, "Abstract", l->abstract);
	if (l->theme) {
		kt_sbuf_puts(b, "<KeywordList>");
		put_elem(b, "Keyword", l->theme);
		kt_sbuf_puts(b, "</KeywordList>");
	}
	bboxes(c, layer_extent(c, l, ext) ? root_ext : ext);
	if (l->attribution) {
		kt_sbuf_puts(b, "<Attribution>");
		put_elem(b, "Title", l->attribution);
		kt_sbuf_puts(b, "</Attribution>");
	}
	styles(c, l);
	kt_sbuf_puts(b, "</Layer>");
}

static void layers(caps_t *c)
{
	kt_sbuf_t *b = &c->b;
	const kt_layer_t *ls[KT_WMS_MAX_LAYERS];
	size_t n = kt_wms_layers(kt_ctx_store(c->ctx), ls, KT_WMS_MAX_LAYERS);
	double root[4] = {INFINITY, INFINITY, -INFINITY, -INFINITY}, e[4];
	for (size_t i = 0; i < n; i++)
		if (!layer_extent(c, ls[i], e)) {
			root[0] = fmin(root[0], e[0]); root[1] = fmin(root[1], e[1]);
			root[2] = fmax(root[2], e[2]); root[3] = fmax(root[3], e[3]);
		}
	if (!(root[0] < root[2])) { /* an empty store: the town's area */
		double lanester[4] = {1226000, 7211000, 1236000, 7219000};
		memcpy(root, lanester, sizeof root);
	}
	kt_sbuf_puts(b, "<Layer queryable=\"1\" opaque=\"0\">");
	put_elem(b, "Name", KT_WMS_DEFAULT_STYLE);
	put_elem(b, "Title", "Lanester");
	put_elem(b, "Abstract", "Toutes les couches publiques, dessinées dans l'ordre du plan.");
	for (size_t i = 0; i < kt_wms_n_crs; i++)
		put_elem(b, c->w->v130 ? "CRS" : "SRS", kt_wms_crs_list[i]);
	bboxes(c, root);
	kt_sbuf_puts(b, "<Attribution><Title>Ville de Lanester</Title></Attribution>");
	for (size_t i = 0; i < n; i++)
		child(c, ls[i], root);
	kt_sbuf_puts(b, "</Layer>");
}

int kt_wms_capabilities(kt_request_t *req, kt_wms_req_t *w)
{
	caps_t c = {.req = req, .w = w, .ctx = kt_req_ctx(req, NULL)};
	const char *base = kt_ows_base_url(req);
	c.url = base ? kt_arena_printf(&req->arena, "%s/wms?", base) : NULL;
	c.n_styles = kt_wms_style_names(req, &c.styles);
	if (!c.url || c.n_styles < 0)
		return KT_ENOMEM;
	kt_sbuf_t *b = &c.b;
	kt_sbuf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	if (w->v130)
		kt_sbuf_puts(b, "<WMS_Capabilities version=\"1.3.0\" xmlns=\"http://www.opengis.net/wms\" "
		                "xmlns:sld=\"http://www.opengis.net/sld\" "
		                "xmlns:xlink=\"http://www.w3.org/1999/xlink\" "
		                "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
		                "xsi:schemaLocation=\"http://www.opengis.net/wms "
		                "http://schemas.opengis.net/wms/1.3.0/capabilities_1_3_0.xsd "
		                "http://www.opengis.net/sld "
		                "http://schemas.opengis.net/sld/1.1.0/sld_capabilities.xsd\">");
	else
		kt_sbuf_puts(b, "<!DOCTYPE WMT_MS_Capabilities SYSTEM "
		                "\"http://schemas.opengis.net/wms/1.1.1/WMS_MS_Capabilities.dtd\">\n"
		                "<WMT_MS_Capabilities version=\"1.1.1\">");
	service(&c);
	request(&c);
	layers(&c);
	kt_sbuf_puts(b, w->v130 ? "</Capability></WMS_Capabilities>\n"
	                        : "</Capability></WMT_MS_Capabilities>\n");
	for (size_t i = 0; i < c.n_loaded; i++)
		kt_wms_style_release(&c.loaded[i]);
	size_t len;
	char *body = kt_sbuf_take(b, &len);
	if (!body)
		return KT_ENOMEM;
	req->cache_control = "no-cache";
	return kt_respond(req, 200, w->v130 ? "text/xml; charset=UTF-8"
	                                    : "application/vnd.ogc.wms_xml; charset=UTF-8",
	                  body, len, KT_BUF_KT_FREE);
}
