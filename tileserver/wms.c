/*
 * wms.c — the WMS 1.3.0 and 1.1.1 service: reads a KVP request (from the
 * OWS dispatcher of ows.c, for /ows?SERVICE=WMS and /wms) into a
 * kt_wms_req_t, checking every parameter, and hands it to its operation.
 *
 * Order of checks: REQUEST and VERSION (GetCapabilities negotiates the
 * version; the other operations need 1.3.0 or 1.1.1, 1.1.0 read as
 * 1.1.1), EXCEPTIONS, then for GetMap FORMAT, WIDTH and HEIGHT first so
 * that a later error can be answered INIMAGE or BLANK, then LAYERS,
 * STYLES, CRS/SRS and BBOX (brought to x/y order: in 1.3.0 a CRS whose
 * authority lists latitude or northing first, EPSG:4326, takes its BBOX
 * in that order; 1.1.1 and CRS:84 are always x/y), TRANSPARENT, BGCOLOR.
 * Every failure is a WMS exception code of the version asked:
 * MissingParameterValue, InvalidParameterValue, OperationNotSupported,
 * LayerNotDefined, StyleNotDefined, InvalidCRS (InvalidSRS in 1.1.1),
 * InvalidFormat, InvalidPoint, LayerNotQueryable.
 *
 * A layer is a public layer with a geometry (kt_ows_public_layer, so a
 * private layer answers as a missing one); "lanester", the root layer of
 * the capabilities, stands for all of them in the style's drawing order.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kt_wms_int.h"

const char *const kt_wms_crs_list[] = {
	"EPSG:3948", "EPSG:2154", "EPSG:3857", "EPSG:4326", "EPSG:4171", "CRS:84",
};
const size_t kt_wms_n_crs = sizeof kt_wms_crs_list / sizeof kt_wms_crs_list[0];

int kt_wms_max_size(const kt_request_t *req)
{
	unsigned m = req->srv->opts.wms_max_size;
	return m ? (int)m : KT_WMS_DEFAULT_MAX_SIZE;
}

size_t kt_wms_layers(const kt_store_t *s, const kt_layer_t **out, size_t max)
{
	const kt_catalogue_t *cat = kt_store_catalogue(s);
	size_t n = 0;
	for (size_t i = 0; cat && i < cat->n_layers && n < max; i++)
		if (cat->layers[i]->is_public && cat->layers[i]->geom_type != KT_GEOM_NONE)
			out[n++] = cat->layers[i];
	return n;
}

/* ---- small parsers -------------------------------------------------------- */

static int version_cmp(const char *v, int a, int b, int c)
{
	int x = 0, y = 0, z = 0;
	sscanf(v, "%d.%d.%d", &x, &y, &z);
	return x != a ? (x > a) - (x < a) : y != b ? (y > b) - (y < b) : (z > c) - (z < c);
}

static int parse_int(const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = s ? strtol(s, &end, 10) : 0;
	if (!s || end == s || *end || errno || v < lo || v > hi)
		return KT_EINVAL;
	*out = v;
	return 0;
}

static int parse_num(const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = s ? strtod(s, &end) : 0;
	if (!s || end == s || *end || errno || v != v)
		return KT_EINVAL;
	*out = v;
	return 0;
}

static kt_wms_op_t op_named(const char *s)
{
	if (!strcasecmp(s, "GetCapabilities") || !strcasecmp(s, "capabilities"))
		return KT_WMS_GETCAPABILITIES;
	if (!strcasecmp(s, "GetMap") || !strcasecmp(s, "map"))
		return KT_WMS_GETMAP;
	if (!strcasecmp(s, "GetFeatureInfo") || !strcasecmp(s, "feature_info"))
		return KT_WMS_GETFEATUREINFO;
	if (!strcasecmp(s, "GetLegendGraphic"))
		return KT_WMS_GETLEGENDGRAPHIC;
	return 0;
}

static int set_version(kt_wms_req_t *w, int v130)
{
	w->v130 = v130;
	w->version = v130 ? "1.3.0" : "1.1.1";
	return 0;
}

