/*
 * geom.c — making a geometry fit its layer (GEOS, reentrant API).
 *
 * kt_geom_conform is the gate every geometry passes before it is stored.
 * It reads ISO WKB (after wkb.c has checked the bytes, so GEOS never sees
 * a hostile count), and keeps these true of what it returns:
 *  - never empty, never with an empty part;
 *  - of the layer's type exactly: a single geometry is promoted to a
 *    one-part multi for a MULTI* layer, a one-part multi is demoted for a
 *    single-type layer, anything else of another type is refused;
 *  - valid in the OGC sense: an invalid input is repaired with GEOS
 *    make-valid (the "structure" method, collapsed parts dropped) and kept
 *    only if the repair stays in the same family (points, lines, polygons)
 *    and still fits the layer (a bow-tie becoming a MultiPolygon is fine
 *    for a MULTIPOLYGON layer, not for a POLYGON layer); a repair giving a
 *    GeometryCollection is refused, naming what it holds;
 *  - coordinates exactly as surveyed: nothing is rounded, snapped or
 *    deduplicated (only make-valid, when needed, adds or moves vertices);
 *  - dimension of the layer: ISO little-endian WKB, XYZ when want_z, XY
 *    otherwise. Z of a 3D input into a 2D layer is dropped; a 2D input
 *    into a Z layer gets Z = 0 (and so does a vertex make-valid created
 *    without a Z): 0 means "not measured", the Z precision of the feature
 *    says how much to trust it.
 * Refusals return KT_EGEOM (KT_EINVAL for bytes that are not WKB) with the
 * reason on the ctx.
 * The ctx remembers the last output and what it was conformed to, so that
 * a write of those very bytes (an import conforms first, to report its
 * repairs, then writes) does not conform them a second time.
 */
#include <stdio.h>
#include <string.h>

#include <geos_c.h>

#include "kt_engine_int.h"
#include "kt_wkb_int.h"

enum family { FAM_NONE = -1, FAM_POINT = 0, FAM_LINE = 1, FAM_POLYGON = 2 };

static enum family family_of_geos(int id)
{
	switch (id) {
	case GEOS_POINT:
	case GEOS_MULTIPOINT:
		return FAM_POINT;
	case GEOS_LINESTRING:
	case GEOS_LINEARRING:
	case GEOS_MULTILINESTRING:
		return FAM_LINE;
	case GEOS_POLYGON:
	case GEOS_MULTIPOLYGON:
		return FAM_POLYGON;
	default:
		return FAM_NONE;
	}
}

static int is_multi_geos(int id)
{
	return id == GEOS_MULTIPOINT || id == GEOS_MULTILINESTRING || id == GEOS_MULTIPOLYGON ||
	       id == GEOS_GEOMETRYCOLLECTION;
}

static enum family family_of_layer(kt_geom_type_t t)
{
	switch (t) {
	case KT_GEOM_POINT:
	case KT_GEOM_MULTIPOINT:
		return FAM_POINT;
	case KT_GEOM_LINESTRING:
	case KT_GEOM_MULTILINESTRING:
		return FAM_LINE;
	case KT_GEOM_POLYGON:
	case KT_GEOM_MULTIPOLYGON:
		return FAM_POLYGON;
	default:
		return FAM_NONE;
	}
}

static int layer_is_multi(kt_geom_type_t t)
{
	return t == KT_GEOM_MULTIPOINT || t == KT_GEOM_MULTILINESTRING || t == KT_GEOM_MULTIPOLYGON;
}

static int multi_geos_id(enum family f)
{
	return f == FAM_POINT ? GEOS_MULTIPOINT : f == FAM_LINE ? GEOS_MULTILINESTRING
	                                                        : GEOS_MULTIPOLYGON;
}

static const char *geos_type_name(int id)
{
	static const char *const names[] = { "Point", "LineString", "LinearRing", "Polygon",
		"MultiPoint", "MultiLineString", "MultiPolygon", "GeometryCollection" };
	return id >= 0 && id < 8 ? names[id] : "unknown geometry";
}

