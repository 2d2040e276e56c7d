/*
 * render_stamp.c — circles (MapLibre "circle" layers) drawn as stamps: a
 * circle of one paint is rendered by cairo, antialiased, once for each
 * quarter-pixel position into a small premultiplied ARGB image, and
 * composited (OVER, pixman's rounding) into the target's pixels at every
 * point. Why: a GetMap of the lighting network draws tens of thousands of
 * identical dots, and one cairo fill plus one stroke per dot cost far more
 * than the pixels they touch (a path, a polygon, a scan converter and a
 * composite each time).
 *
 * What it keeps true: a stamp holds exactly what kt_render_circle draws
 * for the same paint at the same sub-pixel position (fill, then stroke,
 * on a transparent image), so the image only differs from the cairo one
 * by the position rounded to 1/4 px; compositing the stamp equals the
 * fill then the stroke (OVER is associative). The target must be "direct"
 * (kt_render_t): a whole image surface, identity matrix, no clip; it is
 * flushed before its pixels are written and marked dirty after. Large
 * circles (radius plus stroke over MAX_EXTENT px) are left to cairo.
 */
#include <math.h>
#include <string.h>

#include <cairo.h>

#include "kt_wms_int.h"

#define SUB 4            /* sub-pixel positions per pixel, each axis */
#define MAX_EXTENT 24.0  /* largest radius + stroke stamped, pixels */
#define MAX_SETS 16      /* paints remembered per image */

typedef struct stamp_set {
	double key[10];      /* radius, stroke width, fill RGBA, stroke RGBA */
	int c;               /* centre of a stamp, pixels from its corner */
	int size;            /* side of a stamp, 2c + 1 */
	uint32_t *px;        /* SUB * SUB stamps of size * size pixels */
} stamp_set_t;

struct kt_stamps {
	stamp_set_t sets[MAX_SETS];
	int n;
};

void kt_stamps_free(struct kt_stamps *st)
{
	if (!st)
		return;
	for (int i = 0; i < st->n; i++)
		kt_free(st->sets[i].px);
	kt_free(st);
}

/* Renders the SUB * SUB stamps of a paint with cairo. */
static int stamp_render(stamp_set_t *s, const kt_paint_t *p)
{
	size_t side = (size_t)s->size, one = side * side;
	s->px = kt_calloc(SUB * SUB * one, sizeof *s->px);
	if (!s->px)
		return KT_ENOMEM;
	for (int sy = 0; sy < SUB; sy++) {
		for (int sx = 0; sx < SUB; sx++) {
			unsigned char *data = (unsigned char *)(s->px + (size_t)(sy * SUB + sx) * one);
			cairo_surface_t *img = cairo_image_surface_create_for_data(
				data, CAIRO_FORMAT_ARGB32, s->size, s->size, s->size * 4);
			cairo_t *cr = cairo_create(img);
			kt_render_circle(cr, p, s->c + (double)sx / SUB, s->c + (double)sy / SUB);
			int bad = cairo_status(cr) != CAIRO_STATUS_SUCCESS;
			cairo_destroy(cr);
			cairo_surface_finish(img);
			cairo_surface_destroy(img);
			if (bad)
				return KT_ENOMEM;
		}
	}
	return 0;
}

/* The stamps of a paint: found among those made for this image, or made
 * now; NULL when there is no room for another set. */
static stamp_set_t *stamp_find(kt_render_t *r, const kt_paint_t *p, double extent, int *rc)
{
	double key[10] = {p->radius, p->stroke_w};
	memcpy(key + 2, p->fill, 4 * sizeof *key);
	memcpy(key + 6, p->stroke, 4 * sizeof *key);
	*rc = 0;
	if (!r->stamps && !(r->stamps = kt_calloc(1, sizeof *r->stamps))) {
		*rc = KT_ENOMEM;
		return NULL;
	}
	struct kt_stamps *st = r->stamps;
	for (int i = 0; i < st->n; i++)
		if (!memcmp(st->sets[i].key, key, sizeof key))
			return &st->sets[i];
	if (st->n == MAX_SETS)
		return NULL;
	stamp_set_t *s = &st->sets[st->n];
	memcpy(s->key, key, sizeof key);
	/* the circle lies in [c - extent, c + 1 + extent]; a quarter pixel
	 * more for cairo's arcs, Bézier curves within its tolerance (0.1 px) */
	s->c = (int)ceil(extent + 0.25);
	s->size = 2 * s->c + 1;
	if ((*rc = stamp_render(s, p))) {
		kt_free(s->px);
		s->px = NULL;
		return NULL;
	}
	st->n++;
	return s;
}

