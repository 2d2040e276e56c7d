/*
 * ows_crs.c — CRS names in OGC requests and answers, and axis order.
 *
 * The engine always works in "traditional GIS order" (easting or
 * longitude first). The services speak three dialects: "EPSG:n" (x/y, as
 * WFS 1.x clients and GeoServer use it), URNs and http URIs (the axis
 * order of the EPSG registry: latitude first for EPSG:4326, as WFS 2.0 and
 * GML 3.2 require), and OGC CRS84 (longitude first). A kt_crs_t keeps the
 * code and the dialect; kt_ows_crs_resolve asks PROJ whether the CRS's
 * first axis points north, which with a URN or URI means coordinates are
 * swapped on the way in and out.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <proj.h>

#include "kt_ows_int.h"

static int parse_code(const char *s, int *epsg)
{
	char *end;
	if (!isdigit((unsigned char)*s))
		return KT_EINVAL;
	long v = strtol(s, &end, 10);
	if (*end || v <= 0 || v > 999999)
		return KT_EINVAL;
	*epsg = (int)v;
	return 0;
}

static int starts(const char *s, const char *prefix, const char **rest)
{
	size_t n = strlen(prefix);
	if (strncasecmp(s, prefix, n))
		return 0;
	*rest = s + n;
	return 1;
}

int kt_ows_crs_parse(const char *s, kt_crs_t *crs)
{
	const char *r;
	memset(crs, 0, sizeof *crs);
	if (!s)
		return KT_EINVAL;
	if (!strcasecmp(s, "urn:ogc:def:crs:OGC:1.3:CRS84") || !strcasecmp(s, "urn:ogc:def:crs:OGC::CRS84") ||
	    !strcasecmp(s, "http://www.opengis.net/def/crs/OGC/1.3/CRS84") || !strcasecmp(s, "CRS:84")) {
		crs->epsg = 4326;
		crs->form = KT_CRS_CRS84;
		return 0;
	}
	if (starts(s, "EPSG:", &r) || starts(s, "http://www.opengis.net/gml/srs/epsg.xml#", &r)) {
		crs->form = KT_CRS_SHORT;
		return parse_code(r, &crs->epsg);
	}
	if (starts(s, "urn:ogc:def:crs:EPSG:", &r) || starts(s, "urn:x-ogc:def:crs:EPSG:", &r)) {
		const char *colon = strrchr(r, ':'); /* optional version: "EPSG:6.9:4326" */
		crs->form = KT_CRS_URN;
		return parse_code(colon ? colon + 1 : r, &crs->epsg);
	}
	if (starts(s, "http://www.opengis.net/def/crs/EPSG/", &r) ||
	    starts(s, "https://www.opengis.net/def/crs/EPSG/", &r)) {
		const char *slash = strchr(r, '/');
		crs->form = KT_CRS_URI;
		return slash ? parse_code(slash + 1, &crs->epsg) : KT_EINVAL;
	}
	return KT_EINVAL;
}

/* 1 when the first axis of EPSG:epsg points north (lat/lon, N/E). */
static int north_first(kt_ctx_t *ctx, int epsg)
{
	char name[32];
	snprintf(name, sizeof name, "EPSG:%d", epsg);
	PJ_CONTEXT *pc = kt_ctx_proj(ctx);
	PJ *crs = proj_create(pc, name);
	if (!crs)
		return 0;
	int north = 0;
	PJ *cs = proj_crs_get_coordinate_system(pc, crs);
	if (!cs && proj_get_type(crs) == PJ_TYPE_COMPOUND_CRS) {
		PJ *h = proj_crs_get_sub_crs(pc, crs, 0);
		cs = h ? proj_crs_get_coordinate_system(pc, h) : NULL;
		proj_destroy(h);
	}
	const char *dir = NULL;
	if (cs && proj_cs_get_axis_info(pc, cs, 0, NULL, NULL, &dir, NULL, NULL, NULL, NULL) && dir)
		north = !strcasecmp(dir, "north") || !strcasecmp(dir, "south");
	proj_destroy(cs);
	proj_destroy(crs);
	return north;
}

int kt_ows_crs_resolve(kt_ctx_t *ctx, kt_crs_t *crs)
{
	kt_store_t *store = kt_ctx_store(ctx);
	if (!crs->epsg)
		crs->epsg = kt_store_epsg(store);
	kt_transform_t *t;
	int rc = kt_ctx_transform(ctx, kt_store_epsg(store), crs->epsg, &t);
	if (rc)
		return rc;
	crs->swap = (crs->form == KT_CRS_URN || crs->form == KT_CRS_URI) && north_first(ctx, crs->epsg);
	return 0;
}

const char *kt_ows_crs_name(const kt_crs_t *crs, char *buf, size_t size)
{
	switch (crs->form) {
	case KT_CRS_SHORT: snprintf(buf, size, "EPSG:%d", crs->epsg); break;
	case KT_CRS_URI: snprintf(buf, size, "http://www.opengis.net/def/crs/EPSG/0/%d", crs->epsg); break;
	case KT_CRS_CRS84: snprintf(buf, size, "http://www.opengis.net/def/crs/OGC/1.3/CRS84"); break;
	default: snprintf(buf, size, "urn:ogc:def:crs:EPSG::%d", crs->epsg);
	}
	return buf;
}
