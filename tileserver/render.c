/*
 * render.c — draws features with MapLibre GL style layers on a cairo
 * surface: fills, lines (width, colour, opacity, dashes, caps, joins) and
 * circles (radius, colour, stroke), antialiased, for the WMS.
 *
 * Geometry arrives as ISO WKB in the image CRS; kt_wkb_runs walks it
 * (2D, Z, M and ZM, single and multi types, collections) and the world to
 * pixel transform is the affine one of the request bbox (north up). Paint
 * values are evaluated per feature (style_eval.c) at the zoom MapLibre
 * would show the same scale at, so a feature looks as in the browser.
 * Symbol layers (labels) are handed to render_label.c.
 *
 * What it keeps true: a malformed geometry or an expression outside the
 * supported subset costs that feature (or that property, which falls back
 * to the MapLibre default), never the image; pixel coordinates are
 * clamped so cairo's fixed-point never overflows.
 * Not supported (documented in tileserver/WMS.md): fill-pattern,
 * line-pattern, line-gradient, line-offset, line-gap-width, line-blur,
 * *-translate, circle-blur, fill-extrusion, heatmap, hillshade, raster.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <cairo.h>

#include "kt_wms_int.h"

#define PX_LIMIT 4.0e6

/* ---- WKB walking ---------------------------------------------------------- */

typedef struct wkb_rd {
	const unsigned char *p, *end;
	double *pts;
	size_t cap;
	kt_wkb_run_fn fn;
	void *data;
} wkb_rd_t;