/* REQUEST, VERSION (negotiated for GetCapabilities), EXCEPTIONS. */
static int read_head(kt_request_t *req, const kt_kvp_t *kvp, kt_wms_req_t *w, kt_ows_exc_t *e)
{
	const char *v = kt_kvp_get(kvp, "VERSION");
	if (!v)
		v = kt_kvp_get(kvp, "WMTVER");
	set_version(w, !v || version_cmp(v, 1, 3, 0) >= 0);
	const char *x = kt_kvp_get(kvp, "EXCEPTIONS");
	if (x) {
		const char *s = !strncasecmp(x, "application/vnd.ogc.se_", 23) ? x + 23 : x;
		if (!strcasecmp(s, "inimage"))
			w->exc = KT_WMS_EXC_INIMAGE;
		else if (!strcasecmp(s, "blank"))
			w->exc = KT_WMS_EXC_BLANK;
		else if (strcasecmp(s, "xml") && strcasecmp(x, "text/xml"))
			return kt_ows_fail(e, &req->arena, "InvalidParameterValue", "EXCEPTIONS",
			                   "EXCEPTIONS must be XML, INIMAGE or BLANK");
	}
	const char *r = kt_kvp_get(kvp, "REQUEST");
	if (!r || !*r)
		return kt_ows_fail(e, &req->arena, "MissingParameterValue", "REQUEST",
		                   "REQUEST is required (GetCapabilities, GetMap, GetFeatureInfo, "
		                   "GetLegendGraphic)");
	if (!(w->op = op_named(r)))
		return kt_ows_fail(e, &req->arena, "OperationNotSupported", "REQUEST",
		                   "no WMS operation is named \"%s\"", r);
	if (w->op == KT_WMS_GETCAPABILITIES || w->op == KT_WMS_GETLEGENDGRAPHIC)
		return 0; /* negotiated: >= 1.3.0 gives 1.3.0, anything lower 1.1.1 */
	if (!v)
		return kt_ows_fail(e, &req->arena, "MissingParameterValue", "VERSION",
		                   "VERSION is required (1.3.0 or 1.1.1)");
	if (strcmp(v, "1.3.0") && strcmp(v, "1.1.1") && strcmp(v, "1.1.0"))
		return kt_ows_fail(e, &req->arena, "InvalidParameterValue", "VERSION",
		                   "VERSION must be 1.3.0 or 1.1.1, not \"%s\"", v);
	return 0;
}

/* ---- GetMap parameters ----------------------------------------------------- */

static const char *crs_key(const kt_wms_req_t *w)
{
	return w->v130 ? "CRS" : "SRS";
}

static int read_format(kt_request_t *req, const kt_kvp_t *kvp, kt_wms_req_t *w, kt_ows_exc_t *e,
                       int required)
{
	const char *f = kt_kvp_get(kvp, "FORMAT");
	if (!f || !*f) {
		if (!required) {
			w->format = KT_WMS_PNG;
			w->format_name = "image/png";
			return 0;
		}
		return kt_ows_fail(e, &req->arena, "MissingParameterValue", "FORMAT", "FORMAT is required");
	}
	size_t n = strcspn(f, ";");
	if (!strncasecmp(f, "image/png", n) && n == 9)
		w->format = KT_WMS_PNG;
	else if ((n == 10 && !strncasecmp(f, "image/jpeg", n)) || (n == 9 && !strncasecmp(f, "image/jpg", n)))
		w->format = KT_WMS_JPEG;
	else
		return kt_ows_fail(e, &req->arena, "InvalidFormat", "FORMAT",
		                   "FORMAT \"%s\" is not offered (image/png, image/jpeg)", f);
	w->format_name = w->format == KT_WMS_PNG ? "image/png" : "image/jpeg";
	return 0;
}

static int read_size(kt_request_t *req, const kt_kvp_t *kvp, kt_wms_req_t *w, kt_ows_exc_t *e)
{
	int max = kt_wms_max_size(req);
	const char *keys[2] = {"WIDTH", "HEIGHT"};
	int *dst[2] = {&w->width, &w->height};
	for (int i = 0; i < 2; i++) {
		const char *s = kt_kvp_get(kvp, keys[i]);
		long v;
		if (!s || !*s)
			return kt_ows_fail(e, &req->arena, "MissingParameterValue", keys[i], "%s is required",
			                   keys[i]);
		if (parse_int(s, 1, max, &v))
			return kt_ows_fail(e, &req->arena, "InvalidParameterValue", keys[i],
			                   "%s must be a whole number of pixels in 1..%d, not \"%.40s\"",
			                   keys[i], max, s);
		*dst[i] = (int)v;
	}
	return 0;
}

