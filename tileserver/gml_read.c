/*
 * gml_read.c — GML geometry operands of FES filters into ISO WKB.
 *
 * Reads Point, LineString, Polygon (with holes), Envelope (and GML 2 Box),
 * MultiPoint, MultiCurve/MultiLineString, MultiSurface/MultiPolygon in
 * GML 3.2 or 3.1.1 (gml:pos, gml:posList with srsDimension, gml:coordinates,
 * lowerCorner/upperCorner). Coordinates are kept in the order written:
 * the caller applies the axis order of the srsName (kt_ows_crs_resolve)
 * and reprojects. Z is dropped (filters are 2D).
 *
 * Untrusted input: counts come from the text itself, each coordinate is
 * parsed with strtod and checked finite, rings must close and have 4
 * points, and nesting is bounded, so a hostile document gets an
 * exception, never a bad WKB.
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>

#include "kt_ows_int.h"

#define GML32_NS "http://www.opengis.net/gml/3.2"
#define GML31_NS "http://www.opengis.net/gml"
#define MAX_COORDS (1 << 20)

typedef struct gread {
	kt_arena_t *a;
	kt_ows_exc_t *e;
	kt_sbuf_t wkb;
	double env[4];
	int has_env;
} gread_t;

static int is_gml(const xmlNode *n, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE && n->ns &&
	       (!strcmp((const char *)n->ns->href, GML32_NS) ||
	        !strcmp((const char *)n->ns->href, GML31_NS)) &&
	       !strcmp((const char *)n->name, name);
}

static xmlNode *child(const xmlNode *n, const char *name)
{
	for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
		if (is_gml(c, name))
			return c;
	return NULL;
}

static int fail(gread_t *g, const char *what)
{
	return kt_ows_fail(g->e, g->a, "InvalidParameterValue", "FILTER", "GML geometry: %s", what);
}

static void put_u32(gread_t *g, uint32_t v)
{
	kt_sbuf_put(&g->wkb, (const char *)&v, 4); /* little-endian host (x86-64, arm64) */
}

static void put_pt(gread_t *g, double x, double y)
{
	kt_sbuf_put(&g->wkb, (const char *)&x, 8);
	kt_sbuf_put(&g->wkb, (const char *)&y, 8);
	if (!g->has_env) {
		g->env[0] = g->env[2] = x;
		g->env[1] = g->env[3] = y;
		g->has_env = 1;
	}
	g->env[0] = fmin(g->env[0], x);
	g->env[1] = fmin(g->env[1], y);
	g->env[2] = fmax(g->env[2], x);
	g->env[3] = fmax(g->env[3], y);
}

static void put_header(gread_t *g, uint32_t type)
{
	kt_sbuf_put(&g->wkb, "\x01", 1);
	put_u32(g, type);
}

/* Reads whitespace- or separator-delimited numbers of text into v. */
static long numbers(const char *text, double *v, long max, int commas)
{
	long n = 0;
	const char *p = text;
	for (;;) {
		while (*p && (isspace((unsigned char)*p) || (commas && *p == ',')))
			p++;
		if (!*p)
			return n;
		if (n >= max)
			return -1;
		char *end;
		double d = strtod(p, &end);
		if (end == p || !isfinite(d))
			return -1;
		v[n++] = d;
		p = end;
	}
}

static int dims_of(const xmlNode *n)
{
	for (const xmlNode *p = n; p && p->type == XML_ELEMENT_NODE; p = p->parent) {
		xmlChar *d = xmlGetProp(p, (const xmlChar *)"srsDimension");
		if (d) {
			int v = atoi((const char *)d);
			xmlFree(d);
			return v == 3 ? 3 : v == 2 ? 2 : -1;
		}
	}
	return 2;
}

/* The points of an element: posList, pos*, or coordinates. Returns the
 * count; *xy holds 2 doubles a point (Z dropped). */
