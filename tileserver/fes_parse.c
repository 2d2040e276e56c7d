/*
 * fes_parse.c — OGC filters (FES 2.0 fes:Filter, Filter Encoding 1.1
 * ogc:Filter) into a kt_fes_t tree, with libxml2.
 *
 * Supported: And, Or, Not; PropertyIsEqualTo, NotEqualTo, LessThan,
 * GreaterThan, LessThanOrEqualTo, GreaterThanOrEqualTo (with matchCase),
 * PropertyIsLike, PropertyIsNull, PropertyIsNil, PropertyIsBetween; the
 * spatial BBOX, Intersects, Within, Contains, Disjoint, Touches, Crosses,
 * Overlaps, Equals, DWithin and Beyond with GML operands; ResourceId (and
 * 1.1's FeatureId / GmlObjectId). Operators are matched by local name in
 * the fes/2.0 or ogc namespace (or none, for hand-written KVP filters).
 *
 * The tree references nothing of the document: every string is copied to
 * the arena, so the document is freed right after parsing. The parser
 * knows no layer: property names are checked when the tree is turned into
 * SQL (fes_sql.c). Input is untrusted (fuzz target tests/fuzz/fuzz_fes.c):
 * nesting is bounded, the network is never used, entities are not
 * substituted.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "kt_ows_int.h"

#define FES_NS "http://www.opengis.net/fes/2.0"
#define OGC_NS "http://www.opengis.net/ogc"
#define MAX_DEPTH 32
#define MAX_KIDS 1024

typedef struct fparse {
	kt_arena_t *a;
	kt_ows_exc_t *e;
} fparse_t;

static int is_op(const xmlNode *n, const char *name)
{
	if (!n || n->type != XML_ELEMENT_NODE || strcmp((const char *)n->name, name))
		return 0;
	return !n->ns || !strcmp((const char *)n->ns->href, FES_NS) ||
	       !strcmp((const char *)n->ns->href, OGC_NS);
}

static int is_gml_ns(const xmlNode *n)
{
	return n && n->type == XML_ELEMENT_NODE && n->ns &&
	       (!strcmp((const char *)n->ns->href, "http://www.opengis.net/gml/3.2") ||
	        !strcmp((const char *)n->ns->href, "http://www.opengis.net/gml"));
}

static xmlNode *first_el(xmlNode *n)
{
	for (; n; n = n->next)
		if (n->type == XML_ELEMENT_NODE)
			return n;
	return NULL;
}

static int bad(fparse_t *p, const char *fmt, const char *arg)
{
	return kt_ows_fail(p->e, p->a, "InvalidParameterValue", "FILTER", fmt, arg ? arg : "");
}

/* The text of n, trimmed, in the arena. */
static const char *text(fparse_t *p, const xmlNode *n)
{
	xmlChar *t = xmlNodeGetContent(n);
	const char *s = t ? (const char *)t : "";
	size_t len = strlen(s);
	while (len && strchr(" \t\r\n", s[len - 1]))
		len--;
	while (len && strchr(" \t\r\n", *s))
		s++, len--;
	char *out = kt_arena_strndup(p->a, s, len);
	xmlFree(t);
	return out;
}

static const char *attr(fparse_t *p, const xmlNode *n, const char *name)
{
	xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
	if (!v)
		return NULL;
	char *out = kt_arena_strdup(p->a, (const char *)v);
	xmlFree(v);
	return out;
}

static int is_valueref(const xmlNode *n)
{
	return is_op(n, "ValueReference") || is_op(n, "PropertyName");
}

static kt_fes_t *node_new(fparse_t *p, kt_fes_kind_t kind, int op)
{
	kt_fes_t *f = kt_arena_alloc(p->a, sizeof *f);
	if (!f) {
		kt_ows_fail(p->e, p->a, "NoApplicableCode", NULL, "out of memory");
		return NULL;
	}
	memset(f, 0, sizeof *f);
	f->kind = kind;
	f->op = op;
	f->match_case = 1;
	return f;
}

