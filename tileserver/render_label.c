/*
 * render_label.c — labels of MapLibre GL symbol layers, drawn with pango
 * on the WMS image.
 *
 * Anchors: every point of a point feature; for each polygon a point
 * inside it (the centroid of its exterior ring when that is inside the
 * polygon, else the inside point farthest from its edges on a grid — a
 * cheap "pole of inaccessibility" as MapLibre uses); for each line string
 * the middle of its length, the text turned along the line there and kept
 * upright, and left out when it is longer than the line (MapLibre's
 * symbol-placement "line", without repetition every symbol-spacing nor
 * curved text). The font is the first of text-font, read as family plus
 * "Bold"/"Oblique"/"Italic" words (the DejaVu faces of the style's
 * font-faces, found by fontconfig).
 *
 * What it keeps true: labels never overlap — each placed label's box,
 * grown by text-padding, is kept and a later label hitting one is left out
 * (first drawn wins, as MapLibre places by layer order), unless
 * text-allow-overlap; with symbol-avoid-edges a label crossing the image
 * edge is left out. Not supported: icons (icon-image), text-variable-
 * anchor, text-rotate, text-justify other than center, text-writing-mode,
 * text-radial-offset, text-line-height, text-halo-blur.
 */
#include <math.h>
#include <string.h>
#include <strings.h>

#include <cairo.h>
#include <pango/pangocairo.h>

#include "kt_wms_int.h"

#define MAX_ANCHORS 256
#define MAX_LABELS 4096
#define GRID 12

typedef struct anchor {
	double x, y, angle, room;  /* room: line length in px (0: not a line) */
} anchor_t;

typedef struct collect {
	kt_render_t *r;
	anchor_t a[MAX_ANCHORS];
	size_t n;
	double *ring;              /* the polygon being read, pixels */
	size_t n_pts, cap;
	size_t ring_start[64];
	size_t n_rings;
	int oom;
} collect_t;

static void add_anchor(collect_t *c, double x, double y, double angle, double room)
{
	double m = 256;
	if (c->n >= MAX_ANCHORS || x != x || y != y || x < -m || y < -m || x > c->r->width + m ||
	    y > c->r->height + m)
		return;
	c->a[c->n++] = (anchor_t){x, y, angle, room};
}

