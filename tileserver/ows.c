/*
 * ows.c — the OGC web services endpoint: /ows, and the per-service
 * aliases /wfs (and later /wms), in GET (KVP in the query), POST form
 * (KVP in an application/x-www-form-urlencoded body) and POST XML.
 *
 * The dispatcher decodes the request once (kvp.c, or libxml2 for XML),
 * finds the service — SERVICE=, the root element's namespace for XML, or
 * the alias the client called — and hands the decoded request to that
 * service's entry points from the table below. A service is a line in
 * the table: WMS slots in by filling its line (its KVP handler; WMS has
 * no XML encoding). Until then SERVICE=WMS answers an exception.
 *
 * Every failure before the service runs is an OWS exception report (in
 * the format of the VERSION asked when there is one): bad encoding →
 * InvalidParameterValue, bad XML → OperationParsingFailed, no SERVICE on
 * /ows → MissingParameterValue.
 */
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "kt_ows_int.h"
#include "kt_wms_int.h"

typedef struct ows_service {
	const char *name;       /* SERVICE value */
	const char *xml_ns;     /* namespaces of its XML requests, NULL if none */
	const char *xml_ns2;
	int (*kvp)(kt_request_t *req, const kt_kvp_t *kvp);
	int (*xml)(kt_request_t *req, xmlDoc *doc);
} ows_service_t;

static int wfs_kvp(kt_request_t *req, const kt_kvp_t *kvp)
{
	kt_wfs_req_t w;
	kt_ows_exc_t e;
	int rc = kt_wfs_from_kvp(req, kvp, &w, &e);
	if (rc == KT_ENOMEM)
		return rc;
	if (rc) {
		const char *v = kt_kvp_get(kvp, "VERSION");
		return kt_ows_respond_exc(req, v && !strcmp(v, "1.1.0") ? "1.1.0" : "2.0.0", &e);
	}
	return kt_wfs_run(req, &w);
}

static int wfs_xml(kt_request_t *req, xmlDoc *doc)
{
	kt_wfs_req_t w;
	kt_ows_exc_t e;
	int rc = kt_wfs_from_xml(req, doc, &w, &e);
	if (rc == KT_ENOMEM)
		return rc;
	if (rc) {
		xmlNode *root = xmlDocGetRootElement(doc);
		xmlChar *v = root ? xmlGetProp(root, (const xmlChar *)"version") : NULL;
		int v11 = v && !strcmp((const char *)v, "1.1.0");
		xmlFree(v);
		return kt_ows_respond_exc(req, v11 ? "1.1.0" : "2.0.0", &e);
	}
	return kt_wfs_run(req, &w);
}

static const ows_service_t services[] = {
	{"WFS", "http://www.opengis.net/wfs/2.0", "http://www.opengis.net/wfs", wfs_kvp, wfs_xml},
	{"WMS", NULL, NULL, kt_wms_kvp, NULL}, /* wms.c; WMS has no XML encoding */
};

static const ows_service_t *service_named(const char *name)
{
	for (size_t i = 0; name && i < sizeof services / sizeof services[0]; i++)
		if (!strcasecmp(services[i].name, name))
			return &services[i];
	return NULL;
}

static int exc(kt_request_t *req, const char *version, const char *code, const char *locator,
               const char *text)
{
	kt_ows_exc_t e = {code, locator, text};
	return kt_ows_respond_exc(req, version, &e);
}

static int unavailable(kt_request_t *req, const char *version, const char *name)
{
	return exc(req, version, "InvalidParameterValue", "service",
	           kt_arena_printf(&req->arena, "service \"%s\" is not offered here (WFS, WMS)", name));
}

