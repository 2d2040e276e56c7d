/*
 * ogcapi.c — OGC API Features, Part 1 (Core) and Part 2 (CRS by
 * reference), under /ogcapi: the landing page, conformance, the API
 * definition, the collections and one collection. Items are in
 * ogcapi_items.c, the HTML rendering in ogcapi_html.c.
 *
 * A collection is a public layer (kt_ows_public_layer: a private one
 * answers 404 like a missing one), with its public attributes only; its
 * CRS list is CRS84 (the default), the store CRS (storageCrs) and 2154,
 * 3857, 4326. Every answer is JSON or, with f=html or a browser's Accept,
 * HTML made from the same document.
 */
#include <string.h>
#include <strings.h>

#include "kt_ogcapi_int.h"

static const int crs_list[] = {3948, 2154, 3857, 4326};

int kt_ogcapi_wants_html(kt_request_t *req)
{
	const char *f = kt_req_arg(req, "f");
	if (f)
		return !strcasecmp(f, "html");
	const char *acc = kt_req_header(req, "Accept");
	if (!acc)
		return 0;
	const char *h = strstr(acc, "text/html"), *j = strstr(acc, "json");
	return h && (!j || h < j);
}

int kt_ogcapi_check_f(kt_request_t *req)
{
	const char *f = kt_req_arg(req, "f");
	if (f && strcasecmp(f, "json") && strcasecmp(f, "html") && strcasecmp(f, "geojson"))
		return kt_respond_problem(req, 400, "f must be json or html, not '%s'", f);
	return 0;
}

json_t *kt_ogcapi_link(const char *href, const char *rel, const char *type, const char *title)
{
	json_t *l = json_pack("{s:s, s:s}", "href", href, "rel", rel);
	if (l && type)
		json_object_set_new(l, "type", json_string(type));
	if (l && title)
		json_object_set_new(l, "title", json_string(title));
	return l;
}

const char *kt_ogcapi_base(kt_request_t *req)
{
	return kt_arena_printf(&req->arena, "%s/ogcapi", kt_ows_base_url(req));
}

/* Answers doc as JSON (content_type) or HTML; takes the reference. */
int kt_ogcapi_answer(kt_request_t *req, json_t *doc, const char *content_type, const char *title)
{
	if (!doc)
		return KT_ENOMEM;
	req->cache_control = "public, max-age=30";
	if (kt_ogcapi_wants_html(req)) {
		int rc = kt_ogcapi_html(req, doc, title);
		json_decref(doc);
		return rc;
	}
	char *text = json_dumps(doc, KT_JSON_FLAGS);
	json_decref(doc);
	if (!text)
		return KT_ENOMEM;
	return kt_respond(req, 200, content_type, text, strlen(text), KT_BUF_FREE);
}

/* self (in the format answered) and alternate links of a resource. */
static void self_links(json_t *links, kt_request_t *req, const char *url, const char *json_type)
{
	int html = kt_ogcapi_wants_html(req);
	char *j = kt_arena_printf(&req->arena, "%s?f=json", url);
	char *h = kt_arena_printf(&req->arena, "%s?f=html", url);
	json_array_append_new(links, kt_ogcapi_link(html ? h : j, "self", html ? "text/html" : json_type,
	                                             "this document"));
	json_array_append_new(links, kt_ogcapi_link(html ? j : h, "alternate",
	                                             html ? json_type : "text/html",
	                                             html ? "as JSON" : "as HTML"));
}

int kt_ogcapi_landing(kt_request_t *req)
{
	if (kt_ogcapi_check_f(req) || req->resp)
		return 0;
	const char *base = kt_ogcapi_base(req);
	json_t *links = json_array();
	self_links(links, req, base, "application/json");
	json_array_append_new(links, kt_ogcapi_link(kt_arena_printf(&req->arena, "%s/api", base),
	                                             "service-desc",
	                                             "application/vnd.oai.openapi+json;version=3.0",
	                                             "the API definition"));
	json_array_append_new(links, kt_ogcapi_link(kt_arena_printf(&req->arena, "%s/conformance", base),
	                                             "conformance", "application/json",
	                                             "conformance classes"));
	json_array_append_new(links, kt_ogcapi_link(kt_arena_printf(&req->arena, "%s/collections", base),
	                                             "data", "application/json", "the collections"));
	json_t *doc = json_pack("{s:s, s:s, s:o}", "title", "Ville de Lanester — OGC API Features",
	                        "description", "Couches publiques du SIG kartenn de la ville de "
	                        "Lanester. Licence Ouverte 2.0 sauf mention contraire.",
	                        "links", links);
	return kt_ogcapi_answer(req, doc, "application/json", "Ville de Lanester — OGC API Features");
}

int kt_ogcapi_conformance(kt_request_t *req)
{
	if (kt_ogcapi_check_f(req) || req->resp)
		return 0;
	json_t *doc = json_pack("{s:[s,s,s,s,s]}", "conformsTo",
	                        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
	                        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
	                        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
	                        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
	                        "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs");
	return kt_ogcapi_answer(req, doc, "application/json", "Conformance");
}

const char *kt_ogcapi_crs_uri(kt_arena_t *a, int epsg)
{
	return epsg ? kt_arena_printf(a, "http://www.opengis.net/def/crs/EPSG/0/%d", epsg)
	            : "http://www.opengis.net/def/crs/OGC/1.3/CRS84";
}