static int inside(const collect_t *c, double x, double y)
{
	int in = 0;
	for (size_t k = 0; k < c->n_rings; k++) {
		size_t s = c->ring_start[k], e = k + 1 < c->n_rings ? c->ring_start[k + 1] : c->n_pts;
		for (size_t i = s, j = e - 1; i < e; j = i++) {
			double xi = c->ring[2 * i], yi = c->ring[2 * i + 1];
			double xj = c->ring[2 * j], yj = c->ring[2 * j + 1];
			if ((yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi)
				in = !in;
		}
	}
	return in;
}

static double edge_dist(const collect_t *c, double x, double y)
{
	double best = INFINITY;
	for (size_t i = 0; i + 1 < c->n_pts; i++) {
		double ax = c->ring[2 * i], ay = c->ring[2 * i + 1];
		double bx = c->ring[2 * i + 2], by = c->ring[2 * i + 3];
		double dx = bx - ax, dy = by - ay, l2 = dx * dx + dy * dy;
		double t = l2 > 0 ? ((x - ax) * dx + (y - ay) * dy) / l2 : 0;
		t = t < 0 ? 0 : t > 1 ? 1 : t;
		double ex = ax + t * dx - x, ey = ay + t * dy - y;
		double d = ex * ex + ey * ey;
		if (d < best)
			best = d;
	}
	return best;
}

/* The label point of the polygon collected so far. */
static void polygon_anchor(collect_t *c)
{
	if (!c->n_rings)
		return;
	size_t e = c->n_rings > 1 ? c->ring_start[1] : c->n_pts;
	double a = 0, cx = 0, cy = 0, x0 = INFINITY, y0 = INFINITY, x1 = -INFINITY, y1 = -INFINITY;
	for (size_t i = 0, j = e - 1; i < e; j = i++) {
		double xi = c->ring[2 * i], yi = c->ring[2 * i + 1];
		double xj = c->ring[2 * j], yj = c->ring[2 * j + 1];
		double f = xj * yi - xi * yj;
		a += f;
		cx += (xi + xj) * f;
		cy += (yi + yj) * f;
		x0 = fmin(x0, xi); y0 = fmin(y0, yi); x1 = fmax(x1, xi); y1 = fmax(y1, yi);
	}
	if (a != 0 && inside(c, cx / (3 * a), cy / (3 * a))) {
		add_anchor(c, cx / (3 * a), cy / (3 * a), 0, 0);
		return;
	}
	double bx = NAN, by = NAN, bd = -1;
	for (int i = 0; i < GRID; i++)
		for (int j = 0; j < GRID; j++) {
			double x = x0 + (x1 - x0) * (i + 0.5) / GRID, y = y0 + (y1 - y0) * (j + 0.5) / GRID;
			double d;
			if (inside(c, x, y) && (d = edge_dist(c, x, y)) > bd) {
				bd = d;
				bx = x;
				by = y;
			}
		}
	if (bd >= 0)
		add_anchor(c, bx, by, 0, 0);
}

static void line_anchor(collect_t *c, const double *px, size_t n)
{
	double len = 0;
	for (size_t i = 0; i + 1 < n; i++)
		len += hypot(px[2 * i + 2] - px[2 * i], px[2 * i + 3] - px[2 * i + 1]);
	double half = len / 2, run = 0;
	for (size_t i = 0; i + 1 < n; i++) {
		double dx = px[2 * i + 2] - px[2 * i], dy = px[2 * i + 3] - px[2 * i + 1];
		double s = hypot(dx, dy);
		if (run + s >= half && s > 0) {
			double t = (half - run) / s, ang = atan2(dy, dx);
			if (ang > M_PI / 2)
				ang -= M_PI;
			else if (ang <= -M_PI / 2)
				ang += M_PI;
			add_anchor(c, px[2 * i] + t * dx, px[2 * i + 1] + t * dy, ang, len);
			return;
		}
		run += s;
	}
}

static int on_run(int kind, int first, const double *pts, size_t n, void *data)
{
	collect_t *c = data;
	kt_render_t *r = c->r;
	if (kind == 0) {
		for (size_t i = 0; i < n; i++)
			add_anchor(c, kt_render_px(r, pts[2 * i]), kt_render_py(r, pts[2 * i + 1]), 0, 0);
		return 0;
	}
	if (kind == 2 && first) {
		polygon_anchor(c);
		c->n_pts = c->n_rings = 0;
	}
	if (kind == 2 && c->n_rings >= sizeof c->ring_start / sizeof c->ring_start[0])
		return 0; /* rings past 64: holes ignored for placement */
	size_t base = kind == 2 ? c->n_pts : 0;
	if (2 * (base + n) > c->cap) {
		size_t cap = 2 * (base + n) + 64;
		double *p = kt_realloc(c->ring, cap * sizeof *p);
		if (!p) {
			c->oom = 1;
			return KT_ENOMEM;
		}
		c->ring = p;
		c->cap = cap;
	}
	for (size_t i = 0; i < n; i++) {
		c->ring[2 * (base + i)] = kt_render_px(r, pts[2 * i]);
		c->ring[2 * (base + i) + 1] = kt_render_py(r, pts[2 * i + 1]);
	}
	if (kind == 1) {
		line_anchor(c, c->ring, n);
		return 0;
	}
	c->ring_start[c->n_rings++] = base;
	c->n_pts = base + n;
	return 0;
}

/* ---- text ----------------------------------------------------------------- */

static const json_t *prop(const json_t *sl, const char *group, const char *key)
{
	return json_object_get(json_object_get(sl, group), key);
}

static PangoFontDescription *font_of(const json_t *fonts, double size)
{
	if (json_is_array(fonts) && !strcmp(json_string_value(json_array_get(fonts, 0)) ?
	                                    json_string_value(json_array_get(fonts, 0)) : "", "literal"))
		fonts = json_array_get(fonts, 1);
	const char *name = json_string_value(json_array_get(fonts, 0));
	char family[128];
	snprintf(family, sizeof family, "%s", name ? name : "DejaVu Sans");
	PangoFontDescription *fd = pango_font_description_new();
	static const char *const words[] = {" Bold", " Oblique", " Italic", " Regular", " Book"};
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
		char *w = strstr(family, words[i]);
		if (!w)
			continue;
		if (i == 0)
			pango_font_description_set_weight(fd, PANGO_WEIGHT_BOLD);
		else if (i < 3)
			pango_font_description_set_style(fd, PANGO_STYLE_OBLIQUE);
		memmove(w, w + strlen(words[i]), strlen(w + strlen(words[i])) + 1);
	}
	pango_font_description_set_family(fd, family);
	pango_font_description_set_absolute_size(fd, size * PANGO_SCALE);
	return fd;
}

