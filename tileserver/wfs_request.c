/*
 * wfs_request.c — a WFS request from its KVP encoding (GET, or a POST
 * form) into a kt_wfs_req_t, with the exception each mistake deserves.
 *
 * The same structure comes out of the XML encoding (wfs_xml.c), so the
 * operations (wfs_*.c) never look at the encoding. Checks done here:
 * operation and version (MissingParameterValue, OperationNotSupported,
 * InvalidParameterValue, VersionNegotiationFailed for AcceptVersions),
 * type names against the public catalogue, numbers, result type, output
 * format, BBOX, SORTBY against public attributes, FILTER syntax, and the
 * mutual exclusions of WFS 2.0 (BBOX / FILTER / RESOURCEID).
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kt_ows_int.h"

#define MAX_TYPES 64

static const char *const unsupported_ops[] = {
	"Transaction", "LockFeature", "GetFeatureWithLock", "GetPropertyValue",
	"CreateStoredQuery", "DropStoredQuery", "GetGmlObject", NULL,
};

kt_wfs_format_t kt_wfs_format(const char *name, int v2)
{
	if (!name || !*name)
		return v2 ? KT_FMT_GML32 : KT_FMT_GML31;
	char n[96];
	size_t o = 0;
	for (const char *p = name; *p && o + 1 < sizeof n; p++)
		if (!isspace((unsigned char)*p) && *p != '"')
			n[o++] = (char)tolower((unsigned char)*p);
	n[o] = 0;
	static const struct {
		const char *name;
		kt_wfs_format_t f;
	} fmts[] = {
		{"application/gml+xml;version=3.2", KT_FMT_GML32}, {"application/gml+xml", KT_FMT_GML32},
		{"text/xml;subtype=gml/3.2", KT_FMT_GML32},       {"text/xml;subtype=gml/3.2.1", KT_FMT_GML32},
		{"gml32", KT_FMT_GML32},                          {"text/xml;subtype=gml/3.1.1", KT_FMT_GML31},
		{"gml3", KT_FMT_GML31},                           {"gml31", KT_FMT_GML31},
		{"application/json", KT_FMT_GEOJSON},             {"application/geo+json", KT_FMT_GEOJSON},
		{"json", KT_FMT_GEOJSON},                         {"geojson", KT_FMT_GEOJSON},
	};
	for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++)
		if (!strcmp(n, fmts[i].name))
			return fmts[i].f;
	if (!strcmp(n, "text/xml") || !strcmp(n, "application/xml"))
		return v2 ? KT_FMT_GML32 : KT_FMT_GML31;
	return 0;
}

static int parse_int(const char *s, int64_t *v)
{
	char *end;
	errno = 0;
	long long x = strtoll(s, &end, 10);
	if (end == s || *end || errno || x < 0)
		return -1;
	*v = x;
	return 0;
}

int kt_wfs_add_query(kt_arena_t *a, kt_wfs_req_t *w, const kt_store_t *store, const char *name,
                     const char *locator, kt_ows_exc_t *e)
{
	const kt_layer_t *l = kt_ows_public_layer(store, name);
	if (!l)
		return kt_ows_fail(e, a, "InvalidParameterValue", locator,
		                   "unknown feature type \"%s\"", name);
	if (w->n_queries >= MAX_TYPES)
		return kt_ows_fail(e, a, "InvalidParameterValue", locator, "too many feature types");
	kt_wfs_query_t *q = kt_arena_alloc(a, (w->n_queries + 1) * sizeof *q);
	if (!q)
		return KT_ENOMEM;
	if (w->n_queries)
		memcpy(q, w->queries, w->n_queries * sizeof *q);
	memset(&q[w->n_queries], 0, sizeof *q);
	q[w->n_queries].layer = l;
	w->queries = q;
	w->n_queries++;
	return 0;
}

int kt_wfs_add_rids(kt_arena_t *a, kt_wfs_req_t *w, const kt_store_t *store, char **rids,
                    size_t n, kt_ows_exc_t *e)
{
	for (size_t i = 0; i < n; i++) {
		const char *dot = strchr(rids[i], '.');
		char *lname = dot ? kt_arena_strndup(a, rids[i], (size_t)(dot - rids[i])) : NULL;
		if (!lname || !*rids[i])
			return kt_ows_fail(e, a, "InvalidParameterValue", "RESOURCEID",
			                   "\"%s\" is not an identifier of this service (type.uid)", rids[i]);
		const kt_layer_t *l = kt_ows_public_layer(store, lname);
		if (!l)
			continue; /* no such public feature: it matches nothing */
		kt_wfs_query_t *q = NULL;
		for (size_t k = 0; k < w->n_queries; k++)
			if (w->queries[k].layer == l)
				q = &w->queries[k];
		if (!q) {
			if (kt_wfs_add_query(a, w, store, l->name, "RESOURCEID", e))
				return KT_EINVAL;
			q = &w->queries[w->n_queries - 1];
			if (!(q->filter = kt_arena_alloc(a, sizeof *q->filter)))
				return KT_ENOMEM;
			memset(q->filter, 0, sizeof *q->filter);
			q->filter->kind = KT_FES_RID;
			if (!(q->filter->rids = kt_arena_alloc(a, n * sizeof *q->filter->rids)))
				return KT_ENOMEM;
		}
		q->filter->rids[q->filter->n_rids++] = rids[i];
	}
	return 0;
}

