/*
 * ogcapi_items.c — OGC API Features items: /collections/{id}/items and
 * /collections/{id}/items/{fid}, GeoJSON or HTML.
 *
 * Parameters: limit (1..10000, default 10), offset, bbox (4 or 6 numbers)
 * with bbox-crs, crs (Part 2: the answer says Content-Crs), datetime (an
 * instant or an interval with ".." open ends, on the layer's first public
 * date attribute), f, and one equality filter per public attribute
 * (?usage=école). Any other parameter is a 400, as Core asks, so a typo
 * never silently returns everything. The item id is the feature uid.
 *
 * Axis order: CRS84 (the default) is longitude first; an EPSG URI is in
 * the registry's order, so EPSG:4326 comes latitude first (Part 2), for
 * bbox as for coordinates.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kt_ogcapi_int.h"

#define LIMIT_DEFAULT 10
#define LIMIT_MAX 10000

typedef struct items {
	kt_request_t *req;
	kt_ctx_t *ctx;
	const kt_layer_t *l;
	kt_kvp_t kvp;
	kt_crs_t crs;          /* output */
	kt_sqlw_t where;
	kt_ows_select_t sel;
	json_t *features;
	int64_t returned;
	int failed;
	int no_match;          /* bbox on a collection without geometry */
} items_t;

static int parse_i64(const char *s, int64_t min, int64_t max, int64_t *v)
{
	char *end;
	errno = 0;
	long long x = strtoll(s, &end, 10);
	if (end == s || *end || errno || x < min || x > max)
		return -1;
	*v = x;
	return 0;
}

/* A CRS URI of the list; 0 on success with crs filled and resolved. */
static int crs_param(items_t *it, const char *s, kt_crs_t *crs)
{
	kt_crs_t c = {4326, KT_CRS_CRS84, 0};
	if (s && (kt_ows_crs_parse(s, &c) || c.form == KT_CRS_SHORT || c.form == KT_CRS_URN ||
	          !kt_ogcapi_crs_ok(c.epsg, kt_store_epsg(kt_ctx_store(it->ctx)))))
		return -1;
	if (kt_ows_crs_resolve(it->ctx, &c))
		return -1;
	*crs = c;
	return 0;
}

static int bad(items_t *it, const char *fmt, const char *arg)
{
	kt_respond_problem(it->req, 400, fmt, arg ? arg : "");
	return 1;
}

static int bbox_param(items_t *it, const char *s)
{
	char **v;
	long n = kt_kvp_split(&it->req->arena, s, ',', &v, 7);
	double d[6];
	if (n != 4 && n != 6)
		return bad(it, "bbox has 4 or 6 numbers, not '%s'", s);
	for (long i = 0; i < n; i++) {
		char *end;
		d[i] = strtod(v[i], &end);
		if (end == v[i] || *end)
			return bad(it, "bbox has 4 or 6 numbers, not '%s'", s);
	}
	double b[4] = {d[0], d[1], d[n / 2], d[n / 2 + 1]};
	kt_crs_t c;
	if (crs_param(it, kt_kvp_get(&it->kvp, "bbox-crs"), &c))
		return bad(it, "bbox-crs '%s' is not one of the collection's CRS", kt_kvp_get(&it->kvp, "bbox-crs"));
	if (c.swap) {
		double t[4] = {b[1], b[0], b[3], b[2]};
		memcpy(b, t, sizeof t);
	}
	if (c.epsg == 4326 && b[0] > b[2]) /* crossing the antimeridian: not here */
		return bad(it, "bbox crosses the antimeridian: '%s'", s);
	if (b[0] > b[2] || b[1] > b[3])
		return bad(it, "bbox min exceeds max: '%s'", s);
	if (it->l->geom_type == KT_GEOM_NONE) {
		it->no_match = 1;
		return 0;
	}
	kt_fes_env_t env = {it->ctx, it->l, kt_store_epsg(kt_ctx_store(it->ctx)), c};
	kt_ows_exc_t e;
	if (kt_fes_bbox_sql(&it->req->arena, &env, b, c.epsg, &it->where, &e))
		return bad(it, "bbox: %s", e.text);
	return 0;
}

static const kt_attr_def_t *date_attr(const kt_layer_t *l)
{
	for (size_t i = 0; i < l->n_attrs; i++)
		if (l->attrs[i].is_public &&
		    (l->attrs[i].type == KT_ATTR_DATE || l->attrs[i].type == KT_ATTR_DATETIME))
			return &l->attrs[i];
	return NULL;
}

