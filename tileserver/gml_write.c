/*
 * gml_write.c — ISO WKB geometries (as the engine hands them out) to GML
 * 3.2 or 3.1.1, plus the small XML Schema vocabulary WFS answers share
 * (xsd types of attributes, GML property types of layer geometries,
 * values as xsd text) and two WKB utilities (envelope, axis swap).
 *
 * Mapping: Point, LineString, Polygon as themselves; MultiPoint;
 * MultiLineString as gml:MultiCurve; MultiPolygon as gml:MultiSurface;
 * GeometryCollection as gml:MultiGeometry. Every geometry gets a gml:id
 * (required in GML 3.2) made of the feature's id and a counter; the top
 * one carries srsName (and srsDimension 3 with Z). Coordinates are written
 * with 15 significant digits (sub-millimetre in any projected CRS) in the
 * order asked (swap for latitude-first CRS names).
 *
 * The WKB reader checks every length against the bytes left, so a bad
 * blob gives KT_EINVAL, never a read out of bounds.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kt_ows_int.h"

#define MAX_DEPTH 8

typedef struct wkbr {
	unsigned char *p, *end;
	int swap_bytes;
} wkbr_t;

static int rd_u32(wkbr_t *r, uint32_t *v)
{
	if (r->end - r->p < 4)
		return KT_EINVAL;
	memcpy(v, r->p, 4);
	if (r->swap_bytes)
		*v = __builtin_bswap32(*v);
	r->p += 4;
	return 0;
}

static int rd_header(wkbr_t *r, uint32_t *type, int *dims)
{
	if (r->end - r->p < 5 || r->p[0] > 1)
		return KT_EINVAL;
	r->swap_bytes = r->p[0] == 0;
	r->p++;
	uint32_t t;
	if (rd_u32(r, &t))
		return KT_EINVAL;
	int z = 0, m = 0;
	if (t & 0x80000000u) z = 1;
	if (t & 0x40000000u) m = 1;
	t &= 0x0fffffffu;
	if (t >= 3000) { z = m = 1; t -= 3000; }
	else if (t >= 2000) { m = 1; t -= 2000; }
	else if (t >= 1000) { z = 1; t -= 1000; }
	if (t < 1 || t > 7)
		return KT_EINVAL;
	*type = t;
	*dims = 2 + z + m;
	return z ? 3 : 2; /* >0: coordinate dimension written */
}

typedef struct gw {
	kt_sbuf_t *b;
	const kt_gml_opts_t *o;
	int counter;
	int has_z;
} gw_t;

static void coord(gw_t *w, wkbr_t *r, int dims)
{
	double c[4];
	for (int i = 0; i < dims; i++) {
		uint64_t u;
		memcpy(&u, r->p + 8 * i, 8);
		if (r->swap_bytes)
			u = __builtin_bswap64(u);
		memcpy(&c[i], &u, 8);
	}
	r->p += 8 * dims;
	if (w->o->swap)
		kt_sbuf_printf(w->b, "%.15g %.15g", c[1], c[0]);
	else
		kt_sbuf_printf(w->b, "%.15g %.15g", c[0], c[1]);
	if (w->has_z)
		kt_sbuf_printf(w->b, " %.15g", c[2]);
}

static int points(gw_t *w, wkbr_t *r, int dims, const char *el, int min)
{
	uint32_t n;
	if (rd_u32(r, &n) || (size_t)(r->end - r->p) / (8u * (unsigned)dims) < n || n < (uint32_t)min)
		return KT_EINVAL;
	kt_sbuf_printf(w->b, "<gml:%s%s>", el, w->has_z ? " srsDimension=\"3\"" : "");
	for (uint32_t i = 0; i < n; i++) {
		if (i)
			kt_sbuf_puts(w->b, " ");
		coord(w, r, dims);
	}
	kt_sbuf_printf(w->b, "</gml:%s>", el);
	return 0;
}

static void open_el(gw_t *w, const char *name, int top)
{
	kt_sbuf_printf(w->b, "<gml:%s", name);
	if (w->o->v32 || top) {
		kt_sbuf_puts(w->b, " gml:id=\"");
		kt_sbuf_xml(w->b, w->o->id ? w->o->id : "g");
		kt_sbuf_printf(w->b, ".g%d\"", ++w->counter);
	}
	if (top && w->o->srs) {
		kt_sbuf_puts(w->b, " srsName=\"");
		kt_sbuf_xml(w->b, w->o->srs);
		kt_sbuf_puts(w->b, "\"");
		if (w->has_z)
			kt_sbuf_puts(w->b, " srsDimension=\"3\"");
	}
	kt_sbuf_puts(w->b, ">");
}

