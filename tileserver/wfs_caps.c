/*
 * wfs_caps.c — the WFS GetCapabilities answer, 2.0.0 (OWS 1.1, FES 2.0)
 * and 1.1.0 (OWS 1.0, Filter 1.1).
 *
 * It lists the public layers only (kt_ows_public_layer is the test every
 * other operation applies to names, so what is listed is exactly what can
 * be asked for), each with its title, abstract, CRS (the store CRS by
 * default, 2154, 3857, 4326 besides), output formats and WGS84 extent,
 * then what the service implements: operations with their GET and POST
 * endpoints, the WFS 2.0 conformance constraints (basic WFS, paging,
 * KVP and XML, no transactions or locking), the filter capabilities and
 * the GetFeatureById stored query. Links use the Host the client sent.
 */
#include <stdio.h>
#include <string.h>

#include "kt_ows_int.h"

static const int other_crs[] = {2154, 3857, 4326, 3948};

static const char *const gml32_formats[] = {
	"application/gml+xml; version=3.2", "text/xml; subtype=gml/3.2", "application/json", NULL,
};
static const char *const gml31_formats[] = {
	"text/xml; subtype=gml/3.1.1", "application/json", NULL,
};

static void el(kt_sbuf_t *b, const char *name, const char *text)
{
	kt_sbuf_printf(b, "<%s>", name);
	kt_sbuf_xml(b, text ? text : "");
	kt_sbuf_printf(b, "</%s>", name);
}

/* An ows parameter or constraint with its values (OWS 1.1 AllowedValues,
 * OWS 1.0 plain Value list). */
static void domain(kt_sbuf_t *b, int v2, const char *kind, const char *name,
                   const char *const *values)
{
	kt_sbuf_printf(b, "<ows:%s name=\"%s\">", kind, name);
	if (v2)
		kt_sbuf_puts(b, "<ows:AllowedValues>");
	for (int i = 0; values[i]; i++)
		el(b, "ows:Value", values[i]);
	if (v2)
		kt_sbuf_puts(b, "</ows:AllowedValues>");
	kt_sbuf_printf(b, "</ows:%s>", kind);
}

static void constraint(kt_sbuf_t *b, const char *name, const char *value)
{
	kt_sbuf_printf(b, "<ows:Constraint name=\"%s\"><ows:NoValues/><ows:DefaultValue>%s"
	                  "</ows:DefaultValue></ows:Constraint>", name, value);
}

static void operation(kt_sbuf_t *b, const char *url, const char *name, int post)
{
	kt_sbuf_printf(b, "<ows:Operation name=\"%s\"><ows:DCP><ows:HTTP><ows:Get xlink:href=\"", name);
	kt_sbuf_xml(b, url);
	kt_sbuf_puts(b, "?\"/>");
	if (post) {
		kt_sbuf_puts(b, "<ows:Post xlink:href=\"");
		kt_sbuf_xml(b, url);
		kt_sbuf_puts(b, "\"/>");
	}
	kt_sbuf_puts(b, "</ows:HTTP></ows:DCP>");
}

static void service_sections(kt_sbuf_t *b, int v2)
{
	kt_sbuf_puts(b, "<ows:ServiceIdentification>"
	                "<ows:Title>Ville de Lanester — données géographiques (WFS)</ows:Title>"
	                "<ows:Abstract>Couches publiques du SIG kartenn de la ville de Lanester "
	                "(Morbihan) : bâtiments, éclairage public, cimetières, cartes "
	                "collaboratives, référentiels. Licence Ouverte 2.0 sauf mention contraire."
	                "</ows:Abstract><ows:Keywords><ows:Keyword>Lanester</ows:Keyword>"
	                "<ows:Keyword>SIG</ows:Keyword><ows:Keyword>open data</ows:Keyword>"
	                "</ows:Keywords><ows:ServiceType>WFS</ows:ServiceType>");
	if (v2)
		kt_sbuf_puts(b, "<ows:ServiceTypeVersion>2.0.0</ows:ServiceTypeVersion>"
		                "<ows:ServiceTypeVersion>1.1.0</ows:ServiceTypeVersion>");
	else
		kt_sbuf_puts(b, "<ows:ServiceTypeVersion>1.1.0</ows:ServiceTypeVersion>");
	kt_sbuf_puts(b, "<ows:Fees>NONE</ows:Fees><ows:AccessConstraints>NONE</ows:AccessConstraints>"
	                "</ows:ServiceIdentification><ows:ServiceProvider>"
	                "<ows:ProviderName>Ville de Lanester</ows:ProviderName>"
	                "<ows:ServiceContact><ows:IndividualName>Service SIG</ows:IndividualName>"
	                "<ows:ContactInfo><ows:Address><ows:City>Lanester</ows:City>"
	                "<ows:PostalCode>56600</ows:PostalCode><ows:Country>France</ows:Country>"
	                "</ows:Address></ows:ContactInfo></ows:ServiceContact></ows:ServiceProvider>");
}