static int overlaps(const kt_render_t *r, const kt_label_box_t *b)
{
	for (size_t i = 0; i < r->n_boxes; i++) {
		const kt_label_box_t *o = &r->boxes[i];
		if (b->x0 < o->x1 && b->x1 > o->x0 && b->y0 < o->y1 && b->y1 > o->y0)
			return 1;
	}
	return 0;
}

static int keep_box(kt_render_t *r, const kt_label_box_t *b)
{
	if (r->n_boxes == r->cap_boxes) {
		size_t cap = r->cap_boxes ? 2 * r->cap_boxes : 64;
		kt_label_box_t *p = kt_realloc(r->boxes, cap * sizeof *p);
		if (!p)
			return KT_ENOMEM;
		r->boxes = p;
		r->cap_boxes = cap;
	}
	r->boxes[r->n_boxes++] = *b;
	return 0;
}

typedef struct text {
	PangoLayout *lay;
	double w, h, lx, ly;       /* logical size and origin of the layout */
	double size, pad;
	double dx, dy;             /* offset of the box centre from the anchor */
	double color[4], halo[4], halo_w;
	int avoid_edges, allow_overlap;
} text_t;

/* The box centre's offset from the anchor for text-anchor and text-offset. */
static void anchor_offset(text_t *t, const char *anchor, const double off[2])
{
	t->dx = off[0] * t->size;
	t->dy = off[1] * t->size;
	if (strstr(anchor, "left"))
		t->dx += t->w / 2;
	else if (strstr(anchor, "right"))
		t->dx -= t->w / 2;
	if (!strncmp(anchor, "top", 3))
		t->dy += t->h / 2;
	else if (!strncmp(anchor, "bottom", 6))
		t->dy -= t->h / 2;
}

static int place(kt_render_t *r, text_t *t, const anchor_t *a)
{
	cairo_t *cr = r->cr;
	double c = cos(a->angle), s = sin(a->angle);
	double cx = a->x + t->dx * c - t->dy * s, cy = a->y + t->dx * s + t->dy * c;
	double hw = (fabs(t->w * c) + fabs(t->h * s)) / 2, hh = (fabs(t->w * s) + fabs(t->h * c)) / 2;
	kt_label_box_t b = {cx - hw - t->pad, cy - hh - t->pad, cx + hw + t->pad, cy + hh + t->pad};
	if (a->room > 0 && t->w > a->room)
		return 0;
	if (t->avoid_edges && (cx - hw < 0 || cy - hh < 0 || cx + hw > r->width || cy + hh > r->height))
		return 0;
	if (!t->allow_overlap && (overlaps(r, &b) || r->n_boxes >= MAX_LABELS))
		return 0;
	cairo_save(cr);
	cairo_translate(cr, cx, cy);
	cairo_rotate(cr, a->angle);
	cairo_move_to(cr, -t->w / 2 - t->lx, -t->h / 2 - t->ly);
	if (t->halo_w > 0 && t->halo[3] > 0) {
		pango_cairo_layout_path(cr, t->lay);
		cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
		cairo_set_line_width(cr, 2 * t->halo_w);
		cairo_set_source_rgba(cr, t->halo[0], t->halo[1], t->halo[2], t->halo[3]);
		cairo_stroke(cr);
		cairo_move_to(cr, -t->w / 2 - t->lx, -t->h / 2 - t->ly);
	}
	cairo_set_source_rgba(cr, t->color[0], t->color[1], t->color[2], t->color[3]);
	pango_cairo_show_layout(cr, t->lay);
	cairo_restore(cr);
	return keep_box(r, &b);
}

static void read_text_paint(text_t *t, const json_t *sl, const kt_style_env_t *env)
{
	static const double black[4] = {0, 0, 0, 1}, none[4] = {0, 0, 0, 0};
	double op = kt_style_num(prop(sl, "paint", "text-opacity"), env, 1);
	kt_style_color(prop(sl, "paint", "text-color"), env, black, t->color);
	kt_style_color(prop(sl, "paint", "text-halo-color"), env, none, t->halo);
	t->color[3] *= op;
	t->halo[3] *= op;
	t->halo_w = kt_style_num(prop(sl, "paint", "text-halo-width"), env, 0);
	t->pad = kt_style_num(prop(sl, "layout", "text-padding"), env, 2);
	kt_sval_t v;
	t->avoid_edges = !kt_style_eval(prop(sl, "layout", "symbol-avoid-edges"), env, &v) &&
	                 v.type == KT_SV_BOOL && v.b;
	t->allow_overlap = !kt_style_eval(prop(sl, "layout", "text-allow-overlap"), env, &v) &&
	                   v.type == KT_SV_BOOL && v.b;
}