json_t *kt_ogcapi_collection_json(kt_request_t *req, kt_ctx_t *ctx, const kt_layer_t *l)
{
	const char *base = kt_ogcapi_base(req);
	const char *url = kt_arena_printf(&req->arena, "%s/collections/%s", base, l->name);
	json_t *links = json_array();
	self_links(links, req, url, "application/json");
	json_array_append_new(links, kt_ogcapi_link(kt_arena_printf(&req->arena, "%s/items?f=json", url),
	                                             "items", "application/geo+json", "the features"));
	json_array_append_new(links, kt_ogcapi_link(kt_arena_printf(&req->arena, "%s/items?f=html", url),
	                                             "items", "text/html", "the features as HTML"));
	json_t *doc = json_pack("{s:s, s:s, s:s, s:s, s:o}", "id", l->name, "title",
	                        l->title ? l->title : l->name, "description",
	                        l->abstract ? l->abstract : "", "itemType", "feature", "links", links);
	if (!doc)
		return NULL;
	double w[4];
	if (l->geom_type != KT_GEOM_NONE && ctx && kt_ows_layer_wgs84(ctx, l, w) == 0) {
		json_object_set_new(doc, "extent",
		                    json_pack("{s:{s:[[f,f,f,f]], s:s}}", "spatial", "bbox", w[0], w[1], w[2],
		                              w[3], "crs", "http://www.opengis.net/def/crs/OGC/1.3/CRS84"));
		json_t *crs = json_array();
		json_array_append_new(crs, json_string(kt_ogcapi_crs_uri(&req->arena, 0)));
		for (size_t i = 0; i < sizeof crs_list / sizeof crs_list[0]; i++)
			json_array_append_new(crs, json_string(kt_ogcapi_crs_uri(&req->arena, crs_list[i])));
		json_object_set_new(doc, "crs", crs);
		int store = kt_store_epsg(kt_ctx_store(ctx));
		json_object_set_new(doc, "storageCrs", json_string(kt_ogcapi_crs_uri(&req->arena, store)));
	}
	if (l->licence)
		json_object_set_new(doc, "license", json_string(l->licence));
	if (l->attribution)
		json_object_set_new(doc, "attribution", json_string(l->attribution));
	return doc;
}

int kt_ogcapi_crs_ok(int epsg, int store_epsg)
{
	for (size_t i = 0; i < sizeof crs_list / sizeof crs_list[0]; i++)
		if (crs_list[i] == epsg)
			return 1;
	return epsg == store_epsg;
}

int kt_ogcapi_collections(kt_request_t *req)
{
	if (kt_ogcapi_check_f(req) || req->resp)
		return 0;
	const char *why = NULL;
	kt_ctx_t *ctx = kt_req_ctx(req, &why);
	if (!ctx)
		return kt_respond_problem(req, 503, "the store cannot be opened: %s", why);
	json_t *cols = json_array(), *links = json_array();
	self_links(links, req, kt_arena_printf(&req->arena, "%s/collections", kt_ogcapi_base(req)),
	           "application/json");
	const kt_catalogue_t *cat = kt_store_catalogue(req->srv->store);
	for (size_t i = 0; cat && i < cat->n_layers; i++)
		if (cat->layers[i]->is_public)
			json_array_append_new(cols, kt_ogcapi_collection_json(req, ctx, cat->layers[i]));
	json_t *doc = json_pack("{s:o, s:o}", "links", links, "collections", cols);
	return kt_ogcapi_answer(req, doc, "application/json", "Collections");
}

int kt_ogcapi_collection(kt_request_t *req)
{
	if (kt_ogcapi_check_f(req) || req->resp)
		return 0;
	const char *id = kt_req_param(req, "id");
	const kt_layer_t *l = kt_catalogue_public_layer(req->srv->store, id);
	if (!l)
		return kt_respond_problem(req, 404, "no collection '%s'", id);
	const char *why = NULL;
	kt_ctx_t *ctx = kt_req_ctx(req, &why);
	if (!ctx)
		return kt_respond_problem(req, 503, "the store cannot be opened: %s", why);
	return kt_ogcapi_answer(req, kt_ogcapi_collection_json(req, ctx, l), "application/json",
	                        l->title ? l->title : l->name);
}

int kt_ogcapi_api(kt_request_t *req)
{
	if (kt_ogcapi_check_f(req) || req->resp)
		return 0;
	json_t *paths = json_object();
	const char *const p[] = {"/", "/conformance", "/collections", "/collections/{collectionId}",
	                         "/collections/{collectionId}/items",
	                         "/collections/{collectionId}/items/{featureId}"};
	for (size_t i = 0; i < sizeof p / sizeof p[0]; i++)
		json_object_set_new(paths, p[i],
		                    json_pack("{s:{s:s, s:{s:{s:s}}}}", "get", "summary", p[i], "responses",
		                              "200", "description", "the resource"));
	json_t *doc = json_pack("{s:s, s:{s:s, s:s}, s:[{s:s}], s:o}", "openapi", "3.0.3", "info",
	                        "title", "kartenn OGC API Features", "version", KT_VERSION, "servers",
	                        "url", kt_ogcapi_base(req), "paths", paths);
	return kt_ogcapi_answer(req, doc, "application/vnd.oai.openapi+json;version=3.0", "API");
}
