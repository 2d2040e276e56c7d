/*
 * wms_legend.c — GetLegendGraphic (SLD 1.1 WMS profile): one row per
 * class of a layer's style, a swatch drawn by the map renderer itself and
 * a label.
 *
 * Classes come from the first "match" on ["get", key] in the colour of
 * the layer's fill, line or circle style layers (the DT-DICT class of
 * lighting, the state of cemetery plots…): one row per value, one for the
 * fallback ("autre"). Each swatch is drawn by kt_render_draw with every
 * non-symbol style layer of the layer, on a synthetic feature holding only
 * that value — so filters, strokes, dashes and outlines show as on the
 * map (at zoom 16). A row's label is the label the style's metadata
 * ("kartenn:legend") gives that colour, else the value itself. A layer
 * without such a match has one row: its title.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cairo.h>
#include <pango/pangocairo.h>

#include "kt_wms_int.h"

#define MAX_CLASSES 16
#define LEGEND_ZOOM 16
#define FONT "DejaVu Sans 9"

typedef struct lclass {
	const char *key;      /* NULL: the synthetic feature has no property */
	kt_sval_t value;
	const char *label;
} lclass_t;

typedef struct synth {
	const char *key;
	kt_sval_t value;
} synth_t;

static int synth_get(const void *feature, const char *key, kt_sval_t *out)
{
	const synth_t *s = feature;
	if (!s->key || strcmp(s->key, key))
		return 0;
	*out = s->value;
	return 1;
}

static int draws(const json_t *sl, const kt_layer_t *l)
{
	const char *src = json_string_value(json_object_get(sl, "source-layer"));
	const char *type = json_string_value(json_object_get(sl, "type"));
	return src && type && !strcmp(src, l->name) && strcmp(type, "symbol");
}

/* The label the style's metadata gives colour rgba, or NULL. */
static const char *meta_label(const kt_wms_style_t *st, const double rgba[4])
{
	const json_t *groups = json_object_get(json_object_get(st->doc, "metadata"), "kartenn:legend");
	size_t i, k;
	const json_t *g, *it;
	json_array_foreach(groups, i, g) {
		json_array_foreach(json_object_get(g, "items"), k, it) {
			double c[4];
			if (!kt_color_parse(json_string_value(json_object_get(it, "color")), c) &&
			    !memcmp(c, rgba, sizeof c))
				return json_string_value(json_object_get(it, "label"));
		}
	}
	return NULL;
}

static const json_t *colour_match(const json_t *sl, const char **key)
{
	static const char *const props[] = {"fill-color", "line-color", "circle-color"};
	const json_t *paint = json_object_get(sl, "paint");
	for (size_t i = 0; i < 3; i++) {
		const json_t *e = json_object_get(paint, props[i]);
		const json_t *in = json_array_get(e, 1);
		if (json_is_array(e) && !strcmp(json_string_value(json_array_get(e, 0)) ?
		                                json_string_value(json_array_get(e, 0)) : "", "match") &&
		    json_array_size(in) == 2 && json_is_string(json_array_get(in, 1)) &&
		    !strcmp(json_string_value(json_array_get(in, 0)) ?
		            json_string_value(json_array_get(in, 0)) : "", "get")) {
			*key = json_string_value(json_array_get(in, 1));
			return e;
		}
	}
	return NULL;
}

static void class_label(kt_arena_t *a, const kt_wms_style_t *st, const json_t *sl,
                        const char *prop, lclass_t *c, const kt_layer_t *l)
{
	synth_t s = {c->key, c->value};
	kt_style_env_t env = {LEGEND_ZOOM, synth_get, &s, kt_wms_geometry_type(l->geom_type), a};
	static const double none[4] = {0, 0, 0, 0};
	double rgba[4];
	kt_style_color(json_object_get(json_object_get(sl, "paint"), prop), &env, none, rgba);
	c->label = meta_label(st, rgba);
	if (!c->label)
		c->label = c->key ? kt_sval_string(&c->value, a) : "autre";
}

/* The classes of layer l in st. */
static size_t classes(kt_arena_t *a, const kt_wms_style_t *st, const kt_layer_t *l, lclass_t *out)
{
	size_t i, n = 0;
	const json_t *sl;
	json_array_foreach(st->layers, i, sl) {
		const char *key = NULL;
		const json_t *m = draws(sl, l) ? colour_match(sl, &key) : NULL;
		if (!m)
			continue;
		const char *prop = NULL, *k;
		json_t *paint = json_object_get(sl, "paint"), *v;
		json_object_foreach(paint, k, v)
			if (v == m)
				prop = k;
		for (size_t j = 2; j + 1 < json_array_size(m) && n + 1 < MAX_CLASSES; j += 2) {
			const json_t *labels = json_array_get(m, j);
			const json_t *lab = json_is_array(labels) ? json_array_get(labels, 0) : labels;
			lclass_t *c = &out[n];
			memset(c, 0, sizeof *c);
			c->key = key;
			if (json_is_string(lab)) {
				c->value.type = KT_SV_STR;
				c->value.s = json_string_value(lab);
			} else if (json_is_number(lab)) {
				c->value.type = KT_SV_NUM;
				c->value.n = json_number_value(lab);
			} else {
				continue;
			}
			class_label(a, st, sl, prop, c, l);
			n++;
		}
		memset(&out[n], 0, sizeof out[n]);
		class_label(a, st, sl, prop, &out[n], l);
		return n + 1;
	}
	memset(&out[0], 0, sizeof out[0]);
	out[0].label = l->title ? l->title : l->name;
	return 1;
}

static PangoLayout *text_layout(cairo_t *cr, const char *s)
{
	PangoLayout *lay = pango_cairo_create_layout(cr);
	PangoFontDescription *fd = pango_font_description_from_string(FONT);
	pango_layout_set_font_description(lay, fd);
	pango_font_description_free(fd);
	pango_layout_set_text(lay, s, -1);
	return lay;
}