static int rd_u32(wkb_rd_t *r, int le, uint32_t *v)
{
	if (r->end - r->p < 4)
		return KT_EINVAL;
	const unsigned char *b = r->p;
	*v = le ? (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24
	        : (uint32_t)b[3] | (uint32_t)b[2] << 8 | (uint32_t)b[1] << 16 | (uint32_t)b[0] << 24;
	r->p += 4;
	return 0;
}

static double rd_f64(const unsigned char *b, int le)
{
	uint64_t u = 0;
	for (int i = 0; i < 8; i++)
		u |= (uint64_t)b[le ? i : 7 - i] << (8 * i);
	double d;
	memcpy(&d, &u, sizeof d);
	return d;
}

/* Reads n points of dims doubles each into r->pts (x, y) and hands them on. */
static int rd_run(wkb_rd_t *r, int le, int dims, int kind, int first)
{
	uint32_t n;
	if (rd_u32(r, le, &n))
		return KT_EINVAL;
	if ((size_t)(r->end - r->p) / (8u * (unsigned)dims) < n)
		return KT_EINVAL;
	if (2 * (size_t)n > r->cap) {
		size_t cap = 2 * (size_t)n + 64;
		double *p = kt_realloc(r->pts, cap * sizeof *p);
		if (!p)
			return KT_ENOMEM;
		r->pts = p;
		r->cap = cap;
	}
	for (uint32_t i = 0; i < n; i++) {
		r->pts[2 * i] = rd_f64(r->p, le);
		r->pts[2 * i + 1] = rd_f64(r->p + 8, le);
		r->p += 8 * dims;
	}
	return n ? r->fn(kind, first, r->pts, n, r->data) : 0;
}

static int rd_geom(wkb_rd_t *r, int depth)
{
	uint32_t type, n;
	if (depth > 8 || r->p >= r->end)
		return KT_EINVAL;
	int le = *r->p++ == 1;
	if (rd_u32(r, le, &type))
		return KT_EINVAL;
	int dims = 2;
	if (type & 0x80000000u) dims++;          /* EWKB Z */
	if (type & 0x40000000u) dims++;          /* EWKB M */
	if (type & 0x20000000u) r->p += 4;       /* EWKB SRID */
	type &= 0x0fffffffu;
	dims += (type / 1000 == 1 || type / 1000 == 2) ? 1 : type / 1000 == 3 ? 2 : 0;
	type %= 1000;
	int rc = 0;
	switch (type) {
	case 1: /* a point is a run of one, without a count */
		if (r->end - r->p < 8 * dims)
			return KT_EINVAL;
		{
			double xy[2] = {rd_f64(r->p, le), rd_f64(r->p + 8, le)};
			r->p += 8 * dims;
			return xy[0] == xy[0] ? r->fn(0, 1, xy, 1, r->data) : 0; /* NaN: empty */
		}
	case 2:
		return rd_run(r, le, dims, 1, 1);
	case 3:
		if (rd_u32(r, le, &n))
			return KT_EINVAL;
		for (uint32_t i = 0; i < n && !rc; i++)
			rc = rd_run(r, le, dims, 2, i == 0);
		return rc;
	case 4: case 5: case 6: case 7:
		if (rd_u32(r, le, &n))
			return KT_EINVAL;
		for (uint32_t i = 0; i < n && !rc; i++)
			rc = rd_geom(r, depth + 1);
		return rc;
	default:
		return KT_EINVAL;
	}
}

int kt_wkb_runs(const unsigned char *wkb, size_t len, kt_wkb_run_fn fn, void *data)
{
	wkb_rd_t r = {wkb, wkb + len, NULL, 0, fn, data};
	int rc = wkb ? rd_geom(&r, 0) : KT_EINVAL;
	kt_free(r.pts);
	return rc;
}

/* ---- scale ------------------------------------------------------------- */

double kt_render_zoom(double res_3857)
{
	/* MapLibre GL: 512 px tiles; z0 covers the Web Mercator world */
	return log2(40075016.685578488 / (512.0 * res_3857));
}

int kt_render_layer_visible(const kt_render_t *r, const json_t *sl)
{
	const json_t *layout = json_object_get(sl, "layout");
	const char *vis = json_string_value(json_object_get(layout, "visibility"));
	if (vis && !strcmp(vis, "none"))
		return 0;
	const json_t *mn = json_object_get(sl, "minzoom"), *mx = json_object_get(sl, "maxzoom");
	if (json_is_number(mn) && r->zoom < json_number_value(mn))
		return 0;
	if (json_is_number(mx) && r->zoom >= json_number_value(mx))
		return 0;
	return 1;
}

void kt_render_release(kt_render_t *r)
{
	kt_free(r->boxes);
	r->boxes = NULL;
	r->n_boxes = r->cap_boxes = 0;
}

/* ---- drawing ------------------------------------------------------------ */

typedef struct draw {
	kt_render_t *r;
	cairo_t *cr;
	int kind;          /* what to draw: 0 circles, 1 lines, 2 fills */
	int open;          /* a polygon path is being built */
	double radius, stroke_w;
	double fill[4], stroke[4];
	double outline[4];
	int has_outline;
} draw_t;

static double clamp_px(double v)
{
	return v != v ? 0 : v < -PX_LIMIT ? -PX_LIMIT : v > PX_LIMIT ? PX_LIMIT : v;
}

static void path_run(draw_t *d, const double *pts, size_t n, int close)
{
	for (size_t i = 0; i < n; i++) {
		double x = clamp_px(kt_render_px(d->r, pts[2 * i]));
		double y = clamp_px(kt_render_py(d->r, pts[2 * i + 1]));
		if (i == 0)
			cairo_move_to(d->cr, x, y);
		else
			cairo_line_to(d->cr, x, y);
	}
	if (close)
		cairo_close_path(d->cr);
}

static void set_rgba(cairo_t *cr, const double c[4])
{
	cairo_set_source_rgba(cr, c[0], c[1], c[2], c[3]);
}

static void flush_polygon(draw_t *d)
{
	if (!d->open)
		return;
	d->open = 0;
	set_rgba(d->cr, d->fill);
	if (d->has_outline) {
		cairo_fill_preserve(d->cr);
		cairo_set_line_width(d->cr, 1);
		set_rgba(d->cr, d->outline);
		cairo_stroke(d->cr);
	} else {
		cairo_fill(d->cr);
	}
}

static int on_run(int kind, int first, const double *pts, size_t n, void *data)
{
	draw_t *d = data;
	if (d->kind == 0) { /* circles: at every point (and vertex) */
		for (size_t i = 0; i < n; i++) {
			double x = kt_render_px(d->r, pts[2 * i]), y = kt_render_py(d->r, pts[2 * i + 1]);
			double out = d->radius + d->stroke_w;
			if (x < -out || y < -out || x > d->r->width + out || y > d->r->height + out)
				continue;
			cairo_new_path(d->cr);
			cairo_arc(d->cr, x, y, d->radius, 0, 2 * M_PI);
			set_rgba(d->cr, d->fill);
			cairo_fill(d->cr);
			if (d->stroke_w > 0 && d->stroke[3] > 0) {
				cairo_arc(d->cr, x, y, d->radius + d->stroke_w / 2, 0, 2 * M_PI);
				cairo_set_line_width(d->cr, d->stroke_w);
				set_rgba(d->cr, d->stroke);
				cairo_stroke(d->cr);
			}
		}
		return 0;
	}
	if (d->kind == 1) { /* lines: line strings and polygon rings */
		if (kind == 0)
			return 0;
		cairo_new_path(d->cr);
		path_run(d, pts, n, kind == 2);
		cairo_stroke(d->cr);
		return 0;
	}
	if (kind != 2) /* fills: polygons only */
		return 0;
	if (first)
		flush_polygon(d);
	if (!d->open)
		cairo_new_path(d->cr);
	d->open = 1;
	path_run(d, pts, n, 1);
	return 0;
}

static const json_t *paint(const json_t *sl, const char *key)
{
	return json_object_get(json_object_get(sl, "paint"), key);
}

static const json_t *layout(const json_t *sl, const char *key)
{
	return json_object_get(json_object_get(sl, "layout"), key);
}

static const double black[4] = {0, 0, 0, 1};

static int draw_circle(draw_t *d, const json_t *sl, const kt_style_env_t *env)
{
	double op = kt_style_num(paint(sl, "circle-opacity"), env, 1);
	double sop = kt_style_num(paint(sl, "circle-stroke-opacity"), env, 1);
	kt_style_color(paint(sl, "circle-color"), env, black, d->fill);
	kt_style_color(paint(sl, "circle-stroke-color"), env, black, d->stroke);
	d->fill[3] *= op;
	d->stroke[3] *= sop;
	d->radius = kt_style_num(paint(sl, "circle-radius"), env, 5) * d->r->pixel_ratio;
	d->stroke_w = kt_style_num(paint(sl, "circle-stroke-width"), env, 0) * d->r->pixel_ratio;
	d->kind = 0;
	return d->radius > 0 || d->stroke_w > 0;
}

static void line_style(cairo_t *cr, const json_t *sl, const kt_style_env_t *env, double w)
{
	const char *cap = kt_style_str(layout(sl, "line-cap"), env, "butt");
	const char *join = kt_style_str(layout(sl, "line-join"), env, "miter");
	cairo_set_line_cap(cr, !strcmp(cap, "round") ? CAIRO_LINE_CAP_ROUND
	                       : !strcmp(cap, "square") ? CAIRO_LINE_CAP_SQUARE : CAIRO_LINE_CAP_BUTT);
	cairo_set_line_join(cr, !strcmp(join, "round") ? CAIRO_LINE_JOIN_ROUND
	                        : !strcmp(join, "bevel") ? CAIRO_LINE_JOIN_BEVEL : CAIRO_LINE_JOIN_MITER);
	cairo_set_miter_limit(cr, kt_style_num(layout(sl, "line-miter-limit"), env, 2));
	cairo_set_line_width(cr, w);
	/* line-dasharray: a literal array of lengths in line widths */
	const json_t *dash = paint(sl, "line-dasharray");
	if (json_is_array(dash) && json_is_string(json_array_get(dash, 0)) &&
	    !strcmp(json_string_value(json_array_get(dash, 0)), "literal"))
		dash = json_array_get(dash, 1);
	double v[16];
	size_t n = 0, i;
	const json_t *e;
	double sum = 0;
	json_array_foreach(dash, i, e) {
		if (n < 16 && json_is_number(e) && json_number_value(e) >= 0) {
			v[n] = json_number_value(e) * (w < 1 ? 1 : w);
			sum += v[n++];
		}
	}
	cairo_set_dash(cr, v, sum > 0 ? (int)n : 0, 0);
}

int kt_render_feature(kt_render_t *r, const json_t *sl, const kt_layer_t *l,
                      const kt_feature_t *f)
{
	kt_wms_feat_t wf = {l, f};
	kt_style_env_t env = {r->zoom, kt_wms_feature_get, &wf, kt_wms_geometry_type(l->geom_type),
	                      r->arena};
	return kt_render_draw(r, sl, &env, f->wkb, f->wkb_len);
}

int kt_render_draw(kt_render_t *r, const json_t *sl, const kt_style_env_t *envp,
                   const unsigned char *wkb, size_t wkb_len)
{
	const char *type = json_string_value(json_object_get(sl, "type"));
	kt_style_env_t env = *envp;
	if (!type || !wkb || !kt_style_filter(json_object_get(sl, "filter"), &env))
		return 0;
	if (!strcmp(type, "symbol"))
		return kt_render_label(r, sl, &env, wkb, wkb_len);
	cairo_t *cr = r->cr;
	draw_t d = {.r = r, .cr = cr};
	cairo_save(cr);
	if (!strcmp(type, "circle")) {
		if (!draw_circle(&d, sl, &env))
			goto done;
	} else if (!strcmp(type, "line")) {
		double w = kt_style_num(paint(sl, "line-width"), &env, 1) * r->pixel_ratio;
		kt_style_color(paint(sl, "line-color"), &env, black, d.stroke);
		d.stroke[3] *= kt_style_num(paint(sl, "line-opacity"), &env, 1);
		if (w <= 0 || d.stroke[3] <= 0)
			goto done;
		line_style(cr, sl, &env, w);
		set_rgba(cr, d.stroke);
		d.kind = 1;
	} else if (!strcmp(type, "fill")) {
		kt_style_color(paint(sl, "fill-color"), &env, black, d.fill);
		double op = kt_style_num(paint(sl, "fill-opacity"), &env, 1);
		d.fill[3] *= op;
		const json_t *oc = paint(sl, "fill-outline-color");
		d.has_outline = oc && !kt_style_color(oc, &env, black, d.outline);
		d.outline[3] *= op;
		cairo_set_fill_rule(cr, CAIRO_FILL_RULE_EVEN_ODD);
		d.kind = 2;
	} else {
		goto done; /* background, raster, heatmap…: not drawn per feature */
	}
	int rc = kt_wkb_runs(wkb, wkb_len, on_run, &d);
	if (d.kind == 2)
		flush_polygon(&d);
	cairo_restore(cr);
	return rc == KT_ENOMEM ? rc : 0;
done:
	cairo_restore(cr);
	return 0;
}
