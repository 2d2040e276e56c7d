/*
 * wfs_getfeature.c — GetFeature (and the GetFeatureById stored query):
 * counts, paging across the queries of a request, and the answer in GML
 * 3.2, GML 3.1.1 or GeoJSON.
 *
 * Order of work: resolve srsName and the BBOX CRS (axis order), turn each
 * query's filter into SQL (fes_sql.c), read the page [startIndex,
 * startIndex + count) across the queries in order, writing each feature
 * as it comes, then count what the page did not (numberMatched): a query
 * read from its start that gave fewer features than asked needs no
 * COUNT(*). Features are written with
 * their public attributes only (the DescribeFeatureType order) and their
 * geometry in the asked CRS; the envelope of the answer is built from the
 * members, then header and members are put together, so numberReturned is
 * what was really written. A next (and previous) link is given for GET
 * requests when the page does not reach the end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "kt_ows_int.h"

typedef struct gf {
	kt_request_t *req;
	kt_wfs_req_t *w;
	kt_ctx_t *ctx;
	kt_sqlw_t *where;        /* one per query */
	int64_t *matched;        /* one per query */
	int64_t total, returned;
	const kt_layer_t *layer; /* of the query being read */
	kt_sbuf_t out;           /* the members */
	char srs_name[96];
	int failed;              /* a geometry could not be written */
} gf_t;

/* Answers an exception; returns 1 (answered) or a negative code. */
static int fail(gf_t *g, const char *code, const char *locator, const char *text)
{
	kt_ows_exc_t e = {code, locator, text};
	kt_sbuf_release(&g->out);
	int rc = kt_ows_respond_exc(g->req, g->w->version, &e);
	return rc ? rc : 1;
}

/* gml:id values are NCNames: anything else in a uid becomes '_'. */
static const char *gml_id(gf_t *g, const kt_layer_t *l, const char *uid)
{
	char *id = kt_arena_printf(&g->req->arena, "%s.%s", l->name, uid ? uid : "");
	for (char *p = id; p && *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '.' || *p == '-' || *p == '_' || (unsigned char)*p >= 0x80))
			*p = '_';
	return id;
}

static void gml_feature(gf_t *g, const kt_feature_t *f, const char *id)
{
	const kt_layer_t *l = g->layer;
	kt_sbuf_t *b = &g->out;
	kt_sbuf_printf(b, "<" KT_OWS_PREFIX ":%s gml:id=\"", l->name);
	kt_sbuf_xml(b, id);
	kt_sbuf_puts(b, "\">");
	for (size_t i = 0; i < l->n_attrs && i < f->n_values; i++) {
		if (!l->attrs[i].is_public || f->values[i].is_null)
			continue;
		kt_sbuf_printf(b, "<" KT_OWS_PREFIX ":%s>", l->attrs[i].name);
		kt_xml_value(b, &f->values[i]);
		kt_sbuf_printf(b, "</" KT_OWS_PREFIX ":%s>", l->attrs[i].name);
	}
	if (f->wkb && f->wkb_len) {
		kt_gml_opts_t o = {g->w->format == KT_FMT_GML32, g->w->srs.swap, g->srs_name, id};
		kt_sbuf_puts(b, "<" KT_OWS_PREFIX ":geom>");
		if (kt_gml_write(b, f->wkb, f->wkb_len, &o))
			g->failed = 1;
		kt_sbuf_puts(b, "</" KT_OWS_PREFIX ":geom>");
	}
	kt_sbuf_printf(b, "</" KT_OWS_PREFIX ":%s>", l->name);
}

static int on_feature(const kt_feature_t *f, void *data)
{
	gf_t *g = data;
	const char *id = gml_id(g, g->layer, f->uid);
	if (!id)
		return 1;
	g->returned++;
	if (g->w->format == KT_FMT_GEOJSON) {
		if (g->w->by_id && g->returned > 1)
			return 0; /* GetFeatureById answers the first */
		if (g->returned > 1)
			kt_sbuf_put(&g->out, ",", 1);
		if (kt_ows_feature_geojson(&g->out, g->layer, f, id))
			g->failed = 1;
		return g->out.oom || g->failed;
	}
	if (!g->w->by_id)
		kt_sbuf_puts(&g->out, g->w->v2 ? "<wfs:member>" : "<gml:featureMember>");
	gml_feature(g, f, id);
	if (!g->w->by_id)
		kt_sbuf_puts(&g->out, g->w->v2 ? "</wfs:member>" : "</gml:featureMember>");
	return g->out.oom || g->failed;
}

