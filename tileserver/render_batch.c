/*
 * render_batch.c — draws one style layer over all the features of a map
 * layer at once, for GetMap.
 *
 * The features are read once per image into a kt_px_set_t: geometry in
 * pixel coordinates (transformed and clamped once, not once per style
 * layer) and, only when the style reads properties, the features. Then,
 * for each style layer:
 * - a layer whose paint depends on the zoom only (no filter, no get/has)
 *   is evaluated once, not once per feature;
 * - consecutive features of the same opaque paint are filled or stroked
 *   as one cairo path: one scan conversion and one composite instead of
 *   one per feature. With an opaque colour the union of the shapes gives
 *   the same pixels as drawing them one over the other (and no seam
 *   where two fills meet). Rings are turned so that exteriors wind one
 *   way and holes the other, and the path is filled with the non-zero
 *   rule, which for valid polygons is what the even-odd rule gives one
 *   polygon at a time, without cancelling where two features overlap.
 *   A translucent paint is still drawn feature by feature (even-odd), as
 *   MapLibre blends each one;
 * - circles are stamped (render_stamp.c) when the target allows it.
 * Feature order within a style layer is kept.
 */
#include <math.h>
#include <string.h>

#include <cairo.h>

#include "kt_wms_int.h"

/* ---- the set ------------------------------------------------------------- */

typedef struct add_ctx {
	kt_px_set_t *s;
	const kt_render_t *r;
} add_ctx_t;

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	size_t cap2 = *cap ? *cap : 256;
	while (cap2 < need)
		cap2 *= 2;
	void *q = kt_realloc(*p, cap2 * size);
	if (!q)
		return KT_ENOMEM;
	*p = q;
	*cap = cap2;
	return 0;
}

static int on_add_run(int kind, int first, const double *pts, size_t n, void *data)
{
	add_ctx_t *a = data;
	kt_px_set_t *s = a->s;
	if (n > UINT32_MAX || s->n_pts + n > UINT32_MAX)
		return KT_ENOMEM;
	if (grow((void **)&s->xy, &s->cap_pts, s->n_pts + n, 2 * sizeof *s->xy) ||
	    grow((void **)&s->runs, &s->cap_runs, s->n_runs + 1, sizeof *s->runs))
		return KT_ENOMEM;
	double *o = s->xy + 2 * s->n_pts;
	const kt_px_grid_t *grid = a->r->grid;
	for (size_t i = 0; i < n; i++) {
		double x, y;
		if (grid) {
			kt_px_grid_map(grid, pts[2 * i], pts[2 * i + 1], &x, &y);
		} else {
			x = kt_render_px(a->r, pts[2 * i]);
			y = kt_render_py(a->r, pts[2 * i + 1]);
		}
		o[2 * i] = kt_render_clamp_px(x);
		o[2 * i + 1] = kt_render_clamp_px(y);
	}
	s->runs[s->n_runs++] = (kt_px_run_t){(uint32_t)s->n_pts, (uint32_t)n, (uint8_t)kind,
	                                     (uint8_t)first};
	s->n_pts += n;
	return 0;
}

int kt_px_set_add(kt_px_set_t *s, const kt_render_t *r, const unsigned char *wkb,
                  size_t wkb_len, kt_feature_t *f)
{
	if (grow((void **)&s->feats, &s->cap_feat, s->n_feat + 1, sizeof *s->feats)) {
		kt_feature_free(f);
		return KT_ENOMEM;
	}
	size_t n_pts = s->n_pts, n_runs = s->n_runs;
	add_ctx_t a = {s, r};
	int rc = kt_wkb_runs_scratch(wkb, wkb_len, on_add_run, &a, &s->scratch, &s->cap_scratch);
	if (rc) { /* a feature is whole or absent */
		s->n_pts = n_pts;
		s->n_runs = n_runs;
		kt_feature_free(f);
		return rc;
	}
	kt_px_feat_t *pf = &s->feats[s->n_feat++];
	pf->run_end = s->n_runs;
	pf->f = f;
	pf->box[0] = pf->box[1] = INFINITY;
	pf->box[2] = pf->box[3] = -INFINITY;
	for (size_t i = n_pts; i < s->n_pts; i++) {
		float x = (float)s->xy[2 * i], y = (float)s->xy[2 * i + 1];
		pf->box[0] = fminf(pf->box[0], x);
		pf->box[1] = fminf(pf->box[1], y);
		pf->box[2] = fmaxf(pf->box[2], x);
		pf->box[3] = fmaxf(pf->box[3], y);
	}
	return 0;
}

void kt_px_set_release(kt_px_set_t *s)
{
	for (size_t i = 0; s->feats && i < s->n_feat; i++)
		kt_feature_free(s->feats[i].f);
	kt_free(s->feats);
	kt_free(s->xy);
	kt_free(s->runs);
	kt_free(s->scratch);
	memset(s, 0, sizeof *s);
}

/* ---- does a style layer read properties? ---------------------------------- */

