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
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kt_ows_int.h"

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

/* ---- straight to text --------------------------------------------------------
 * The same geometry written as compact JSON text into a buffer, for the
 * feature collections of GetFeature: building a jansson tree of every
 * coordinate and dumping it cost most of a GeoJSON answer (an allocation
 * per number, then a printf per number). The text is the one json_dumps
 * gives with KT_JSON_FLAGS for kt_wkb_to_geojson's tree, byte for byte
 * (tests/unit/test_ows.c compares them), and it fails where that does
 * (a non-finite coordinate, a Multi* member of another type). */

/* A real as jansson writes it with JSON_REAL_PRECISION(12): "%.12g",
 * then ".0" when that reads as an integer, and the exponent without '+'
 * or leading zeros. The common case (a coordinate of 1 to 11 integer
 * digits) is formatted with integers; the rest goes through snprintf. */
static size_t fmt_real(double v, char out[32])
{
	static const double p10[] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12};
	double a = v < 0 ? -v : v;
	if (a >= 1 && a < 1e11) {
		int digits = 1;
		while (digits < 11 && a >= p10[digits])
			digits++;
		int dec = 12 - digits;
		double scaled = nearbyint(a * p10[dec]);
		if (scaled < 1e12 && scaled >= p10[11]) { /* still 12 digits after rounding */
			uint64_t s = (uint64_t)scaled, ip = s / (uint64_t)p10[dec],
			         fp = s % (uint64_t)p10[dec];
			char tmp[32];
			size_t n = 0, k = 0;
			if (v < 0)
				out[n++] = '-';
			do {
				tmp[k++] = (char)('0' + ip % 10);
				ip /= 10;
			} while (ip);
			while (k)
				out[n++] = tmp[--k];
			out[n++] = '.';
			int keep = dec;
			while (keep > 0 && fp % 10 == 0) {
				fp /= 10;
				keep--;
			}
			if (!keep) {
				out[n++] = '0';
			} else {
				for (int i = keep - 1; i >= 0; i--) {
					tmp[i] = (char)('0' + fp % 10);
					fp /= 10;
				}
				memcpy(out + n, tmp, (size_t)keep);
				n += (size_t)keep;
			}
			out[n] = 0;
			return n;
		}
	}
	int n = snprintf(out, 32, "%.12g", v);
	if (n < 0 || n >= 32)
		return 0;
	if (!strchr(out, '.') && !strchr(out, 'e') && n + 2 < 32) {
		memcpy(out + n, ".0", 3);
		n += 2;
	}
	char *e = strchr(out, 'e');
	if (e) { /* "1e+20" → "1e20", "1e-07" → "1e-7" */
		char *start = e + 1, *end = start + 1;
		if (*start == '-')
			start++;
		while (*end == '0')
			end++;
		if (end != start) {
			memmove(start, end, strlen(end) + 1);
			n -= (int)(end - start);
		}
	}
	return (size_t)n;
}

size_t kt_json_real(double v, char out[32])
{
	return isfinite(v) ? fmt_real(v, out) : 0;
}

static int put_real(kt_sbuf_t *b, double v)
{
	char t[32];
	size_t n = kt_json_real(v, t);
	if (!n)
		return KT_EINVAL; /* jansson has no such real */
	kt_sbuf_put(b, t, n);
	return 0;
}

static int write_point(wkb_reader_t *r, kt_sbuf_t *b, int dims, int has_z)
{
	double c[4];
	for (int i = 0; i < dims; i++)
		if (read_f64(r, &c[i]))
			return KT_EINVAL;
	kt_sbuf_put(b, "[", 1);
	for (int i = 0; i < 2 + has_z; i++) {
		if (i)
			kt_sbuf_put(b, ",", 1);
		if (put_real(b, c[i]))
			return KT_EINVAL;
	}
	kt_sbuf_put(b, "]", 1);
	return 0;
}

static int write_points(wkb_reader_t *r, kt_sbuf_t *b, int dims, int has_z)
{
	uint32_t n;
	if (read_u32(r, &n) || (size_t)(r->end - r->p) / (8u * (unsigned)dims) < n)
		return KT_EINVAL;
	kt_sbuf_put(b, "[", 1);
	for (uint32_t i = 0; i < n; i++) {
		if (i)
			kt_sbuf_put(b, ",", 1);
		if (write_point(r, b, dims, has_z))
			return KT_EINVAL;
	}
	kt_sbuf_put(b, "]", 1);
	return 0;
}

static int write_rings(wkb_reader_t *r, kt_sbuf_t *b, int dims, int has_z)
{
	uint32_t n;
	if (read_u32(r, &n) || (size_t)(r->end - r->p) / 4u < n)
		return KT_EINVAL;
	kt_sbuf_put(b, "[", 1);
	for (uint32_t i = 0; i < n; i++) {
		if (i)
			kt_sbuf_put(b, ",", 1);
		if (write_points(r, b, dims, has_z))
			return KT_EINVAL;
	}
	kt_sbuf_put(b, "]", 1);
	return 0;
}

/* A geometry: the whole object, or (want != 0) only the coordinates of
 * a geometry whose base type must be want (a Multi* member). */
static int write_geometry(wkb_reader_t *r, kt_sbuf_t *b, int depth, uint32_t want)
{
	if (depth > MAX_DEPTH || r->p >= r->end || *r->p > 1)
		return KT_EINVAL;
	r->swap = (*r->p++ == 1) != (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__);
	uint32_t type;
	if (read_u32(r, &type))
		return KT_EINVAL;
	int has_z = (type & 0x80000000u) != 0, has_m = (type & 0x40000000u) != 0;
	if (type & 0x20000000u) {
		uint32_t srid;
		if (read_u32(r, &srid))
			return KT_EINVAL;
	}
	type &= 0x0fffffffu;
	uint32_t base = type % 1000, dim = type / 1000;
	if (base < 1 || base > 7 || dim > 3 || (want && base != want))
		return KT_EINVAL;
	has_z |= dim == 1 || dim == 3;
	has_m |= dim == 2 || dim == 3;
	int dims = 2 + has_z + has_m;
	if (!want) {
		kt_sbuf_puts(b, "{\"type\":\"");
		kt_sbuf_puts(b, type_names[base]);
		kt_sbuf_puts(b, base == 7 ? "\",\"geometries\":" : "\",\"coordinates\":");
	}
	int rc;
	if (base == 1) {
		rc = write_point(r, b, dims, has_z);
	} else if (base == 2) {
		rc = write_points(r, b, dims, has_z);
	} else if (base == 3) {
		rc = write_rings(r, b, dims, has_z);
	} else {
		uint32_t n;
		if (read_u32(r, &n) || (size_t)(r->end - r->p) / 9u < n)
			return KT_EINVAL;
		kt_sbuf_put(b, "[", 1);
		rc = 0;
		for (uint32_t i = 0; !rc && i < n; i++) {
			if (i)
				kt_sbuf_put(b, ",", 1);
			rc = write_geometry(r, b, depth + 1, base == 7 ? 0 : base - 3);
		}
		kt_sbuf_put(b, "]", 1);
	}
	if (!rc && !want)
		kt_sbuf_put(b, "}", 1);
	return rc;
}

int kt_wkb_geojson_write(kt_sbuf_t *b, const unsigned char *wkb, size_t len)
{
	if (!wkb || !len)
		return KT_EINVAL;
	wkb_reader_t r = {wkb, wkb + len, 0};
	return write_geometry(&r, b, 0, 0);
}