/* Resolves the CRS names and brings the BBOX to x/y order. */
static int crs_setup(gf_t *g)
{
	kt_wfs_req_t *w = g->w;
	if (!w->srs.epsg)
		w->srs.form = KT_CRS_URN; /* the DefaultCRS, named as advertised */
	if (kt_ows_crs_resolve(g->ctx, &w->srs))
		return fail(g, "InvalidParameterValue", "srsName", "this CRS is not supported");
	kt_ows_crs_name(&w->srs, g->srs_name, sizeof g->srs_name);
	if (w->has_bbox) {
		if (!w->bbox_crs.epsg)
			w->bbox_crs = w->srs;
		if (kt_ows_crs_resolve(g->ctx, &w->bbox_crs))
			return fail(g, "InvalidParameterValue", "bbox", "the CRS of BBOX is not supported");
		if (w->bbox_crs.swap) {
			double b[4] = {w->bbox[1], w->bbox[0], w->bbox[3], w->bbox[2]};
			memcpy(w->bbox, b, sizeof b);
		}
	}
	return 0;
}

static void select_of(gf_t *g, size_t i, kt_ows_select_t *s)
{
	kt_wfs_req_t *w = g->w;
	memset(s, 0, sizeof *s);
	s->layer = w->queries[i].layer;
	s->where = &g->where[i];
	s->sort = w->queries[i].sort;
	s->n_sort = w->queries[i].n_sort;
	s->out_epsg = w->srs.epsg; /* the BBOX is in g->where (prepare_all) */
}

/* Turns every query's filter and BBOX into SQL (g->where); nothing is
 * counted yet (g->matched[i] = -1). */
static int prepare_all(gf_t *g)
{
	kt_wfs_req_t *w = g->w;
	kt_arena_t *a = &g->req->arena;
	int store = kt_store_epsg(kt_ctx_store(g->ctx));
	g->where = kt_arena_alloc(a, (w->n_queries + 1) * sizeof *g->where);
	g->matched = kt_arena_alloc(a, (w->n_queries + 1) * sizeof *g->matched);
	if (!g->where || !g->matched)
		return KT_ENOMEM;
	memset(g->where, 0, (w->n_queries + 1) * sizeof *g->where);
	for (size_t i = 0; i < w->n_queries; i++) {
		kt_wfs_query_t *q = &w->queries[i];
		kt_fes_env_t env = {g->ctx, q->layer, store, w->srs};
		kt_ows_exc_t e;
		int skip = q->layer->geom_type == KT_GEOM_NONE && w->has_bbox; /* matches nothing */
		g->matched[i] = skip ? 0 : -1;
		if (!skip && ((q->filter && kt_fes_sql(a, &env, q->filter, &g->where[i], &e)) ||
		              (w->has_bbox && kt_fes_bbox_sql(a, &env, w->bbox, w->bbox_crs.epsg,
		                                              &g->where[i], &e)))) {
			kt_sbuf_release(&g->where[i].sql);
			return fail(g, e.code, e.locator, e.text);
		}
	}
	return 0;
}

/* Counts query i unless its count is known. */
static int count_one(gf_t *g, size_t i)
{
	if (g->matched[i] >= 0)
		return 0;
	kt_ows_select_t os;
	kt_select_t s;
	select_of(g, i, &os);
	int rc = kt_ows_select_prepare(&g->req->arena, &os, &s);
	if (!rc)
		rc = kt_features_select_count(g->ctx, &s, &g->matched[i]);
	if (rc == KT_ENOMEM)
		return rc;
	if (rc) {
		dprintf(2, "kartenn: %s: %s\n", __func__, kt_errmsg(g->ctx));
		return fail(g, "OperationProcessingFailed", NULL, "the query could not be run");
	}
	return 0;
}

/* numberMatched: the sum of every query's count, counting those whose
 * count the page did not give. */
static int count_rest(gf_t *g)
{
	g->total = 0;
	for (size_t i = 0; i < g->w->n_queries; i++) {
		int rc = count_one(g, i);
		if (rc)
			return rc;
		g->total += g->matched[i];
	}
	return 0;
}

/* Reads [start, start + count) across the queries. A query read from its
 * first feature that gives fewer than asked has been read whole: that is
 * its count, and the COUNT(*) of the same select (as costly as the read
 * itself) is saved; the others are counted (count_rest). */
