/*
 * fes_sql.c — a FES filter tree into a SQL WHERE fragment on one layer
 * table, with every client value bound as a parameter.
 *
 * What reaches the SQL text: column names that passed kt_ows_public_attr
 * (so a private attribute cannot even be tested: it answers like a missing
 * one), quoted with %w; fixed operator keywords; the layer name for its
 * R*Tree index; the store SRID. Everything else — literals, LIKE
 * patterns, geometries (WKB, reprojected to the store CRS here),
 * distances, identifiers — is a '?' bound from w->params.
 *
 * Spatial operators first narrow by the layer's R*Tree on the operand's
 * envelope (grown by the distance for DWithin), then test exactly with
 * SpatiaLite's ST_* functions. Distances are in metres: the store CRS is
 * projected (EPSG:3948 for Lanester).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kt_ows_int.h"

void kt_sqlw_and(kt_sqlw_t *w)
{
	if (w->sql.len)
		kt_sbuf_puts(&w->sql, " AND ");
}

int kt_sqlw_bind(kt_arena_t *a, kt_sqlw_t *w, const kt_sql_value_t *v)
{
	if (w->n_params == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 8;
		kt_sql_value_t *p = kt_arena_alloc(a, cap * sizeof *p);
		if (!p)
			return KT_ENOMEM;
		if (w->n_params)
			memcpy(p, w->params, w->n_params * sizeof *p);
		w->params = p;
		w->cap = cap;
	}
	w->params[w->n_params++] = *v;
	kt_sbuf_puts(&w->sql, "?");
	return 0;
}

int kt_sql_literal(kt_attr_type_t t, const char *lit, kt_sql_value_t *v)
{
	char *end;
	memset(v, 0, sizeof *v);
	switch (t) {
	case KT_ATTR_INTEGER:
		errno = 0;
		v->i = strtoll(lit, &end, 10);
		if (end != lit && !*end && !errno) {
			v->type = KT_SQL_INT;
			return 0;
		}
		/* 3.5 against an integer column is a fair question */
		__attribute__((fallthrough));
	case KT_ATTR_REAL:
		errno = 0;
		v->d = strtod(lit, &end);
		if (end == lit || *end || errno || !isfinite(v->d))
			return KT_EINVAL;
		v->type = KT_SQL_REAL;
		return 0;
	case KT_ATTR_BOOLEAN:
		v->type = KT_SQL_INT;
		if (!strcasecmp(lit, "true") || !strcmp(lit, "1"))
			v->i = 1;
		else if (!strcasecmp(lit, "false") || !strcmp(lit, "0"))
			v->i = 0;
		else
			return KT_EINVAL;
		return 0;
	default:
		v->type = KT_SQL_TEXT;
		v->s = lit;
		return 0;
	}
}

typedef struct fsql {
	kt_arena_t *a;
	const kt_fes_env_t *env;
	kt_sqlw_t *w;
	kt_ows_exc_t *e;
} fsql_t;

static int bad(fsql_t *s, const char *fmt, const char *arg)
{
	return kt_ows_fail(s->e, s->a, "InvalidParameterValue", "FILTER", fmt, arg ? arg : "");
}

static int column(fsql_t *s, const char *prop, const kt_attr_def_t **out)
{
	const kt_attr_def_t *d = kt_ows_public_attr(s->env->layer, prop);
	if (!d)
		return bad(s, "the feature type has no property \"%s\"", prop);
	*out = d;
	kt_sbuf_printf(&s->w->sql, "\"%s\"", d->name); /* [a-z][a-z0-9_]*: no quoting needed */
	return 0;
}

static int bind_lit(fsql_t *s, const kt_attr_def_t *d, const char *lit)
{
	kt_sql_value_t v;
	if (kt_sql_literal(d->type, lit, &v))
		return kt_ows_fail(s->e, s->a, "InvalidParameterValue", "FILTER",
		                   "\"%s\" is not a valid %s for property %s", lit,
		                   kt_attr_type_name(d->type), d->name);
	return kt_sqlw_bind(s->a, s->w, &v);
}

static int cmp_sql(fsql_t *s, const kt_fes_t *f)
{
	static const char *const ops[] = {" = ", " <> ", " < ", " > ", " <= ", " >= "};
	const kt_attr_def_t *d;
	if (column(s, f->prop, &d))
		return KT_EINVAL;
	kt_sbuf_puts(&s->w->sql, ops[f->op]);
	if (bind_lit(s, d, f->lit))
		return KT_EINVAL;
	if (!f->match_case && (d->type == KT_ATTR_TEXT))
		kt_sbuf_puts(&s->w->sql, " COLLATE NOCASE");
	return 0;
}