/* The layout of the text, wrapped at text-max-width for point labels. */
static void make_layout(text_t *t, const json_t *sl, const kt_style_env_t *env, const char *s,
                        int on_line, cairo_t *cr)
{
	t->lay = pango_cairo_create_layout(cr);
	PangoFontDescription *fd = font_of(prop(sl, "layout", "text-font"), t->size);
	pango_layout_set_font_description(t->lay, fd);
	pango_font_description_free(fd);
	double ls = kt_style_num(prop(sl, "layout", "text-letter-spacing"), env, 0);
	if (ls != 0) {
		PangoAttrList *al = pango_attr_list_new();
		pango_attr_list_insert(al, pango_attr_letter_spacing_new((int)(ls * t->size * PANGO_SCALE)));
		pango_layout_set_attributes(t->lay, al);
		pango_attr_list_unref(al);
	}
	pango_layout_set_text(t->lay, s, -1);
	pango_layout_set_alignment(t->lay, PANGO_ALIGN_CENTER);
	double maxw = kt_style_num(prop(sl, "layout", "text-max-width"), env, 10) * t->size;
	PangoRectangle ink, logical;
	pango_layout_get_pixel_extents(t->lay, &ink, &logical);
	if (!on_line && maxw > 0 && logical.width > maxw) {
		pango_layout_set_width(t->lay, (int)(maxw * PANGO_SCALE));
		pango_layout_set_wrap(t->lay, PANGO_WRAP_WORD);
		pango_layout_get_pixel_extents(t->lay, &ink, &logical);
	}
	t->w = logical.width;
	t->h = logical.height;
	t->lx = logical.x;
	t->ly = logical.y;
}

int kt_render_label(kt_render_t *r, const json_t *sl, const kt_style_env_t *env,
                    const unsigned char *wkb, size_t wkb_len)
{
	const char *s = kt_style_str(prop(sl, "layout", "text-field"), env, NULL);
	if (!s || !*s)
		return 0;
	const char *tt = kt_style_str(prop(sl, "layout", "text-transform"), env, "none");
	if (strcmp(tt, "none")) {
		kt_sval_t v = {.type = KT_SV_STR, .s = s};
		json_t *e = json_pack("[s, s]", !strcmp(tt, "uppercase") ? "upcase" : "downcase", s);
		if (e && !kt_style_eval(e, env, &v))
			s = v.s;
		json_decref(e);
	}
	const char *placement = kt_style_str(prop(sl, "layout", "symbol-placement"), env, "point");
	int on_line = strcmp(placement, "point") != 0;
	collect_t cs = {.r = r}, *c = &cs; /* about 9 KB of stack */
	int rc = kt_wkb_runs(wkb, wkb_len, on_run, c);
	if (!rc)
		polygon_anchor(c);
	kt_free(c->ring);
	if (rc == KT_ENOMEM || c->oom)
		return KT_ENOMEM;
	if (!c->n)
		return 0;
	text_t t = {.size = kt_style_num(prop(sl, "layout", "text-size"), env, 16) * r->pixel_ratio};
	if (t.size <= 0)
		return 0;
	read_text_paint(&t, sl, env);
	make_layout(&t, sl, env, s, on_line, r->cr);
	double off[2] = {0, 0};
	const json_t *o = prop(sl, "layout", "text-offset");
	if (json_is_array(o) && json_is_string(json_array_get(o, 0)))
		o = json_array_get(o, 1); /* ["literal", [x, y]] */
	for (int i = 0; i < 2 && json_is_array(o); i++)
		off[i] = json_number_value(json_array_get(o, (size_t)i));
	anchor_offset(&t, on_line ? "center" : kt_style_str(prop(sl, "layout", "text-anchor"), env,
	                                                    "center"), off);
	for (size_t i = 0; i < c->n && !rc; i++)
		rc = place(r, &t, &c->a[i]);
	g_object_unref(t.lay);
	return rc;
}