static int read_page(gf_t *g)
{
	kt_wfs_req_t *w = g->w;
	int64_t skip = w->start;
	int64_t left = w->count >= 0 ? w->count : KT_OWS_MAX_FEATURES;
	for (size_t i = 0; i < w->n_queries && left > 0; i++) {
		if (skip > 0) {
			int rc = count_one(g, i);
			if (rc)
				return rc;
			if (skip >= g->matched[i]) {
				skip -= g->matched[i];
				continue;
			}
		}
		if (g->matched[i] == 0)
			continue;
		kt_ows_select_t os;
		kt_select_t s;
		select_of(g, i, &os);
		os.offset = skip;
		os.limit = left;
		int from_first = skip == 0;
		skip = 0;
		g->layer = w->queries[i].layer;
		int64_t before = g->returned;
		int rc = kt_ows_select_prepare(&g->req->arena, &os, &s);
		if (!rc)
			rc = kt_features_select(g->ctx, &s, on_feature, g);
		if (rc == KT_ENOMEM || g->out.oom)
			return KT_ENOMEM;
		if (rc || g->failed) {
			dprintf(2, "kartenn: %s: %s\n", __func__, kt_errmsg(g->ctx));
			return fail(g, "OperationProcessingFailed", NULL, "the features could not be read");
		}
		int64_t n = g->returned - before;
		if (from_first && n < left && g->matched[i] < 0)
			g->matched[i] = n;
		left -= n;
	}
	return 0;
}

/* The GET URL of the same request at another startIndex. */
static const char *page_link(gf_t *g, int64_t start)
{
	kt_sbuf_t b = {0};
	kt_sbuf_printf(&b, "%s/wfs?", kt_ows_base_url(g->req));
	const kt_kvp_t *k = g->w->kvp;
	for (size_t i = 0; i < k->n; i++) {
		if (!strcasecmp(k->v[i].key, "STARTINDEX"))
			continue;
		kt_sbuf_url(&b, k->v[i].key);
		kt_sbuf_puts(&b, "=");
		kt_sbuf_url(&b, k->v[i].value);
		kt_sbuf_puts(&b, "&");
	}
	kt_sbuf_printf(&b, "STARTINDEX=%lld", (long long)start);
	const char *s = b.oom ? NULL : kt_arena_strdup(&g->req->arena, b.p);
	kt_sbuf_release(&b);
	return s;
}

static void links(gf_t *g, const char **next, const char **prev)
{
	kt_wfs_req_t *w = g->w;
	*next = *prev = NULL;
	if (!w->kvp || w->hits || w->by_id)
		return;
	if (w->start + g->returned < g->total && w->count >= 0)
		*next = page_link(g, w->start + g->returned);
	if (w->start > 0 && w->count > 0)
		*prev = page_link(g, w->start > w->count ? w->start - w->count : 0);
}

static void iso_now(char out[32])
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int answer_geojson(gf_t *g)
{
	kt_wfs_req_t *w = g->w;
	const char *next, *prev;
	links(g, &next, &prev);
	char now[32];
	iso_now(now);
	json_t *j = json_pack("{s:s, s:I, s:I, s:s}", "type", "FeatureCollection", "numberMatched",
	                      (json_int_t)g->total, "numberReturned",
	                      (json_int_t)(w->hits ? 0 : g->returned), "timeStamp", now);
	if (!j)
		return KT_ENOMEM;
	if (!(w->srs.epsg == 4326 && !w->srs.swap))
		json_object_set_new(j, "crs", json_pack("{s:s, s:{s:s}}", "type", "name", "properties",
		                                        "name", g->srs_name));
	json_t *l = json_array();
	if (next)
		json_array_append_new(l, json_pack("{s:s, s:s, s:s}", "href", next, "rel", "next", "type",
		                                   "application/json"));
	if (prev)
		json_array_append_new(l, json_pack("{s:s, s:s, s:s}", "href", prev, "rel", "prev", "type",
		                                   "application/json"));
	json_object_set_new(j, "links", l);
	if (w->by_id) { /* the feature alone */
		json_decref(j);
		size_t len;
		char *body = g->out.oom ? NULL : kt_sbuf_take(&g->out, &len);
		kt_sbuf_release(&g->out);
		return body ? kt_respond(g->req, 200, "application/json", body, len, KT_BUF_KT_FREE)
		            : KT_ENOMEM;
	}
	/* the members are text already (on_feature): the header is dumped
	 * and the features spliced in as its last member */
	char *head = json_dumps(j, KT_JSON_FLAGS);
	json_decref(j);
	kt_sbuf_t b = {0};
	if (head && strlen(head) > 2) {
		kt_sbuf_put(&b, head, strlen(head) - 1); /* without its '}' */
		kt_sbuf_puts(&b, ",\"features\":[");
		if (!w->hits && g->out.len)
			kt_sbuf_put(&b, g->out.p, g->out.len);
		kt_sbuf_puts(&b, "]}");
	}
	free(head);
	kt_sbuf_release(&g->out);
	size_t len;
	char *body = head && !b.oom ? kt_sbuf_take(&b, &len) : NULL;
	kt_sbuf_release(&b);
	if (!body)
		return KT_ENOMEM;
	return kt_respond(g->req, 200, "application/json", body, len, KT_BUF_KT_FREE);
}