/* One end of a datetime: column comparison against a bound literal. */
static void date_cmp(items_t *it, const kt_attr_def_t *d, const char *op, const char *lit)
{
	kt_sqlw_t *w = &it->where;
	int date_only = !strchr(lit, 'T');
	kt_sqlw_and(w);
	if (d->type == KT_ATTR_DATE || date_only)
		kt_sbuf_printf(&w->sql, "substr(\"%s\", 1, 10) %s ", d->name, op);
	else
		kt_sbuf_printf(&w->sql, "\"%s\" %s ", d->name, op);
	kt_sql_value_t v = {.type = KT_SQL_TEXT,
	                    .s = kt_arena_strndup(&it->req->arena, lit,
	                                          d->type == KT_ATTR_DATE || date_only ? 10 : strlen(lit))};
	kt_sqlw_bind(&it->req->arena, w, &v);
}

static int valid_time(const char *s)
{
	size_t n = strlen(s);
	if (n < 10 || s[4] != '-' || s[7] != '-')
		return 0;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return 0;
	return n == 10 || s[10] == 'T';
}

static int datetime_param(items_t *it, const char *s)
{
	const kt_attr_def_t *d = date_attr(it->l);
	if (!d)
		return bad(it, "collection %s has no temporal property: datetime cannot apply", it->l->name);
	const char *slash = strchr(s, '/');
	if (!slash) {
		if (!valid_time(s))
			return bad(it, "datetime '%s' is not an RFC 3339 date or date-time", s);
		date_cmp(it, d, "=", s);
		return 0;
	}
	char *a = kt_arena_strndup(&it->req->arena, s, (size_t)(slash - s));
	const char *b = slash + 1;
	int open_a = !*a || !strcmp(a, ".."), open_b = !*b || !strcmp(b, "..");
	if ((!open_a && !valid_time(a)) || (!open_b && !valid_time(b)) || (open_a && open_b))
		return bad(it, "datetime '%s' is not an RFC 3339 interval", s);
	if (!open_a)
		date_cmp(it, d, ">=", a);
	if (!open_b)
		date_cmp(it, d, "<=", b);
	return 0;
}

static int property_param(items_t *it, const char *key, const char *value)
{
	const kt_attr_def_t *d = kt_ows_public_attr(it->l, key);
	if (!d || strchr(key, ':'))
		return bad(it, "unknown parameter '%s'", key);
	kt_sql_value_t v;
	if (kt_sql_literal(d->type, value, &v))
		return bad(it, "'%s' is not a valid value for this property", value);
	kt_sqlw_and(&it->where);
	kt_sbuf_printf(&it->where.sql, "\"%s\" = ", d->name);
	return kt_sqlw_bind(&it->req->arena, &it->where, &v) ? bad(it, "out of memory%s", "") : 0;
}

/* Reads every parameter; 0, or 1 when a 400 was answered. */
static int parse_params(items_t *it)
{
	int64_t limit = LIMIT_DEFAULT, offset = 0;
	for (size_t i = 0; i < it->kvp.n; i++) {
		const char *k = it->kvp.v[i].key, *v = it->kvp.v[i].value;
		int rc = 0;
		if (!strcmp(k, "limit"))
			rc = parse_i64(v, 1, LIMIT_MAX, &limit) ? bad(it, "limit is 1..10000, not '%s'", v) : 0;
		else if (!strcmp(k, "offset"))
			rc = parse_i64(v, 0, INT64_MAX / 2, &offset) ? bad(it, "offset is >= 0, not '%s'", v) : 0;
		else if (!strcmp(k, "bbox"))
			rc = bbox_param(it, v);
		else if (!strcmp(k, "crs"))
			rc = crs_param(it, v, &it->crs) ? bad(it, "crs '%s' is not one of the collection's CRS", v) : 0;
		else if (!strcmp(k, "datetime"))
			rc = datetime_param(it, v);
		else if (!strcmp(k, "f") || !strcmp(k, "bbox-crs"))
			;
		else
			rc = property_param(it, k, v);
		if (rc)
			return rc;
	}
	if (kt_kvp_get(&it->kvp, "bbox-crs") && !kt_kvp_get(&it->kvp, "bbox"))
		return bad(it, "bbox-crs without bbox%s", "");
	it->sel.limit = limit;
	it->sel.offset = offset;
	return 0;
}

