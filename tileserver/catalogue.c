/*
 * catalogue.c — the public catalogue API:
 *   GET /api/layers                  every public layer, and the store's
 *                                    "fictional" label (demo data) or null
 *   GET /api/layers/{name}           one public layer
 *   GET /api/features/{layer}/{id}   one feature as GeoJSON in EPSG:4326;
 *                                    id is its uid, or its fid (the
 *                                    feature id of the vector tiles, a
 *                                    row id of this store)
 *
 * What it keeps true: a private layer is indistinguishable from a missing
 * one (same 404), and no private attribute ever leaves this file — every
 * list of attributes or values is filtered on is_public here, in one
 * function each (public_attrs, feature_properties), and a collaborative
 * contribution is served only once published (the layer's publish_when rule,
 * kt_layer_feature_published).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kt_server_int.h"

#define UID_MAX 128

const kt_layer_t *kt_catalogue_public_layer(const kt_store_t *store, const char *name)
{
	const kt_layer_t *l = name ? kt_store_layer(store, name) : NULL;
	return l && l->is_public ? l : NULL;
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *public_attrs(const kt_layer_t *layer)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < layer->n_attrs; i++) {
		const kt_attr_def_t *d = &layer->attrs[i];
		if (!d->is_public)
			continue;
		json_array_append_new(a, json_pack("{s:s, s:o, s:s, s:b}", "name", d->name, "title",
		                                   str_or_null(d->title), "type",
		                                   kt_attr_type_name(d->type), "required",
		                                   d->required));
	}
	return a;
}

static const char *network_name(kt_network_kind_t k)
{
	return k == KT_NETWORK_RIGID ? "rigid" : k == KT_NETWORK_FLEXIBLE ? "flexible" : NULL;
}

json_t *kt_catalogue_layer_json(kt_ctx_t *ctx, const kt_layer_t *l)
{
	/* published features only: a proposed contribution is not counted */
	json_t *count = json_null();
	int64_t n = 0;
	kt_select_t s = {.q = {.layer = l->name}, .where = kt_layer_publish_sql(l)};
	if (ctx && kt_features_select_count(ctx, &s, &n) == 0)
		count = json_integer((json_int_t)n);
	return json_pack("{s:s, s:o, s:o, s:o, s:o, s:b, s:o, s:{s:i, s:i}, s:o, s:o, s:o, s:o}",
	                 "name", l->name, "title", str_or_null(l->title), "abstract",
	                 str_or_null(l->abstract), "theme", str_or_null(l->theme), "geometry",
	                 l->geom_type == KT_GEOM_NONE ? json_null()
	                                              : json_string(kt_geom_type_name(l->geom_type)),
	                 "has_z", l->has_z, "network", str_or_null(network_name(l->network)),
	                 "zoom", "min", l->minzoom, "max", l->maxzoom, "licence",
	                 str_or_null(l->licence), "attribution", str_or_null(l->attribution),
	                 "count", count, "attributes", public_attrs(l));
}

int kt_catalogue_list(kt_request_t *req)
{
	const char *why = NULL;
	kt_ctx_t *ctx = kt_req_ctx(req, &why);
	if (!ctx)
		return kt_respond_problem(req, 503, "the store cannot be opened: %s", why);
	const kt_catalogue_t *cat = kt_store_catalogue(req->srv->store);
	json_t *layers = json_array();
	for (size_t i = 0; layers && cat && i < cat->n_layers; i++) {
		const kt_layer_t *l = cat->layers[i];
		if (l->is_public && json_array_append_new(layers, kt_catalogue_layer_json(ctx, l))) {
			json_decref(layers);
			return KT_ENOMEM;
		}
	}
	if (!layers)
		return KT_ENOMEM;
	/* A demo store says so (kt_meta "fictional"), and every page that
	 * shows its data must say it too. */
	char *fictional = NULL;
	if (kt_meta_get(ctx, "fictional", &fictional))
		fictional = NULL;
	json_t *j = json_pack("{s:o, s:o}", "layers", layers, "fictional",
	                      fictional && *fictional ? json_string(fictional) : json_null());
	kt_free(fictional);
	req->cache_control = "public, max-age=60";
	return kt_respond_json(req, 200, j);
}

int kt_catalogue_layer(kt_request_t *req)
{
	const char *name = kt_req_param(req, "name");
	const kt_layer_t *l = kt_catalogue_public_layer(req->srv->store, name);
	if (!l)
		return kt_respond_problem(req, 404, "no public layer named '%s'", name);
	const char *why = NULL;
	kt_ctx_t *ctx = kt_req_ctx(req, &why);
	if (!ctx)
		return kt_respond_problem(req, 503, "the store cannot be opened: %s", why);
	req->cache_control = "public, max-age=60";
	return kt_respond_json(req, 200, kt_catalogue_layer_json(ctx, l));
}

static json_t *value_json(const kt_value_t *v)
{
	if (v->is_null)
		return json_null();
	switch (v->type) {
	case KT_ATTR_INTEGER:
		return json_integer((json_int_t)v->i);
	case KT_ATTR_BOOLEAN:
		return json_boolean(v->i);
	case KT_ATTR_REAL:
		return json_real(v->d); /* NULL for NaN/Inf: the key is left out */
	default:
		return v->s ? json_string(v->s) : json_null();
	}
}