static void gml_root(gf_t *g, kt_sbuf_t *b, const char *next, const char *prev)
{
	kt_wfs_req_t *w = g->w;
	char now[32];
	iso_now(now);
	kt_sbuf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	if (w->v2)
		kt_sbuf_puts(b, "<wfs:FeatureCollection xmlns:wfs=\"http://www.opengis.net/wfs/2.0\" "
		                "xmlns:gml=\"http://www.opengis.net/gml/3.2\" ");
	else
		kt_sbuf_puts(b, "<wfs:FeatureCollection xmlns:wfs=\"http://www.opengis.net/wfs\" "
		                "xmlns:gml=\"http://www.opengis.net/gml\" ");
	kt_sbuf_printf(b, "xmlns:" KT_OWS_PREFIX "=\"" KT_OWS_NS "\" "
	                  "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
	                  "xsi:schemaLocation=\"%s %s\" timeStamp=\"%s\" ",
	               w->v2 ? "http://www.opengis.net/wfs/2.0" : "http://www.opengis.net/wfs",
	               w->v2 ? "http://schemas.opengis.net/wfs/2.0/wfs.xsd"
	                     : "http://schemas.opengis.net/wfs/1.1.0/wfs.xsd", now);
	if (w->v2)
		kt_sbuf_printf(b, "numberMatched=\"%lld\" numberReturned=\"%lld\"", (long long)g->total,
		               (long long)(w->hits ? 0 : g->returned));
	else
		kt_sbuf_printf(b, "numberOfFeatures=\"%lld\"",
		               (long long)(w->hits ? g->total : g->returned));
	if (next) {
		kt_sbuf_puts(b, " next=\"");
		kt_sbuf_xml(b, next);
		kt_sbuf_puts(b, "\"");
	}
	if (prev) {
		kt_sbuf_puts(b, " previous=\"");
		kt_sbuf_xml(b, prev);
		kt_sbuf_puts(b, "\"");
	}
	kt_sbuf_puts(b, ">");
}

static int answer_gml(gf_t *g)
{
	kt_wfs_req_t *w = g->w;
	kt_sbuf_t b = {0};
	if (w->by_id) { /* the feature itself, with its namespaces */
		const char *gmlns = w->v2 ? "http://www.opengis.net/gml/3.2" : "http://www.opengis.net/gml";
		char *p = g->out.p ? strchr(g->out.p, ' ') : NULL;
		if (!p)
			return KT_EINTERNAL;
		kt_sbuf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
		kt_sbuf_put(&b, g->out.p, (size_t)(p - g->out.p));
		kt_sbuf_printf(&b, " xmlns:gml=\"%s\" xmlns:" KT_OWS_PREFIX "=\"" KT_OWS_NS "\"", gmlns);
		kt_sbuf_puts(&b, p);
	} else {
		const char *next, *prev;
		links(g, &next, &prev);
		gml_root(g, &b, next, prev);
		if (g->out.len)
			kt_sbuf_put(&b, g->out.p, g->out.len);
		kt_sbuf_puts(&b, "</wfs:FeatureCollection>\n");
	}
	kt_sbuf_release(&g->out);
	size_t len;
	char *body = kt_sbuf_take(&b, &len);
	if (!body)
		return KT_ENOMEM;
	return kt_respond(g->req, 200,
	                  w->format == KT_FMT_GML32 ? "application/gml+xml; version=3.2"
	                                            : "text/xml; subtype=gml/3.1.1",
	                  body, len, KT_BUF_KT_FREE);
}

int kt_wfs_getfeature(kt_request_t *req, kt_wfs_req_t *w)
{
	gf_t g = {.req = req, .w = w};
	const char *why = NULL;
	if (!(g.ctx = kt_req_ctx(req, &why)))
		return fail(&g, "NoApplicableCode", NULL, why) > 0 ? 0 : KT_ENOMEM;
	int rc = crs_setup(&g);
	if (!rc)
		rc = prepare_all(&g);
	if (!rc && !w->hits)
		rc = read_page(&g);
	if (!rc)
		rc = count_rest(&g);
	for (size_t i = 0; g.where && i < w->n_queries; i++)
		kt_sbuf_release(&g.where[i].sql);
	if (rc) {
		kt_sbuf_release(&g.out);
		return rc > 0 ? 0 : rc;
	}
	if (w->by_id && g.returned == 0) {
		rc = fail(&g, "NotFound", "ID", "no feature with this identifier");
		return rc > 0 ? 0 : rc;
	}
	req->cache_control = "public, max-age=30";
	return w->format == KT_FMT_GEOJSON ? answer_geojson(&g) : answer_gml(&g);
}