/* The FES pattern into GLOB (case-sensitive) or LIKE ... ESCAPE '\'. */
static int like_sql(fsql_t *s, const kt_fes_t *f)
{
	const kt_attr_def_t *d = kt_ows_public_attr(s->env->layer, f->prop);
	if (!d)
		return bad(s, "the feature type has no property \"%s\"", f->prop);
	size_t n = strlen(f->lit);
	char *pat = kt_arena_alloc(s->a, n * 3 + 1), *o = pat;
	if (!pat)
		return KT_ENOMEM;
	for (const char *p = f->lit; *p; p++) {
		char c = *p;
		int lit = 0;
		if (c == f->escape && p[1]) {
			c = *++p;
			lit = 1;
		}
		if (!lit && c == f->wild)
			*o++ = f->match_case ? '*' : '%';
		else if (!lit && c == f->single)
			*o++ = f->match_case ? '?' : '_';
		else if (f->match_case && (c == '*' || c == '?' || c == '['))
			*o++ = '[', *o++ = c, *o++ = ']';
		else if (!f->match_case && (c == '%' || c == '_' || c == '\\'))
			*o++ = '\\', *o++ = c;
		else
			*o++ = c;
	}
	*o = 0;
	kt_sbuf_printf(&s->w->sql, "CAST(\"%s\" AS TEXT) %s ", d->name, f->match_case ? "GLOB" : "LIKE");
	kt_sql_value_t v = {.type = KT_SQL_TEXT, .s = pat};
	if (kt_sqlw_bind(s->a, s->w, &v))
		return KT_ENOMEM;
	if (!f->match_case)
		kt_sbuf_puts(&s->w->sql, " ESCAPE '\\'");
	return 0;
}

/* The operand in the store CRS, and its envelope there. */
static int operand(fsql_t *s, const kt_fes_t *f, unsigned char **wkb, double env[4])
{
	const kt_fes_env_t *env_ = s->env;
	kt_crs_t crs = f->geom.crs.epsg ? f->geom.crs : env_->default_crs;
	*wkb = kt_arena_alloc(s->a, f->geom.len);
	if (!*wkb)
		return KT_ENOMEM;
	memcpy(*wkb, f->geom.wkb, f->geom.len);
	if (env_->ctx) {
		if (kt_ows_crs_resolve(env_->ctx, &crs))
			return bad(s, "the CRS of a geometry operand is not supported%s", "");
		if (crs.swap)
			kt_wkb_swap_xy(*wkb, f->geom.len);
		kt_transform_t *t;
		if (crs.epsg != env_->store_epsg &&
		    (kt_ctx_transform(env_->ctx, crs.epsg, env_->store_epsg, &t) ||
		     kt_transform_wkb(env_->ctx, t, *wkb, f->geom.len)))
			return bad(s, "a geometry operand cannot be reprojected to the store CRS%s", "");
	}
	return kt_wkb_envelope(*wkb, f->geom.len, env) ? bad(s, "an empty geometry operand%s", "") : 0;
}

/* 1 when wkb (the operand, in the store CRS) is the axis-parallel
 * rectangle env itself: a little-endian 2D polygon of one ring of five
 * points, every point a corner of env, every edge horizontal or vertical
 * (a BBOX in the store CRS is one). */
static int is_envelope(const unsigned char *wkb, size_t len, const double env[4])
{
	uint32_t head[3];
	if (len != 1 + 12 + 5 * 16 || wkb[0] != 1)
		return 0;
	memcpy(head, wkb + 1, sizeof head);
	if (head[0] != 3 || head[1] != 1 || head[2] != 5 ||
	    __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__)
		return 0;
	double p[10];
	memcpy(p, wkb + 13, sizeof p);
	for (int i = 0; i < 5; i++) {
		if ((p[2 * i] != env[0] && p[2 * i] != env[2]) ||
		    (p[2 * i + 1] != env[1] && p[2 * i + 1] != env[3]))
			return 0;
		if (i && p[2 * i] != p[2 * i - 2] && p[2 * i + 1] != p[2 * i - 1])
			return 0; /* a diagonal */
	}
	return env[0] < env[2] && env[1] < env[3] && p[0] == p[8] && p[1] == p[9];
}