/* Row height and image width for the classes (measured with cr). */
static void measure(cairo_t *cr, const lclass_t *c, size_t n, int sw, int sh, int *row, int *width)
{
	int tw = 0, th = 0;
	for (size_t i = 0; i < n; i++) {
		PangoLayout *lay = text_layout(cr, c[i].label);
		int w, h;
		pango_layout_get_pixel_size(lay, &w, &h);
		g_object_unref(lay);
		tw = w > tw ? w : tw;
		th = h > th ? h : th;
	}
	*row = (sh > th ? sh : th) + 4;
	*width = 4 + sw + 6 + tw + 4;
}

int kt_wms_legend_size(kt_request_t *req, const kt_wms_style_t *st, const kt_layer_t *l, int sw,
                       int sh, int *width, int *height)
{
	lclass_t c[MAX_CLASSES];
	size_t n = classes(&req->arena, st, l, c);
	cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 1, 1);
	cairo_t *cr = cairo_create(s);
	int row;
	measure(cr, c, n, sw, sh, &row, width);
	*height = (int)n * row + 4;
	cairo_destroy(cr);
	cairo_surface_destroy(s);
	return 0;
}

/* Little-endian ISO WKB of the swatch geometry of type t in a sw × sh box. */
static size_t swatch_wkb(kt_geom_type_t t, int sw, int sh, unsigned char *buf)
{
	double pts[10];
	uint32_t type, n;
	size_t len = 0;
	if (t == KT_GEOM_POINT || t == KT_GEOM_MULTIPOINT) {
		type = 1; n = 0;
		pts[0] = sw / 2.0; pts[1] = sh / 2.0;
	} else if (t == KT_GEOM_LINESTRING || t == KT_GEOM_MULTILINESTRING) {
		type = 2; n = 2;
		pts[0] = 2; pts[1] = sh / 2.0; pts[2] = sw - 2; pts[3] = sh / 2.0;
	} else {
		type = 3; n = 5;
		double q[10] = {2, 2, sw - 2, 2, sw - 2, sh - 2, 2, sh - 2, 2, 2};
		memcpy(pts, q, sizeof q);
	}
	buf[len++] = 1;
	memcpy(buf + len, &type, 4); len += 4;
	if (type == 3) {
		uint32_t one = 1;
		memcpy(buf + len, &one, 4); len += 4;
	}
	if (type != 1) {
		memcpy(buf + len, &n, 4); len += 4;
	}
	memcpy(buf + len, pts, (type == 1 ? 2 : 2 * n) * sizeof(double));
	return len + (type == 1 ? 2 : 2 * n) * sizeof(double);
}

static int draw_legend(kt_request_t *req, kt_wms_req_t *w, cairo_surface_t *s, const lclass_t *c,
                       size_t n, int row)
{
	const kt_layer_t *l = w->layers[0];
	const kt_wms_style_t *st = w->styles[0];
	cairo_t *cr = cairo_create(s);
	unsigned char wkb[128];
	size_t wl = swatch_wkb(l->geom_type, w->width, w->height, wkb);
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		double y = 2 + (double)i * row;
		cairo_save(cr);
		cairo_translate(cr, 4, y + (row - w->height) / 2.0);
		cairo_rectangle(cr, 0, 0, w->width, w->height);
		cairo_clip(cr);
		kt_render_t r = {.cr = cr, .width = w->width, .height = w->height, .zoom = LEGEND_ZOOM,
		                 .pixel_ratio = 1, .arena = &req->arena,
		                 .bbox = {0, 0, w->width, w->height}};
		synth_t sy = {c[i].key, c[i].value};
		kt_style_env_t env = {LEGEND_ZOOM, synth_get, &sy, kt_wms_geometry_type(l->geom_type),
		                      &req->arena};
		size_t k;
		const json_t *sl;
		json_array_foreach(st->layers, k, sl)
			if (!rc && draws(sl, l))
				rc = kt_render_draw(&r, sl, &env, wkb, wl);
		kt_render_release(&r);
		cairo_restore(cr);
		PangoLayout *lay = text_layout(cr, c[i].label);
		int tw, th;
		pango_layout_get_pixel_size(lay, &tw, &th);
		cairo_set_source_rgb(cr, 0.13, 0.13, 0.13);
		cairo_move_to(cr, 4 + w->width + 6, y + (row - th) / 2.0);
		pango_cairo_show_layout(cr, lay);
		g_object_unref(lay);
	}
	cairo_destroy(cr);
	return rc;
}

int kt_wms_legend(kt_request_t *req, kt_wms_req_t *w)
{
	lclass_t c[MAX_CLASSES];
	size_t n = classes(&req->arena, w->styles[0], w->layers[0], c);
	int width, height, row;
	kt_wms_legend_size(req, w->styles[0], w->layers[0], w->width, w->height, &width, &height);
	row = (height - 4) / (int)n;
	cairo_surface_t *s = cairo_image_surface_create(
		w->transparent ? CAIRO_FORMAT_ARGB32 : CAIRO_FORMAT_RGB24, width, height);
	if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
		cairo_surface_destroy(s);
		return KT_ENOMEM;
	}
	if (!w->transparent) {
		cairo_t *cr = cairo_create(s);
		cairo_set_source_rgb(cr, w->bg[0], w->bg[1], w->bg[2]);
		cairo_paint(cr);
		cairo_destroy(cr);
	}
	int rc = draw_legend(req, w, s, c, n, row);
	if (!rc)
		rc = kt_wms_respond_image(req, s, w->format);
	cairo_surface_destroy(s);
	return rc;
}