static int read_colours(kt_request_t *req, const kt_kvp_t *kvp, kt_wms_req_t *w, kt_ows_exc_t *e)
{
	const char *t = kt_kvp_get(kvp, "TRANSPARENT");
	if (t && *t && strcasecmp(t, "TRUE") && strcasecmp(t, "FALSE"))
		return kt_ows_fail(e, &req->arena, "InvalidParameterValue", "TRANSPARENT",
		                   "TRANSPARENT must be TRUE or FALSE");
	w->transparent = t && !strcasecmp(t, "TRUE") && w->format == KT_WMS_PNG;
	w->bg[0] = w->bg[1] = w->bg[2] = 1;
	const char *b = kt_kvp_get(kvp, "BGCOLOR");
	if (!b || !*b)
		return 0;
	const char *h = !strncasecmp(b, "0x", 2) ? b + 2 : b[0] == '#' ? b + 1 : NULL;
	unsigned rgb = 0;
	int ok = h && strlen(h) == 6;
	for (int i = 0; ok && i < 6; i++)
		ok = isxdigit((unsigned char)h[i]);
	if (!ok)
		return kt_ows_fail(e, &req->arena, "InvalidParameterValue", "BGCOLOR",
		                   "BGCOLOR must be 0xRRGGBB");
	rgb = (unsigned)strtoul(h, NULL, 16);
	w->bg[0] = ((rgb >> 16) & 255) / 255.0;
	w->bg[1] = ((rgb >> 8) & 255) / 255.0;
	w->bg[2] = (rgb & 255) / 255.0;
	return 0;
}

/* A style for a layer, loaded once per name in the request's pool. */
static int style_for(kt_request_t *req, kt_wms_req_t *w, const char *name, const kt_layer_t *l,
                     kt_wms_style_t **out, kt_ows_exc_t *e)
{
	const char *want = !name || !*name || !strcasecmp(name, "default") ? KT_WMS_DEFAULT_STYLE : name;
	for (size_t i = 0; i < w->n_styles; i++)
		if (!strcmp(w->style_pool[i].name, want)) {
			*out = &w->style_pool[i];
			goto check;
		}
	if (w->n_styles == sizeof w->style_pool / sizeof w->style_pool[0])
		return kt_ows_fail(e, &req->arena, "InvalidParameterValue", "STYLES",
		                   "at most 4 different styles in one request");
	int rc = kt_wms_style_load(req, want, &w->style_pool[w->n_styles]);
	if (rc == KT_ENOMEM)
		return rc;
	if (rc == KT_ENOENT)
		return kt_ows_fail(e, &req->arena, "StyleNotDefined", "STYLES",
		                   "no style named \"%.80s\"", name);
	if (rc)
		return kt_ows_fail(e, &req->arena, "NoApplicableCode", "STYLES",
		                   "the style \"%.80s\" cannot be read", name);
	*out = &w->style_pool[w->n_styles++];
check:
	if (l && !kt_wms_style_draws(*out, l->name))
		return kt_ows_fail(e, &req->arena, "StyleNotDefined", "STYLES",
		                   "the style \"%.80s\" does not draw the layer %s", want, l->name);
	return 0;
}

static int add_layer(kt_request_t *req, kt_wms_req_t *w, const kt_layer_t *l, const char *style,
                     kt_ows_exc_t *e)
{
	if (w->n_layers == KT_WMS_MAX_LAYERS)
		return kt_ows_fail(e, &req->arena, "InvalidParameterValue", "LAYERS",
		                   "at most %d layers in one request", KT_WMS_MAX_LAYERS);
	kt_wms_style_t *st;
	int rc = style_for(req, w, style, l, &st, e);
	if (rc)
		return rc;
	w->layers[w->n_layers] = l;
	w->styles[w->n_layers++] = st;
	return 0;
}

/* "lanester": every layer the style draws, in the order it draws them. */
static int add_root(kt_request_t *req, kt_wms_req_t *w, const char *style, kt_ows_exc_t *e)
{
	kt_wms_style_t *st;
	const kt_layer_t *all[KT_WMS_MAX_LAYERS];
	size_t n = kt_wms_layers(kt_ctx_store(kt_req_ctx(req, NULL)), all, KT_WMS_MAX_LAYERS);
	int rc = style_for(req, w, style, NULL, &st, e);
	if (rc)
		return rc;
	size_t i;
	const json_t *sl;
	json_array_foreach(st->layers, i, sl) {
		const char *src = json_string_value(json_object_get(sl, "source-layer"));
		for (size_t k = 0; src && k < n; k++) {
			if (!all[k] || strcmp(all[k]->name, src))
				continue;
			if ((rc = add_layer(req, w, all[k], style, e)))
				return rc;
			all[k] = NULL;
		}
	}
	return 0;
}

