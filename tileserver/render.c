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
 * Symbol layers (labels) are handed to render_label.c. The paint of a
 * style layer (kt_render_paint) and the cairo calls that apply it are
 * shared with render_batch.c, which draws GetMap's layers a whole layer
 * at a time; this file draws one feature (the legend, labels).
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
	double *pts;      /* the scratch buffer, grown as needed */
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

int kt_wkb_runs_scratch(const unsigned char *wkb, size_t len, kt_wkb_run_fn fn, void *data,
                        double **scratch, size_t *cap)
{
	wkb_rd_t r = {wkb, wkb + len, *scratch, *cap, fn, data};
	int rc = wkb ? rd_geom(&r, 0) : KT_EINVAL;
	*scratch = r.pts;
	*cap = r.cap;
	return rc;
}

int kt_wkb_runs(const unsigned char *wkb, size_t len, kt_wkb_run_fn fn, void *data)
{
	double *pts = NULL;
	size_t cap = 0;
	int rc = kt_wkb_runs_scratch(wkb, len, fn, data, &pts, &cap);
	kt_free(pts);
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
	kt_stamps_free(r->stamps);
	r->stamps = NULL;
}

/* ---- paint ------------------------------------------------------------- */

static const json_t *paint(const json_t *sl, const char *key)
{
	return json_object_get(json_object_get(sl, "paint"), key);
}

static const json_t *layout(const json_t *sl, const char *key)
{
	return json_object_get(json_object_get(sl, "layout"), key);
}

static const double black[4] = {0, 0, 0, 1};

static int paint_circle(const kt_render_t *r, const json_t *sl, const kt_style_env_t *env,
                        kt_paint_t *p)
{
	double op = kt_style_num(paint(sl, "circle-opacity"), env, 1);
	double sop = kt_style_num(paint(sl, "circle-stroke-opacity"), env, 1);
	kt_style_color(paint(sl, "circle-color"), env, black, p->fill);
	kt_style_color(paint(sl, "circle-stroke-color"), env, black, p->stroke);
	p->fill[3] *= op;
	p->stroke[3] *= sop;
	p->radius = kt_style_num(paint(sl, "circle-radius"), env, 5) * r->pixel_ratio;
	p->stroke_w = kt_style_num(paint(sl, "circle-stroke-width"), env, 0) * r->pixel_ratio;
	p->kind = KT_PAINT_CIRCLE;
	return p->radius > 0 || p->stroke_w > 0;
}

static int paint_line(const kt_render_t *r, const json_t *sl, const kt_style_env_t *env,
                      kt_paint_t *p)
{
	double w = kt_style_num(paint(sl, "line-width"), env, 1) * r->pixel_ratio;
	kt_style_color(paint(sl, "line-color"), env, black, p->stroke);
	p->stroke[3] *= kt_style_num(paint(sl, "line-opacity"), env, 1);
	if (w <= 0 || p->stroke[3] <= 0)
		return 0;
	const char *cap = kt_style_str(layout(sl, "line-cap"), env, "butt");
	const char *join = kt_style_str(layout(sl, "line-join"), env, "miter");
	p->cap = !strcmp(cap, "round") ? CAIRO_LINE_CAP_ROUND
	       : !strcmp(cap, "square") ? CAIRO_LINE_CAP_SQUARE : CAIRO_LINE_CAP_BUTT;
	p->join = !strcmp(join, "round") ? CAIRO_LINE_JOIN_ROUND
	        : !strcmp(join, "bevel") ? CAIRO_LINE_JOIN_BEVEL : CAIRO_LINE_JOIN_MITER;
	p->miter = kt_style_num(layout(sl, "line-miter-limit"), env, 2);
	p->width = w;
	/* line-dasharray: a literal array of lengths in line widths */
	const json_t *dash = paint(sl, "line-dasharray");
	if (json_is_array(dash) && json_is_string(json_array_get(dash, 0)) &&
	    !strcmp(json_string_value(json_array_get(dash, 0)), "literal"))
		dash = json_array_get(dash, 1);
	size_t i;
	const json_t *e;
	double sum = 0;
	json_array_foreach(dash, i, e) {
		if (p->n_dash < KT_PAINT_MAX_DASH && json_is_number(e) && json_number_value(e) >= 0) {
			p->dash[p->n_dash] = json_number_value(e) * (w < 1 ? 1 : w);
			sum += p->dash[p->n_dash++];
		}
	}
	if (!(sum > 0))
		p->n_dash = 0;
	p->kind = KT_PAINT_LINE;
	return 1;
}

static int paint_fill(const json_t *sl, const kt_style_env_t *env, kt_paint_t *p)
{
	kt_style_color(paint(sl, "fill-color"), env, black, p->fill);
	double op = kt_style_num(paint(sl, "fill-opacity"), env, 1);
	p->fill[3] *= op;
	const json_t *oc = paint(sl, "fill-outline-color");
	p->has_outline = oc && !kt_style_color(oc, env, black, p->outline);
	p->outline[3] *= op;
	p->kind = KT_PAINT_FILL;
	return 1;
}