static int geometry(gw_t *w, wkbr_t *r, int depth, int top);

static int polygon(gw_t *w, wkbr_t *r, int dims, int top)
{
	uint32_t rings;
	if (rd_u32(r, &rings) || rings == 0 || rings > (size_t)(r->end - r->p) / 4)
		return KT_EINVAL;
	open_el(w, "Polygon", top);
	for (uint32_t i = 0; i < rings; i++) {
		kt_sbuf_puts(w->b, i ? "<gml:interior><gml:LinearRing>" : "<gml:exterior><gml:LinearRing>");
		if (points(w, r, dims, "posList", 4))
			return KT_EINVAL;
		kt_sbuf_puts(w->b, i ? "</gml:LinearRing></gml:interior>" : "</gml:LinearRing></gml:exterior>");
	}
	kt_sbuf_puts(w->b, "</gml:Polygon>");
	return 0;
}

static int multi(gw_t *w, wkbr_t *r, uint32_t type, int depth, int top)
{
	static const char *const names[][2] = {
		{"MultiPoint", "pointMember"}, {"MultiCurve", "curveMember"},
		{"MultiSurface", "surfaceMember"}, {"MultiGeometry", "geometryMember"},
	};
	const char *const *nm = names[type - 4];
	uint32_t n;
	if (rd_u32(r, &n) || n > (size_t)(r->end - r->p) / 5)
		return KT_EINVAL;
	open_el(w, nm[0], top);
	for (uint32_t i = 0; i < n; i++) {
		kt_sbuf_printf(w->b, "<gml:%s>", nm[1]);
		if (geometry(w, r, depth + 1, 0))
			return KT_EINVAL;
		kt_sbuf_printf(w->b, "</gml:%s>", nm[1]);
	}
	kt_sbuf_printf(w->b, "</gml:%s>", nm[0]);
	return 0;
}

static int geometry(gw_t *w, wkbr_t *r, int depth, int top)
{
	uint32_t type;
	int dims;
	if (depth > MAX_DEPTH || rd_header(r, &type, &dims) < 0)
		return KT_EINVAL;
	switch (type) {
	case 1:
		if (r->end - r->p < 8 * dims)
			return KT_EINVAL;
		open_el(w, "Point", top);
		kt_sbuf_puts(w->b, "<gml:pos>");
		coord(w, r, dims);
		kt_sbuf_puts(w->b, "</gml:pos></gml:Point>");
		return 0;
	case 2:
		open_el(w, "LineString", top);
		if (points(w, r, dims, "posList", 2))
			return KT_EINVAL;
		kt_sbuf_puts(w->b, "</gml:LineString>");
		return 0;
	case 3: return polygon(w, r, dims, top);
	default: return multi(w, r, type, depth, top);
	}
}

int kt_gml_write(kt_sbuf_t *b, const unsigned char *wkb, size_t len, const kt_gml_opts_t *o)
{
	wkbr_t r = {(unsigned char *)wkb, (unsigned char *)wkb + len, 0};
	uint32_t type;
	int dims;
	wkbr_t peek = r;
	int cd = rd_header(&peek, &type, &dims);
	if (cd < 0)
		return KT_EINVAL;
	gw_t w = {b, o, 0, cd == 3};
	size_t mark = b->len;
	int rc = geometry(&w, &r, 0, 1);
	if (rc && !b->oom) { /* leave no half-written geometry */
		b->len = mark;
		if (b->p)
			b->p[mark] = 0;
	}
	return rc;
}

/* Walks every coordinate of a geometry: fn(x, y, data). */
static int walk(wkbr_t *r, int depth, void (*fn)(double *xy, void *data), void *data)
{
	uint32_t type, n;
	int dims;
	if (depth > MAX_DEPTH || rd_header(r, &type, &dims) < 0)
		return KT_EINVAL;
	if (type == 1)
		n = 1;
	else if (rd_u32(r, &n))
		return KT_EINVAL;
	if (type == 1 || type == 2) {
		if ((size_t)(r->end - r->p) / (8u * (unsigned)dims) < n)
			return KT_EINVAL;
		for (uint32_t i = 0; i < n; i++, r->p += 8 * dims)
			if (!r->swap_bytes)
				fn((double *)(void *)r->p, data);
		return r->swap_bytes ? KT_EINVAL : 0;
	}
	if (type == 3) {
		for (uint32_t i = 0; i < n; i++) {
			uint32_t np;
			if (rd_u32(r, &np) || (size_t)(r->end - r->p) / (8u * (unsigned)dims) < np)
				return KT_EINVAL;
			for (uint32_t k = 0; k < np; k++, r->p += 8 * dims)
				if (!r->swap_bytes)
					fn((double *)(void *)r->p, data);
			if (r->swap_bytes)
				return KT_EINVAL;
		}
		return 0;
	}
	if (n > (size_t)(r->end - r->p) / 5)
		return KT_EINVAL;
	for (uint32_t i = 0; i < n; i++)
		if (walk(r, depth + 1, fn, data))
			return KT_EINVAL;
	return 0;
}