static int on_feature(const kt_feature_t *f, void *data)
{
	items_t *it = data;
	if (it->crs.swap && f->wkb) /* the feature is ours until we return */
		kt_wkb_swap_xy(f->wkb, f->wkb_len);
	json_t *j = kt_ows_feature_json(it->l, f, f->uid);
	if (!j || json_array_append_new(it->features, j)) {
		it->failed = 1;
		return 1;
	}
	it->returned++;
	return 0;
}

/* The items URL with the same query and another offset. */
static const char *page_url(items_t *it, int64_t offset, const char *f)
{
	kt_sbuf_t b = {0};
	kt_sbuf_printf(&b, "%s/collections/%s/items?", kt_ogcapi_base(it->req), it->l->name);
	for (size_t i = 0; i < it->kvp.n; i++) {
		if (!strcmp(it->kvp.v[i].key, "offset") || !strcmp(it->kvp.v[i].key, "f"))
			continue;
		kt_sbuf_url(&b, it->kvp.v[i].key);
		kt_sbuf_puts(&b, "=");
		kt_sbuf_url(&b, it->kvp.v[i].value);
		kt_sbuf_puts(&b, "&");
	}
	kt_sbuf_printf(&b, "offset=%lld&f=%s", (long long)offset, f);
	const char *s = b.oom ? NULL : kt_arena_strdup(&it->req->arena, b.p);
	kt_sbuf_release(&b);
	return s;
}

static json_t *items_links(items_t *it, int64_t matched)
{
	int html = kt_ogcapi_wants_html(it->req);
	int64_t off = it->sel.offset, lim = it->sel.limit;
	json_t *l = json_array();
	json_array_append_new(l, kt_ogcapi_link(page_url(it, off, html ? "html" : "json"), "self",
	                                        html ? "text/html" : "application/geo+json", "this page"));
	json_array_append_new(l, kt_ogcapi_link(page_url(it, off, html ? "json" : "html"), "alternate",
	                                        html ? "application/geo+json" : "text/html", "this page"));
	if (off + it->returned < matched)
		json_array_append_new(l, kt_ogcapi_link(page_url(it, off + it->returned, html ? "html" : "json"),
		                                        "next", html ? "text/html" : "application/geo+json",
		                                        "next page"));
	if (off > 0)
		json_array_append_new(l, kt_ogcapi_link(page_url(it, off > lim ? off - lim : 0,
		                                                  html ? "html" : "json"),
		                                        "prev", html ? "text/html" : "application/geo+json",
		                                        "previous page"));
	json_array_append_new(l, kt_ogcapi_link(kt_arena_printf(&it->req->arena, "%s/collections/%s",
	                                                        kt_ogcapi_base(it->req), it->l->name),
	                                        "collection", "application/json", "the collection"));
	return l;
}

static int start(items_t *it, kt_request_t *req)
{
	memset(it, 0, sizeof *it);
	it->req = req;
	if (kt_ogcapi_check_f(req) || req->resp)
		return 1;
	const char *id = kt_req_param(req, "id");
	it->l = kt_catalogue_public_layer(req->srv->store, id);
	if (!it->l) {
		kt_respond_problem(req, 404, "no collection '%s'", id);
		return 1;
	}
	const char *why = NULL;
	if (!(it->ctx = kt_req_ctx(req, &why))) {
		kt_respond_problem(req, 503, "the store cannot be opened: %s", why);
		return 1;
	}
	it->crs = (kt_crs_t){4326, KT_CRS_CRS84, 0};
	it->sel.layer = it->l;
	it->sel.where = &it->where;
	const char *q = strchr(req->target, '?');
	const char *why2 = NULL, *key = NULL;
	int rc = kt_kvp_parse(&req->arena, q ? q + 1 : "", q ? strcspn(q + 1, "#") : 0, &it->kvp,
	                      &why2, &key);
	if (rc == KT_ENOMEM)
		return rc;
	if (rc)
		return bad(it, "%s", why2);
	return parse_params(it);
}

static int answer(items_t *it, json_t *doc)
{
	char crs[128];
	snprintf(crs, sizeof crs, "<%s>", kt_ogcapi_crs_uri(&it->req->arena,
	                                                    it->crs.form == KT_CRS_CRS84 ? 0 : it->crs.epsg));
	int rc = kt_ogcapi_answer(it->req, doc, "application/geo+json",
	                          it->l->title ? it->l->title : it->l->name);
	if (!rc && it->req->status == 200 && it->l->geom_type != KT_GEOM_NONE)
		rc = kt_respond_header(it->req, "Content-Crs", crs);
	return rc;
}

