/*
 * crs.c — coordinate reference systems and transformations (PROJ).
 *
 * A kt_transform_t wraps one PJ made by proj_create_crs_to_crs_from_pj on
 * the PJ_CONTEXT of the ctx that created it, normalised for visualisation
 * so that x is always easting or longitude (traditional GIS order, the
 * order of WKB and of kt_query_t). It belongs to that ctx: using it with
 * another ctx is refused (PJ objects are not shared between threads).
 *
 * What it keeps true:
 *  - No ballpark transformation is ever used silently. Unless the caller
 *    passes allow_ballpark, PROJ is asked not to consider ballpark
 *    operations at all (ALLOW_BALLPARK=NO), creation is refused with
 *    KT_ECRS when only ballpark ones exist, and the operation PROJ actually
 *    used is checked again after transforming whenever PROJ chose among
 *    several (proj_trans_get_last_used_operation).
 *  - The accuracy reported is a worst case: the largest accuracy among the
 *    operations PROJ may choose between (it picks one per point by area of
 *    use); 0 for a pure conversion (same datum); NAN when any of them has
 *    no known accuracy (a ballpark one, when allowed). DT-DICT grading
 *    (dtdict.c) adds it to the survey precision.
 *  - kt_transform_wkb changes all of the geometry or nothing: the bytes are
 *    validated whole before the first coordinate is written, and restored
 *    if PROJ fails half-way. Empty points (NaN, NaN) and M values are left
 *    alone.
 *
 * The per-ctx cache of EPSG -> EPSG transformations (kt_ctx_transform) is
 * a small array searched linearly: a deployment uses a handful of CRS.
 */
#include "kt_crs_int.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <proj.h>

#include "kt_engine.h"
#include "kt_wkb_int.h"

struct kt_transform {
	PJ_CONTEXT *pjctx;
	PJ *pj;              /* normalised for visualisation */
	int allow_ballpark;
	int n_ops;           /* operations PROJ may choose between */
	double accuracy;     /* metres, worst case; NAN unknown */
	char *name;
	char src[160];       /* descriptions for messages */
	char dst[160];
};

/* ---- describing and parsing a CRS ------------------------------------ */