static const char *const cmp_names[] = {
	"PropertyIsEqualTo", "PropertyIsNotEqualTo", "PropertyIsLessThan", "PropertyIsGreaterThan",
	"PropertyIsLessThanOrEqualTo", "PropertyIsGreaterThanOrEqualTo",
};
static const char *const sp_names[] = {
	"BBOX", "Intersects", "Within", "Contains", "Disjoint", "Touches",
	"Crosses", "Overlaps", "Equals", "DWithin", "Beyond",
};

/* A comparison: one value reference and one literal, in either order. */
static int parse_cmp(fparse_t *p, xmlNode *n, kt_fes_t *f)
{
	const char *mc = attr(p, n, "matchCase");
	f->match_case = !(mc && !strcasecmp(mc, "false"));
	int n_el = 0;
	for (xmlNode *c = first_el(n->children); c; c = first_el(c->next)) {
		n_el++;
		if (is_valueref(c) && !f->prop)
			f->prop = text(p, c);
		else if (is_op(c, "Literal") && !f->lit)
			f->lit = text(p, c);
		else if (is_op(c, "Function"))
			return kt_ows_fail(p->e, p->a, "OperationNotSupported", "FILTER",
			                   "filter functions are not supported");
		else
			return bad(p, "unexpected <%s> in a comparison", (const char *)c->name);
	}
	if (!f->prop || !f->lit || n_el != 2)
		return bad(p, "a comparison needs one ValueReference and one Literal%s", "");
	return 0;
}

static int parse_like(fparse_t *p, xmlNode *n, kt_fes_t *f)
{
	const char *w = attr(p, n, "wildCard"), *s = attr(p, n, "singleChar");
	const char *esc = attr(p, n, "escapeChar");
	if (!esc)
		esc = attr(p, n, "escape");
	if (!w || !s || !esc || strlen(w) != 1 || strlen(s) != 1 || strlen(esc) != 1)
		return bad(p, "PropertyIsLike needs one-character wildCard, singleChar and escapeChar%s", "");
	f->wild = w[0];
	f->single = s[0];
	f->escape = esc[0];
	if (f->wild == f->single || f->wild == f->escape || f->single == f->escape)
		return bad(p, "PropertyIsLike: wildCard, singleChar and escapeChar must differ%s", "");
	return parse_cmp(p, n, f);
}

static int parse_between(fparse_t *p, xmlNode *n, kt_fes_t *f)
{
	for (xmlNode *c = first_el(n->children); c; c = first_el(c->next)) {
		xmlNode *lit = is_op(c, "LowerBoundary") || is_op(c, "UpperBoundary")
			? first_el(c->children) : NULL;
		if (is_valueref(c) && !f->prop)
			f->prop = text(p, c);
		else if (lit && is_op(lit, "Literal") && is_op(c, "LowerBoundary") && !f->lit)
			f->lit = text(p, lit);
		else if (lit && is_op(lit, "Literal") && is_op(c, "UpperBoundary") && !f->lit2)
			f->lit2 = text(p, lit);
		else
			return bad(p, "unexpected <%s> in PropertyIsBetween", (const char *)c->name);
	}
	if (!f->prop || !f->lit || !f->lit2)
		return bad(p, "PropertyIsBetween needs a ValueReference and two boundary Literals%s", "");
	return 0;
}

static double uom_factor(const char *uom)
{
	static const struct {
		const char *name;
		double f;
	} u[] = {
		{"m", 1}, {"meter", 1}, {"meters", 1}, {"metre", 1}, {"metres", 1},
		{"urn:ogc:def:uom:EPSG::9001", 1}, {"http://www.opengis.net/def/uom/EPSG/0/9001", 1},
		{"km", 1000}, {"kilometers", 1000}, {"kilometre", 1000}, {"kilometres", 1000},
		{"ft", 0.3048}, {"feet", 0.3048}, {"mi", 1609.344}, {"statute miles", 1609.344},
	};
	if (!uom || !*uom)
		return 1;
	for (size_t i = 0; i < sizeof u / sizeof u[0]; i++)
		if (!strcasecmp(uom, u[i].name))
			return u[i].f;
	return -1;
}