static int spatial_sql(fsql_t *s, const kt_fes_t *f)
{
	static const char *const fn[] = {
		"ST_Intersects", "ST_Intersects", "ST_Within", "ST_Contains", "ST_Disjoint", "ST_Touches",
		"ST_Crosses", "ST_Overlaps", "ST_Equals",
	};
	const kt_layer_t *l = s->env->layer;
	if (l->geom_type == KT_GEOM_NONE)
		return bad(s, "feature type %s has no geometry", l->name);
	if (f->prop && strcmp(strchr(f->prop, ':') ? strchr(f->prop, ':') + 1 : f->prop, "geom"))
		return bad(s, "\"%s\" is not a geometry property (use geom)", f->prop);
	unsigned char *wkb;
	double env[4];
	if (operand(s, f, &wkb, env))
		return KT_EINVAL;
	double d = f->distance_m;
	kt_sqlw_t *w = s->w;
	size_t n_before = w->n_params;
	kt_sbuf_puts(&w->sql, "(");
	if (f->op != KT_SP_DISJOINT && f->op != KT_SP_BEYOND) {
		double grow = f->op == KT_SP_DWITHIN ? d : 0;
		kt_sql_value_t v[4] = {
			{.type = KT_SQL_REAL, .d = env[2] + grow}, {.type = KT_SQL_REAL, .d = env[0] - grow},
			{.type = KT_SQL_REAL, .d = env[3] + grow}, {.type = KT_SQL_REAL, .d = env[1] - grow},
		};
		kt_sbuf_printf(&w->sql, "fid IN (SELECT pkid FROM \"idx_%s_geom\" WHERE xmin <= ", l->name);
		kt_sqlw_bind(s->a, w, &v[0]);
		kt_sbuf_puts(&w->sql, " AND xmax >= ");
		kt_sqlw_bind(s->a, w, &v[1]);
		kt_sbuf_puts(&w->sql, " AND ymin <= ");
		kt_sqlw_bind(s->a, w, &v[2]);
		kt_sbuf_puts(&w->sql, " AND ymax >= ");
		kt_sqlw_bind(s->a, w, &v[3]);
		kt_sbuf_puts(&w->sql, ") AND ");
	}
	kt_sql_value_t g = {.type = KT_SQL_BLOB, .blob = wkb, .len = f->geom.len};
	/* A point intersects a rectangle when it lies in it, bounds included:
	 * the comparison of the point's MBR with the box's says exactly that,
	 * without GEOS (a prepared geometry per row was most of a GetFeature
	 * of lamps by BBOX). */
	int point_in_box = (f->op == KT_SP_BBOX || f->op == KT_SP_INTERSECTS) &&
	                   l->geom_type == KT_GEOM_POINT && is_envelope(wkb, f->geom.len, env);
	if (point_in_box) {
		kt_sql_value_t v[4] = {
			{.type = KT_SQL_REAL, .d = env[0]}, {.type = KT_SQL_REAL, .d = env[1]},
			{.type = KT_SQL_REAL, .d = env[2]}, {.type = KT_SQL_REAL, .d = env[3]},
		};
		kt_sbuf_puts(&w->sql, "MbrIntersects(geom, BuildMbr(");
		for (int i = 0; i < 4; i++) {
			kt_sqlw_bind(s->a, w, &v[i]);
			kt_sbuf_puts(&w->sql, ", ");
		}
		kt_sbuf_printf(&w->sql, "%d)) = 1", s->env->store_epsg);
	} else if (f->op == KT_SP_DWITHIN || f->op == KT_SP_BEYOND) {
		kt_sql_value_t dv = {.type = KT_SQL_REAL, .d = d};
		kt_sbuf_puts(&w->sql, "ST_Distance(geom, GeomFromWKB(");
		kt_sqlw_bind(s->a, w, &g);
		kt_sbuf_printf(&w->sql, ", %d)) %s ", s->env->store_epsg,
		               f->op == KT_SP_DWITHIN ? "<=" : ">");
		kt_sqlw_bind(s->a, w, &dv);
	} else {
		kt_sbuf_printf(&w->sql, "%s(geom, GeomFromWKB(", fn[f->op]);
		kt_sqlw_bind(s->a, w, &g);
		kt_sbuf_printf(&w->sql, ", %d)) = 1", s->env->store_epsg);
	}
	kt_sbuf_puts(&w->sql, ")");
	/* a failed bind leaves a '?' short: the count tells */
	return w->n_params != n_before + (f->op == KT_SP_DISJOINT || f->op == KT_SP_BEYOND ? 1 : 5) +
	       (f->op == KT_SP_DWITHIN || f->op == KT_SP_BEYOND) + 3 * point_in_box
		? kt_ows_fail(s->e, s->a, "NoApplicableCode", NULL, "out of memory") : 0;
}