int kt_wfs_sortby(kt_arena_t *a, const kt_layer_t *l, const char *s, kt_wfs_query_t *q,
                  kt_ows_exc_t *e)
{
	char **keys;
	long n = kt_kvp_split(a, s, ',', &keys, 16);
	if (n < 0)
		return KT_ENOMEM;
	q->sort = kt_arena_alloc(a, (size_t)n * sizeof *q->sort);
	if (!q->sort)
		return KT_ENOMEM;
	q->n_sort = 0;
	for (long i = 0; i < n; i++) {
		char *sp = strpbrk(keys[i], " \t");
		const char *dir = sp ? sp + strspn(sp, " \t") : "";
		if (sp)
			*sp = 0;
		const kt_attr_def_t *d = kt_ows_public_attr(l, keys[i]);
		if (!d)
			return kt_ows_fail(e, a, "InvalidParameterValue", "sortBy",
			                   "feature type %s has no property \"%s\" to sort on", l->name, keys[i]);
		int desc = !strcasecmp(dir, "DESC") || !strcasecmp(dir, "D");
		if (!desc && *dir && strcasecmp(dir, "ASC") && strcasecmp(dir, "A"))
			return kt_ows_fail(e, a, "InvalidParameterValue", "sortBy",
			                   "sort order \"%s\" is neither ASC nor DESC", dir);
		q->sort[q->n_sort].attr = d->name;
		q->sort[q->n_sort++].desc = desc;
	}
	return 0;
}

/* VERSION / ACCEPTVERSIONS into w->version. */
static int version(kt_arena_t *a, const kt_kvp_t *k, kt_wfs_req_t *w, kt_ows_exc_t *e)
{
	const char *v = kt_kvp_get(k, "VERSION");
	if (w->op == KT_WFS_GETCAPABILITIES) {
		const char *acc = kt_kvp_get(k, "ACCEPTVERSIONS");
		char **vs;
		long n = acc ? kt_kvp_split(a, acc, ',', &vs, 16) : 0;
		for (long i = 0; i < n; i++)
			if (!strcmp(vs[i], "2.0.0") || !strcmp(vs[i], "2.0.2") || !strcmp(vs[i], "1.1.0")) {
				w->v2 = vs[i][0] == '2';
				return 0;
			}
		if (acc)
			return kt_ows_fail(e, a, "VersionNegotiationFailed", NULL,
			                   "none of the versions \"%s\" is supported (2.0.0, 1.1.0)", acc);
		w->v2 = !(v && v[0] == '1');
		return 0;
	}
	if (!v || !*v)
		return kt_ows_fail(e, a, "MissingParameterValue", "version", "VERSION is required");
	if (!strcmp(v, "2.0.0") || !strcmp(v, "2.0.2"))
		w->v2 = 1;
	else if (!strcmp(v, "1.1.0"))
		w->v2 = 0;
	else
		return kt_ows_fail(e, a, "InvalidParameterValue", "version",
		                   "version \"%s\" is not supported (2.0.0, 1.1.0)", v);
	return 0;
}

static int operation(kt_arena_t *a, const char *r, kt_wfs_req_t *w, kt_ows_exc_t *e)
{
	static const struct {
		const char *name;
		kt_wfs_op_t op;
	} ops[] = {
		{"GetCapabilities", KT_WFS_GETCAPABILITIES}, {"DescribeFeatureType", KT_WFS_DESCRIBEFEATURETYPE},
		{"GetFeature", KT_WFS_GETFEATURE},           {"ListStoredQueries", KT_WFS_LISTSTOREDQUERIES},
		{"DescribeStoredQueries", KT_WFS_DESCRIBESTOREDQUERIES},
	};
	if (!r || !*r)
		return kt_ows_fail(e, a, "MissingParameterValue", "request", "REQUEST is required");
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
		if (!strcasecmp(r, ops[i].name)) {
			w->op = ops[i].op;
			return 0;
		}
	for (int i = 0; unsupported_ops[i]; i++)
		if (!strcasecmp(r, unsupported_ops[i]))
			return kt_ows_fail(e, a, "OperationNotSupported", unsupported_ops[i],
			                   "%s is not offered by this read-only service", unsupported_ops[i]);
	return kt_ows_fail(e, a, "OperationNotSupported", r, "unknown operation \"%s\"", r);
}