/* uid, version and the public attributes of f: never a private one. */
static json_t *feature_properties(const kt_layer_t *l, const kt_feature_t *f)
{
	json_t *p = json_pack("{s:s, s:s, s:I, s:o}", "layer", l->name, "uid", f->uid, "version",
	                      (json_int_t)f->version, "updated_at", str_or_null(f->updated_at));
	for (size_t i = 0; p && i < l->n_attrs && i < f->n_values; i++)
		if (l->attrs[i].is_public)
			json_object_set_new(p, l->attrs[i].name, value_json(&f->values[i]));
	if (p && l->network != KT_NETWORK_NONE && f->precision.dtdict_class) {
		char cls[2] = {f->precision.dtdict_class, 0};
		json_object_set_new(p, "dtdict_class", json_string(cls));
	}
	return p;
}

static int feature_answer(kt_request_t *req, const kt_layer_t *l, const kt_feature_t *f)
{
	json_t *geom = json_null();
	if (f->wkb && f->wkb_len && kt_wkb_to_geojson(f->wkb, f->wkb_len, &geom)) {
		dprintf(STDERR_FILENO, "kartenn: %s: %s/%s: geometry not readable\n", __func__,
		        l->name, f->uid);
		return kt_respond_problem(req, 500, "the geometry of this feature cannot be read");
	}
	char etag[40];
	snprintf(etag, sizeof etag, "\"v%lld\"", (long long)f->version);
	const char *inm = kt_req_header(req, "If-None-Match");
	req->cache_control = "no-cache";
	if (inm && !strcmp(inm, etag)) {
		json_decref(geom);
		int rc = kt_respond(req, 304, NULL, NULL, 0, KT_BUF_STATIC);
		return rc ? rc : kt_respond_header(req, "ETag", etag);
	}
	json_t *j = json_pack("{s:s, s:s, s:o, s:o}", "type", "Feature", "id", f->uid,
	                      "geometry", geom, "properties", feature_properties(l, f));
	char *text = j ? json_dumps(j, KT_JSON_FLAGS) : NULL;
	json_decref(j);
	if (!text)
		return KT_ENOMEM;
	int rc = kt_respond(req, 200, "application/geo+json", text, strlen(text), KT_BUF_FREE);
	return rc ? rc : kt_respond_header(req, "ETag", etag);
}

/* A fid as the tiles write it: decimal digits, no sign, no leading zero,
 * small enough for an int64. */
static int is_fid(const char *s)
{
	size_t n = strspn(s, "0123456789");
	return n > 0 && n <= 18 && !s[n] && (s[0] != '0' || n == 1);
}

static int keep_copy(const kt_feature_t *f, void *data)
{
	kt_feature_t **out = data;
	*out = kt_feature_clone_deep(f);
	return *out == NULL; /* stops the select: out of memory */
}

/* The feature of a row id, as kt_feature_get gives it by uid. */
static int feature_by_fid(kt_ctx_t *ctx, const kt_layer_t *l, int64_t fid, int out_epsg,
                          kt_feature_t **out)
{
	kt_sql_value_t v = {.type = KT_SQL_INT, .i = fid};
	kt_select_t s = {.q = {.layer = l->name, .out_epsg = out_epsg, .limit = 1},
	                 .where = "fid = ?", .params = &v, .n_params = 1};
	*out = NULL;
	int rc = kt_features_select(ctx, &s, keep_copy, out);
	if (rc == KT_EABORT)
		return KT_ENOMEM;
	return !rc && !*out ? KT_ENOENT : rc;
}

/* By fid when id is one (what a tile gives the map), else — and when no
 * row has that id — by uid. */
static int feature_by_id(kt_ctx_t *ctx, const kt_layer_t *l, const char *id, kt_feature_t **out)
{
	int out_epsg = l->geom_type == KT_GEOM_NONE ? 0 : 4326;
	if (is_fid(id)) {
		int rc = feature_by_fid(ctx, l, strtoll(id, NULL, 10), out_epsg, out);
		if (rc != KT_ENOENT)
			return rc;
	}
	return kt_feature_get(ctx, l->name, id, out_epsg, out);
}

int kt_catalogue_feature(kt_request_t *req)
{
	const char *name = kt_req_param(req, "layer"), *uid = kt_req_param(req, "uid");
	const kt_layer_t *l = kt_catalogue_public_layer(req->srv->store, name);
	if (!l)
		return kt_respond_problem(req, 404, "no public layer named '%s'", name);
	if (strlen(uid) > UID_MAX)
		return kt_respond_problem(req, 404, "no feature '%.40s…' in layer '%s'", uid, name);
	const char *why = NULL;
	kt_ctx_t *ctx = kt_req_ctx(req, &why);
	if (!ctx)
		return kt_respond_problem(req, 503, "the store cannot be opened: %s", why);
	kt_feature_t *f = NULL;
	int rc = feature_by_id(ctx, l, uid, &f);
	if (rc == KT_ENOENT)
		return kt_respond_problem(req, 404, "no feature '%s' in layer '%s'", uid, name);
	if (rc) {
		dprintf(STDERR_FILENO, "kartenn: %s: %s/%s: %s\n", __func__, name, uid,
		        kt_errmsg(ctx));
		return kt_respond_problem(req, 500, "the feature could not be read (%s)",
		                          kt_strerror(rc));
	}
	if (kt_layer_feature_published(l, f))
		rc = feature_answer(req, l, f);
	else
		rc = kt_respond_problem(req, 404, "no feature '%s' in layer '%s'", uid, name);
	kt_feature_free(f);
	return rc;
}