typedef struct envacc {
	double e[4];
	int any;
} envacc_t;

static void env_fn(double *xy, void *data)
{
	envacc_t *a = data;
	double x, y;
	memcpy(&x, xy, 8);
	memcpy(&y, (char *)xy + 8, 8);
	if (!a->any) {
		a->e[0] = a->e[2] = x;
		a->e[1] = a->e[3] = y;
		a->any = 1;
	}
	if (x < a->e[0]) a->e[0] = x;
	if (y < a->e[1]) a->e[1] = y;
	if (x > a->e[2]) a->e[2] = x;
	if (y > a->e[3]) a->e[3] = y;
}

int kt_wkb_envelope(const unsigned char *wkb, size_t len, double env[4])
{
	wkbr_t r = {(unsigned char *)wkb, (unsigned char *)wkb + len, 0};
	envacc_t a = {{0}, 0};
	if (walk(&r, 0, env_fn, &a) || !a.any)
		return KT_EINVAL;
	memcpy(env, a.e, sizeof a.e);
	return 0;
}

static void swap_fn(double *xy, void *data)
{
	char t[8];
	memcpy(t, xy, 8);
	memmove(xy, (char *)xy + 8, 8);
	memcpy((char *)xy + 8, t, 8);
}

int kt_wkb_swap_xy(unsigned char *wkb, size_t len)
{
	wkbr_t r = {wkb, wkb + len, 0};
	return walk(&r, 0, swap_fn, NULL);
}

const char *kt_gml_property_type(kt_geom_type_t t)
{
	switch (t) {
	case KT_GEOM_POINT: return "gml:PointPropertyType";
	case KT_GEOM_LINESTRING: return "gml:CurvePropertyType";
	case KT_GEOM_POLYGON: return "gml:SurfacePropertyType";
	case KT_GEOM_MULTIPOINT: return "gml:MultiPointPropertyType";
	case KT_GEOM_MULTILINESTRING: return "gml:MultiCurvePropertyType";
	case KT_GEOM_MULTIPOLYGON: return "gml:MultiSurfacePropertyType";
	default: return "gml:GeometryPropertyType";
	}
}

const char *kt_xsd_type(kt_attr_type_t t)
{
	switch (t) {
	case KT_ATTR_INTEGER: return "xsd:long";
	case KT_ATTR_REAL: return "xsd:double";
	case KT_ATTR_BOOLEAN: return "xsd:boolean";
	case KT_ATTR_DATE: return "xsd:date";
	case KT_ATTR_DATETIME: return "xsd:dateTime";
	default: return "xsd:string";
	}
}

/* The shortest of %.15g and %.17g that reads back exactly; xsd spellings
 * for the special values. */
static void real_text(kt_sbuf_t *b, double d)
{
	if (d != d) {
		kt_sbuf_puts(b, "NaN");
		return;
	}
	if (isinf(d)) {
		kt_sbuf_puts(b, d > 0 ? "INF" : "-INF");
		return;
	}
	char t[40];
	snprintf(t, sizeof t, "%.15g", d);
	if (strtod(t, NULL) != d)
		snprintf(t, sizeof t, "%.17g", d);
	kt_sbuf_puts(b, t);
}

void kt_xml_value(kt_sbuf_t *b, const kt_value_t *v)
{
	switch (v->type) {
	case KT_ATTR_INTEGER: kt_sbuf_printf(b, "%lld", (long long)v->i); break;
	case KT_ATTR_BOOLEAN: kt_sbuf_puts(b, v->i ? "true" : "false"); break;
	case KT_ATTR_REAL:
		real_text(b, v->d);
		break;
	default: kt_sbuf_xml(b, v->s ? v->s : "");
	}
}