static const char *layer_type_name(kt_geom_type_t t)
{
	static const char *const names[] = { "NONE", "POINT", "LINESTRING", "POLYGON",
		"MULTIPOINT", "MULTILINESTRING", "MULTIPOLYGON" };
	return (int)t >= 0 && (int)t < 7 ? names[t] : "?";
}

/* "polygons and lines": the families found in a collection. */
static void describe_collection(GEOSContextHandle_t h, const GEOSGeometry *g, char *buf,
                                size_t size)
{
	int seen[3] = { 0, 0, 0 }, other = 0;
	int n = GEOSGetNumGeometries_r(h, g);
	for (int i = 0; i < n; i++) {
		enum family f = family_of_geos(GEOSGeomTypeId_r(h, GEOSGetGeometryN_r(h, g, i)));
		if (f == FAM_NONE)
			other = 1;
		else
			seen[f] = 1;
	}
	static const char *const words[] = { "points", "lines", "polygons" };
	buf[0] = 0;
	size_t used = 0;
	for (int f = 2; f >= 0; f--)
		if (seen[f] && used < size)
			used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? " and " : "",
			                         words[f]);
	if (other && used < size)
		snprintf(buf + used, size - used, "%scollections", used ? " and " : "");
}

/* Checks type and shape against the layer (no validity). Returns 0 or
 * KT_EGEOM with the message set; `what` (e.g. "invalid geometry (…)
 * repaired into ") prefixes the description of g in the message. */
static int check_type(kt_ctx_t *ctx, GEOSContextHandle_t h, const GEOSGeometry *g,
                      kt_geom_type_t want, const char *what)
{
	int id = GEOSGeomTypeId_r(h, g);
	enum family f = family_of_geos(id);
	const char *which = what[0] ? ", which" : "";
	if (id == GEOS_GEOMETRYCOLLECTION) {
		char kinds[64];
		describe_collection(h, g, kinds, sizeof kinds);
		return kt_ctx_error(ctx, KT_EGEOM, "kt_geom_conform: %sa GeometryCollection (of %s)%s "
		                    "does not fit a %s layer", what, kinds, which,
		                    layer_type_name(want));
	}
	if (f != family_of_layer(want))
		return kt_ctx_error(ctx, KT_EGEOM, "kt_geom_conform: %sa %s%s does not fit a %s layer",
		                    what, geos_type_name(id), which, layer_type_name(want));
	if (is_multi_geos(id)) {
		int n = GEOSGetNumGeometries_r(h, g);
		if (!layer_is_multi(want) && n != 1)
			return kt_ctx_error(ctx, KT_EGEOM, "kt_geom_conform: %sa %s of %d parts%s does "
			                    "not fit a %s layer", what, geos_type_name(id), n, which,
			                    layer_type_name(want));
		for (int i = 0; i < n; i++)
			if (GEOSisEmpty_r(h, GEOSGetGeometryN_r(h, g, i)))
				return kt_ctx_error(ctx, KT_EGEOM, "kt_geom_conform: %sa %s whose part %d is "
				                    "empty", what, geos_type_name(id), i + 1);
	}
	return 0;
}

static GEOSGeometry *make_valid(GEOSContextHandle_t h, const GEOSGeometry *g)
{
	GEOSMakeValidParams *p = GEOSMakeValidParams_create_r(h);
	if (!p)
		return NULL;
	GEOSGeometry *r = NULL;
	if (GEOSMakeValidParams_setMethod_r(h, p, GEOS_MAKE_VALID_STRUCTURE) &&
	    GEOSMakeValidParams_setKeepCollapsed_r(h, p, 0))
		r = GEOSMakeValidWithParams_r(h, g, p);
	GEOSMakeValidParams_destroy_r(h, p);
	return r;
}

/* Repairs *g in place (replacing it) or refuses. reason receives GEOS's
 * invalidity reason. */