static int rid_sql(fsql_t *s, const kt_fes_t *f)
{
	const char *name = s->env->layer->name;
	size_t nl = strlen(name), n = 0;
	kt_sbuf_puts(&s->w->sql, "uid IN (");
	for (size_t i = 0; i < f->n_rids; i++) {
		const char *id = f->rids[i];
		if (!strncmp(id, name, nl) && id[nl] == '.')
			id += nl + 1;
		else if (strchr(id, '.'))
			continue; /* another feature type's identifier */
		kt_sql_value_t v = {.type = KT_SQL_TEXT, .s = id};
		if (n++)
			kt_sbuf_puts(&s->w->sql, ", ");
		if (kt_sqlw_bind(s->a, s->w, &v))
			return KT_ENOMEM;
	}
	kt_sbuf_puts(&s->w->sql, n ? ")" : "NULL)");
	return 0;
}

static int node_sql(fsql_t *s, const kt_fes_t *f)
{
	kt_sbuf_t *q = &s->w->sql;
	const kt_attr_def_t *d;
	switch (f->kind) {
	case KT_FES_AND:
	case KT_FES_OR:
	case KT_FES_NOT:
		kt_sbuf_puts(q, f->kind == KT_FES_NOT ? "(NOT (" : "(");
		for (size_t i = 0; i < f->n_kids; i++) {
			if (i)
				kt_sbuf_puts(q, f->kind == KT_FES_AND ? " AND " : " OR ");
			if (node_sql(s, f->kids[i]))
				return KT_EINVAL;
		}
		kt_sbuf_puts(q, f->kind == KT_FES_NOT ? "))" : ")");
		return 0;
	case KT_FES_CMP: return cmp_sql(s, f);
	case KT_FES_LIKE: return like_sql(s, f);
	case KT_FES_NULL:
		if (column(s, f->prop, &d))
			return KT_EINVAL;
		kt_sbuf_puts(q, " IS NULL");
		return 0;
	case KT_FES_BETWEEN:
		if (column(s, f->prop, &d))
			return KT_EINVAL;
		kt_sbuf_puts(q, " BETWEEN ");
		if (bind_lit(s, d, f->lit))
			return KT_EINVAL;
		kt_sbuf_puts(q, " AND ");
		return bind_lit(s, d, f->lit2);
	case KT_FES_SPATIAL: return spatial_sql(s, f);
	case KT_FES_RID: return rid_sql(s, f);
	}
	return bad(s, "unsupported filter node%s", "");
}

int kt_fes_sql(kt_arena_t *a, const kt_fes_env_t *env, const kt_fes_t *f, kt_sqlw_t *w,
               kt_ows_exc_t *e)
{
	fsql_t s = {a, env, w, e};
	kt_sqlw_and(w);
	int rc = node_sql(&s, f);
	if (!rc && w->sql.oom)
		rc = kt_ows_fail(e, a, "NoApplicableCode", NULL, "out of memory");
	return rc;
}

int kt_fes_bbox_sql(kt_arena_t *a, const kt_fes_env_t *env, const double bbox[4], int epsg,
                    kt_sqlw_t *w, kt_ows_exc_t *e)
{
	/* the box as a polygon in its own CRS: reprojected vertex by vertex,
	 * it is the true shape in the store CRS, not an enclosing envelope */
	double ring[10] = {bbox[0], bbox[1], bbox[2], bbox[1], bbox[2], bbox[3],
	                   bbox[0], bbox[3], bbox[0], bbox[1]};
	size_t len = 1 + 4 + 4 + 4 + sizeof ring;
	unsigned char *wkb = kt_arena_alloc(a, len);
	kt_fes_t *f = kt_arena_alloc(a, sizeof *f);
	if (!wkb || !f)
		return KT_ENOMEM;
	uint32_t hdr[3] = {3, 1, 5};
	wkb[0] = 1; /* little-endian, as the hosts we build for */
	memcpy(wkb + 1, hdr, sizeof hdr);
	memcpy(wkb + 13, ring, sizeof ring);
	memset(f, 0, sizeof *f);
	f->kind = KT_FES_SPATIAL;
	f->op = KT_SP_BBOX;
	f->geom.wkb = wkb;
	f->geom.len = len;
	f->geom.crs.epsg = epsg;
	f->geom.crs.form = KT_CRS_SHORT; /* x/y already */
	return kt_fes_sql(a, env, f, w, e);
}
