/*
 * mvt_validate.c — checks a vector tile against the Mapbox Vector Tile
 * 2.1 specification (`kartenn tiles validate`, and every tile the tests
 * serve).
 *
 * The tile is gunzipped when it starts with the gzip magic, decoded with
 * protobuf-c (a protobuf that does not decode — wrong wire types, for
 * instance — is one problem), then walked: layers (a version, 1 or 2 —
 * a version-1 layer is checked by the 2.1 rules too, as the fixtures of
 * @mapbox/mvt-fixtures expect —, a name,
 * names unique, extent > 0 — a missing extent takes the proto2 default
 * 4096), values (exactly one known field), features (tags in pairs and in
 * range, a type, a geometry), and each geometry's command stream
 * interpreted with a 64-bit cursor:
 *   POINT       one MoveTo, count >= 1, nothing else
 *   LINESTRING  (MoveTo(1) LineTo(n >= 1))+, no zero-length segment
 *   POLYGON     (MoveTo(1) LineTo(n >= 2) ClosePath(1))+; each ring has a
 *               non-zero area, no zero-length segment (also the closing
 *               one: the last point must not repeat the first); the first
 *               ring is exterior (positive area in tile coordinates, y
 *               down); with a GEOS handle, the rings grouped into
 *               polygons (an exterior and the holes after it) must form a
 *               valid (OGC) multipolygon.
 * A count is checked against the integers left before anything is
 * allocated, so a forged count cannot make the checker allocate much.
 * Coordinates beyond the extent are not problems (buffers, and the spec
 * allows them). Features of type UNKNOWN are not interpreted.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <geos_c.h>
#include <zlib.h>

#include "kt_server.h"
#include "vector_tile.pb-c.h"

#define GUNZIP_MAX (64u * 1024 * 1024)

typedef struct check {
	kt_mvt_report_fn report;
	void *data;
	long max, count;
	GEOSContextHandle_t geos;
	const char *layer;
	size_t feature;
	uint64_t id;
	int in_feature;
} check_t;

static void problem(check_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void problem(check_t *c, const char *fmt, ...)
{
	c->count++;
	if (!c->report || (c->max > 0 && c->count > c->max))
		return;
	char msg[640], where[200] = "";
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (c->layer && c->in_feature)
		snprintf(where, sizeof where, "layer '%.80s' feature #%zu (id %llu): ", c->layer,
		         c->feature, (unsigned long long)c->id);
	else if (c->layer)
		snprintf(where, sizeof where, "layer '%.80s': ", c->layer);
	char line[900];
	snprintf(line, sizeof line, "%s%s", where, msg);
	c->report(line, c->data);
}

/* ---- geometry ------------------------------------------------------------ */

typedef struct ring {
	int64_t *xy; /* n points, not closed */
	size_t n;
	double area;
} ring_t;

typedef struct cursor {
	const uint32_t *g;
	size_t n, i;
	int64_t x, y;
} cursor_t;