/* s OVER d, premultiplied, per channel d * (255 - sa) / 255 rounded as
 * pixman does, two channels at a time. */
static inline uint32_t over(uint32_t s, uint32_t d)
{
	uint32_t ia = 255 - (s >> 24);
	uint32_t rb = (d & 0x00ff00ffu) * ia + 0x00800080u;
	rb = ((rb + ((rb >> 8) & 0x00ff00ffu)) >> 8) & 0x00ff00ffu;
	uint32_t ag = ((d >> 8) & 0x00ff00ffu) * ia + 0x00800080u;
	ag = (ag + ((ag >> 8) & 0x00ff00ffu)) & 0xff00ff00u;
	return s + (rb | ag);
}

/* Composites one stamp with its corner at pixel (ox, oy), clipped. */
static void stamp_blit(const uint32_t *stamp, int size, unsigned char *data, int stride, int w,
                       int h, int ox, int oy)
{
	int x0 = ox < 0 ? -ox : 0, y0 = oy < 0 ? -oy : 0;
	int x1 = ox + size > w ? w - ox : size, y1 = oy + size > h ? h - oy : size;
	for (int y = y0; y < y1; y++) {
		const uint32_t *src = stamp + (size_t)y * size;
		uint32_t *dst = (uint32_t *)(void *)(data + (size_t)(oy + y) * stride) + ox;
		for (int x = x0; x < x1; x++) {
			uint32_t s = src[x];
			if (!s)
				continue;
			dst[x] = (s >> 24) == 0xff ? s : over(s, dst[x]);
		}
	}
}

int kt_stamp_circles(kt_render_t *r, double radius, double stroke_w, const double fill[4],
                     const double stroke[4], const double *xy, size_t n)
{
	kt_paint_t p;
	memset(&p, 0, sizeof p);
	p.kind = KT_PAINT_CIRCLE;
	p.radius = radius;
	p.stroke_w = stroke_w;
	memcpy(p.fill, fill, sizeof p.fill);
	memcpy(p.stroke, stroke, sizeof p.stroke);
	double extent = fmax(radius, 0) + fmax(stroke_w, 0);
	if (!r->direct || !(extent <= MAX_EXTENT))
		return 1;
	int rc;
	stamp_set_t *s = stamp_find(r, &p, extent, &rc);
	if (!s)
		return rc ? rc : 1;
	cairo_surface_t *target = cairo_get_target(r->cr);
	cairo_surface_flush(target);
	unsigned char *data = cairo_image_surface_get_data(target);
	int stride = cairo_image_surface_get_stride(target);
	int w = cairo_image_surface_get_width(target), h = cairo_image_surface_get_height(target);
	size_t one = (size_t)s->size * s->size;
	for (size_t i = 0; i < n; i++) {
		double x = xy[2 * i], y = xy[2 * i + 1];
		if (!(x > -extent - 1 && y > -extent - 1 && x < w + extent + 1 && y < h + extent + 1))
			continue;
		/* position in quarter pixels, then the pixel and the sub-position */
		int qx = (int)floor(x * SUB + 0.5), qy = (int)floor(y * SUB + 0.5);
		int px = qx >= 0 ? qx / SUB : -((-qx + SUB - 1) / SUB);
		int py = qy >= 0 ? qy / SUB : -((-qy + SUB - 1) / SUB);
		int sx = qx - px * SUB, sy = qy - py * SUB;
		stamp_blit(s->px + (size_t)(sy * SUB + sx) * one, s->size, data, stride, w, h,
		           px - s->c, py - s->c);
	}
	cairo_surface_mark_dirty(target);
	return 0;
}
