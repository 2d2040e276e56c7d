/*
 * ows_common.c — what WFS and OGC API Features share about layers: which
 * layers, attributes and rows a client may see, the base URL of links,
 * a layer's extent in WGS84, and the select that reads a page of features.
 *
 * What it keeps true: every name a client sends (type name, property,
 * sort key) is looked up here against the public flags of the catalogue,
 * so a private layer or attribute answers exactly as a missing one; every
 * read of rows carries kt_layer_publish_sql, so an unmoderated
 * contribution never leaves through these services.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "kt_ows_int.h"

static const char *strip_prefix(const char *name)
{
	const char *colon = name ? strchr(name, ':') : NULL;
	return colon ? colon + 1 : name;
}

const kt_layer_t *kt_ows_public_layer(const kt_store_t *s, const char *name)
{
	if (!name)
		return NULL;
	const char *colon = strchr(name, ':');
	if (colon && (size_t)(colon - name) != strlen(KT_OWS_PREFIX))
		return NULL; /* another namespace prefix */
	if (colon && strncmp(name, KT_OWS_PREFIX, strlen(KT_OWS_PREFIX)))
		return NULL;
	return kt_catalogue_public_layer(s, strip_prefix(name));
}

const kt_attr_def_t *kt_ows_public_attr(const kt_layer_t *l, const char *name)
{
	name = strip_prefix(name);
	if (!name)
		return NULL;
	const kt_attr_def_t *a = kt_layer_attr(l, name);
	return a && a->is_public ? a : NULL;
}

const char *kt_ows_base_url(kt_request_t *req)
{
	const char *host = kt_req_header(req, "Host");
	int ok = host && *host && strlen(host) < 256;
	for (const char *p = host; ok && *p; p++)
		ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		     strchr(".-:[]", *p);
	if (ok)
		return kt_arena_printf(&req->arena, "http://%s", host);
	const char *url = kt_server_url(req->srv);
	size_t n = strlen(url);
	return kt_arena_strndup(&req->arena, url, n && url[n - 1] == '/' ? n - 1 : n);
}

int kt_ows_select_prepare(kt_arena_t *a, const kt_ows_select_t *s, kt_select_t *out)
{
	memset(out, 0, sizeof *out);
	out->q.layer = s->layer->name;
	out->q.has_bbox = s->has_bbox;
	memcpy(out->q.bbox, s->bbox, sizeof s->bbox);
	out->q.bbox_epsg = s->bbox_epsg;
	out->q.out_epsg = s->out_epsg;
	out->q.limit = s->limit;
	out->q.offset = s->offset;
	out->sort = s->sort;
	out->n_sort = s->n_sort;
	const char *pub = kt_layer_publish_sql(s->layer);
	const char *frag = s->where && s->where->sql.len ? s->where->sql.p : NULL;
	if (pub && frag)
		out->where = kt_arena_printf(a, "%s AND (%s)", pub, frag);
	else
		out->where = pub ? pub : frag;
	if ((pub && frag && !out->where) || (s->where && s->where->sql.oom))
		return KT_ENOMEM;
	if (s->where) {
		out->params = s->where->params;
		out->n_params = s->where->n_params;
	}
	return 0;
}

int kt_ows_layer_wgs84(kt_ctx_t *ctx, const kt_layer_t *l, double out[4])
{
	kt_select_t s;
	kt_ows_select_t os = {.layer = l};
	kt_arena_t a;
	unsigned char buf[512];
	kt_arena_init(&a, buf, sizeof buf);
	int rc = kt_ows_select_prepare(&a, &os, &s);
	double e[4];
	if (!rc)
		rc = kt_features_select_extent(ctx, &s, e);
	kt_arena_release(&a);
	if (rc)
		return rc;
	kt_transform_t *t;
	int store = kt_store_epsg(kt_ctx_store(ctx));
	if ((rc = kt_ctx_transform(ctx, store, 4326, &t)))
		return rc;
	if (e[0] == e[2] && e[1] == e[3]) { /* one point: give it some size */
		e[0] -= 1; e[1] -= 1; e[2] += 1; e[3] += 1;
	}
	return kt_transform_bbox(ctx, t, e, out);
}

static json_t *value_json(const kt_value_t *v)
{
	if (v->is_null)
		return json_null();
	switch (v->type) {
	case KT_ATTR_INTEGER: return json_integer((json_int_t)v->i);
	case KT_ATTR_BOOLEAN: return json_boolean(v->i);
	case KT_ATTR_REAL: return v->d == v->d ? json_real(v->d) : json_null();
	default: return v->s ? json_string(v->s) : json_null();
	}
}

json_t *kt_ows_properties_json(const kt_layer_t *l, const kt_feature_t *f)
{
	json_t *p = json_object();
	for (size_t i = 0; p && i < l->n_attrs && i < f->n_values; i++)
		if (l->attrs[i].is_public)
			json_object_set_new(p, l->attrs[i].name, value_json(&f->values[i]));
	return p;
}