static long points(gread_t *g, const xmlNode *n, double **xy)
{
	int dims = dims_of(n);
	if (dims < 0)
		return fail(g, "srsDimension must be 2 or 3"), -1;
	long cap = 0;
	for (xmlNode *c = n->children; c; c = c->next)
		if (is_gml(c, "posList") || is_gml(c, "coordinates") || is_gml(c, "pos")) {
			xmlChar *t = xmlNodeGetContent(c);
			cap += t ? (long)strlen((const char *)t) / 2 + 3 : 0;
			xmlFree(t);
		}
	if (cap <= 0 || cap > MAX_COORDS)
		return fail(g, "no coordinates, or too many"), -1;
	double *v = kt_arena_alloc(g->a, (size_t)cap * sizeof *v);
	if (!v)
		return fail(g, "out of memory"), -1;
	long n_v = 0;
	for (xmlNode *c = n->children; c; c = c->next) {
		int cs = is_gml(c, "coordinates");
		if (!cs && !is_gml(c, "posList") && !is_gml(c, "pos"))
			continue;
		xmlChar *t = xmlNodeGetContent(c);
		long k = t ? numbers((const char *)t, v + n_v, cap - n_v, cs) : -1;
		xmlFree(t);
		if (k < 0 || (is_gml(c, "pos") && k != dims))
			return fail(g, "bad coordinate list"), -1;
		n_v += k;
	}
	if (n_v == 0 || n_v % dims)
		return fail(g, "the number of coordinates is not a multiple of the dimension"), -1;
	long np = n_v / dims;
	for (long i = 0; i < np; i++) { /* compact to XY */
		v[2 * i] = v[dims * i];
		v[2 * i + 1] = v[dims * i + 1];
	}
	*xy = v;
	return np;
}

static int write_point(gread_t *g, const xmlNode *n)
{
	double *xy;
	long np = points(g, n, &xy);
	if (np < 0)
		return KT_EINVAL;
	if (np != 1)
		return fail(g, "a Point has one position");
	put_header(g, 1);
	put_pt(g, xy[0], xy[1]);
	return 0;
}

static int write_line(gread_t *g, const xmlNode *n, int with_header)
{
	double *xy;
	long np = points(g, n, &xy);
	if (np < 0)
		return KT_EINVAL;
	if (np < 2)
		return fail(g, "a LineString needs two positions");
	if (with_header)
		put_header(g, 2);
	put_u32(g, (uint32_t)np);
	for (long i = 0; i < np; i++)
		put_pt(g, xy[2 * i], xy[2 * i + 1]);
	return 0;
}

static int write_ring(gread_t *g, const xmlNode *boundary)
{
	const xmlNode *ring = child(boundary, "LinearRing");
	if (!ring)
		return fail(g, "a polygon boundary needs a LinearRing");
	double *xy;
	long np = points(g, ring, &xy);
	if (np < 0)
		return KT_EINVAL;
	if (np < 4 || xy[0] != xy[2 * np - 2] || xy[1] != xy[2 * np - 1])
		return fail(g, "a LinearRing needs 4 positions and must close");
	put_u32(g, (uint32_t)np);
	for (long i = 0; i < np; i++)
		put_pt(g, xy[2 * i], xy[2 * i + 1]);
	return 0;
}

static int write_polygon(gread_t *g, const xmlNode *n)
{
	uint32_t rings = 0;
	for (xmlNode *c = n->children; c; c = c->next)
		rings += is_gml(c, "exterior") || is_gml(c, "interior") || is_gml(c, "outerBoundaryIs") ||
		         is_gml(c, "innerBoundaryIs");
	if (!rings)
		return fail(g, "a Polygon needs an exterior");
	put_header(g, 3);
	put_u32(g, rings);
	for (xmlNode *c = n->children; c; c = c->next)
		if ((is_gml(c, "exterior") || is_gml(c, "outerBoundaryIs")) && write_ring(g, c))
			return KT_EINVAL;
	for (xmlNode *c = n->children; c; c = c->next)
		if ((is_gml(c, "interior") || is_gml(c, "innerBoundaryIs")) && write_ring(g, c))
			return KT_EINVAL;
	return 0;
}

static int corner(gread_t *g, const xmlNode *n, const char *name, double xy[2])
{
	const xmlNode *c = child(n, name);
	xmlChar *t = c ? xmlNodeGetContent(c) : NULL;
	double v[3];
	long k = t ? numbers((const char *)t, v, 3, 0) : -1;
	xmlFree(t);
	if (k != 2 && k != 3)
		return fail(g, "an Envelope needs lowerCorner and upperCorner");
	xy[0] = v[0];
	xy[1] = v[1];
	return 0;
}

