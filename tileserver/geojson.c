/*
 * geojson.c — ISO WKB (as the engine hands geometries out) to a GeoJSON
 * geometry object (RFC 7946) with jansson.
 *
 * The reader is bounds-checked at every read and rejects counts that the
 * remaining bytes cannot hold, so a truncated or hostile blob gives
 * KT_EINVAL, never a read past the end. Both byte orders, ISO (1000/2000/
 * 3000 offsets) and EWKB (high flag bits) dimension markers are read; M is
 * dropped, Z kept as a third coordinate. Coordinates are written as they
 * come: the caller asks the engine for EPSG:4326 (longitude first).
 */
#include <string.h>

#include "kt_server_int.h"

#define MAX_DEPTH 8

typedef struct wkb_reader {
	const unsigned char *p, *end;
	int swap;
} wkb_reader_t;

static int read_u32(wkb_reader_t *r, uint32_t *v)
{
	if (r->end - r->p < 4)
		return KT_EINVAL;
	uint32_t x;
	memcpy(&x, r->p, 4);
	r->p += 4;
	*v = r->swap ? __builtin_bswap32(x) : x;
	return 0;
}

static int read_f64(wkb_reader_t *r, double *v)
{
	if (r->end - r->p < 8)
		return KT_EINVAL;
	uint64_t x;
	memcpy(&x, r->p, 8);
	r->p += 8;
	if (r->swap)
		x = __builtin_bswap64(x);
	memcpy(v, &x, 8);
	return 0;
}

static json_t *read_point(wkb_reader_t *r, int dims, int has_z)
{
	double c[4];
	for (int i = 0; i < dims; i++)
		if (read_f64(r, &c[i]))
			return NULL;
	return has_z ? json_pack("[f,f,f]", c[0], c[1], c[2]) : json_pack("[f,f]", c[0], c[1]);
}

static json_t *read_points(wkb_reader_t *r, int dims, int has_z)
{
	uint32_t n;
	if (read_u32(r, &n) || (size_t)(r->end - r->p) / (8u * (unsigned)dims) < n)
		return NULL;
	json_t *a = json_array();
	for (uint32_t i = 0; a && i < n; i++) {
		json_t *pt = read_point(r, dims, has_z);
		if (!pt || json_array_append_new(a, pt)) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *read_rings(wkb_reader_t *r, int dims, int has_z)
{
	uint32_t n;
	if (read_u32(r, &n) || (size_t)(r->end - r->p) / 4u < n)
		return NULL;
	json_t *a = json_array();
	for (uint32_t i = 0; a && i < n; i++) {
		json_t *ring = read_points(r, dims, has_z);
		if (!ring || json_array_append_new(a, ring)) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static const char *const type_names[] = {
	NULL, "Point", "LineString", "Polygon", "MultiPoint",
	"MultiLineString", "MultiPolygon", "GeometryCollection",
};

static json_t *read_geometry(wkb_reader_t *r, int depth);

/* The members of a Multi* or collection: each a full WKB geometry. */
static json_t *read_parts(wkb_reader_t *r, uint32_t base, int depth)
{
	uint32_t n;
	if (read_u32(r, &n) || (size_t)(r->end - r->p) / 9u < n)
		return NULL;
	json_t *a = json_array();
	for (uint32_t i = 0; a && i < n; i++) {
		json_t *g = read_geometry(r, depth + 1);
		json_t *part = NULL;
		if (g && base != 7) {
			/* a Multi* holds its members' coordinates, not objects */
			const char *t = json_string_value(json_object_get(g, "type"));
			if (t && !strcmp(t, type_names[base - 3]))
				part = json_incref(json_object_get(g, "coordinates"));
			json_decref(g);
		} else {
			part = g;
		}
		if (!part || json_array_append_new(a, part)) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *read_geometry(wkb_reader_t *r, int depth)
{
	if (depth > MAX_DEPTH || r->p >= r->end || *r->p > 1)
		return NULL;
	r->swap = (*r->p++ == 1) != (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__);
	uint32_t type;
	if (read_u32(r, &type))
		return NULL;
	int has_z = (type & 0x80000000u) != 0, has_m = (type & 0x40000000u) != 0;
	if (type & 0x20000000u) { /* EWKB SRID: skip it */
		uint32_t srid;
		if (read_u32(r, &srid))
			return NULL;
	}
	type &= 0x0fffffffu;
	uint32_t base = type % 1000, dim = type / 1000;
	if (base < 1 || base > 7 || dim > 3)
		return NULL;
	has_z |= dim == 1 || dim == 3;
	has_m |= dim == 2 || dim == 3;
	int dims = 2 + has_z + has_m;
	json_t *coords = NULL;
	if (base == 1)
		coords = read_point(r, dims, has_z);
	else if (base == 2)
		coords = read_points(r, dims, has_z);
	else if (base == 3)
		coords = read_rings(r, dims, has_z);
	else
		coords = read_parts(r, base, depth);
	if (!coords)
		return NULL;
	return json_pack("{s:s, s:o}", "type", type_names[base],
	                 base == 7 ? "geometries" : "coordinates", coords);
}

int kt_wkb_to_geojson(const unsigned char *wkb, size_t len, json_t **out)
{
	*out = NULL;
	if (!wkb || !len)
		return KT_EINVAL;
	wkb_reader_t r = {wkb, wkb + len, 0};
	json_t *g = read_geometry(&r, 0);
	if (!g)
		return KT_EINVAL;
	*out = g;
	return 0;
}