static int64_t unzig(uint32_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* Reads a command integer; 0 at the end. */
static int next_cmd(cursor_t *cu, unsigned *id, uint32_t *count)
{
	if (cu->i >= cu->n)
		return 0;
	uint32_t c = cu->g[cu->i++];
	*id = c & 7;
	*count = c >> 3;
	return 1;
}

/* Moves the cursor by count parameter pairs, calling on each point; -1 when
 * fewer than count pairs are left. */
static int params(cursor_t *cu, uint32_t count)
{
	return (uint64_t)count * 2 <= cu->n - cu->i ? 0 : -1;
}

static void step(cursor_t *cu)
{
	cu->x += unzig(cu->g[cu->i]);
	cu->y += unzig(cu->g[cu->i + 1]);
	cu->i += 2;
}

static const char *cmd_name(unsigned id)
{
	return id == 1 ? "MoveTo" : id == 2 ? "LineTo" : id == 7 ? "ClosePath" : "unknown command";
}

static void check_points(check_t *c, cursor_t *cu)
{
	unsigned id;
	uint32_t count;
	if (!next_cmd(cu, &id, &count))
		return;
	if (id != 1 || count == 0) {
		problem(c, "a point geometry must be one MoveTo with a count > 0 (found %s, count %u)",
		        cmd_name(id), count);
		return;
	}
	if (params(cu, count)) {
		problem(c, "MoveTo count %u needs %llu integers, %zu left", count,
		        (unsigned long long)count * 2, cu->n - cu->i);
		return;
	}
	cu->i += (size_t)count * 2;
	if (cu->i < cu->n)
		problem(c, "a point geometry has %zu integers after its MoveTo", cu->n - cu->i);
}

static void check_lines(check_t *c, cursor_t *cu)
{
	unsigned id;
	uint32_t count;
	while (next_cmd(cu, &id, &count)) {
		if (id != 1 || count != 1) {
			problem(c, "a line must start with MoveTo count 1 (found %s, count %u)",
			        cmd_name(id), count);
			return;
		}
		if (params(cu, 1)) {
			problem(c, "MoveTo without its parameters");
			return;
		}
		step(cu);
		if (!next_cmd(cu, &id, &count) || id != 2 || count == 0) {
			problem(c, "a line's MoveTo must be followed by LineTo with a count > 0%s",
			        id == 7 ? " (ClosePath is for polygons only)" : "");
			return;
		}
		if (params(cu, count)) {
			problem(c, "LineTo count %u needs %llu integers, %zu left", count,
			        (unsigned long long)count * 2, cu->n - cu->i);
			return;
		}
		for (uint32_t k = 0; k < count; k++) {
			int64_t px = cu->x, py = cu->y;
			step(cu);
			if (cu->x == px && cu->y == py) {
				problem(c, "zero-length segment at (%lld, %lld)", (long long)px, (long long)py);
				return;
			}
		}
	}
}

/* One ring: MoveTo(1) LineTo(n >= 2) ClosePath(1). 1 read, 0 end, -1 bad. */
static int read_ring(check_t *c, cursor_t *cu, ring_t *r)
{
	unsigned id;
	uint32_t count;
	if (!next_cmd(cu, &id, &count))
		return 0;
	if (id != 1 || count != 1 || params(cu, 1)) {
		problem(c, "a ring must start with MoveTo count 1 and its parameters (found %s, "
		        "count %u)", cmd_name(id), count);
		return -1;
	}
	step(cu);
	if (!next_cmd(cu, &id, &count) || id != 2 || count < 2 || params(cu, count)) {
		problem(c, "a ring's MoveTo must be followed by LineTo with a count >= 2 and its "
		        "parameters (found %s, count %u)", cmd_name(id), count);
		return -1;
	}
	r->xy = kt_malloc(((size_t)count + 1) * 2 * sizeof *r->xy);
	if (!r->xy)
		return -2;
	r->n = 1;
	r->xy[0] = cu->x;
	r->xy[1] = cu->y;
	for (uint32_t k = 0; k < count; k++) {
		step(cu);
		if (cu->x == r->xy[2 * r->n - 2] && cu->y == r->xy[2 * r->n - 1]) {
			problem(c, "zero-length segment in a ring at (%lld, %lld)", (long long)cu->x,
			        (long long)cu->y);
			return -1;
		}
		r->xy[2 * r->n] = cu->x;
		r->xy[2 * r->n + 1] = cu->y;
		r->n++;
	}
	if (!next_cmd(cu, &id, &count) || id != 7 || count != 1) {
		problem(c, "a ring must end with ClosePath count 1 (found %s, count %u)", cmd_name(id),
		        count);
		return -1;
	}
	if (r->xy[0] == cu->x && r->xy[1] == cu->y) {
		problem(c, "the ring's last point repeats its first: ClosePath makes a zero-length "
		        "segment");
		return -1;
	}
	r->area = 0;
	for (size_t i = 0; i < r->n; i++) {
		size_t j = (i + 1) % r->n;
		r->area += (double)r->xy[2 * i] * (double)r->xy[2 * j + 1] -
		           (double)r->xy[2 * j] * (double)r->xy[2 * i + 1];
	}
	if (r->area == 0) {
		problem(c, "ring with zero area");
		return -1;
	}
	return 1;
}

static GEOSGeometry *geos_ring(GEOSContextHandle_t h, const ring_t *r)
{
	GEOSCoordSequence *cs = GEOSCoordSeq_create_r(h, (unsigned)r->n + 1, 2);
	for (size_t i = 0; cs && i <= r->n; i++)
		GEOSCoordSeq_setXY_r(h, cs, (unsigned)i, (double)r->xy[2 * (i % r->n)],
		                     (double)r->xy[2 * (i % r->n) + 1]);
	return cs ? GEOSGeom_createLinearRing_r(h, cs) : NULL;
}

/* The rings as a multipolygon (exterior, its holes, …); checks validity. */
static void check_ogc(check_t *c, ring_t *rings, size_t n)
{
	GEOSContextHandle_t h = c->geos;
	GEOSGeometry **polys = kt_calloc(n, sizeof *polys), **holes = kt_calloc(n, sizeof *holes);
	size_t np = 0;
	for (size_t i = 0; polys && holes && i < n;) {
		GEOSGeometry *shell = geos_ring(h, &rings[i]);
		size_t nh = 0, k = i + 1;
		for (; k < n && rings[k].area < 0; k++)
			holes[nh++] = geos_ring(h, &rings[k]);
		polys[np] = shell ? GEOSGeom_createPolygon_r(h, shell, holes, (unsigned)nh) : NULL;
		if (polys[np])
			np++;
		i = k;
	}
	GEOSGeometry *mp = polys ? GEOSGeom_createCollection_r(h, GEOS_MULTIPOLYGON, polys,
	                                                        (unsigned)np) : NULL;
	if (mp && GEOSisValid_r(h, mp) != 1) {
		char *why = GEOSisValidReason_r(h, mp);
		problem(c, "polygon geometry is not valid: %s", why ? why : "(no reason)");
		GEOSFree_r(h, why);
	}
	if (mp)
		GEOSGeom_destroy_r(h, mp);
	kt_free(polys);
	kt_free(holes);
}

static void check_polygons(check_t *c, cursor_t *cu)
{
	ring_t *rings = NULL;
	size_t n = 0, cap = 0;
	long before = c->count;
	int rc = -2;
	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			ring_t *r = kt_realloc(rings, cap * sizeof *r);
			if (!r)
				break;
			rings = r;
		}
		memset(&rings[n], 0, sizeof rings[n]);
		rc = read_ring(c, cu, &rings[n]);
		if (rc <= 0)
			break;
		if (n == 0 && rings[0].area < 0)
			problem(c, "the first ring is not an exterior ring (negative area: "
			        "counter-clockwise on screen)");
		n++;
	}
	if (rc == 0 && n == 0)
		problem(c, "a polygon geometry without a ring");
	if (rc == 0 && n && c->geos && c->count == before)
		check_ogc(c, rings, n);
	for (size_t i = 0; i <= n && i < cap; i++)
		kt_free(rings[i].xy);
	kt_free(rings);
}