static int type_list(kt_request_t *req, const char *names, const char *locator, kt_wfs_req_t *w,
                     kt_ows_exc_t *e)
{
	char **v;
	long n = kt_kvp_split(&req->arena, names, ',', &v, MAX_TYPES + 1);
	if (n < 0)
		return KT_ENOMEM;
	for (long i = 0; i < n; i++) {
		char *t = v[i];
		size_t len = strlen(t);
		if (len >= 2 && t[0] == '(' && t[len - 1] == ')') { /* "(a)" groups: one type each */
			t[len - 1] = 0;
			t++;
		}
		if (kt_wfs_add_query(&req->arena, w, req->srv->store, t, locator, e))
			return KT_EINVAL;
	}
	return 0;
}

static int getfeature_types(kt_request_t *req, const kt_kvp_t *k, kt_wfs_req_t *w, kt_ows_exc_t *e)
{
	kt_arena_t *a = &req->arena;
	const char *sq = kt_kvp_get(k, "STOREDQUERY_ID");
	const char *tn = kt_kvp_get(k, "TYPENAMES");
	const char *tloc = "typeNames";
	if (!tn) {
		tn = kt_kvp_get(k, "TYPENAME");
		tloc = "typeName";
	}
	const char *rid = kt_kvp_get(k, "RESOURCEID");
	if (!rid)
		rid = kt_kvp_get(k, "FEATUREID");
	if (sq) {
		if (strcmp(sq, KT_WFS_GETFEATUREBYID))
			return kt_ows_fail(e, a, "InvalidParameterValue", "STOREDQUERY_ID",
			                   "unknown stored query \"%s\"", sq);
		const char *id = kt_kvp_get(k, "ID");
		if (!id || !*id)
			return kt_ows_fail(e, a, "MissingParameterValue", "ID",
			                   "GetFeatureById needs the ID parameter");
		w->by_id = 1;
		char *one[1] = {kt_arena_strdup(a, id)};
		return one[0] ? kt_wfs_add_rids(a, w, req->srv->store, one, 1, e) : KT_ENOMEM;
	}
	if (rid) {
		if (kt_kvp_get(k, "FILTER") || kt_kvp_get(k, "BBOX"))
			return kt_ows_fail(e, a, "InvalidParameterValue", "RESOURCEID",
			                   "RESOURCEID, FILTER and BBOX are mutually exclusive");
		char **ids;
		long n = kt_kvp_split(a, rid, ',', &ids, 10000);
		if (n < 0 || kt_wfs_add_rids(a, w, req->srv->store, ids, (size_t)n, e))
			return n < 0 ? KT_ENOMEM : KT_EINVAL;
		if (tn) { /* keep only the queries of the types named */
			for (size_t i = 0; i < w->n_queries; i++)
				if (!strstr(tn, w->queries[i].layer->name))
					w->queries[i].filter->n_rids = 0;
		}
		if (!w->n_queries && tn)
			return type_list(req, tn, tloc, w, e); /* ids of other types: nothing matches */
		return 0;
	}
	if (!tn || !*tn)
		return kt_ows_fail(e, a, "MissingParameterValue", w->v2 ? "typeNames" : "typeName",
		                   "GetFeature needs TYPENAMES (or RESOURCEID, STOREDQUERY_ID)");
	return type_list(req, tn, tloc, w, e);
}