static int dispatch_kvp(kt_request_t *req, const char *qs, size_t len, const char *alias)
{
	kt_kvp_t kvp;
	const char *why = NULL, *bad_key = NULL;
	int rc = kt_kvp_parse(&req->arena, qs, len, &kvp, &why, &bad_key);
	if (rc == KT_ENOMEM)
		return rc;
	if (rc && alias && !strcmp(alias, "WMS")) { /* a WMS client reads WMS exceptions */
		kt_ows_exc_t e = {"InvalidParameterValue", bad_key, why};
		return kt_wms_respond_exc(req, NULL, &e);
	}
	if (rc)
		return exc(req, "2.0.0", "InvalidParameterValue", bad_key, why);
	const char *v = kt_kvp_get(&kvp, "VERSION");
	const char *version = v && !strcmp(v, "1.1.0") ? "1.1.0" : "2.0.0";
	const char *name = kt_kvp_get(&kvp, "SERVICE");
	if (!name && !alias)
		return exc(req, version, "MissingParameterValue", "service", "SERVICE is required");
	const ows_service_t *s = service_named(name ? name : alias);
	if ((!s || (alias && strcasecmp(s->name, alias))) && alias && !strcmp(alias, "WMS")) {
		kt_ows_exc_t e = {"InvalidParameterValue", "SERVICE", "SERVICE must be WMS here"};
		return kt_wms_respond_exc(req, NULL, &e);
	}
	if (!s || !s->kvp || (alias && strcasecmp(s->name, alias)))
		return unavailable(req, version, name ? name : alias);
	return s->kvp(req, &kvp);
}

static int dispatch_xml(kt_request_t *req, const char *alias)
{
	if (req->body_len > INT32_MAX)
		return exc(req, "2.0.0", "OperationParsingFailed", NULL, "the request is too large");
	xmlDoc *doc = xmlReadMemory(req->body, (int)req->body_len, "request.xml", NULL,
	                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
	                            XML_PARSE_NOCDATA);
	if (!doc)
		return exc(req, "2.0.0", "OperationParsingFailed", NULL,
		           "the request body is not well-formed XML");
	xmlNode *root = xmlDocGetRootElement(doc);
	const char *ns = root && root->ns ? (const char *)root->ns->href : "";
	const ows_service_t *s = NULL;
	for (size_t i = 0; i < sizeof services / sizeof services[0]; i++)
		if (services[i].xml_ns && (!strcmp(ns, services[i].xml_ns) ||
		                           (services[i].xml_ns2 && !strcmp(ns, services[i].xml_ns2))))
			s = &services[i];
	int rc;
	if (!s || !s->xml || (alias && strcasecmp(s->name, alias)))
		rc = exc(req, "2.0.0", "OperationParsingFailed", NULL,
		         alias ? kt_arena_printf(&req->arena, "the request is not a %s XML request", alias)
		               : "the request is not an XML request of a service offered here");
	else
		rc = s->xml(req, doc);
	xmlFreeDoc(doc);
	return rc;
}

static int dispatch(kt_request_t *req, const char *alias)
{
	req->cache_control = "no-store";
	if (req->method_bit == KT_M_POST) {
		const char *ct = kt_req_header(req, "Content-Type");
		if (ct && !strncasecmp(ct, "application/x-www-form-urlencoded", 33))
			return dispatch_kvp(req, req->body ? req->body : "", req->body_len, alias);
		if (!req->body_len)
			return exc(req, "2.0.0", "MissingParameterValue", NULL, "a POST request needs a body");
		return dispatch_xml(req, alias);
	}
	const char *q = strchr(req->target, '?');
	const char *qs = q ? q + 1 : "";
	size_t len = strcspn(qs, "#");
	return dispatch_kvp(req, qs, len, alias);
}

/* An OGC request can take tens of milliseconds (a GetMap, a large
 * GetFeature): it runs on the work pool, as a tile build does, so that
 * the libmicrohttpd worker that received it goes on with its other
 * connections, and the work spreads over the pool's threads whichever
 * worker accepted the connection. The handlers find this thread's
 * context through kt_req_ctx. */
static char wfs_alias[] = "WFS", wms_alias[] = "WMS";

static int dispatch_job(kt_request_t *req, kt_ctx_t *ctx, void *alias)
{
	(void)ctx;
	return dispatch(req, alias);
}

int kt_ows_handle(kt_request_t *req)
{
	return kt_req_defer(req, dispatch_job, NULL);
}

int kt_ows_wfs(kt_request_t *req)
{
	return kt_req_defer(req, dispatch_job, wfs_alias);
}

int kt_ows_wms(kt_request_t *req)
{
	return kt_req_defer(req, dispatch_job, wms_alias);
}
