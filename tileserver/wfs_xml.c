/*
 * wfs_xml.c — a WFS request from its XML encoding (POST, WFS 2.0 or
 * 1.1.0) into a kt_wfs_req_t.
 *
 * The header of the request (operation, version, counts, output format,
 * type names, srsName, stored query) is rewritten as KVP pairs and read by
 * kt_wfs_from_kvp, so both encodings get the same checks and the same
 * exceptions; what KVP cannot say — one fes:Filter and fes:SortBy per
 * wfs:Query — is then set on each query from the parsed elements. Joins
 * (several type names in one Query) are refused.
 */
#include <string.h>
#include <strings.h>

#include <libxml/tree.h>

#include "kt_ows_int.h"

#define WFS20_NS "http://www.opengis.net/wfs/2.0"
#define WFS11_NS "http://www.opengis.net/wfs"
#define MAX_PAIRS 32

typedef struct xreq {
	kt_arena_t *a;
	kt_kvp_t kvp;
	kt_sbuf_t types;
	size_t n_queries;
} xreq_t;

static int named(const xmlNode *n, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, name);
}

static void put(xreq_t *x, const char *key, const char *value)
{
	if (!value || x->kvp.n >= MAX_PAIRS || kt_kvp_get(&x->kvp, key))
		return;
	x->kvp.v[x->kvp.n].key = key;
	x->kvp.v[x->kvp.n++].value = value;
}

static const char *prop(xreq_t *x, const xmlNode *n, const char *name)
{
	xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
	char *s = v ? kt_arena_strdup(x->a, (const char *)v) : NULL;
	xmlFree(v);
	return s;
}

static const char *content(xreq_t *x, const xmlNode *n)
{
	xmlChar *v = xmlNodeGetContent(n);
	char *s = v ? kt_arena_strdup(x->a, (const char *)v) : NULL;
	xmlFree(v);
	if (s) { /* trim */
		while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')
			s++;
		size_t l = strlen(s);
		while (l && strchr(" \n\t\r", s[l - 1]))
			s[--l] = 0;
	}
	return s;
}

/* A comma list of the text of the children called name. */
static const char *children_list(xreq_t *x, const xmlNode *n, const char *name)
{
	kt_sbuf_t b = {0};
	for (xmlNode *c = n->children; c; c = c->next)
		if (named(c, name)) {
			if (b.len)
				kt_sbuf_puts(&b, ",");
			kt_sbuf_puts(&b, content(x, c) ? content(x, c) : "");
		}
	const char *s = b.len ? kt_arena_strdup(x->a, b.p) : NULL;
	kt_sbuf_release(&b);
	return s;
}

static int header(xreq_t *x, xmlNode *root, kt_ows_exc_t *e)
{
	for (xmlNode *c = root->children; c; c = c->next) {
		if (named(c, "Query")) {
			const char *t = prop(x, c, "typeNames");
			if (!t)
				t = prop(x, c, "typeName");
			if (!t)
				return kt_ows_fail(e, x->a, "MissingParameterValue", "typeNames",
				                   "a wfs:Query needs typeNames");
			if (strpbrk(t, " ,"))
				return kt_ows_fail(e, x->a, "OptionNotSupported", "typeNames",
				                   "joins (several type names in a Query) are not supported");
			if (x->types.len)
				kt_sbuf_puts(&x->types, ",");
			kt_sbuf_puts(&x->types, t);
			put(x, "SRSNAME", prop(x, c, "srsName"));
			x->n_queries++;
		} else if (named(c, "StoredQuery")) {
			put(x, "STOREDQUERY_ID", prop(x, c, "id"));
			for (xmlNode *p = c->children; p; p = p->next)
				if (named(p, "Parameter")) {
					const char *pn = prop(x, p, "name");
					if (pn && !strcasecmp(pn, "ID"))
						put(x, "ID", content(x, p));
				}
		}
	}
	if (x->types.len)
		put(x, "TYPENAMES", kt_arena_strdup(x->a, x->types.p));
	return x->types.oom ? KT_ENOMEM : 0;
}