/* ---- layers -------------------------------------------------------------- */

static void check_value(check_t *c, const KartennMvt__Tile__Value *v, size_t i)
{
	int set = (v->string_value != NULL) + v->has_float_value + v->has_double_value +
	          v->has_int_value + v->has_uint_value + v->has_sint_value + v->has_bool_value;
	if (v->base.n_unknown_fields)
		problem(c, "value %zu has a field of a type MVT does not define", i);
	else if (set != 1)
		problem(c, "value %zu sets %d fields (exactly one is required)", i, set);
}

static void check_feature(check_t *c, const KartennMvt__Tile__Layer *l,
                          const KartennMvt__Tile__Feature *f)
{
	if (f->n_tags % 2)
		problem(c, "%zu tag integers: tags come in (key, value) pairs", f->n_tags);
	for (size_t k = 0; k + 1 < f->n_tags; k += 2) {
		if (f->tags[k] >= l->n_keys)
			problem(c, "tag key index %u out of range (%zu keys)", f->tags[k], l->n_keys);
		if (f->tags[k + 1] >= l->n_values)
			problem(c, "tag value index %u out of range (%zu values)", f->tags[k + 1],
			        l->n_values);
	}
	if (!f->has_type) {
		problem(c, "no geometry type");
		return;
	}
	if (f->type > 3) {
		problem(c, "geometry type %d is not UNKNOWN, POINT, LINESTRING or POLYGON", f->type);
		return;
	}
	if (!f->n_geometry) {
		problem(c, "no geometry");
		return;
	}
	cursor_t cu = {.g = f->geometry, .n = f->n_geometry};
	if (f->type == KARTENN_MVT__TILE__GEOM_TYPE__POINT)
		check_points(c, &cu);
	else if (f->type == KARTENN_MVT__TILE__GEOM_TYPE__LINESTRING)
		check_lines(c, &cu);
	else if (f->type == KARTENN_MVT__TILE__GEOM_TYPE__POLYGON)
		check_polygons(c, &cu);
}

