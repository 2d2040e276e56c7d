/*
 * wfs_describe.c — DescribeFeatureType: the XML Schema of public feature
 * types, GML 3.2 application schema for WFS 2.0, GML 3.1.1 for 1.1.0.
 *
 * Each type lists its public attributes only, in layer order, each
 * optional (a null value is left out of a feature), typed xsd:string,
 * long, double, boolean, date or dateTime, then the geometry property
 * "geom" typed after the layer geometry. The GetFeature writer
 * (wfs_getfeature.c) emits elements in exactly this order, which the
 * tests check by validating GetFeature answers against this schema.
 */
#include <string.h>

#include "kt_ows_int.h"

static void type_schema(kt_sbuf_t *b, const kt_layer_t *l, int v2)
{
	kt_sbuf_printf(b, "<xsd:complexType name=\"%sType\"><xsd:complexContent><xsd:extension "
	                  "base=\"gml:AbstractFeatureType\"><xsd:sequence>", l->name);
	for (size_t i = 0; i < l->n_attrs; i++) {
		const kt_attr_def_t *a = &l->attrs[i];
		if (!a->is_public)
			continue;
		kt_sbuf_printf(b, "<xsd:element name=\"%s\" type=\"%s\" minOccurs=\"0\"/>", a->name,
		               kt_xsd_type(a->type));
	}
	if (l->geom_type != KT_GEOM_NONE)
		kt_sbuf_printf(b, "<xsd:element name=\"geom\" type=\"%s\" minOccurs=\"0\"/>",
		               kt_gml_property_type(l->geom_type));
	kt_sbuf_printf(b, "</xsd:sequence></xsd:extension></xsd:complexContent></xsd:complexType>"
	                  "<xsd:element name=\"%s\" type=\"" KT_OWS_PREFIX ":%sType\" "
	                  "substitutionGroup=\"gml:%s\"/>",
	               l->name, l->name, v2 ? "AbstractFeature" : "_Feature");
}

int kt_wfs_describe(kt_request_t *req, kt_wfs_req_t *w)
{
	kt_sbuf_t b = {0};
	kt_sbuf_printf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<xsd:schema "
	                   "xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:gml=\"%s\" "
	                   "xmlns:" KT_OWS_PREFIX "=\"" KT_OWS_NS "\" targetNamespace=\"" KT_OWS_NS "\" "
	                   "elementFormDefault=\"qualified\" version=\"%s\">"
	                   "<xsd:import namespace=\"%s\" schemaLocation=\"%s\"/>",
	               w->v2 ? "http://www.opengis.net/gml/3.2" : "http://www.opengis.net/gml",
	               w->version, w->v2 ? "http://www.opengis.net/gml/3.2" : "http://www.opengis.net/gml",
	               w->v2 ? "http://schemas.opengis.net/gml/3.2.1/gml.xsd"
	                     : "http://schemas.opengis.net/gml/3.1.1/base/gml.xsd");
	if (w->all_types) {
		const kt_catalogue_t *cat = kt_store_catalogue(req->srv->store);
		for (size_t i = 0; cat && i < cat->n_layers; i++)
			if (cat->layers[i]->is_public)
				type_schema(&b, cat->layers[i], w->v2);
	} else {
		for (size_t i = 0; i < w->n_queries; i++) {
			size_t k = 0; /* a type named twice is described once */
			while (k < i && w->queries[k].layer != w->queries[i].layer)
				k++;
			if (k == i)
				type_schema(&b, w->queries[i].layer, w->v2);
		}
	}
	kt_sbuf_puts(&b, "</xsd:schema>\n");
	size_t len;
	char *body = kt_sbuf_take(&b, &len);
	if (!body)
		return KT_ENOMEM;
	req->cache_control = "public, max-age=60";
	return kt_respond(req, 200,
	                  w->v2 ? "text/xml; subtype=gml/3.2"
	                        : "text/xml; subtype=gml/3.1.1",
	                  body, len, KT_BUF_KT_FREE);
}