int kt_render_paint(const kt_render_t *r, const json_t *sl, const kt_style_env_t *env,
                    kt_paint_t *p)
{
	memset(p, 0, sizeof *p); /* whole, padding included: paints compare with memcmp */
	p->kind = KT_PAINT_NONE;
	const char *type = json_string_value(json_object_get(sl, "type"));
	if (!type)
		return 0;
	if (!strcmp(type, "circle"))
		return paint_circle(r, sl, env, p);
	if (!strcmp(type, "line"))
		return paint_line(r, sl, env, p);
	if (!strcmp(type, "fill"))
		return paint_fill(sl, env, p);
	return 0; /* background, raster, heatmap…: not drawn per feature */
}

void kt_render_apply_line(void *cr, const kt_paint_t *p)
{
	cairo_set_line_cap(cr, (cairo_line_cap_t)p->cap);
	cairo_set_line_join(cr, (cairo_line_join_t)p->join);
	cairo_set_miter_limit(cr, p->miter);
	cairo_set_line_width(cr, p->width);
	cairo_set_dash(cr, p->dash, p->n_dash, 0);
	cairo_set_source_rgba(cr, p->stroke[0], p->stroke[1], p->stroke[2], p->stroke[3]);
}

/* ---- drawing one feature -------------------------------------------------- */

typedef struct draw {
	kt_render_t *r;
	cairo_t *cr;
	const kt_paint_t *p;
	int open;          /* a polygon path is being built */
} draw_t;

double kt_render_clamp_px(double v)
{
	return v != v ? 0 : v < -PX_LIMIT ? -PX_LIMIT : v > PX_LIMIT ? PX_LIMIT : v;
}

static void path_run(draw_t *d, const double *pts, size_t n, int close)
{
	for (size_t i = 0; i < n; i++) {
		double x = kt_render_clamp_px(kt_render_px(d->r, pts[2 * i]));
		double y = kt_render_clamp_px(kt_render_py(d->r, pts[2 * i + 1]));
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

void kt_render_fill_path(void *cr, const kt_paint_t *p)
{
	set_rgba(cr, p->fill);
	if (p->has_outline) {
		cairo_fill_preserve(cr);
		cairo_set_line_width(cr, 1);
		set_rgba(cr, p->outline);
		cairo_stroke(cr);
	} else {
		cairo_fill(cr);
	}
}

static void flush_polygon(draw_t *d)
{
	if (!d->open)
		return;
	d->open = 0;
	kt_render_fill_path(d->cr, d->p);
}

void kt_render_circle(void *cr, const kt_paint_t *p, double x, double y)
{
	cairo_new_path(cr);
	cairo_arc(cr, x, y, p->radius, 0, 2 * M_PI);
	set_rgba(cr, p->fill);
	cairo_fill(cr);
	if (p->stroke_w > 0 && p->stroke[3] > 0) {
		cairo_arc(cr, x, y, p->radius + p->stroke_w / 2, 0, 2 * M_PI);
		cairo_set_line_width(cr, p->stroke_w);
		set_rgba(cr, p->stroke);
		cairo_stroke(cr);
	}
}

static int on_run(int kind, int first, const double *pts, size_t n, void *data)
{
	draw_t *d = data;
	const kt_paint_t *p = d->p;
	if (p->kind == KT_PAINT_CIRCLE) { /* circles: at every point (and vertex) */
		for (size_t i = 0; i < n; i++) {
			double x = kt_render_px(d->r, pts[2 * i]), y = kt_render_py(d->r, pts[2 * i + 1]);
			double out = p->radius + p->stroke_w;
			if (x < -out || y < -out || x > d->r->width + out || y > d->r->height + out)
				continue;
			kt_render_circle(d->cr, p, x, y);
		}
		return 0;
	}
	if (p->kind == KT_PAINT_LINE) { /* lines: line strings and polygon rings */
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
	kt_paint_t p;
	if (!kt_render_paint(r, sl, &env, &p))
		return 0;
	cairo_t *cr = r->cr;
	draw_t d = {.r = r, .cr = cr, .p = &p};
	cairo_save(cr);
	if (p.kind == KT_PAINT_LINE)
		kt_render_apply_line(cr, &p);
	else if (p.kind == KT_PAINT_FILL)
		cairo_set_fill_rule(cr, CAIRO_FILL_RULE_EVEN_ODD);
	int rc = kt_wkb_runs(wkb, wkb_len, on_run, &d);
	if (p.kind == KT_PAINT_FILL)
		flush_polygon(&d);
	cairo_restore(cr);
	return rc == KT_ENOMEM ? rc : 0;
}