int kt_ogcapi_items(kt_request_t *req)
{
	items_t it;
	int rc = start(&it, req);
	if (rc)
		kt_sbuf_release(&it.where.sql);
	if (rc)
		return rc > 0 ? 0 : rc;
	it.sel.out_epsg = it.crs.epsg;
	kt_select_t s;
	int64_t matched = 0;
	it.features = json_array();
	rc = it.features ? kt_ows_select_prepare(&req->arena, &it.sel, &s) : KT_ENOMEM;
	if (!rc && !it.no_match)
		rc = kt_features_select_count(it.ctx, &s, &matched);
	if (!rc && matched)
		rc = kt_features_select(it.ctx, &s, on_feature, &it);
	kt_sbuf_release(&it.where.sql);
	if (rc || it.failed) {
		json_decref(it.features);
		return kt_respond_problem(req, 500, "the features could not be read (%s)",
		                          kt_errmsg(it.ctx));
	}
	char now[32];
	kt_now_iso(now);
	json_t *doc = json_pack("{s:s, s:o, s:I, s:I, s:s, s:o}", "type", "FeatureCollection",
	                        "features", it.features, "numberMatched", (json_int_t)matched,
	                        "numberReturned", (json_int_t)it.returned, "timeStamp", now,
	                        "links", items_links(&it, matched));
	return answer(&it, doc);
}

int kt_ogcapi_item(kt_request_t *req)
{
	items_t it;
	int rc = start(&it, req);
	for (size_t i = 0; !rc && i < it.kvp.n; i++) /* only f and crs make sense here */
		if (strcmp(it.kvp.v[i].key, "f") && strcmp(it.kvp.v[i].key, "crs"))
			rc = bad(&it, "unknown parameter '%s'", it.kvp.v[i].key);
	if (rc) {
		kt_sbuf_release(&it.where.sql);
		return rc > 0 ? 0 : rc;
	}
	kt_sqlw_t w = {0};
	kt_sql_value_t v = {.type = KT_SQL_TEXT, .s = kt_req_param(req, "fid")};
	kt_sbuf_puts(&w.sql, "uid = ");
	kt_sqlw_bind(&req->arena, &w, &v);
	it.sel.where = &w;
	it.sel.has_bbox = 0;
	it.sel.limit = 1;
	it.sel.offset = 0;
	it.sel.out_epsg = it.crs.epsg;
	kt_select_t s;
	it.features = json_array();
	rc = it.features ? kt_ows_select_prepare(&req->arena, &it.sel, &s) : KT_ENOMEM;
	if (!rc)
		rc = kt_features_select(it.ctx, &s, on_feature, &it);
	kt_sbuf_release(&w.sql);
	kt_sbuf_release(&it.where.sql);
	json_t *f = json_incref(json_array_get(it.features, 0));
	json_decref(it.features);
	if (rc || it.failed) {
		json_decref(f);
		return kt_respond_problem(req, 500, "the feature could not be read");
	}
	if (!f)
		return kt_respond_problem(req, 404, "no feature '%s' in collection '%s'",
		                          kt_req_param(req, "fid"), it.l->name);
	const char *url = kt_arena_printf(&req->arena, "%s/collections/%s/items/%s",
	                                  kt_ogcapi_base(req), it.l->name, kt_req_param(req, "fid"));
	json_t *links = json_array();
	int html = kt_ogcapi_wants_html(req);
	json_array_append_new(links, kt_ogcapi_link(kt_arena_printf(&req->arena, "%s?f=%s", url,
	                                                            html ? "html" : "json"),
	                                            "self", html ? "text/html" : "application/geo+json",
	                                            "this feature"));
	json_array_append_new(links, kt_ogcapi_link(kt_arena_printf(&req->arena, "%s?f=%s", url,
	                                                            html ? "json" : "html"),
	                                            "alternate", html ? "application/geo+json" : "text/html",
	                                            "this feature"));
	json_array_append_new(links, kt_ogcapi_link(kt_arena_printf(&req->arena, "%s/collections/%s",
	                                                            kt_ogcapi_base(req), it.l->name),
	                                            "collection", "application/json", "the collection"));
	json_object_set_new(f, "links", links);
	return answer(&it, f);
}