static int write_envelope(gread_t *g, const xmlNode *n)
{
	double lo[2], hi[2];
	if (is_gml(n, "Box")) {
		double *xy;
		long np = points(g, n, &xy);
		if (np != 2)
			return np < 0 ? KT_EINVAL : fail(g, "a Box has two positions");
		lo[0] = xy[0]; lo[1] = xy[1]; hi[0] = xy[2]; hi[1] = xy[3];
	} else if (corner(g, n, "lowerCorner", lo) || corner(g, n, "upperCorner", hi)) {
		return KT_EINVAL;
	}
	if (lo[0] > hi[0] || lo[1] > hi[1])
		return fail(g, "the lower corner of an Envelope exceeds its upper corner");
	put_header(g, 3);
	put_u32(g, 1);
	put_u32(g, 5);
	put_pt(g, lo[0], lo[1]);
	put_pt(g, hi[0], lo[1]);
	put_pt(g, hi[0], hi[1]);
	put_pt(g, lo[0], hi[1]);
	put_pt(g, lo[0], lo[1]);
	return 0;
}

/* Members of a multi geometry: singular and plural member elements. */
static int write_multi(gread_t *g, const xmlNode *n, uint32_t type, const char *const *members,
                       const char *part)
{
	uint32_t count = 0;
	for (int pass = 0; pass < 2; pass++) {
		if (pass)
			put_header(g, type), put_u32(g, count);
		for (xmlNode *m = n->children; m; m = m->next) {
			int is_member = 0;
			for (int k = 0; members[k]; k++)
				is_member |= is_gml(m, members[k]);
			if (!is_member)
				continue;
			for (xmlNode *c = m->children; c; c = c->next) {
				if (c->type != XML_ELEMENT_NODE)
					continue;
				if (!is_gml(c, part))
					return fail(g, "unsupported member geometry");
				if (!pass) {
					count++;
					continue;
				}
				int rc = type == 4 ? write_point(g, c)
				       : type == 5 ? (put_header(g, 2), write_line(g, c, 0))
				                   : write_polygon(g, c);
				if (rc)
					return rc;
			}
		}
		if (!count)
			return fail(g, "an empty multi geometry");
	}
	return 0;
}

int kt_gml_read(kt_arena_t *a, void *node, kt_geom_t *out, kt_ows_exc_t *e)
{
	static const char *const pts[] = {"pointMember", "pointMembers", NULL};
	static const char *const lines[] = {"curveMember", "curveMembers", "lineStringMember", NULL};
	static const char *const polys[] = {"surfaceMember", "surfaceMembers", "polygonMember", NULL};
	const xmlNode *n = node;
	gread_t g = {.a = a, .e = e};
	memset(out, 0, sizeof *out);
	int rc;
	if (is_gml(n, "Point"))
		rc = write_point(&g, n);
	else if (is_gml(n, "LineString"))
		rc = write_line(&g, n, 1);
	else if (is_gml(n, "Polygon"))
		rc = write_polygon(&g, n);
	else if (is_gml(n, "Envelope") || is_gml(n, "Box"))
		rc = write_envelope(&g, n);
	else if (is_gml(n, "MultiPoint"))
		rc = write_multi(&g, n, 4, pts, "Point");
	else if (is_gml(n, "MultiCurve") || is_gml(n, "MultiLineString"))
		rc = write_multi(&g, n, 5, lines, "LineString");
	else if (is_gml(n, "MultiSurface") || is_gml(n, "MultiPolygon"))
		rc = write_multi(&g, n, 6, polys, "Polygon");
	else
		rc = kt_ows_fail(e, a, "InvalidParameterValue", "FILTER",
		                 "unsupported geometry operand <%s>", n ? (const char *)n->name : "");
	xmlChar *srs = rc ? NULL : xmlGetProp(n, (const xmlChar *)"srsName");
	if (!rc && srs && kt_ows_crs_parse((const char *)srs, &out->crs))
		rc = kt_ows_fail(e, a, "InvalidParameterValue", "FILTER", "unknown srsName \"%s\"",
		                 (const char *)srs);
	xmlFree(srs);
	if (!rc && (g.wkb.oom || !(out->wkb = kt_arena_alloc(a, g.wkb.len))))
		rc = fail(&g, "out of memory");
	if (!rc) {
		memcpy(out->wkb, g.wkb.p, g.wkb.len);
		out->len = g.wkb.len;
		memcpy(out->env, g.env, sizeof g.env);
	}
	kt_sbuf_release(&g.wkb);
	return rc;
}
