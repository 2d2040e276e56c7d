/*
 * style_load.c — the named styles of the WMS and the feature properties
 * the style expressions read.
 *
 * A named style is a MapLibre GL style file of <web_root>/styles/ (the
 * same files the browser draws, read at each request as styles.c does, so
 * an edit shows at once), or the same style without its symbol layers
 * ("<name>-nolabels"), for clients that overlay their own labels. The
 * default style is "lanester".
 *
 * Privacy: kt_wms_feature_get is the only way from a feature to the
 * values a style (or GetFeatureInfo) may read: public attributes, the uid
 * and, for network layers, the DT-DICT class — the properties vector
 * tiles carry, so that the style reads the same thing on both sides.
 */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "kt_wms_int.h"

static int name_ok(const char *s)
{
	size_t n = strlen(s);
	if (!n || n >= 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
			return 0;
	return 1;
}

int kt_wms_style_load(kt_request_t *req, const char *name, kt_wms_style_t *st)
{
	memset(st, 0, sizeof *st);
	if (!name || !*name || !strcasecmp(name, "default"))
		name = KT_WMS_DEFAULT_STYLE;
	if (!name_ok(name))
		return KT_ENOENT;
	size_t n = strlen(name), sl = strlen(KT_WMS_NOLABELS_SUFFIX);
	char file[80];
	snprintf(file, sizeof file, "%s", name);
	if (n > sl && !strcmp(name + n - sl, KT_WMS_NOLABELS_SUFFIX)) {
		file[n - sl] = 0;
		st->no_labels = 1;
	}
	char *path = kt_arena_printf(&req->arena, "%s/styles/%s.json", req->srv->web_root, file);
	if (!path)
		return KT_ENOMEM;
	if (access(path, R_OK))
		return KT_ENOENT;
	json_error_t jerr;
	st->doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!st->doc) {
		dprintf(STDERR_FILENO, "kartenn: %s: %s:%d: %s\n", __func__, path, jerr.line, jerr.text);
		return KT_EINVAL;
	}
	st->layers = json_object_get(st->doc, "layers");
	if (!json_is_array(st->layers)) {
		dprintf(STDERR_FILENO, "kartenn: %s: %s: no \"layers\" array\n", __func__, path);
		kt_wms_style_release(st);
		return KT_EINVAL;
	}
	snprintf(st->name, sizeof st->name, "%s", name);
	return 0;
}

void kt_wms_style_release(kt_wms_style_t *st)
{
	if (!st)
		return;
	json_decref(st->doc);
	st->doc = NULL;
	st->layers = NULL;
}

int kt_wms_style_draws(const kt_wms_style_t *st, const char *source_layer)
{
	size_t i;
	const json_t *l;
	json_array_foreach(st->layers, i, l) {
		const char *src = json_string_value(json_object_get(l, "source-layer"));
		const char *type = json_string_value(json_object_get(l, "type"));
		if (src && type && !strcmp(src, source_layer) && !(st->no_labels && !strcmp(type, "symbol")))
			return 1;
	}
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

long kt_wms_style_names(kt_request_t *req, const char ***names)
{
	char *dir = kt_arena_printf(&req->arena, "%s/styles", req->srv->web_root);
	DIR *d = dir ? opendir(dir) : NULL;
	const char **v = kt_arena_alloc(&req->arena, 32 * sizeof *v);
	size_t n = 0;
	if (!v) {
		if (d)
			closedir(d);
		return -1;
	}
	v[n++] = KT_WMS_DEFAULT_STYLE;
	v[n++] = KT_WMS_DEFAULT_STYLE KT_WMS_NOLABELS_SUFFIX;
	struct dirent *de;
	while (d && (de = readdir(d)) && n + 2 <= 32) {
		size_t len = strlen(de->d_name);
		if (len < 6 || strcmp(de->d_name + len - 5, ".json"))
			continue;
		char *base = kt_arena_strndup(&req->arena, de->d_name, len - 5);
		if (!base || !name_ok(base) || !strcmp(base, KT_WMS_DEFAULT_STYLE))
			continue;
		v[n++] = base;
		v[n++] = kt_arena_printf(&req->arena, "%s" KT_WMS_NOLABELS_SUFFIX, base);
		if (!v[n - 1])
			n -= 2;
	}
	if (d)
		closedir(d);
	if (n > 2)
		qsort(v + 2, n - 2, sizeof *v, cmp_names);
	*names = v;
	return (long)n;
}

const char *kt_wms_geometry_type(kt_geom_type_t t)
{
	switch (t) {
	case KT_GEOM_POINT: case KT_GEOM_MULTIPOINT: return "Point";
	case KT_GEOM_LINESTRING: case KT_GEOM_MULTILINESTRING: return "LineString";
	case KT_GEOM_POLYGON: case KT_GEOM_MULTIPOLYGON: return "Polygon";
	default: return "Unknown";
	}
}

int kt_wms_feature_get(const void *feature, const char *key, kt_sval_t *out)
{
	const kt_wms_feat_t *wf = feature;
	const kt_layer_t *l = wf->layer;
	const kt_feature_t *f = wf->f;
	memset(out, 0, sizeof *out);
	if (!strcmp(key, "uid")) {
		out->type = KT_SV_STR;
		out->s = f->uid;
		return f->uid != NULL;
	}
	if (!strcmp(key, "dtdict_class") && l->network != KT_NETWORK_NONE) {
		static const char cls[3][2] = {"A", "B", "C"};
		char c = f->precision.dtdict_class;
		if (c < 'A' || c > 'C')
			return 0;
		out->type = KT_SV_STR;
		out->s = cls[c - 'A'];
		return 1;
	}
	int i = kt_layer_attr_index(l, key);
	if (i < 0 || (size_t)i >= f->n_values || !l->attrs[i].is_public)
		return 0;
	const kt_value_t *v = &f->values[i];
	if (v->is_null)
		return 0;
	switch (v->type) {
	case KT_ATTR_INTEGER: out->type = KT_SV_NUM; out->n = (double)v->i; break;
	case KT_ATTR_REAL: out->type = KT_SV_NUM; out->n = v->d; break;
	case KT_ATTR_BOOLEAN: out->type = KT_SV_BOOL; out->b = v->i != 0; break;
	default:
		if (!v->s)
			return 0;
		out->type = KT_SV_STR;
		out->s = v->s;
	}
	return 1;
}
