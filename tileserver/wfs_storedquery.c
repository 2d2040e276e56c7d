/*
 * wfs_storedquery.c — ListStoredQueries and DescribeStoredQueries (WFS
 * 2.0). The service has one stored query, the mandatory GetFeatureById
 * (run by wfs_getfeature.c: it answers the feature itself, or NotFound);
 * it may return any public feature type.
 */
#include <string.h>

#include "kt_ows_int.h"

static void root(kt_sbuf_t *b, const char *name)
{
	kt_sbuf_printf(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<wfs:%s "
	                  "xmlns:wfs=\"http://www.opengis.net/wfs/2.0\" "
	                  "xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" "
	                  "xmlns:" KT_OWS_PREFIX "=\"" KT_OWS_NS "\" "
	                  "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
	                  "xsi:schemaLocation=\"http://www.opengis.net/wfs/2.0 "
	                  "http://schemas.opengis.net/wfs/2.0/wfs.xsd\">", name);
}

static void return_types(kt_sbuf_t *b, const kt_store_t *store, int as_list)
{
	const kt_catalogue_t *cat = kt_store_catalogue(store);
	int first = 1;
	for (size_t i = 0; cat && i < cat->n_layers; i++) {
		if (!cat->layers[i]->is_public)
			continue;
		if (as_list)
			kt_sbuf_printf(b, "%s" KT_OWS_PREFIX ":%s", first ? "" : " ", cat->layers[i]->name);
		else
			kt_sbuf_printf(b, "<wfs:ReturnFeatureType>" KT_OWS_PREFIX ":%s</wfs:ReturnFeatureType>",
			               cat->layers[i]->name);
		first = 0;
	}
}

static int answer(kt_request_t *req, kt_sbuf_t *b)
{
	size_t len;
	char *body = kt_sbuf_take(b, &len);
	if (!body)
		return KT_ENOMEM;
	req->cache_control = "public, max-age=60";
	return kt_respond(req, 200, "application/xml; charset=UTF-8", body, len, KT_BUF_KT_FREE);
}

int kt_wfs_stored_queries(kt_request_t *req, kt_wfs_req_t *w)
{
	kt_sbuf_t b = {0};
	if (!w->v2) {
		kt_ows_exc_t e = {"OperationNotSupported",
		                  w->op == KT_WFS_LISTSTOREDQUERIES ? "ListStoredQueries" : "DescribeStoredQueries",
		                  "stored queries are a WFS 2.0 operation"};
		return kt_ows_respond_exc(req, w->version, &e);
	}
	if (w->op == KT_WFS_LISTSTOREDQUERIES) {
		root(&b, "ListStoredQueriesResponse");
		kt_sbuf_puts(&b, "<wfs:StoredQuery id=\"" KT_WFS_GETFEATUREBYID "\">"
		                 "<wfs:Title>Get feature by identifier</wfs:Title>");
		return_types(&b, req->srv->store, 0);
		kt_sbuf_puts(&b, "</wfs:StoredQuery></wfs:ListStoredQueriesResponse>\n");
		return answer(req, &b);
	}
	if (w->sq_ids && *w->sq_ids) {
		char **ids;
		long n = kt_kvp_split(&req->arena, w->sq_ids, ',', &ids, 64);
		for (long i = 0; i < n; i++)
			if (strcmp(ids[i], KT_WFS_GETFEATUREBYID)) {
				kt_ows_exc_t e = {"InvalidParameterValue", "STOREDQUERY_ID",
				                  kt_arena_printf(&req->arena, "unknown stored query \"%s\"", ids[i])};
				return kt_ows_respond_exc(req, w->version, &e);
			}
	}
	root(&b, "DescribeStoredQueriesResponse");
	kt_sbuf_puts(&b, "<wfs:StoredQueryDescription id=\"" KT_WFS_GETFEATUREBYID "\">"
	                 "<wfs:Title>Get feature by identifier</wfs:Title>"
	                 "<wfs:Abstract>Returns the single feature whose identifier (type.uid, the "
	                 "gml:id of the feature) is the value of ID.</wfs:Abstract>"
	                 "<wfs:Parameter name=\"ID\" type=\"xsd:string\"/>"
	                 "<wfs:QueryExpressionText returnFeatureTypes=\"");
	return_types(&b, req->srv->store, 1);
	kt_sbuf_puts(&b, "\" language=\"urn:ogc:def:queryLanguage:OGC-WFS::WFSQueryExpression\" "
	                 "isPrivate=\"true\"/></wfs:StoredQueryDescription>"
	                 "</wfs:DescribeStoredQueriesResponse>\n");
	return answer(req, &b);
}

int kt_wfs_run(kt_request_t *req, kt_wfs_req_t *w)
{
	switch (w->op) {
	case KT_WFS_GETCAPABILITIES: return kt_wfs_capabilities(req, w);
	case KT_WFS_DESCRIBEFEATURETYPE: return kt_wfs_describe(req, w);
	case KT_WFS_GETFEATURE: return kt_wfs_getfeature(req, w);
	default: return kt_wfs_stored_queries(req, w);
	}
}