static void operations(kt_sbuf_t *b, const char *url, int v2)
{
	static const char *const versions2[] = {"2.0.0", "1.1.0", NULL};
	static const char *const versions1[] = {"1.1.0", NULL};
	static const char *const results[] = {"results", "hits", NULL};
	kt_sbuf_puts(b, "<ows:OperationsMetadata>");
	operation(b, url, "GetCapabilities", 1);
	domain(b, v2, "Parameter", "AcceptVersions", v2 ? versions2 : versions1);
	kt_sbuf_puts(b, "</ows:Operation>");
	operation(b, url, "DescribeFeatureType", 1);
	kt_sbuf_puts(b, "</ows:Operation>");
	operation(b, url, "GetFeature", 1);
	domain(b, v2, "Parameter", "outputFormat", v2 ? gml32_formats : gml31_formats);
	domain(b, v2, "Parameter", "resultType", results);
	kt_sbuf_puts(b, "</ows:Operation>");
	if (v2) {
		operation(b, url, "ListStoredQueries", 1);
		kt_sbuf_puts(b, "</ows:Operation>");
		operation(b, url, "DescribeStoredQueries", 1);
		kt_sbuf_puts(b, "</ows:Operation>");
		static const char *const version[] = {"2.0.0", NULL};
		domain(b, v2, "Parameter", "version", version);
		static const char *const t[][2] = {
			{"ImplementsBasicWFS", "TRUE"}, {"ImplementsTransactionalWFS", "FALSE"},
			{"ImplementsLockingWFS", "FALSE"}, {"KVPEncoding", "TRUE"}, {"XMLEncoding", "TRUE"},
			{"SOAPEncoding", "FALSE"}, {"ImplementsInheritance", "FALSE"},
			{"ImplementsRemoteResolve", "FALSE"}, {"ImplementsResultPaging", "TRUE"},
			{"ImplementsStandardJoins", "FALSE"}, {"ImplementsSpatialJoins", "FALSE"},
			{"ImplementsTemporalJoins", "FALSE"}, {"ImplementsFeatureVersioning", "FALSE"},
			{"ManageStoredQueries", "FALSE"},
		};
		for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
			constraint(b, t[i][0], t[i][1]);
		kt_sbuf_printf(b, "<ows:Constraint name=\"CountDefault\"><ows:NoValues/>"
		                  "<ows:DefaultValue>%d</ows:DefaultValue></ows:Constraint>",
		               KT_OWS_MAX_FEATURES);
		static const char *const qe[] = {"wfs:Query", "wfs:StoredQuery", NULL};
		domain(b, v2, "Constraint", "QueryExpressions", qe);
	}
	kt_sbuf_puts(b, "</ows:OperationsMetadata>");
}

static void feature_type(kt_sbuf_t *b, kt_ctx_t *ctx, const kt_layer_t *l, int v2)
{
	int store = kt_store_epsg(kt_ctx_store(ctx));
	kt_sbuf_puts(b, "<wfs:FeatureType>");
	/* layer names are [a-z][a-z0-9_]*: nothing to escape */
	kt_sbuf_printf(b, "<wfs:Name>" KT_OWS_PREFIX ":%s</wfs:Name>", l->name);
	el(b, "wfs:Title", l->title ? l->title : l->name);
	if (l->abstract)
		el(b, "wfs:Abstract", l->abstract);
	if (l->geom_type == KT_GEOM_NONE) {
		kt_sbuf_puts(b, v2 ? "<wfs:NoCRS/>" : "<wfs:NoSRS/>");
	} else {
		kt_sbuf_printf(b, "<wfs:Default%s>urn:ogc:def:crs:EPSG::%d</wfs:Default%s>", v2 ? "CRS" : "SRS",
		               store, v2 ? "CRS" : "SRS");
		for (size_t i = 0; i < sizeof other_crs / sizeof other_crs[0]; i++)
			if (other_crs[i] != store)
				kt_sbuf_printf(b, "<wfs:Other%s>urn:ogc:def:crs:EPSG::%d</wfs:Other%s>",
				               v2 ? "CRS" : "SRS", other_crs[i], v2 ? "CRS" : "SRS");
	}
	kt_sbuf_puts(b, "<wfs:OutputFormats>");
	for (const char *const *f = v2 ? gml32_formats : gml31_formats; *f; f++)
		el(b, "wfs:Format", *f);
	kt_sbuf_puts(b, "</wfs:OutputFormats>");
	double w[4];
	int have = l->geom_type != KT_GEOM_NONE && kt_ows_layer_wgs84(ctx, l, w) == 0;
	if (!have && !v2) { /* required in 1.1.0: the whole world for a table */
		w[0] = -180; w[1] = -90; w[2] = 180; w[3] = 90;
		have = 1;
	}
	if (have)
		kt_sbuf_printf(b, "<ows:WGS84BoundingBox><ows:LowerCorner>%.8f %.8f</ows:LowerCorner>"
		                  "<ows:UpperCorner>%.8f %.8f</ows:UpperCorner></ows:WGS84BoundingBox>",
		               w[0], w[1], w[2], w[3]);
	kt_sbuf_puts(b, "</wfs:FeatureType>");
}