/* "a DESC,b ASC" from a SortBy element. */
static const char *sortby(xreq_t *x, const xmlNode *sb)
{
	kt_sbuf_t b = {0};
	for (xmlNode *sp = sb->children; sp; sp = sp->next) {
		if (!named(sp, "SortProperty"))
			continue;
		const char *name = NULL, *order = "ASC";
		for (xmlNode *c = sp->children; c; c = c->next)
			if (named(c, "ValueReference") || named(c, "PropertyName"))
				name = content(x, c);
			else if (named(c, "SortOrder"))
				order = content(x, c);
		kt_sbuf_printf(&b, "%s%s %s", b.len ? "," : "", name ? name : "", order ? order : "");
	}
	const char *s = b.len ? kt_arena_strdup(x->a, b.p) : "";
	kt_sbuf_release(&b);
	return s;
}

static int queries(kt_request_t *req, xreq_t *x, xmlNode *root, kt_wfs_req_t *w, kt_ows_exc_t *e)
{
	size_t i = 0;
	for (xmlNode *c = root->children; c; c = c->next) {
		if (!named(c, "Query"))
			continue;
		if (i >= w->n_queries)
			break;
		kt_wfs_query_t *q = &w->queries[i++];
		for (xmlNode *f = c->children; f; f = f->next) {
			if (named(f, "Filter")) {
				if (kt_fes_from_node(&req->arena, f, &q->filter, e))
					return KT_EINVAL;
				w->kvp = NULL; /* a GET link could not carry it */
			} else if (named(f, "SortBy")) {
				if (kt_wfs_sortby(&req->arena, q->layer, sortby(x, f), q, e))
					return KT_EINVAL;
				w->kvp = NULL;
			}
		}
	}
	return 0;
}

int kt_wfs_from_xml(kt_request_t *req, void *doc, kt_wfs_req_t *w, kt_ows_exc_t *e)
{
	xreq_t x = {.a = &req->arena};
	xmlNode *root = xmlDocGetRootElement(doc);
	if (!root || !root->ns ||
	    (strcmp((const char *)root->ns->href, WFS20_NS) && strcmp((const char *)root->ns->href, WFS11_NS)))
		return kt_ows_fail(e, x.a, "OperationParsingFailed", NULL,
		                   "the request is not a WFS 2.0 or 1.1.0 XML request");
	int ns20 = !strcmp((const char *)root->ns->href, WFS20_NS);
	if (!(x.kvp.v = kt_arena_alloc(x.a, MAX_PAIRS * sizeof *x.kvp.v)))
		return KT_ENOMEM;
	put(&x, "REQUEST", kt_arena_strdup(x.a, (const char *)root->name));
	const char *svc = prop(&x, root, "service");
	put(&x, "SERVICE", svc ? svc : "WFS");
	const char *v = prop(&x, root, "version");
	if (!v && !named(root, "GetCapabilities"))
		v = ns20 ? "2.0.0" : "1.1.0";
	put(&x, "VERSION", v);
	put(&x, "COUNT", prop(&x, root, "count"));
	put(&x, "MAXFEATURES", prop(&x, root, "maxFeatures"));
	put(&x, "STARTINDEX", prop(&x, root, "startIndex"));
	put(&x, "RESULTTYPE", prop(&x, root, "resultType"));
	put(&x, "OUTPUTFORMAT", prop(&x, root, "outputFormat"));
	if (named(root, "GetCapabilities"))
		for (xmlNode *c = root->children; c; c = c->next)
			if (named(c, "AcceptVersions"))
				put(&x, "ACCEPTVERSIONS", children_list(&x, c, "Version"));
	if (named(root, "DescribeFeatureType"))
		put(&x, "TYPENAMES", children_list(&x, root, "TypeName"));
	if (named(root, "DescribeStoredQueries"))
		put(&x, "STOREDQUERY_ID", children_list(&x, root, "StoredQueryId"));
	int rc = named(root, "GetFeature") ? header(&x, root, e) : 0;
	kt_kvp_t *kvp = kt_arena_alloc(x.a, sizeof *kvp); /* w->kvp outlives this frame */
	if (!rc && !kvp)
		rc = KT_ENOMEM;
	if (!rc) {
		*kvp = x.kvp;
		rc = kt_wfs_from_kvp(req, kvp, w, e);
	}
	kt_sbuf_release(&x.types);
	if (!rc && w->op == KT_WFS_GETFEATURE && !w->by_id)
		rc = queries(req, &x, root, w, e);
	return rc;
}