static int repair(kt_ctx_t *ctx, GEOSContextHandle_t h, GEOSGeometry **g, kt_geom_type_t want,
                  char *reason, size_t reason_size)
{
	char why[256] = "invalid";
	char *r = GEOSisValidReason_r(h, *g);
	if (r) {
		snprintf(why, sizeof why, "%s", r);
		GEOSFree_r(h, r);
	}
	if (reason && reason_size)
		snprintf(reason, reason_size, "%s", why);
	GEOSGeometry *fixed = make_valid(h, *g);
	if (!fixed)
		return kt_ctx_error(ctx, KT_EGEOM, "kt_geom_conform: invalid geometry (%s) that "
		                    "make-valid cannot repair", why);
	char prefix[300];
	snprintf(prefix, sizeof prefix, "invalid geometry (%s) repaired into ", why);
	int rc = 0;
	if (GEOSisEmpty_r(h, fixed))
		rc = kt_ctx_error(ctx, KT_EGEOM, "kt_geom_conform: invalid geometry (%s) that "
		                  "collapses to nothing when repaired", why);
	else if ((rc = check_type(ctx, h, fixed, want, prefix)))
		;
	else if (GEOSisValid_r(h, fixed) != 1)
		rc = kt_ctx_error(ctx, KT_EGEOM, "kt_geom_conform: invalid geometry (%s) that "
		                  "make-valid leaves invalid", why);
	if (rc) {
		GEOSGeom_destroy_r(h, fixed);
		return rc;
	}
	GEOSGeom_destroy_r(h, *g);
	*g = fixed;
	return 0;
}

/* Promotes a single geometry to a one-part multi, or demotes a one-part
 * multi, as the layer asks. Returns 1 when it changed *g, 0 when not,
 * negative on failure. */
static int fit_multi(GEOSContextHandle_t h, GEOSGeometry **g, kt_geom_type_t want)
{
	int id = GEOSGeomTypeId_r(h, *g);
	int multi = is_multi_geos(id);
	if (layer_is_multi(want) && !multi) {
		GEOSGeometry *parts[1] = { *g };
		GEOSGeometry *m = GEOSGeom_createCollection_r(h, multi_geos_id(family_of_layer(want)),
		                                              parts, 1);
		if (!m)
			return KT_ENOMEM;
		*g = m; /* the collection owns the part now */
		return 1;
	}
	if (!layer_is_multi(want) && multi) {
		GEOSGeometry *one = GEOSGeom_clone_r(h, GEOSGetGeometryN_r(h, *g, 0));
		if (!one)
			return KT_ENOMEM;
		GEOSGeom_destroy_r(h, *g);
		*g = one;
		return 1;
	}
	return 0;
}

static int write_wkb(kt_ctx_t *ctx, GEOSContextHandle_t h, const GEOSGeometry *g, int want_z,
                     unsigned char **out, size_t *out_len)
{
	GEOSWKBWriter *w = GEOSWKBWriter_create_r(h);
	if (!w)
		return kt_ctx_error(ctx, KT_ENOMEM, "kt_geom_conform: cannot create WKB writer");
	GEOSWKBWriter_setFlavor_r(h, w, GEOS_WKB_ISO);
	GEOSWKBWriter_setByteOrder_r(h, w, GEOS_WKB_NDR);
	GEOSWKBWriter_setOutputDimension_r(h, w, want_z ? 3 : 2);
	size_t n = 0;
	unsigned char *buf = GEOSWKBWriter_write_r(h, w, g, &n);
	GEOSWKBWriter_destroy_r(h, w);
	if (!buf)
		return kt_ctx_error(ctx, KT_EINTERNAL, "kt_geom_conform: GEOS cannot write WKB");
	int rc = 0;
	if (want_z) {
		/* GEOS writes XY for a geometry without Z: give it Z = 0. */
		rc = kt__wkb_force_z(buf, n, out, out_len);
	} else if ((*out = kt_malloc(n))) {
		memcpy(*out, buf, n);
		*out_len = n;
	} else {
		rc = KT_ENOMEM;
	}
	GEOSFree_r(h, buf);
	if (rc)
		return kt_ctx_error(ctx, rc, "kt_geom_conform: %s",
		                    rc == KT_ENOMEM ? "out of memory" : "GEOS wrote WKB we cannot read");
	return 0;
}