static int parse_spatial(fparse_t *p, xmlNode *n, kt_fes_t *f)
{
	int have_geom = 0, have_dist = 0;
	for (xmlNode *c = first_el(n->children); c; c = first_el(c->next)) {
		xmlNode *g = is_op(c, "Literal") ? first_el(c->children) : c;
		if (is_valueref(c) && !f->prop) {
			f->prop = text(p, c);
		} else if (is_gml_ns(g) && !have_geom) {
			if (kt_gml_read(p->a, g, &f->geom, p->e))
				return KT_EINVAL;
			have_geom = 1;
		} else if (is_op(c, "Distance") && !have_dist) {
			const char *uom = attr(p, c, "uom");
			if (!uom)
				uom = attr(p, c, "units");
			double k = uom_factor(uom), d;
			char *end;
			const char *t = text(p, c);
			d = t ? strtod(t, &end) : NAN;
			if (!t || end == t || *end || !isfinite(d) || d < 0)
				return bad(p, "bad Distance \"%s\"", t);
			if (k < 0)
				return bad(p, "unsupported distance unit \"%s\" (use m or km)", uom);
			f->distance_m = d * k;
			have_dist = 1;
		} else {
			return bad(p, "unexpected <%s> in a spatial operator", (const char *)c->name);
		}
	}
	if (!have_geom)
		return bad(p, "a spatial operator needs a GML geometry operand%s", "");
	if ((f->op == KT_SP_DWITHIN || f->op == KT_SP_BEYOND) && !have_dist)
		return bad(p, "DWithin and Beyond need a Distance%s", "");
	return 0;
}

static int parse_pred(fparse_t *p, xmlNode *n, int depth, kt_fes_t **out);

static int parse_logical(fparse_t *p, xmlNode *n, int depth, kt_fes_t *f)
{
	size_t count = 0;
	for (xmlNode *c = first_el(n->children); c; c = first_el(c->next))
		count++;
	if (count == 0 || count > MAX_KIDS || (f->kind == KT_FES_NOT && count != 1))
		return bad(p, "<%s> has a wrong number of operands", (const char *)n->name);
	f->kids = kt_arena_alloc(p->a, count * sizeof *f->kids);
	if (!f->kids)
		return kt_ows_fail(p->e, p->a, "NoApplicableCode", NULL, "out of memory");
	for (xmlNode *c = first_el(n->children); c; c = first_el(c->next))
		if (parse_pred(p, c, depth + 1, &f->kids[f->n_kids++]))
			return KT_EINVAL;
	return 0;
}

static int is_id(const xmlNode *n)
{
	return is_op(n, "ResourceId") || is_op(n, "FeatureId") || is_op(n, "GmlObjectId");
}

/* A run of id elements (siblings from n on) into one RID node. */
static int parse_ids(fparse_t *p, xmlNode *n, kt_fes_t **out)
{
	size_t count = 0;
	for (xmlNode *c = n; c; c = first_el(c->next)) {
		if (!is_id(c))
			return bad(p, "identifiers cannot be mixed with <%s>", (const char *)c->name);
		if (++count > MAX_KIDS)
			return bad(p, "too many identifiers%s", "");
	}
	kt_fes_t *f = node_new(p, KT_FES_RID, 0);
	if (!f || !(f->rids = kt_arena_alloc(p->a, count * sizeof *f->rids)))
		return KT_EINVAL;
	for (xmlNode *c = n; c; c = first_el(c->next)) {
		const char *id = is_op(c, "ResourceId") ? attr(p, c, "rid")
		               : is_op(c, "FeatureId") ? attr(p, c, "fid") : NULL;
		if (!id) {
			xmlChar *g = xmlGetNsProp(c, (const xmlChar *)"id",
			                          (const xmlChar *)"http://www.opengis.net/gml");
			if (!g)
				g = xmlGetNsProp(c, (const xmlChar *)"id",
				                 (const xmlChar *)"http://www.opengis.net/gml/3.2");
			id = g ? kt_arena_strdup(p->a, (const char *)g) : NULL;
			xmlFree(g);
		}
		if (!id)
			return bad(p, "<%s> without an identifier", (const char *)c->name);
		f->rids[f->n_rids++] = id;
	}
	*out = f;
	return 0;
}