static void filter_caps_20(kt_sbuf_t *b)
{
	static const char *const t[][2] = {
		{"ImplementsQuery", "TRUE"}, {"ImplementsAdHocQuery", "TRUE"},
		{"ImplementsFunctions", "FALSE"}, {"ImplementsResourceId", "TRUE"},
		{"ImplementsMinStandardFilter", "TRUE"}, {"ImplementsStandardFilter", "TRUE"},
		{"ImplementsMinSpatialFilter", "TRUE"}, {"ImplementsSpatialFilter", "TRUE"},
		{"ImplementsMinTemporalFilter", "FALSE"}, {"ImplementsTemporalFilter", "FALSE"},
		{"ImplementsVersionNav", "FALSE"}, {"ImplementsSorting", "TRUE"},
		{"ImplementsExtendedOperators", "FALSE"}, {"ImplementsMinimumXPath", "FALSE"},
		{"ImplementsSchemaElementFunc", "FALSE"},
	};
	static const char *const cmp[] = {
		"PropertyIsEqualTo", "PropertyIsNotEqualTo", "PropertyIsLessThan", "PropertyIsGreaterThan",
		"PropertyIsLessThanOrEqualTo", "PropertyIsGreaterThanOrEqualTo", "PropertyIsLike",
		"PropertyIsNull", "PropertyIsNil", "PropertyIsBetween", NULL,
	};
	static const char *const geoms[] = {
		"gml:Envelope", "gml:Point", "gml:LineString", "gml:Polygon", "gml:MultiPoint",
		"gml:MultiCurve", "gml:MultiSurface", NULL,
	};
	static const char *const sp[] = {
		"BBOX", "Equals", "Disjoint", "Intersects", "Touches", "Crosses", "Within", "Contains",
		"Overlaps", "Beyond", "DWithin", NULL,
	};
	kt_sbuf_puts(b, "<fes:Filter_Capabilities><fes:Conformance>");
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		kt_sbuf_printf(b, "<fes:Constraint name=\"%s\"><ows:NoValues/><ows:DefaultValue>%s"
		                  "</ows:DefaultValue></fes:Constraint>", t[i][0], t[i][1]);
	kt_sbuf_puts(b, "</fes:Conformance><fes:Id_Capabilities><fes:ResourceIdentifier "
	                "name=\"fes:ResourceId\"/></fes:Id_Capabilities><fes:Scalar_Capabilities>"
	                "<fes:LogicalOperators/><fes:ComparisonOperators>");
	for (int i = 0; cmp[i]; i++)
		kt_sbuf_printf(b, "<fes:ComparisonOperator name=\"%s\"/>", cmp[i]);
	kt_sbuf_puts(b, "</fes:ComparisonOperators></fes:Scalar_Capabilities>"
	                "<fes:Spatial_Capabilities><fes:GeometryOperands>");
	for (int i = 0; geoms[i]; i++)
		kt_sbuf_printf(b, "<fes:GeometryOperand name=\"%s\"/>", geoms[i]);
	kt_sbuf_puts(b, "</fes:GeometryOperands><fes:SpatialOperators>");
	for (int i = 0; sp[i]; i++)
		kt_sbuf_printf(b, "<fes:SpatialOperator name=\"%s\"/>", sp[i]);
	kt_sbuf_puts(b, "</fes:SpatialOperators></fes:Spatial_Capabilities></fes:Filter_Capabilities>");
}