static int read_layers(kt_request_t *req, const kt_kvp_t *kvp, kt_wms_req_t *w, kt_ows_exc_t *e)
{
	const char *ls = kt_kvp_get(kvp, "LAYERS"), *ss = kt_kvp_get(kvp, "STYLES");
	char **names, **styles = NULL;
	if (!ls || !*ls)
		return kt_ows_fail(e, &req->arena, "MissingParameterValue", "LAYERS", "LAYERS is required");
	long n = kt_kvp_split(&req->arena, ls, ',', &names, KT_WMS_MAX_LAYERS + 1), ns = 0;
	if (n < 0 || (ss && *ss && (ns = kt_kvp_split(&req->arena, ss, ',', &styles, n + 1)) < 0))
		return KT_ENOMEM;
	if (ns && ns != n)
		return kt_ows_fail(e, &req->arena, "StyleNotDefined", "STYLES",
		                   "STYLES lists %ld styles for %ld layers (give one per layer, or none)",
		                   ns, n);
	kt_store_t *store = kt_ctx_store(kt_req_ctx(req, NULL));
	for (long i = 0; i < n; i++) {
		const char *st = ns ? styles[i] : NULL;
		int rc;
		if (!strcmp(names[i], KT_WMS_DEFAULT_STYLE)) {
			if ((rc = add_root(req, w, st, e)))
				return rc;
			continue;
		}
		const kt_layer_t *l = kt_ows_public_layer(store, names[i]);
		if (!l || l->geom_type == KT_GEOM_NONE)
			return kt_ows_fail(e, &req->arena, "LayerNotDefined", "LAYERS",
			                   "no layer named \"%.80s\"", names[i]);
		if ((rc = add_layer(req, w, l, st, e)))
			return rc;
	}
	return 0;
}

static int read_crs_bbox(kt_request_t *req, const kt_kvp_t *kvp, kt_wms_req_t *w, kt_ows_exc_t *e)
{
	const char *key = crs_key(w), *bad = w->v130 ? "InvalidCRS" : "InvalidSRS";
	const char *c = kt_kvp_get(kvp, key);
	if (!c || !*c)
		return kt_ows_fail(e, &req->arena, "MissingParameterValue", key, "%s is required", key);
	kt_ctx_t *ctx = kt_req_ctx(req, NULL);
	int offered = 0;
	for (size_t i = 0; i < kt_wms_n_crs; i++)
		offered |= !strcasecmp(c, kt_wms_crs_list[i]);
	if (kt_ows_crs_parse(c, &w->crs) || w->crs.form != (strncasecmp(c, "CRS:", 4) ? KT_CRS_SHORT
	                                                                              : KT_CRS_CRS84))
		offered = 0;
	if (!offered && w->crs.form == KT_CRS_SHORT && w->crs.epsg == kt_store_epsg(kt_ctx_store(ctx)))
		offered = 1;
	if (!offered)
		return kt_ows_fail(e, &req->arena, bad, key, "the %s \"%.80s\" is not offered", key, c);
	kt_crs_form_t form = w->crs.form;
	if (w->v130 && form == KT_CRS_SHORT)
		w->crs.form = KT_CRS_URN; /* WMS 1.3.0: the authority's axis order */
	int rc = kt_ows_crs_resolve(ctx, &w->crs);
	w->crs.form = form;
	if (rc == KT_ENOMEM)
		return rc;
	if (rc)
		return kt_ows_fail(e, &req->arena, bad, key, "no transformation to %.80s", c);
	const char *b = kt_kvp_get(kvp, "BBOX"), *bcrs;
	if (!b || !*b)
		return kt_ows_fail(e, &req->arena, "MissingParameterValue", "BBOX", "BBOX is required");
	rc = kt_kvp_bbox(&req->arena, b, w->bbox, &bcrs);
	if (rc == KT_ENOMEM)
		return rc;
	if (rc || bcrs || w->bbox[0] >= w->bbox[2] || w->bbox[1] >= w->bbox[3])
		return kt_ows_fail(e, &req->arena, "InvalidParameterValue", "BBOX",
		                   "BBOX must be minx,miny,maxx,maxy with min < max");
	if (w->crs.swap) {
		double s[4] = {w->bbox[1], w->bbox[0], w->bbox[3], w->bbox[2]};
		memcpy(w->bbox, s, sizeof s);
	}
	return 0;
}