json_t *kt_ows_feature_json(const kt_layer_t *l, const kt_feature_t *f, const char *id)
{
	json_t *geom = json_null();
	if (f->wkb && f->wkb_len && kt_wkb_to_geojson(f->wkb, f->wkb_len, &geom))
		return NULL;
	return json_pack("{s:s, s:s, s:o, s:o}", "type", "Feature", "id", id, "geometry", geom,
	                 "properties", kt_ows_properties_json(l, f));
}

/* ---- GeoJSON as text ---------------------------------------------------------
 * What jansson would write for kt_ows_feature_json, written straight into
 * the answer: a GetFeature of a few hundred features spent most of its
 * time building and freeing the tree. */

/* The length of the UTF-8 sequence at s (jansson's rules: no overlong
 * form, no surrogate, nothing past U+10FFFF), 0 when it is not valid. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned c = s[0];
	size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
	         : (c & 0xf8) == 0xf0 ? 4 : 0;
	if (n <= 1 || c == 0xc0 || c == 0xc1 || c > 0xf4)
		return n == 1 ? 1 : 0;
	uint32_t cp = c & (0xffu >> (n + 1));
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3fu);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

int kt_sbuf_json_string(kt_sbuf_t *b, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0; u[i];) {
		size_t n = utf8_len(u + i);
		if (!n)
			return KT_EINVAL;
		i += n;
	}
	kt_sbuf_put(b, "\"", 1);
	const char *run = s;
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		kt_sbuf_put(b, run, (size_t)(p - run));
		run = p + 1;
		char esc[8];
		switch (c) {
		case '"': kt_sbuf_put(b, "\\\"", 2); break;
		case '\\': kt_sbuf_put(b, "\\\\", 2); break;
		case '\b': kt_sbuf_put(b, "\\b", 2); break;
		case '\f': kt_sbuf_put(b, "\\f", 2); break;
		case '\n': kt_sbuf_put(b, "\\n", 2); break;
		case '\r': kt_sbuf_put(b, "\\r", 2); break;
		case '\t': kt_sbuf_put(b, "\\t", 2); break;
		default:
			snprintf(esc, sizeof esc, "\\u%04X", c);
			kt_sbuf_put(b, esc, 6);
		}
	}
	kt_sbuf_put(b, run, strlen(run));
	kt_sbuf_put(b, "\"", 1);
	return 0;
}

/* One property value; 1 when jansson would leave the property out (an
 * infinite real, a text that is not UTF-8), writing nothing. */
static int value_text(kt_sbuf_t *b, const kt_value_t *v)
{
	char t[32];
	if (v->is_null || (v->type == KT_ATTR_REAL && v->d != v->d) ||
	    (v->type != KT_ATTR_INTEGER && v->type != KT_ATTR_BOOLEAN && v->type != KT_ATTR_REAL &&
	     !v->s)) {
		kt_sbuf_put(b, "null", 4);
		return 0;
	}
	switch (v->type) {
	case KT_ATTR_INTEGER:
		kt_sbuf_put(b, t, (size_t)snprintf(t, sizeof t, "%" PRId64, (int64_t)v->i));
		return 0;
	case KT_ATTR_BOOLEAN:
		kt_sbuf_puts(b, v->i ? "true" : "false");
		return 0;
	case KT_ATTR_REAL: {
		size_t n = kt_json_real(v->d, t);
		if (!n)
			return 1; /* infinite: json_real refuses it */
		kt_sbuf_put(b, t, n);
		return 0;
	}
	default:
		return kt_sbuf_json_string(b, v->s) ? 1 : 0;
	}
}

/* Drops what was appended after mark. */
static void sbuf_cut(kt_sbuf_t *b, size_t mark)
{
	if (b->oom || !b->p)
		return;
	b->len = mark;
	b->p[mark] = 0;
}

static void properties_text(kt_sbuf_t *b, const kt_layer_t *l, const kt_feature_t *f)
{
	int n = 0;
	kt_sbuf_put(b, "{", 1);
	for (size_t i = 0; i < l->n_attrs && i < f->n_values; i++) {
		if (!l->attrs[i].is_public)
			continue;
		size_t mark = b->len;
		if (n)
			kt_sbuf_put(b, ",", 1);
		if (kt_sbuf_json_string(b, l->attrs[i].name)) {
			sbuf_cut(b, mark);
			continue;
		}
		kt_sbuf_put(b, ":", 1);
		if (value_text(b, &f->values[i])) { /* left out, as jansson does */
			sbuf_cut(b, mark);
			continue;
		}
		n++;
	}
	kt_sbuf_put(b, "}", 1);
}

int kt_ows_feature_geojson(kt_sbuf_t *b, const kt_layer_t *l, const kt_feature_t *f,
                           const char *id)
{
	kt_sbuf_puts(b, "{\"type\":\"Feature\",\"id\":");
	if (kt_sbuf_json_string(b, id))
		return KT_EINVAL;
	kt_sbuf_puts(b, ",\"geometry\":");
	if (f->wkb && f->wkb_len) {
		if (kt_wkb_geojson_write(b, f->wkb, f->wkb_len))
			return KT_EINVAL;
	} else {
		kt_sbuf_put(b, "null", 4);
	}
	kt_sbuf_puts(b, ",\"properties\":");
	properties_text(b, l, f);
	kt_sbuf_put(b, "}", 1);
	return 0;
}