static void check_layer(check_t *c, const KartennMvt__Tile *t, size_t li)
{
	const KartennMvt__Tile__Layer *l = t->layers[li];
	c->layer = l->name;
	c->in_feature = 0;
	if (!l->name) {
		c->layer = "(no name)";
		problem(c, "the layer has no name");
	}
	for (size_t k = 0; l->name && k < li; k++)
		if (t->layers[k]->name && !strcmp(t->layers[k]->name, l->name))
			problem(c, "layer name used twice in the tile");
	if (!l->has_version)
		problem(c, "the layer has no version");
	else if (l->version != 1 && l->version != 2)
		problem(c, "version %u: not a version of the specification (1 or 2)", l->version);
	if (l->has_extent && l->extent == 0)
		problem(c, "extent 0");
	for (size_t i = 0; i < l->n_values; i++)
		check_value(c, l->values[i], i);
	for (size_t i = 0; i < l->n_features; i++) {
		c->in_feature = 1;
		c->feature = i;
		c->id = l->features[i]->id;
		check_feature(c, l, l->features[i]);
	}
	c->in_feature = 0;
}

/* ---- entry ------------------------------------------------------------------ */

static void *pb_alloc(void *data, size_t size)
{
	(void)data;
	return kt_malloc(size ? size : 1);
}

static void pb_free(void *data, void *p)
{
	(void)data;
	kt_free(p);
}

static int gunzip(const unsigned char *in, size_t n, unsigned char **out, size_t *out_len)
{
	z_stream zs = {0};
	if (inflateInit2(&zs, 15 + 32) != Z_OK)
		return KT_ENOMEM;
	size_t cap = n * 4 + 1024, len = 0;
	unsigned char *buf = kt_malloc(cap);
	int zr = Z_OK;
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)n;
	while (buf && zr == Z_OK) {
		if (len == cap) {
			unsigned char *b = cap < GUNZIP_MAX ? kt_realloc(buf, cap * 2) : NULL;
			if (!b)
				break;
			buf = b;
			cap *= 2;
		}
		zs.next_out = buf + len;
		zs.avail_out = (uInt)(cap - len);
		zr = inflate(&zs, Z_NO_FLUSH);
		len = cap - zs.avail_out;
	}
	inflateEnd(&zs);
	if (!buf || zr != Z_STREAM_END) {
		kt_free(buf);
		return KT_EINVAL;
	}
	*out = buf;
	*out_len = len;
	return 0;
}

long kt_mvt_validate(const unsigned char *bytes, size_t len, void *geos,
                     kt_mvt_report_fn report, void *data, long max_problems)
{
	check_t c = {.report = report, .data = data, .max = max_problems, .geos = geos};
	unsigned char *plain = NULL;
	if (len >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b) {
		if (gunzip(bytes, len, &plain, &len)) {
			problem(&c, "gzip data that does not decompress");
			return c.count;
		}
		bytes = plain;
	}
	ProtobufCAllocator alloc = {.alloc = pb_alloc, .free = pb_free};
	KartennMvt__Tile *t = kartenn_mvt__tile__unpack(&alloc, len, bytes);
	if (!t) {
		problem(&c, "not a decodable vector tile protobuf (wrong wire type, truncated, or "
		        "not a tile)");
	} else {
		for (size_t i = 0; i < t->n_layers; i++)
			check_layer(&c, t, i);
		kartenn_mvt__tile__free_unpacked(t, &alloc);
	}
	kt_free(plain);
	return c.count;
}