static void filter_caps_11(kt_sbuf_t *b)
{
	static const char *const geoms[] = {
		/* Filter 1.1 enumerates operands: no multi geometries there */
		"gml:Envelope", "gml:Point", "gml:LineString", "gml:Polygon", NULL,
	};
	static const char *const sp[] = {
		"BBOX", "Equals", "Disjoint", "Intersects", "Touches", "Crosses", "Within", "Contains",
		"Overlaps", "Beyond", "DWithin", NULL,
	};
	static const char *const cmp[] = {
		"LessThan", "GreaterThan", "LessThanEqualTo", "GreaterThanEqualTo", "EqualTo",
		"NotEqualTo", "Like", "Between", "NullCheck", NULL,
	};
	kt_sbuf_puts(b, "<ogc:Filter_Capabilities><ogc:Spatial_Capabilities><ogc:GeometryOperands>");
	for (int i = 0; geoms[i]; i++)
		el(b, "ogc:GeometryOperand", geoms[i]);
	kt_sbuf_puts(b, "</ogc:GeometryOperands><ogc:SpatialOperators>");
	for (int i = 0; sp[i]; i++)
		kt_sbuf_printf(b, "<ogc:SpatialOperator name=\"%s\"/>", sp[i]);
	kt_sbuf_puts(b, "</ogc:SpatialOperators></ogc:Spatial_Capabilities><ogc:Scalar_Capabilities>"
	                "<ogc:LogicalOperators/><ogc:ComparisonOperators>");
	for (int i = 0; cmp[i]; i++)
		el(b, "ogc:ComparisonOperator", cmp[i]);
	kt_sbuf_puts(b, "</ogc:ComparisonOperators></ogc:Scalar_Capabilities><ogc:Id_Capabilities>"
	                "<ogc:EID/><ogc:FID/></ogc:Id_Capabilities></ogc:Filter_Capabilities>");
}

static void root_open(kt_sbuf_t *b, int v2)
{
	kt_sbuf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	if (v2)
		kt_sbuf_puts(b, "<wfs:WFS_Capabilities version=\"2.0.0\" xmlns:wfs=\"http://www.opengis.net/wfs/2.0\" "
		                "xmlns:ows=\"http://www.opengis.net/ows/1.1\" xmlns:fes=\"http://www.opengis.net/fes/2.0\" "
		                "xmlns:gml=\"http://www.opengis.net/gml/3.2\" ");
	else
		kt_sbuf_puts(b, "<wfs:WFS_Capabilities version=\"1.1.0\" xmlns:wfs=\"http://www.opengis.net/wfs\" "
		                "xmlns:ows=\"http://www.opengis.net/ows\" xmlns:ogc=\"http://www.opengis.net/ogc\" "
		                "xmlns:gml=\"http://www.opengis.net/gml\" ");
	kt_sbuf_puts(b, "xmlns:xlink=\"http://www.w3.org/1999/xlink\" "
	                "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:" KT_OWS_PREFIX
	                "=\"" KT_OWS_NS "\" xsi:schemaLocation=\"");
	kt_sbuf_puts(b, v2 ? "http://www.opengis.net/wfs/2.0 http://schemas.opengis.net/wfs/2.0/wfs.xsd\">"
	                   : "http://www.opengis.net/wfs http://schemas.opengis.net/wfs/1.1.0/wfs.xsd\">");
}

int kt_wfs_capabilities(kt_request_t *req, kt_wfs_req_t *w)
{
	const char *why = NULL;
	kt_ctx_t *ctx = kt_req_ctx(req, &why);
	if (!ctx) {
		kt_ows_exc_t e = {"NoApplicableCode", NULL, why};
		return kt_ows_respond_exc(req, w->version, &e);
	}
	const char *url = kt_arena_printf(&req->arena, "%s/wfs", kt_ows_base_url(req));
	if (!url)
		return KT_ENOMEM;
	kt_sbuf_t b = {0};
	root_open(&b, w->v2);
	service_sections(&b, w->v2);
	operations(&b, url, w->v2);
	kt_sbuf_puts(&b, "<wfs:FeatureTypeList>");
	if (!w->v2)
		kt_sbuf_puts(&b, "<wfs:Operations><wfs:Operation>Query</wfs:Operation></wfs:Operations>");
	const kt_catalogue_t *cat = kt_store_catalogue(req->srv->store);
	for (size_t i = 0; cat && i < cat->n_layers; i++)
		if (cat->layers[i]->is_public)
			feature_type(&b, ctx, cat->layers[i], w->v2);
	kt_sbuf_puts(&b, "</wfs:FeatureTypeList>");
	if (w->v2)
		filter_caps_20(&b);
	else
		filter_caps_11(&b);
	kt_sbuf_puts(&b, "</wfs:WFS_Capabilities>\n");
	size_t len;
	char *body = kt_sbuf_take(&b, &len);
	if (!body)
		return KT_ENOMEM;
	req->cache_control = "public, max-age=60";
	return kt_respond(req, 200, "application/xml; charset=UTF-8", body, len, KT_BUF_KT_FREE);
}