static int read_getmap(kt_request_t *req, const kt_kvp_t *kvp, kt_wms_req_t *w, kt_ows_exc_t *e,
                       int info)
{
	int rc;
	if ((rc = read_format(req, kvp, w, e, !info)) || (rc = read_size(req, kvp, w, e)) ||
	    (rc = read_colours(req, kvp, w, e)) || (rc = read_layers(req, kvp, w, e)) ||
	    (rc = read_crs_bbox(req, kvp, w, e)))
		return rc;
	return 0;
}

/* QUERY_LAYERS, INFO_FORMAT, I/J (X/Y), FEATURE_COUNT. */
static int read_info(kt_request_t *req, const kt_kvp_t *kvp, kt_wms_req_t *w, kt_ows_exc_t *e)
{
	const char *q = kt_kvp_get(kvp, "QUERY_LAYERS");
	char **names;
	if (!q || !*q)
		return kt_ows_fail(e, &req->arena, "MissingParameterValue", "QUERY_LAYERS",
		                   "QUERY_LAYERS is required");
	long n = kt_kvp_split(&req->arena, q, ',', &names, KT_WMS_MAX_LAYERS);
	if (n < 0)
		return KT_ENOMEM;
	for (long i = 0; i < n; i++) {
		size_t k = 0;
		const kt_layer_t *l = kt_ows_public_layer(kt_ctx_store(kt_req_ctx(req, NULL)), names[i]);
		while (l && k < w->n_layers && w->layers[k] != l)
			k++;
		if (!strcmp(names[i], KT_WMS_DEFAULT_STYLE)) {
			memcpy(w->qlayers, w->layers, w->n_layers * sizeof *w->layers);
			w->n_qlayers = w->n_layers;
			continue;
		}
		if (!l || k == w->n_layers)
			return kt_ows_fail(e, &req->arena, "LayerNotDefined", "QUERY_LAYERS",
			                   "\"%.80s\" is not a layer of LAYERS", names[i]);
		if (w->n_qlayers < KT_WMS_MAX_LAYERS)
			w->qlayers[w->n_qlayers++] = l;
	}
	const char *f = kt_kvp_get(kvp, "INFO_FORMAT");
	if (!f || !*f)
		return kt_ows_fail(e, &req->arena, "MissingParameterValue", "INFO_FORMAT",
		                   "INFO_FORMAT is required");
	if (strcasecmp(f, "text/html") && strcasecmp(f, "application/json") &&
	    strcasecmp(f, "application/geo+json") && strcasecmp(f, "application/vnd.ogc.gml") &&
	    strcasecmp(f, "text/xml") && strcasecmp(f, "application/gml+xml") &&
	    strcasecmp(f, "text/plain"))
		return kt_ows_fail(e, &req->arena, "InvalidFormat", "INFO_FORMAT",
		                   "INFO_FORMAT \"%.80s\" is not offered", f);
	w->info_format = f;
	const char *ik = w->v130 ? "I" : "X", *jk = w->v130 ? "J" : "Y";
	const char *is = kt_kvp_get(kvp, ik), *js = kt_kvp_get(kvp, jk);
	if (!is || !js || !*is || !*js)
		return kt_ows_fail(e, &req->arena, "MissingParameterValue", !is || !*is ? ik : jk,
		                   "%s and %s are required", ik, jk);
	if (parse_num(is, &w->i) || parse_num(js, &w->j) || w->i < 0 || w->j < 0 ||
	    w->i >= w->width || w->j >= w->height)
		return kt_ows_fail(e, &req->arena, w->v130 ? "InvalidPoint" : "InvalidParameterValue",
		                   ik, "%s, %s must be a pixel of the map (0..%d, 0..%d)", ik, jk,
		                   w->width - 1, w->height - 1);
	const char *fc = kt_kvp_get(kvp, "FEATURE_COUNT");
	w->feature_count = 1;
	if (fc && *fc && parse_int(fc, 1, 1000, &w->feature_count))
		return kt_ows_fail(e, &req->arena, "InvalidParameterValue", "FEATURE_COUNT",
		                   "FEATURE_COUNT must be in 1..1000");
	return 0;
}