static int getfeature_options(kt_request_t *req, const kt_kvp_t *k, kt_wfs_req_t *w,
                              kt_ows_exc_t *e)
{
	kt_arena_t *a = &req->arena;
	const char *s;
	w->count = -1;
	if ((s = kt_kvp_get(k, w->v2 ? "COUNT" : "MAXFEATURES")) ||
	    (s = kt_kvp_get(k, w->v2 ? "MAXFEATURES" : "COUNT")))
		if (parse_int(s, &w->count))
			return kt_ows_fail(e, a, "InvalidParameterValue", w->v2 ? "count" : "maxFeatures",
			                   "\"%s\" is not a non-negative integer", s);
	if ((s = kt_kvp_get(k, "STARTINDEX")) && parse_int(s, &w->start))
		return kt_ows_fail(e, a, "InvalidParameterValue", "startIndex",
		                   "\"%s\" is not a non-negative integer", s);
	if ((s = kt_kvp_get(k, "RESULTTYPE"))) {
		if (!strcasecmp(s, "hits"))
			w->hits = 1;
		else if (strcasecmp(s, "results"))
			return kt_ows_fail(e, a, "InvalidParameterValue", "resultType",
			                   "resultType is results or hits, not \"%s\"", s);
	}
	s = kt_kvp_get(k, "OUTPUTFORMAT");
	if (!(w->format = kt_wfs_format(s, w->v2)))
		return kt_ows_fail(e, a, "InvalidParameterValue", "outputFormat",
		                   "output format \"%s\" is not offered", s);
	if ((s = kt_kvp_get(k, "SRSNAME")) && kt_ows_crs_parse(s, &w->srs))
		return kt_ows_fail(e, a, "InvalidParameterValue", "srsName", "unknown CRS \"%s\"", s);
	if ((s = kt_kvp_get(k, "BBOX"))) {
		const char *crs;
		int rc = kt_kvp_bbox(a, s, w->bbox, &crs);
		if (rc == KT_ENOMEM)
			return rc;
		if (rc)
			return kt_ows_fail(e, a, "InvalidParameterValue", "bbox",
			                   "BBOX is minx,miny,maxx,maxy[,crs] with min <= max, not \"%s\"", s);
		if (crs && kt_ows_crs_parse(crs, &w->bbox_crs))
			return kt_ows_fail(e, a, "InvalidParameterValue", "bbox", "unknown CRS \"%s\"", crs);
		if (!crs)
			w->bbox_crs = w->srs;
		w->has_bbox = 1;
	}
	return 0;
}

static int getfeature_queries(kt_request_t *req, const kt_kvp_t *k, kt_wfs_req_t *w,
                              kt_ows_exc_t *e)
{
	const char *filter = kt_kvp_get(k, "FILTER"), *sortby = kt_kvp_get(k, "SORTBY");
	if (filter && w->has_bbox)
		return kt_ows_fail(e, &req->arena, "InvalidParameterValue", "FILTER",
		                   "FILTER and BBOX are mutually exclusive");
	kt_fes_t *f = NULL;
	if (filter && kt_fes_parse(&req->arena, filter, strlen(filter), &f, e))
		return KT_EINVAL;
	for (size_t i = 0; i < w->n_queries; i++) {
		kt_wfs_query_t *q = &w->queries[i];
		if (f)
			q->filter = f;
		if (sortby && kt_wfs_sortby(&req->arena, q->layer, sortby, q, e))
			return KT_EINVAL;
	}
	return 0;
}

int kt_wfs_from_kvp(kt_request_t *req, const kt_kvp_t *k, kt_wfs_req_t *w, kt_ows_exc_t *e)
{
	kt_arena_t *a = &req->arena;
	memset(w, 0, sizeof *w);
	w->kvp = k;
	w->count = -1;
	const char *svc = kt_kvp_get(k, "SERVICE");
	if (svc && strcasecmp(svc, "WFS"))
		return kt_ows_fail(e, a, "InvalidParameterValue", "service", "service \"%s\" is not WFS", svc);
	if (operation(a, kt_kvp_get(k, "REQUEST"), w, e) || version(a, k, w, e))
		return KT_EINVAL;
	w->version = w->v2 ? "2.0.0" : "1.1.0";
	if (!svc && w->op != KT_WFS_GETCAPABILITIES)
		return kt_ows_fail(e, a, "MissingParameterValue", "service", "SERVICE is required");
	const char *tn;
	switch (w->op) {
	case KT_WFS_DESCRIBEFEATURETYPE:
		tn = kt_kvp_get(k, "TYPENAMES");
		if (!tn)
			tn = kt_kvp_get(k, "TYPENAME");
		if (!tn || !*tn) {
			w->all_types = 1;
			return 0;
		}
		return type_list(req, tn, w->v2 ? "typeNames" : "typeName", w, e);
	case KT_WFS_GETFEATURE:
		if (getfeature_options(req, k, w, e) || getfeature_types(req, k, w, e))
			return KT_EINVAL;
		return getfeature_queries(req, k, w, e);
	case KT_WFS_DESCRIBESTOREDQUERIES:
		w->sq_ids = kt_kvp_get(k, "STOREDQUERY_ID");
		return 0;
	default:
		return 0;
	}
}