/* 1 when the expression (or legacy function) may give another value for
 * another feature at the same zoom. Conservative: an operator reading the
 * feature anywhere in it, outside literals. */
static int expr_reads_feature(const json_t *x, int depth)
{
	static const char *const ops[] = {"get", "has", "!has", "id", "properties", "feature-state",
	                                  "accumulated", "line-progress", "geometry-type"};
	if (depth > 64)
		return 1;
	if (json_is_object(x)) /* a legacy function: by property, or of the zoom */
		return json_object_get(x, "property") != NULL;
	if (!json_is_array(x))
		return 0;
	const char *op = json_string_value(json_array_get(x, 0));
	if (op && !strcmp(op, "literal"))
		return 0;
	for (size_t i = 0; op && i < sizeof ops / sizeof *ops; i++)
		if (!strcmp(op, ops[i]))
			return 1;
	size_t i;
	const json_t *e;
	json_array_foreach(x, i, e) {
		if (expr_reads_feature(e, depth + 1))
			return 1;
	}
	return 0;
}

static int props_read_feature(const json_t *props)
{
	const char *k;
	const json_t *v;
	json_object_foreach((json_t *)props, k, v) {
		if (expr_reads_feature(v, 0))
			return 1;
	}
	return 0;
}

int kt_style_layer_constant(const json_t *sl)
{
	const char *type = json_string_value(json_object_get(sl, "type"));
	return type && strcmp(type, "symbol") && !json_object_get(sl, "filter") &&
	       !props_read_feature(json_object_get(sl, "paint")) &&
	       !props_read_feature(json_object_get(sl, "layout"));
}

/* ---- drawing -------------------------------------------------------------- */

/* Points of a path filled or stroked at once. With one path for a whole
 * layer, cairo's temporary buffers (stroke polygon, edges) became large
 * allocations, fresh pages every time: page faults under cairo_stroke
 * were 3 % of a GetMap, and chunks of this size take about that off. */
#define BATCH_POINTS 2048

typedef struct batch {
	kt_render_t *r;
	cairo_t *cr;
	const kt_px_set_t *s;
	int open;          /* a path of batched features is being built */
	kt_paint_t paint;  /* its paint */
	size_t n_pts;      /* points in the path */
} batch_t;

/* 1 when features of this paint may be drawn as one path. */
static int opaque(const kt_paint_t *p)
{
	if (p->kind == KT_PAINT_FILL)
		return p->fill[3] >= 1 && (!p->has_outline || p->outline[3] >= 1);
	return p->kind == KT_PAINT_LINE && p->stroke[3] >= 1;
}

/* Twice the signed area of a ring. */
static double ring_area(const double *xy, size_t n)
{
	double a = 0;
	for (size_t i = 0, j = n - 1; i < n; j = i++)
		a += xy[2 * j] * xy[2 * i + 1] - xy[2 * i] * xy[2 * j + 1];
	return a;
}

/* Adds a run to the current path; reversed when asked. */
static void path_run(cairo_t *cr, const double *xy, size_t n, int close, int reverse)
{
	for (size_t k = 0; k < n; k++) {
		size_t i = reverse ? n - 1 - k : k;
		if (k == 0)
			cairo_move_to(cr, xy[2 * i], xy[2 * i + 1]);
		else
			cairo_line_to(cr, xy[2 * i], xy[2 * i + 1]);
	}
	if (close)
		cairo_close_path(cr);
}

static void flush(batch_t *b)
{
	if (!b->open)
		return;
	b->open = 0;
	if (b->paint.kind == KT_PAINT_FILL) {
		cairo_set_fill_rule(b->cr, CAIRO_FILL_RULE_WINDING);
		kt_render_fill_path(b->cr, &b->paint);
	} else {
		kt_render_apply_line(b->cr, &b->paint);
		cairo_stroke(b->cr);
	}
}

/* Runs [r0, r1) into the batch path: exteriors positive, holes negative. */
static void batch_add(batch_t *b, size_t r0, size_t r1)
{
	const kt_px_set_t *s = b->s;
	int fill = b->paint.kind == KT_PAINT_FILL;
	for (size_t k = r0; k < r1; k++) {
		const kt_px_run_t *run = &s->runs[k];
		const double *xy = s->xy + 2 * (size_t)run->off;
		if (run->kind == 0 || (fill && run->kind != 2))
			continue;
		int reverse = fill && (ring_area(xy, run->n) < 0) == !!run->first;
		path_run(b->cr, xy, run->n, run->kind == 2, reverse);
	}
}

/* A translucent paint, one feature as kt_render_draw draws it: each
 * polygon filled alone (even-odd), each line or ring stroked alone. */
