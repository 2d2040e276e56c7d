/*
 * ogcapi_html.c — the HTML face of OGC API Features: a page made from the
 * JSON document the same request answers (title, description, links, a
 * list of collections, or a table of features with their public
 * properties). Everything that comes from data is escaped.
 */
#include <string.h>

#include "kt_ogcapi_int.h"

static void links_html(kt_sbuf_t *b, json_t *links)
{
	size_t i;
	json_t *l;
	if (!json_array_size(links))
		return;
	kt_sbuf_puts(b, "<ul class=\"links\">");
	json_array_foreach(links, i, l) {
		const char *href = json_string_value(json_object_get(l, "href"));
		const char *rel = json_string_value(json_object_get(l, "rel"));
		const char *title = json_string_value(json_object_get(l, "title"));
		kt_sbuf_puts(b, "<li><a href=\"");
		kt_sbuf_xml(b, href ? href : "");
		kt_sbuf_puts(b, "\">");
		kt_sbuf_xml(b, title ? title : href ? href : "");
		kt_sbuf_puts(b, "</a> (");
		kt_sbuf_xml(b, rel ? rel : "");
		kt_sbuf_puts(b, ")</li>");
	}
	kt_sbuf_puts(b, "</ul>");
}

static void scalar(kt_sbuf_t *b, json_t *v)
{
	char num[64];
	if (json_is_string(v))
		kt_sbuf_xml(b, json_string_value(v));
	else if (json_is_integer(v))
		kt_sbuf_printf(b, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		kt_sbuf_printf(b, "%s", (snprintf(num, sizeof num, "%.10g", json_real_value(v)), num));
	else if (json_is_boolean(v))
		kt_sbuf_puts(b, json_is_true(v) ? "oui" : "non");
}

static void features_html(kt_sbuf_t *b, json_t *features)
{
	size_t i;
	json_t *f;
	kt_sbuf_puts(b, "<table><thead><tr><th>id</th><th>propriétés</th></tr></thead><tbody>");
	json_array_foreach(features, i, f) {
		kt_sbuf_puts(b, "<tr><td>");
		scalar(b, json_object_get(f, "id"));
		kt_sbuf_puts(b, "</td><td><dl>");
		const char *k;
		json_t *v;
		json_object_foreach(json_object_get(f, "properties"), k, v) {
			if (json_is_null(v))
				continue;
			kt_sbuf_puts(b, "<dt>");
			kt_sbuf_xml(b, k);
			kt_sbuf_puts(b, "</dt><dd>");
			scalar(b, v);
			kt_sbuf_puts(b, "</dd>");
		}
		kt_sbuf_puts(b, "</dl></td></tr>");
	}
	kt_sbuf_puts(b, "</tbody></table>");
}

static void collections_html(kt_sbuf_t *b, json_t *cols)
{
	size_t i;
	json_t *c;
	kt_sbuf_puts(b, "<ul class=\"collections\">");
	json_array_foreach(cols, i, c) {
		kt_sbuf_puts(b, "<li><a href=\"collections/");
		kt_sbuf_xml(b, json_string_value(json_object_get(c, "id")));
		kt_sbuf_puts(b, "?f=html\">");
		kt_sbuf_xml(b, json_string_value(json_object_get(c, "title")));
		kt_sbuf_puts(b, "</a> — ");
		kt_sbuf_xml(b, json_string_value(json_object_get(c, "description")));
		kt_sbuf_puts(b, "</li>");
	}
	kt_sbuf_puts(b, "</ul>");
}

int kt_ogcapi_html(kt_request_t *req, json_t *doc, const char *title)
{
	kt_sbuf_t b = {0};
	kt_sbuf_puts(&b, "<!DOCTYPE html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\"><title>");
	kt_sbuf_xml(&b, title ? title : "kartenn");
	kt_sbuf_puts(&b, "</title></head><body><h1>");
	kt_sbuf_xml(&b, title ? title : "kartenn");
	kt_sbuf_puts(&b, "</h1>");
	const char *desc = json_string_value(json_object_get(doc, "description"));
	if (desc) {
		kt_sbuf_puts(&b, "<p>");
		kt_sbuf_xml(&b, desc);
		kt_sbuf_puts(&b, "</p>");
	}
	json_t *n = json_object_get(doc, "numberMatched");
	if (json_is_integer(n))
		kt_sbuf_printf(&b, "<p>%lld objets, %lld affichés.</p>", (long long)json_integer_value(n),
		               (long long)json_integer_value(json_object_get(doc, "numberReturned")));
	links_html(&b, json_object_get(doc, "links"));
	if (json_is_array(json_object_get(doc, "collections")))
		collections_html(&b, json_object_get(doc, "collections"));
	if (json_is_array(json_object_get(doc, "features")))
		features_html(&b, json_object_get(doc, "features"));
	if (json_is_object(json_object_get(doc, "properties"))) { /* one feature */
		json_t *one = json_pack("[O]", doc);
		features_html(&b, one);
		json_decref(one);
	}
	json_t *conf = json_object_get(doc, "conformsTo");
	size_t i;
	json_t *c;
	json_array_foreach(conf, i, c) {
		kt_sbuf_puts(&b, i ? "<li>" : "<ul><li>");
		kt_sbuf_xml(&b, json_string_value(c));
		kt_sbuf_puts(&b, i + 1 == json_array_size(conf) ? "</li></ul>" : "</li>");
	}
	kt_sbuf_puts(&b, "<p><small>kartenn — Ville de Lanester</small></p></body></html>\n");
	size_t len;
	char *body = kt_sbuf_take(&b, &len);
	if (!body)
		return KT_ENOMEM;
	return kt_respond(req, 200, "text/html; charset=utf-8", body, len, KT_BUF_KT_FREE);
}