static int is_number(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

/* "EPSG:2154 (RGF93 v1 / Lambert-93)" for short texts, the CRS name and
 * what it was given as for WKT and long PROJ strings. */
static void describe(char *buf, size_t size, const char *text, PJ *crs)
{
	const char *name = crs ? proj_get_name(crs) : NULL;
	size_t n = strlen(text);
	int oneline = !strpbrk(text, "\r\n");
	if (n <= 48 && oneline)
		snprintf(buf, size, "%s%s%s%s", text, name ? " (" : "", name ? name : "",
		         name ? ")" : "");
	else
		snprintf(buf, size, "\"%s\" (given as %s)", name ? name : "?",
		         text[0] == '+' ? "a PROJ string" : text[0] == '{' ? "PROJJSON" : "WKT");
}

static const char *proj_message(PJ_CONTEXT *pjctx)
{
	int e = proj_context_errno(pjctx);
	const char *m = e ? proj_context_errno_string(pjctx, e) : NULL;
	return m ? m : "no reason given";
}

/* Makes a CRS object from "EPSG:n", a bare number, WKT (any dialect PROJ
 * reads, ESRI .prj included), PROJJSON or a PROJ string. */
static int crs_create(kt_ctx_t *ctx, PJ_CONTEXT *pjctx, const char *text, PJ **out,
                      char *label, size_t label_size, const char *func)
{
	char buf[64];
	char *owned = NULL;
	const char *def = text;
	while (isspace((unsigned char)*def))
		def++;
	if (!*def)
		return kt_ctx_error(ctx, KT_ECRS, "%s: empty CRS definition", func);
	if (is_number(def) && strlen(def) < 20) {
		snprintf(buf, sizeof buf, "EPSG:%s", def);
		def = buf;
	} else if (def[0] == '+' && !strstr(def, "type=crs")) {
		size_t n = strlen(def);
		owned = kt_malloc(n + 16);
		if (!owned)
			return kt_ctx_error(ctx, KT_ENOMEM, "%s: out of memory", func);
		snprintf(owned, n + 16, "%s +type=crs", def);
		def = owned;
	}
	PJ *crs = proj_create(pjctx, def);
	kt_free(owned);
	if (!crs) {
		describe(label, label_size, text, NULL);
		return kt_ctx_error(ctx, KT_ECRS, "%s: unknown CRS %s (not an EPSG code PROJ knows, nor "
		                    "WKT, PROJJSON or a PROJ string it can read: %s)", func, label,
		                    proj_message(pjctx));
	}
	describe(label, label_size, def == buf ? buf : text, crs);
	if (!proj_is_crs(crs)) {
		proj_destroy(crs);
		return kt_ctx_error(ctx, KT_ECRS, "%s: %s is not a coordinate reference system", func,
		                    label);
	}
	*out = crs;
	return 0;
}

/* ---- choosing the operation ------------------------------------------ */

struct op_survey {
	int n_total;      /* candidates, ballpark included */
	int n_kept;       /* candidates acceptable under allow_ballpark */
	double accuracy;  /* worst among the kept; NAN if any is unknown */
	char *first_name; /* kt_malloc'd name of the first kept */
};

/* Lists the operations PROJ would consider, with the filters that
 * proj_create_crs_to_crs applies (partial intersection of the areas of
 * use, operations needing a missing grid discarded). */
static int survey_ops(PJ_CONTEXT *pjctx, PJ *src, PJ *dst, int allow_ballpark,
                      struct op_survey *s)
{
	memset(s, 0, sizeof *s);
	s->accuracy = 0.0;
	PJ_OPERATION_FACTORY_CONTEXT *oc = proj_create_operation_factory_context(pjctx, NULL);
	if (!oc)
		return KT_ECRS;
	proj_operation_factory_context_set_allow_ballpark_transformations(pjctx, oc, 1);
	proj_operation_factory_context_set_spatial_criterion(
		pjctx, oc, PROJ_SPATIAL_CRITERION_PARTIAL_INTERSECTION);
	proj_operation_factory_context_set_grid_availability_use(
		pjctx, oc,
		proj_context_is_network_enabled(pjctx)
			? PROJ_GRID_AVAILABILITY_KNOWN_AVAILABLE
			: PROJ_GRID_AVAILABILITY_DISCARD_OPERATION_IF_MISSING_GRID);
	PJ_OBJ_LIST *ops = proj_create_operations(pjctx, src, dst, oc);
	proj_operation_factory_context_destroy(oc);
	if (!ops)
		return KT_ECRS;
	int n = proj_list_get_count(ops);
	int rc = 0;
	for (int i = 0; i < n && !rc; i++) {
		PJ *op = proj_list_get(pjctx, ops, i);
		if (!op)
			continue;
		s->n_total++;
		int ballpark = proj_coordoperation_has_ballpark_transformation(pjctx, op);
		if (ballpark && !allow_ballpark) {
			proj_destroy(op);
			continue;
		}
		s->n_kept++;
		double acc = proj_coordoperation_get_accuracy(pjctx, op);
		if (acc < 0 || ballpark)
			s->accuracy = NAN;
		else if (!isnan(s->accuracy) && acc > s->accuracy)
			s->accuracy = acc;
		if (!s->first_name) {
			const char *name = proj_get_name(op);
			s->first_name = kt_strdup(name ? name : "unnamed operation");
			if (!s->first_name)
				rc = KT_ENOMEM;
		}
		proj_destroy(op);
	}
	proj_list_destroy(ops);
	return rc;
}

int kt_transform_new(kt_ctx_t *ctx, const char *src, const char *dst, int allow_ballpark,
                     kt_transform_t **out)
{
	if (!ctx || !src || !dst || !out)
		return ctx ? kt_ctx_error(ctx, KT_EINVAL, "%s: NULL argument", __func__) : KT_EINVAL;
	*out = NULL;
	PJ_CONTEXT *pjctx = kt_ctx_proj(ctx);
	kt_transform_t *t = kt_calloc(1, sizeof *t);
	if (!t)
		return kt_ctx_error(ctx, KT_ENOMEM, "%s: out of memory", __func__);
	t->pjctx = pjctx;
	t->allow_ballpark = !!allow_ballpark;
	PJ *s = NULL, *d = NULL, *op = NULL;
	struct op_survey sv = { 0 };
	int rc;
	if ((rc = crs_create(ctx, pjctx, src, &s, t->src, sizeof t->src, __func__)) ||
	    (rc = crs_create(ctx, pjctx, dst, &d, t->dst, sizeof t->dst, __func__)))
		goto fail;
	if ((rc = survey_ops(pjctx, s, d, allow_ballpark, &sv))) {
		rc = rc == KT_ENOMEM ? kt_ctx_error(ctx, rc, "%s: out of memory", __func__)
		                     : kt_ctx_error(ctx, rc, "%s: cannot list operations from %s to %s: %s",
		                                    __func__, t->src, t->dst, proj_message(pjctx));
		goto fail;
	}
	if (sv.n_total == 0) {
		rc = kt_ctx_error(ctx, KT_ECRS, "%s: no transformation from %s to %s (missing grid?)",
		                  __func__, t->src, t->dst);
		goto fail;
	}
	if (sv.n_kept == 0) {
		rc = kt_ctx_error(ctx, KT_ECRS,
		                  "%s: only a ballpark transformation exists from %s to %s (datum shift "
		                  "ignored, error of metres to hundreds of metres): refused",
		                  __func__, t->src, t->dst);
		goto fail;
	}
	const char *opts[] = { allow_ballpark ? "ALLOW_BALLPARK=YES" : "ALLOW_BALLPARK=NO", NULL };
	op = proj_create_crs_to_crs_from_pj(pjctx, s, d, NULL, opts);
	if (!op) {
		rc = kt_ctx_error(ctx, KT_ECRS, "%s: no transformation from %s to %s: %s", __func__,
		                  t->src, t->dst, proj_message(pjctx));
		goto fail;
	}
	t->pj = proj_normalize_for_visualization(pjctx, op);
	if (!t->pj) {
		rc = kt_ctx_error(ctx, KT_ECRS, "%s: cannot normalise axis order of %s to %s: %s",
		                  __func__, t->src, t->dst, proj_message(pjctx));
		goto fail;
	}
	/* A single operation chosen: it must not be ballpark (belt and braces
	 * over ALLOW_BALLPARK=NO). */
	if (!allow_ballpark && sv.n_kept == 1 &&
	    proj_coordoperation_has_ballpark_transformation(pjctx, t->pj)) {
		rc = kt_ctx_error(ctx, KT_ECRS, "%s: PROJ chose a ballpark transformation from %s to %s: "
		                  "refused", __func__, t->src, t->dst);
		goto fail;
	}
	t->n_ops = sv.n_kept;
	t->accuracy = sv.accuracy;
	{
		size_t n = strlen(sv.first_name) + 64;
		t->name = kt_malloc(n);
		if (!t->name) {
			rc = kt_ctx_error(ctx, KT_ENOMEM, "%s: out of memory", __func__);
			goto fail;
		}
		if (sv.n_kept > 1)
			snprintf(t->name, n, "%s (+%d other operation%s, chosen per point by area of use)",
			         sv.first_name, sv.n_kept - 1, sv.n_kept > 2 ? "s" : "");
		else
			snprintf(t->name, n, "%s", sv.first_name);
	}
	proj_destroy(op);
	proj_destroy(s);
	proj_destroy(d);
	kt_free(sv.first_name);
	*out = t;
	return 0;
fail:
	proj_destroy(op);
	proj_destroy(s);
	proj_destroy(d);
	kt_free(sv.first_name);
	kt_transform_free(t);
	return rc;
}

void kt_transform_free(kt_transform_t *t)
{
	if (!t)
		return;
	proj_destroy(t->pj);
	kt_free(t->name);
	kt_free(t);
}

double kt_transform_accuracy(const kt_transform_t *t)
{
	return t ? t->accuracy : NAN;
}

const char *kt_transform_name(const kt_transform_t *t)
{
	return t && t->name ? t->name : "";
}

/* ---- transforming ---------------------------------------------------- */

static int check_args(kt_ctx_t *ctx, kt_transform_t *t, const char *func)
{
	if (!ctx)
		return KT_EINVAL;
	if (!t)
		return kt_ctx_error(ctx, KT_EINVAL, "%s: NULL transform", func);
	if (t->pjctx != kt_ctx_proj(ctx))
		return kt_ctx_error(ctx, KT_EINVAL, "%s: transform %s -> %s belongs to another ctx",
		                    func, t->src, t->dst);
	return 0;
}

/* After a proj_trans*: refuses if PROJ, choosing among several operations,
 * used a ballpark one. */
static int check_used_op(kt_ctx_t *ctx, kt_transform_t *t, const char *func)
{
	if (t->allow_ballpark || t->n_ops <= 1)
		return 0;
	PJ *used = proj_trans_get_last_used_operation(t->pj);
	if (!used)
		return 0;
	int ballpark = proj_coordoperation_has_ballpark_transformation(t->pjctx, used);
	proj_destroy(used);
	if (ballpark)
		return kt_ctx_error(ctx, KT_ECRS, "%s: PROJ used a ballpark transformation from %s "
		                    "to %s: refused", func, t->src, t->dst);
	return 0;
}

static int failed_point(kt_ctx_t *ctx, kt_transform_t *t, double x, double y, const char *func)
{
	int e = proj_errno(t->pj);
	const char *m = e ? proj_context_errno_string(t->pjctx, e) : NULL;
	proj_errno_reset(t->pj);
	return kt_ctx_error(ctx, KT_ECRS, "%s: cannot transform (%.17g, %.17g) from %s to %s: %s%s",
	                    func, x, y, t->src, t->dst, m ? m : "outside the area of use",
	                    t->allow_ballpark ? "" : " (ballpark transformations refused)");
}

int kt_transform_point(kt_ctx_t *ctx, kt_transform_t *t, double *x, double *y, double *z)
{
	int rc = check_args(ctx, t, __func__);
	if (rc)
		return rc;
	if (!x || !y)
		return kt_ctx_error(ctx, KT_EINVAL, "%s: NULL coordinate", __func__);
	if (!isfinite(*x) || !isfinite(*y) || (z && !isfinite(*z)))
		return kt_ctx_error(ctx, KT_EINVAL, "%s: coordinate not finite", __func__);
	proj_errno_reset(t->pj);
	PJ_COORD c = proj_coord(*x, *y, z ? *z : 0.0, HUGE_VAL);
	PJ_COORD o = proj_trans(t->pj, PJ_FWD, c);
	if (!isfinite(o.xyz.x) || !isfinite(o.xyz.y) || (z && !isfinite(o.xyz.z)))
		return failed_point(ctx, t, *x, *y, __func__);
	if ((rc = check_used_op(ctx, t, __func__)))
		return rc;
	*x = o.xyz.x;
	*y = o.xyz.y;
	if (z)
		*z = o.xyz.z;
	return 0;
}

struct wkb_job {
	kt_ctx_t *ctx;
	kt_transform_t *t;
	unsigned char *wkb;
};

enum { CHUNK = 128 };

/* One run of points, CHUNK at a time through proj_trans_generic. */
static int wkb_points(size_t off, uint32_t n, int dims, int has_z, int has_m, int swap,
                      void *data)
{
	struct wkb_job *job = data;
	kt_transform_t *t = job->t;
	size_t psz = (size_t)dims * 8;
	double x[CHUNK], y[CHUNK], z[CHUNK];
	unsigned char skip[CHUNK];
	(void)has_m; /* M stays where it is, after z */
	for (uint32_t i = 0; i < n; i += CHUNK) {
		size_t m = n - i < CHUNK ? n - i : CHUNK;
		unsigned char *base = job->wkb + off + (size_t)i * psz;
		for (size_t k = 0; k < m; k++) {
			const unsigned char *p = base + k * psz;
			x[k] = kt__wkb_get_double(p, swap);
			y[k] = kt__wkb_get_double(p + 8, swap);
			z[k] = has_z ? kt__wkb_get_double(p + 16, swap) : 0.0;
			skip[k] = isnan(x[k]) && isnan(y[k]); /* an empty point */
			if (!skip[k] && (!isfinite(x[k]) || !isfinite(y[k])))
				return kt_ctx_error(job->ctx, KT_EINVAL,
				                    "kt_transform_wkb: coordinate not finite");
			if (skip[k])
				x[k] = y[k] = 0.0;
			if (!isfinite(z[k]))
				z[k] = 0.0; /* restored below from the bytes */
		}
		proj_errno_reset(t->pj);
		proj_trans_generic(t->pj, PJ_FWD, x, sizeof(double), m, y, sizeof(double), m,
		                   has_z ? z : NULL, has_z ? sizeof(double) : 0, has_z ? m : 0,
		                   NULL, 0, 0);
		for (size_t k = 0; k < m; k++) {
			if (skip[k])
				continue;
			if (!isfinite(x[k]) || !isfinite(y[k]) || (has_z && !isfinite(z[k]))) {
				const unsigned char *p = base + k * psz;
				return failed_point(job->ctx, t, kt__wkb_get_double(p, swap),
				                    kt__wkb_get_double(p + 8, swap), "kt_transform_wkb");
			}
		}
		int rc = check_used_op(job->ctx, t, "kt_transform_wkb");
		if (rc)
			return rc;
		for (size_t k = 0; k < m; k++) {
			unsigned char *p = base + k * psz;
			if (skip[k])
				continue;
			kt__wkb_put_double(p, x[k], swap);
			kt__wkb_put_double(p + 8, y[k], swap);
			if (has_z && isfinite(kt__wkb_get_double(p + 16, swap)))
				kt__wkb_put_double(p + 16, z[k], swap);
		}
	}
	return 0;
}

int kt_transform_wkb(kt_ctx_t *ctx, kt_transform_t *t, unsigned char *wkb, size_t len)
{
	int rc = check_args(ctx, t, __func__);
	if (rc)
		return rc;
	if (!wkb || len == 0)
		return kt_ctx_error(ctx, KT_EINVAL, "%s: no WKB", __func__);
	if ((rc = kt__wkb_walk(wkb, len, NULL, NULL, NULL)))
		return kt_ctx_error(ctx, rc, "%s: malformed WKB (%zu bytes)", __func__, len);
	unsigned char *backup = kt_malloc(len);
	if (!backup)
		return kt_ctx_error(ctx, KT_ENOMEM, "%s: out of memory", __func__);
	memcpy(backup, wkb, len);
	struct wkb_job job = { ctx, t, wkb };
	rc = kt__wkb_walk(wkb, len, wkb_points, &job, NULL);
	if (rc)
		memcpy(wkb, backup, len); /* all or nothing; message set by the callback */
	kt_free(backup);
	return rc;
}

int kt_transform_bbox(kt_ctx_t *ctx, kt_transform_t *t, const double in[4], double out[4])
{
	int rc = check_args(ctx, t, __func__);
	if (rc)
		return rc;
	if (!in || !out)
		return kt_ctx_error(ctx, KT_EINVAL, "%s: NULL bbox", __func__);
	for (int i = 0; i < 4; i++)
		if (!isfinite(in[i]))
			return kt_ctx_error(ctx, KT_EINVAL, "%s: bbox coordinate not finite", __func__);
	if (in[0] > in[2] || in[1] > in[3])
		return kt_ctx_error(ctx, KT_EINVAL, "%s: bbox min greater than max", __func__);
	double o[4];
	proj_errno_reset(t->pj);
	/* 21 points per edge: PROJ's recommended densification. */
	if (!proj_trans_bounds(t->pjctx, t->pj, PJ_FWD, in[0], in[1], in[2], in[3], &o[0], &o[1],
	                       &o[2], &o[3], 21))
		return kt_ctx_error(ctx, KT_ECRS, "%s: cannot transform bbox (%g %g, %g %g) from %s "
		                    "to %s: %s", __func__, in[0], in[1], in[2], in[3], t->src, t->dst,
		                    proj_message(t->pjctx));
	if ((rc = check_used_op(ctx, t, __func__)))
		return rc;
	memcpy(out, o, sizeof o);
	return 0;
}

/* ---- the per-ctx cache ----------------------------------------------- */

struct cache_entry {
	int from, to;
	kt_transform_t *t;
};

struct kt_transform_cache {
	struct cache_entry *v;
	size_t n, cap;
};

int kt__transform_cache_get(struct kt_transform_cache **slot, kt_ctx_t *ctx, int from_epsg,
                            int to_epsg, kt_transform_t **out)
{
	if (!slot || !ctx || !out)
		return ctx ? kt_ctx_error(ctx, KT_EINVAL, "%s: NULL argument", __func__) : KT_EINVAL;
	if (from_epsg <= 0 || to_epsg <= 0)
		return kt_ctx_error(ctx, KT_ECRS, "%s: bad EPSG code %d -> %d", __func__, from_epsg,
		                    to_epsg);
	struct kt_transform_cache *c = *slot;
	if (c)
		for (size_t i = 0; i < c->n; i++)
			if (c->v[i].from == from_epsg && c->v[i].to == to_epsg) {
				*out = c->v[i].t;
				return 0;
			}
	if (!c) {
		c = kt_calloc(1, sizeof *c);
		if (!c)
			return kt_ctx_error(ctx, KT_ENOMEM, "%s: out of memory", __func__);
		*slot = c;
	}
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 8;
		struct cache_entry *v = kt_realloc(c->v, cap * sizeof *v);
		if (!v)
			return kt_ctx_error(ctx, KT_ENOMEM, "%s: out of memory", __func__);
		c->v = v;
		c->cap = cap;
	}
	char a[32], b[32];
	snprintf(a, sizeof a, "EPSG:%d", from_epsg);
	snprintf(b, sizeof b, "EPSG:%d", to_epsg);
	kt_transform_t *t;
	int rc = kt_transform_new(ctx, a, b, 0, &t);
	if (rc)
		return rc;
	c->v[c->n++] = (struct cache_entry){ from_epsg, to_epsg, t };
	*out = t;
	return 0;
}

void kt__transform_cache_free(struct kt_transform_cache *cache)
{
	if (!cache)
		return;
	for (size_t i = 0; i < cache->n; i++)
		kt_transform_free(cache->v[i].t);
	kt_free(cache->v);
	kt_free(cache);
}

int kt_ctx_transform(kt_ctx_t *ctx, int from_epsg, int to_epsg, kt_transform_t **out)
{
	if (!ctx)
		return KT_EINVAL;
	return kt__transform_cache_get(kt__ctx_tcache(ctx), ctx, from_epsg, to_epsg, out);
}