static void draw_alone(batch_t *b, const kt_paint_t *p, size_t r0, size_t r1)
{
	const kt_px_set_t *s = b->s;
	cairo_t *cr = b->cr;
	int fill = p->kind == KT_PAINT_FILL, open = 0;
	if (fill)
		cairo_set_fill_rule(cr, CAIRO_FILL_RULE_EVEN_ODD);
	else
		kt_render_apply_line(cr, p);
	for (size_t k = r0; k < r1; k++) {
		const kt_px_run_t *run = &s->runs[k];
		const double *xy = s->xy + 2 * (size_t)run->off;
		if (run->kind == 0 || (fill && run->kind != 2))
			continue;
		if (!fill) {
			cairo_new_path(cr);
			path_run(cr, xy, run->n, run->kind == 2, 0);
			cairo_stroke(cr);
			continue;
		}
		if (run->first && open)
			kt_render_fill_path(cr, p);
		open = 1;
		path_run(cr, xy, run->n, 1, 0);
	}
	if (open)
		kt_render_fill_path(cr, p);
}

/* Circles at points [p0, p1) of the set: stamped, or with cairo. */
static int draw_circles(batch_t *b, const kt_paint_t *p, size_t p0, size_t p1)
{
	const double *xy = b->s->xy;
	int rc = kt_stamp_circles(b->r, p->radius, p->stroke_w, p->fill, p->stroke, xy + 2 * p0,
	                          p1 - p0);
	if (rc <= 0)
		return rc;
	double out = p->radius + p->stroke_w;
	for (size_t i = p0; i < p1; i++) {
		double x = xy[2 * i], y = xy[2 * i + 1];
		if (x < -out || y < -out || x > b->r->width + out || y > b->r->height + out)
			continue;
		kt_render_circle(b->cr, p, x, y);
	}
	return 0;
}

/* The points of runs [r0, r1): contiguous in the set. */
static void run_points(const kt_px_set_t *s, size_t r0, size_t r1, size_t *p0, size_t *p1)
{
	*p0 = r0 < r1 ? s->runs[r0].off : 0;
	*p1 = r0 < r1 ? (size_t)s->runs[r1 - 1].off + s->runs[r1 - 1].n : 0;
}

/* 1 when what p draws of a feature of extent box may touch the image:
 * the features read with the margin (for labels) mostly do not. */
static int touches_image(const kt_render_t *r, const kt_paint_t *p, const float box[4])
{
	double pad = 2;
	if (p->kind == KT_PAINT_CIRCLE)
		pad += p->radius + p->stroke_w;
	else if (p->kind == KT_PAINT_LINE)
		pad += p->width * (p->join == CAIRO_LINE_JOIN_MITER ? fmax(p->miter, 1) : 1);
	else if (p->has_outline)
		pad += 1;
	return box[2] >= -pad && box[3] >= -pad && box[0] <= r->width + pad &&
	       box[1] <= r->height + pad;
}

static int draw_feature(batch_t *b, const kt_paint_t *p, size_t r0, size_t r1)
{
	if (p->kind == KT_PAINT_CIRCLE) {
		size_t p0, p1;
		run_points(b->s, r0, r1, &p0, &p1);
		return draw_circles(b, p, p0, p1);
	}
	if (b->open && (memcmp(&b->paint, p, sizeof *p) || b->n_pts > BATCH_POINTS))
		flush(b);
	if (!opaque(p)) {
		draw_alone(b, p, r0, r1);
		return 0;
	}
	if (!b->open) {
		b->paint = *p;
		b->open = 1;
		b->n_pts = 0;
		cairo_new_path(b->cr);
	}
	batch_add(b, r0, r1);
	size_t p0, p1;
	run_points(b->s, r0, r1, &p0, &p1);
	b->n_pts += p1 - p0;
	return 0;
}

int kt_render_set(kt_render_t *r, const json_t *sl, const kt_layer_t *l, const kt_px_set_t *s)
{
	kt_style_env_t env = {r->zoom, NULL, NULL, kt_wms_geometry_type(l->geom_type), r->arena};
	int constant = kt_style_layer_constant(sl);
	const json_t *filter = json_object_get(sl, "filter");
	kt_paint_t p;
	if (constant && !kt_render_paint(r, sl, &env, &p))
		return 0;
	batch_t b = {.r = r, .cr = r->cr, .s = s};
	int rc = 0;
	cairo_save(b.cr);
	if (constant && p.kind == KT_PAINT_CIRCLE) { /* every point, one call */
		rc = draw_circles(&b, &p, 0, s->n_pts);
		goto done;
	}
	size_t r0 = 0;
	for (size_t i = 0; !rc && i < s->n_feat; r0 = s->feats[i++].run_end) {
		if (!constant) {
			kt_wms_feat_t wf = {l, s->feats[i].f};
			if (!wf.f)
				continue; /* not kept: the reader judged the layer constant */
			env.get = kt_wms_feature_get;
			env.feature = &wf;
			if (!kt_style_filter(filter, &env) || !kt_render_paint(r, sl, &env, &p))
				continue;
		}
		if (touches_image(r, &p, s->feats[i].box))
			rc = draw_feature(&b, &p, r0, s->feats[i].run_end);
	}
	flush(&b);
done:
	cairo_restore(b.cr);
	return rc;
}