void kt__conformed_note(kt_ctx_t *ctx, const unsigned char *out, size_t len, int type, int z)
{
	if (len > ctx->conformed_cap) {
		unsigned char *grown = kt_realloc(ctx->conformed, len);
		if (!grown) { /* only an optimisation: forget rather than fail */
			ctx->conformed_len = 0;
			return;
		}
		ctx->conformed = grown;
		ctx->conformed_cap = len;
	}
	memcpy(ctx->conformed, out, len);
	ctx->conformed_len = len;
	ctx->conformed_type = type;
	ctx->conformed_z = z;
}

int kt__conformed_is(const kt_ctx_t *ctx, const unsigned char *wkb, size_t len, int type, int z)
{
	return len && len == ctx->conformed_len && type == ctx->conformed_type && !z == !ctx->conformed_z &&
	       !memcmp(wkb, ctx->conformed, len);
}

int kt_geom_conform(kt_ctx_t *ctx, const unsigned char *wkb, size_t len, kt_geom_type_t want,
                    int want_z, unsigned char **out, size_t *out_len, kt_geom_fix_t *fix,
                    char *reason, size_t reason_size)
{
	if (!ctx)
		return KT_EINVAL;
	if (reason && reason_size)
		reason[0] = 0;
	if (!out || !out_len)
		return kt_ctx_error(ctx, KT_EINVAL, "%s: NULL output", __func__);
	*out = NULL;
	*out_len = 0;
	if (family_of_layer(want) == FAM_NONE)
		return kt_ctx_error(ctx, want == KT_GEOM_NONE ? KT_EGEOM : KT_EINVAL,
		                    "%s: the layer has no geometry type (%d)", __func__, (int)want);
	if (!wkb || len == 0)
		return kt_ctx_error(ctx, KT_EINVAL, "%s: no WKB", __func__);
	if (kt__wkb_walk(wkb, len, NULL, NULL, NULL))
		return kt_ctx_error(ctx, KT_EINVAL, "%s: malformed WKB (%zu bytes)", __func__, len);

	GEOSContextHandle_t h = kt_ctx_geos(ctx);
	GEOSWKBReader *rd = GEOSWKBReader_create_r(h);
	if (!rd)
		return kt_ctx_error(ctx, KT_ENOMEM, "%s: cannot create WKB reader", __func__);
	kt_ctx_error(ctx, 0, "%s", ""); /* so that a GEOS message below is this call's */
	GEOSGeometry *g = GEOSWKBReader_read_r(h, rd, wkb, len);
	GEOSWKBReader_destroy_r(h, rd);
	if (!g) {
		char why[300] = "curved or unsupported geometry type?";
		if (kt_errmsg(ctx)[0])
			snprintf(why, sizeof why, "%s", kt_errmsg(ctx));
		return kt_ctx_error(ctx, KT_EINVAL, "%s: WKB that GEOS cannot read (%s)", __func__,
		                    why);
	}

	int rc;
	kt_geom_fix_t done = KT_GEOM_VALID;
	if (GEOSisEmpty_r(h, g)) {
		rc = kt_ctx_error(ctx, KT_EGEOM, "%s: empty %s", __func__,
		                  geos_type_name(GEOSGeomTypeId_r(h, g)));
		goto out;
	}
	if ((rc = check_type(ctx, h, g, want, "")))
		goto out;
	switch (GEOSisValid_r(h, g)) {
	case 1:
		break;
	case 0:
		if ((rc = repair(ctx, h, &g, want, reason, reason_size)))
			goto out;
		done = KT_GEOM_REPAIRED;
		break;
	default:
		rc = kt_ctx_error(ctx, KT_EGEOM, "%s: GEOS cannot check the validity of this %s",
		                  __func__, geos_type_name(GEOSGeomTypeId_r(h, g)));
		goto out;
	}
	rc = fit_multi(h, &g, want);
	if (rc < 0) {
		rc = kt_ctx_error(ctx, rc, "%s: out of memory", __func__);
		goto out;
	}
	if (rc == 1 && done == KT_GEOM_VALID)
		done = KT_GEOM_PROMOTED;
	if ((rc = write_wkb(ctx, h, g, want_z, out, out_len)))
		goto out;
	kt__conformed_note(ctx, *out, *out_len, (int)want, want_z);
	if (fix)
		*fix = done;
out:
	GEOSGeom_destroy_r(h, g);
	return rc;
}
