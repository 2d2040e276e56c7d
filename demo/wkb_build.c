/*
 * wkb_build.c — writes the few geometries the demo needs as ISO WKB
 * (little endian): points, line strings, one-ring polygons and
 * multipolygons, 2D or XYZ (type + 1000). The buffer is reused from one
 * feature to the next: every writer starts it afresh. Polygons are closed
 * here, so callers give each ring's vertices once.
 */
#include "demo_int.h"

#include <string.h>

enum { WKB_POINT = 1, WKB_LINESTRING = 2, WKB_POLYGON = 3, WKB_MULTIPOLYGON = 6, WKB_Z = 1000 };

static void put(demo_wkb_t *b, const void *src, size_t n)
{
	if (b->err)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n)
			cap *= 2;
		unsigned char *p = kt_realloc(b->p, cap);
		if (!p) {
			b->err = KT_ENOMEM;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, src, n); /* the demo runs on little-endian hosts */
	b->len += n;
}

static void header(demo_wkb_t *b, uint32_t type)
{
	unsigned char order = 1;
	put(b, &order, 1);
	put(b, &type, 4);
}

static void count(demo_wkb_t *b, size_t n)
{
	uint32_t c = (uint32_t)n;
	put(b, &c, 4);
}

static void coord(demo_wkb_t *b, demo_pt_t p, int has_z)
{
	put(b, &p.x, 8);
	put(b, &p.y, 8);
	if (has_z)
		put(b, &p.z, 8);
}

void demo_wkb_point(demo_wkb_t *b, demo_pt_t p, int has_z)
{
	b->len = 0;
	header(b, WKB_POINT + (has_z ? WKB_Z : 0));
	coord(b, p, has_z);
}

void demo_wkb_line(demo_wkb_t *b, const demo_pt_t *pts, size_t n, int has_z)
{
	b->len = 0;
	header(b, WKB_LINESTRING + (has_z ? WKB_Z : 0));
	count(b, n);
	for (size_t i = 0; i < n; i++)
		coord(b, pts[i], has_z);
}

static void polygon_body(demo_wkb_t *b, const demo_pt_t *ring, size_t n)
{
	header(b, WKB_POLYGON);
	count(b, 1);
	count(b, n + 1);
	for (size_t i = 0; i < n; i++)
		coord(b, ring[i], 0);
	coord(b, ring[0], 0);
}

void demo_wkb_polygon(demo_wkb_t *b, const demo_pt_t *ring, size_t n)
{
	b->len = 0;
	polygon_body(b, ring, n);
}

void demo_wkb_multipolygon(demo_wkb_t *b, const demo_pt_t *ring, size_t n)
{
	b->len = 0;
	header(b, WKB_MULTIPOLYGON);
	count(b, 1);
	polygon_body(b, ring, n);
}

void demo_wkb_release(demo_wkb_t *b)
{
	kt_free(b->p);
	memset(b, 0, sizeof *b);
}