/* GetLegendGraphic: LAYER, STYLE, FORMAT, WIDTH/HEIGHT (swatch size). */
static int read_legend(kt_request_t *req, const kt_kvp_t *kvp, kt_wms_req_t *w, kt_ows_exc_t *e)
{
	const char *name = kt_kvp_get(kvp, "LAYER");
	int rc;
	if (!name || !*name)
		return kt_ows_fail(e, &req->arena, "MissingParameterValue", "LAYER", "LAYER is required");
	if ((rc = read_format(req, kvp, w, e, 1)))
		return rc;
	const kt_layer_t *l = kt_ows_public_layer(kt_ctx_store(kt_req_ctx(req, NULL)), name);
	if (!l || l->geom_type == KT_GEOM_NONE)
		return kt_ows_fail(e, &req->arena, "LayerNotDefined", "LAYER", "no layer named \"%.80s\"",
		                   name);
	if ((rc = add_layer(req, w, l, kt_kvp_get(kvp, "STYLE"), e)))
		return rc;
	long v;
	const char *ws = kt_kvp_get(kvp, "WIDTH"), *hs = kt_kvp_get(kvp, "HEIGHT");
	w->width = w->height = 20;
	if (ws && *ws && parse_int(ws, 4, 256, &v))
		return kt_ows_fail(e, &req->arena, "InvalidParameterValue", "WIDTH", "WIDTH must be in 4..256");
	if (ws && *ws)
		w->width = (int)v;
	if (hs && *hs && parse_int(hs, 4, 256, &v))
		return kt_ows_fail(e, &req->arena, "InvalidParameterValue", "HEIGHT", "HEIGHT must be in 4..256");
	if (hs && *hs)
		w->height = (int)v;
	return read_colours(req, kvp, w, e);
}

int kt_wms_from_kvp(kt_request_t *req, const kt_kvp_t *kvp, kt_wms_req_t *w, kt_ows_exc_t *e)
{
	memset(w, 0, sizeof *w);
	w->kvp = kvp;
	const char *svc = kt_kvp_get(kvp, "SERVICE");
	int rc = read_head(req, kvp, w, e);
	if (rc)
		return rc;
	if (svc && strcasecmp(svc, "WMS"))
		return kt_ows_fail(e, &req->arena, "InvalidParameterValue", "SERVICE", "SERVICE must be WMS");
	if (!kt_req_ctx(req, NULL))
		return kt_ows_fail(e, &req->arena, "NoApplicableCode", NULL, "the store cannot be opened");
	switch (w->op) {
	case KT_WMS_GETMAP: return read_getmap(req, kvp, w, e, 0);
	case KT_WMS_GETFEATUREINFO:
		rc = read_getmap(req, kvp, w, e, 1);
		return rc ? rc : read_info(req, kvp, w, e);
	case KT_WMS_GETLEGENDGRAPHIC: return read_legend(req, kvp, w, e);
	default: return 0;
	}
}

void kt_wms_req_release(kt_wms_req_t *w)
{
	for (size_t i = 0; i < w->n_styles; i++)
		kt_wms_style_release(&w->style_pool[i]);
	w->n_styles = 0;
}

int kt_wms_kvp(kt_request_t *req, const kt_kvp_t *kvp)
{
	kt_wms_req_t *w = kt_arena_alloc(&req->arena, sizeof *w);
	kt_ows_exc_t e;
	if (!w)
		return KT_ENOMEM;
	int rc = kt_wms_from_kvp(req, kvp, w, &e);
	if (rc == KT_ENOMEM) {
		kt_wms_req_release(w);
		return rc;
	}
	if (rc) {
		rc = kt_wms_respond_exc(req, w, &e);
		kt_wms_req_release(w);
		return rc;
	}
	switch (w->op) {
	case KT_WMS_GETCAPABILITIES: rc = kt_wms_capabilities(req, w); break;
	case KT_WMS_GETMAP: rc = kt_wms_getmap(req, w); break;
	case KT_WMS_GETFEATUREINFO: rc = kt_wms_featureinfo(req, w); break;
	default: rc = kt_wms_legend(req, w); break;
	}
	kt_wms_req_release(w);
	return rc;
}