static int parse_pred(fparse_t *p, xmlNode *n, int depth, kt_fes_t **out)
{
	if (depth > MAX_DEPTH)
		return bad(p, "the filter is nested too deeply%s", "");
	kt_fes_t *f = NULL;
	for (int i = 0; i < 6 && !f; i++)
		if (is_op(n, cmp_names[i]) && (f = node_new(p, KT_FES_CMP, i)) && parse_cmp(p, n, f))
			return KT_EINVAL;
	for (int i = 0; i < 11 && !f; i++)
		if (is_op(n, sp_names[i]) && (f = node_new(p, KT_FES_SPATIAL, i)) &&
		    parse_spatial(p, n, f))
			return KT_EINVAL;
	if (f)
		; /* done above */
	else if (is_op(n, "And") || is_op(n, "Or") || is_op(n, "Not")) {
		f = node_new(p, is_op(n, "And") ? KT_FES_AND : is_op(n, "Or") ? KT_FES_OR : KT_FES_NOT, 0);
		if (!f || parse_logical(p, n, depth, f))
			return KT_EINVAL;
	} else if (is_op(n, "PropertyIsLike")) {
		if (!(f = node_new(p, KT_FES_LIKE, 0)) || parse_like(p, n, f))
			return KT_EINVAL;
	} else if (is_op(n, "PropertyIsNull") || is_op(n, "PropertyIsNil")) {
		xmlNode *c = first_el(n->children);
		if (!(f = node_new(p, KT_FES_NULL, 0)))
			return KT_EINVAL;
		if (!is_valueref(c) || first_el(c->next))
			return bad(p, "<%s> needs one ValueReference", (const char *)n->name);
		f->prop = text(p, c);
	} else if (is_op(n, "PropertyIsBetween")) {
		if (!(f = node_new(p, KT_FES_BETWEEN, 0)) || parse_between(p, n, f))
			return KT_EINVAL;
	} else if (is_id(n)) {
		return parse_ids(p, n, out);
	} else {
		return kt_ows_fail(p->e, p->a, "InvalidParameterValue", "FILTER",
		                   "unsupported filter operator <%s>", (const char *)n->name);
	}
	*out = f;
	return 0;
}

int kt_fes_from_node(kt_arena_t *a, void *node, kt_fes_t **out, kt_ows_exc_t *e)
{
	fparse_t p = {a, e};
	xmlNode *root = node;
	if (!is_op(root, "Filter"))
		return bad(&p, "the filter must be a <Filter> element, not <%s>",
		           root ? (const char *)root->name : "");
	xmlNode *c = first_el(root->children);
	if (!c)
		return bad(&p, "an empty <Filter>%s", "");
	if (is_id(c))
		return parse_ids(&p, c, out);
	if (first_el(c->next))
		return bad(&p, "a <Filter> holds one predicate (combine with And/Or)%s", "");
	return parse_pred(&p, c, 0, out);
}

int kt_fes_parse(kt_arena_t *a, const char *xml, size_t len, kt_fes_t **out, kt_ows_exc_t *e)
{
	if (len > INT32_MAX)
		return kt_ows_fail(e, a, "OperationParsingFailed", "FILTER", "the filter is too large");
	xmlDoc *doc = xmlReadMemory(xml, (int)len, "filter.xml", NULL,
	                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
	                            XML_PARSE_NOCDATA);
	if (!doc)
		return kt_ows_fail(e, a, "OperationParsingFailed", "FILTER",
		                   "the filter is not well-formed XML");
	int rc = kt_fes_from_node(a, xmlDocGetRootElement(doc), out, e);
	xmlFreeDoc(doc);
	return rc;
}
