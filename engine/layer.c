/*
 * layer.c — layer definitions: parsing layers/<name>.json into kt_layer_t
 * and loading a directory of them into a catalogue.
 *
 * A definition is checked whole before it is accepted: names are safe SQL
 * identifiers that do not collide with the common columns, types and
 * geometry are known words, the zoom range is ordered. Errors name the
 * file and the key at fault.
 */
#include "kt_engine_int.h"

#include <dirent.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Columns every layer table has; attribute names may not reuse them. */
static const char *const reserved_columns[] = {
	"fid", "uid", "source_id", "batch_id", "version", "created_at", "updated_at",
	"ascol_ref", "precision_xy_cm", "precision_z_cm", "transform_accuracy_m",
	"dtdict_class", "survey_date", "survey_method", "surveyor", "geom", NULL,
};

static const char *const geom_names[] = {
	"NONE", "POINT", "LINESTRING", "POLYGON", "MULTIPOINT", "MULTILINESTRING", "MULTIPOLYGON",
};

static const char *const attr_type_names[] = {
	NULL, "text", "integer", "real", "boolean", "date", "datetime",
};

const char *kt_geom_type_name(kt_geom_type_t t)
{
	return (unsigned)t <= KT_GEOM_MULTIPOLYGON ? geom_names[t] : "?";
}

const char *kt_attr_type_name(kt_attr_type_t t)
{
	return t >= KT_ATTR_TEXT && t <= KT_ATTR_DATETIME ? attr_type_names[t] : "?";
}

static int safe_identifier(const char *s)
{
	if (!s || !(*s >= 'a' && *s <= 'z'))
		return 0;
	size_t n = 0;
	for (; *s; s++, n++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return n <= 63;
}

static int reserved(const char *s)
{
	for (const char *const *r = reserved_columns; *r; r++)
		if (!strcmp(*r, s))
			return 1;
	return 0;
}

void kt_layer_free(kt_layer_t *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n_attrs; i++) {
		kt_free(l->attrs[i].name);
		kt_free(l->attrs[i].title);
	}
	kt_free(l->attrs);
	kt_free(l->name);
	kt_free(l->title);
	kt_free(l->abstract);
	kt_free(l->theme);
	kt_free(l->licence);
	kt_free(l->attribution);
	kt_free(l->definition_json);
	kt_free(l->publish_attr);
	kt_free(l->publish_value);
	kt_free(l->publish_sql);
	kt_free(l);
}

/* Optional string member; *out stays NULL when absent. */
static int get_string(json_t *obj, const char *key, int required, char **out, const char *origin,
                      kt_err_t *err)
{
	json_t *v = json_object_get(obj, key);
	if (!v) {
		if (required)
			return kt__err(err, KT_EINVAL, "%s: missing key \"%s\"", origin, key);
		return 0;
	}
	if (!json_is_string(v))
		return kt__err(err, KT_EINVAL, "%s: key \"%s\" must be a string", origin, key);
	*out = kt_strdup(json_string_value(v));
	return *out ? 0 : kt__err(err, KT_ENOMEM, "%s: out of memory", origin);
}

static int get_bool(json_t *obj, const char *key, int def, int *out, const char *origin, kt_err_t *err)
{
	json_t *v = json_object_get(obj, key);
	if (!v) {
		*out = def;
		return 0;
	}
	if (!json_is_boolean(v))
		return kt__err(err, KT_EINVAL, "%s: key \"%s\" must be true or false", origin, key);
	*out = json_is_true(v);
	return 0;
}

static int parse_attr(json_t *a, kt_attr_def_t *def, const char *origin, size_t idx, kt_err_t *err)
{
	char where[600];
	snprintf(where, sizeof where, "%s: attributes[%zu]", origin, idx);
	if (!json_is_object(a))
		return kt__err(err, KT_EINVAL, "%s must be an object", where);
	char *type = NULL;
	int rc = get_string(a, "name", 1, &def->name, where, err);
	if (!rc)
		rc = get_string(a, "title", 0, &def->title, where, err);
	if (!rc)
		rc = get_string(a, "type", 1, &type, where, err);
	if (!rc)
		rc = get_bool(a, "public", 0, &def->is_public, where, err);
	if (!rc)
		rc = get_bool(a, "required", 0, &def->required, where, err);
	if (!rc && !safe_identifier(def->name))
		rc = kt__err(err, KT_EINVAL, "%s: name \"%s\" must match [a-z][a-z0-9_]*", where, def->name);
	if (!rc && reserved(def->name))
		rc = kt__err(err, KT_EINVAL, "%s: name \"%s\" is a common column of every layer", where,
		             def->name);
	if (!rc) {
		def->type = 0;
		for (int t = KT_ATTR_TEXT; t <= KT_ATTR_DATETIME; t++)
			if (!strcmp(type, attr_type_names[t]))
				def->type = (kt_attr_type_t)t;
		if (!def->type)
			rc = kt__err(err, KT_EINVAL,
			             "%s: type \"%s\" is not one of text, integer, real, boolean, date, datetime",
			             where, type);
	}
	kt_free(type);
	return rc;
}

static int parse_attrs(json_t *root, kt_layer_t *l, const char *origin, kt_err_t *err)
{
	json_t *attrs = json_object_get(root, "attributes");
	if (!attrs)
		return 0;
	if (!json_is_array(attrs))
		return kt__err(err, KT_EINVAL, "%s: \"attributes\" must be an array", origin);
	size_t n = json_array_size(attrs);
	l->attrs = kt_calloc(n ? n : 1, sizeof *l->attrs);
	if (!l->attrs)
		return kt__err(err, KT_ENOMEM, "%s: out of memory", origin);
	l->n_attrs = n; /* only now: kt_layer_free walks attrs[0..n_attrs) */
	for (size_t i = 0; i < l->n_attrs; i++) {
		int rc = parse_attr(json_array_get(attrs, i), &l->attrs[i], origin, i, err);
		if (rc)
			return rc;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(l->attrs[j].name, l->attrs[i].name))
				return kt__err(err, KT_EINVAL, "%s: attribute \"%s\" declared twice", origin,
				               l->attrs[i].name);
	}
	return 0;
}

static int parse_kinds(json_t *root, kt_layer_t *l, const char *origin, kt_err_t *err)
{
	char *geom = NULL, *network = NULL;
	int rc = get_string(root, "geometry", 1, &geom, origin, err);
	if (!rc)
		rc = get_string(root, "network", 0, &network, origin, err);
	if (!rc) {
		l->geom_type = (kt_geom_type_t)-1;
		for (int g = KT_GEOM_NONE; g <= KT_GEOM_MULTIPOLYGON; g++)
			if (!strcasecmp(geom, geom_names[g]))
				l->geom_type = (kt_geom_type_t)g;
		if ((int)l->geom_type < 0)
			rc = kt__err(err, KT_EINVAL, "%s: geometry \"%s\" is not one of NONE, POINT, LINESTRING, "
			             "POLYGON, MULTIPOINT, MULTILINESTRING, MULTIPOLYGON", origin, geom);
	}
	if (!rc) {
		if (!network || !strcmp(network, "none"))
			l->network = KT_NETWORK_NONE;
		else if (!strcmp(network, "rigid"))
			l->network = KT_NETWORK_RIGID;
		else if (!strcmp(network, "flexible"))
			l->network = KT_NETWORK_FLEXIBLE;
		else
			rc = kt__err(err, KT_EINVAL, "%s: network \"%s\" is not one of none, rigid, flexible",
			             origin, network);
	}
	kt_free(geom);
	kt_free(network);
	return rc;
}

/* "publish_when": {"attribute": A, "equals": V}: A must be a text
 * attribute of the layer. */
static int parse_publish(json_t *root, kt_layer_t *l, const char *origin, kt_err_t *err)
{
	json_t *p = json_object_get(root, "publish_when");
	if (!p)
		return 0;
	char where[600];
	snprintf(where, sizeof where, "%s: publish_when", origin);
	if (!json_is_object(p))
		return kt__err(err, KT_EINVAL, "%s must be {\"attribute\": …, \"equals\": …}", where);
	int rc = get_string(p, "attribute", 1, &l->publish_attr, where, err);
	if (!rc)
		rc = get_string(p, "equals", 1, &l->publish_value, where, err);
	if (rc)
		return rc;
	const kt_attr_def_t *a = kt_layer_attr(l, l->publish_attr);
	if (!a || a->type != KT_ATTR_TEXT)
		return kt__err(err, KT_EINVAL, "%s: \"%s\" is not a text attribute of the layer", where,
		               l->publish_attr);
	char *sql = sqlite3_mprintf("\"%w\" = %Q", l->publish_attr, l->publish_value);
	l->publish_sql = sql ? kt_strdup(sql) : NULL;
	sqlite3_free(sql);
	return l->publish_sql ? 0 : kt__err(err, KT_ENOMEM, "%s: out of memory", origin);
}

static int parse_zoom(json_t *root, kt_layer_t *l, const char *origin, kt_err_t *err)
{
	json_t *z = json_object_get(root, "zoom");
	l->minzoom = 0;
	l->maxzoom = 22;
	if (!z)
		return 0;
	if (!json_is_array(z) || json_array_size(z) != 2 || !json_is_integer(json_array_get(z, 0)) ||
	    !json_is_integer(json_array_get(z, 1)))
		return kt__err(err, KT_EINVAL, "%s: \"zoom\" must be [minzoom, maxzoom]", origin);
	l->minzoom = (int)json_integer_value(json_array_get(z, 0));
	l->maxzoom = (int)json_integer_value(json_array_get(z, 1));
	if (l->minzoom < 0 || l->maxzoom > 24 || l->minzoom > l->maxzoom)
		return kt__err(err, KT_EINVAL, "%s: \"zoom\" [%d, %d] must satisfy 0 <= min <= max <= 24",
		               origin, l->minzoom, l->maxzoom);
	return 0;
}

kt_layer_t *kt_layer_parse(const char *text, const char *origin, kt_err_t *err)
{
	json_error_t jerr;
	json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		kt__err(err, KT_EINVAL, "%s:%d:%d: %s", origin, jerr.line, jerr.column, jerr.text);
		return NULL;
	}
	kt_layer_t *l = kt_calloc(1, sizeof *l);
	int rc = l ? 0 : kt__err(err, KT_ENOMEM, "%s: out of memory", origin);
	if (!rc && !json_is_object(root))
		rc = kt__err(err, KT_EINVAL, "%s: a layer definition is a JSON object", origin);
	if (!rc)
		rc = get_string(root, "name", 1, &l->name, origin, err);
	if (!rc && !safe_identifier(l->name))
		rc = kt__err(err, KT_EINVAL, "%s: name \"%s\" must match [a-z][a-z0-9_]* (63 chars max)",
		             origin, l->name);
	if (!rc && !strncmp(l->name, "kt_", 3))
		rc = kt__err(err, KT_EINVAL, "%s: name \"%s\": the prefix kt_ is reserved", origin, l->name);
	if (!rc)
		rc = get_string(root, "title", 1, &l->title, origin, err);
	if (!rc)
		rc = get_string(root, "abstract", 0, &l->abstract, origin, err);
	if (!rc)
		rc = get_string(root, "theme", 0, &l->theme, origin, err);
	if (!rc)
		rc = get_string(root, "licence", 0, &l->licence, origin, err);
	if (!rc)
		rc = get_string(root, "attribution", 0, &l->attribution, origin, err);
	if (!rc)
		rc = get_bool(root, "public", 0, &l->is_public, origin, err);
	if (!rc)
		rc = get_bool(root, "z", 0, &l->has_z, origin, err);
	if (!rc)
		rc = parse_kinds(root, l, origin, err);
	if (!rc)
		rc = parse_zoom(root, l, origin, err);
	if (!rc)
		rc = parse_attrs(root, l, origin, err);
	if (!rc)
		rc = parse_publish(root, l, origin, err);
	if (!rc && l->has_z && l->geom_type == KT_GEOM_NONE)
		rc = kt__err(err, KT_EINVAL, "%s: \"z\" needs a geometry", origin);
	if (!rc) {
		l->definition_json = json_dumps(root, JSON_SORT_KEYS | JSON_COMPACT);
		if (!l->definition_json)
			rc = kt__err(err, KT_ENOMEM, "%s: out of memory", origin);
	}
	json_decref(root);
	if (rc) {
		kt_layer_free(l);
		return NULL;
	}
	/* json_dumps allocates with malloc; keep one allocator for the layer */
	char *copy = kt_strdup(l->definition_json);
	free(l->definition_json);
	l->definition_json = copy;
	if (!copy) {
		kt__err(err, KT_ENOMEM, "%s: out of memory", origin);
		kt_layer_free(l);
		return NULL;
	}
	return l;
}

int kt_layer_attr_index(const kt_layer_t *layer, const char *name)
{
	for (size_t i = 0; i < layer->n_attrs; i++)
		if (!strcmp(layer->attrs[i].name, name))
			return (int)i;
	return -1;
}

int kt_layer_feature_published(const kt_layer_t *l, const kt_feature_t *f)
{
	if (!l->publish_attr)
		return 1;
	int i = kt_layer_attr_index(l, l->publish_attr);
	if (i < 0 || (size_t)i >= f->n_values)
		return 0;
	const kt_value_t *v = &f->values[i];
	return !v->is_null && v->s && !strcmp(v->s, l->publish_value);
}

const char *kt_layer_publish_sql(const kt_layer_t *l)
{
	return l->publish_sql;
}

const kt_attr_def_t *kt_layer_attr(const kt_layer_t *layer, const char *name)
{
	int i = kt_layer_attr_index(layer, name);
	return i < 0 ? NULL : &layer->attrs[i];
}

void kt_catalogue_free(kt_catalogue_t *cat)
{
	if (!cat)
		return;
	for (size_t i = 0; i < cat->n_layers; i++)
		kt_layer_free(cat->layers[i]);
	kt_free(cat->layers);
	kt_free(cat);
}

const kt_layer_t *kt_catalogue_find(const kt_catalogue_t *cat, const char *name)
{
	for (size_t i = 0; cat && name && i < cat->n_layers; i++)
		if (!strcmp(cat->layers[i]->name, name))
			return cat->layers[i];
	return NULL;
}

static char *read_file(const char *path, kt_err_t *err)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		kt__err(err, KT_ENOENT, "%s: cannot open", path);
		return NULL;
	}
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = n >= 0 && n < (1L << 24) ? kt_malloc((size_t)n + 1) : NULL;
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		kt__err(err, buf ? KT_EIO : KT_EINVAL, "%s: cannot read", path);
		kt_free(buf);
		fclose(f);
		return NULL;
	}
	buf[n] = 0;
	fclose(f);
	return buf;
}

static int json_file(const struct dirent *d)
{
	size_t n = strlen(d->d_name);
	return d->d_name[0] != '.' && n > 5 && !strcmp(d->d_name + n - 5, ".json");
}

int kt_catalogue_load_dir(const char *dir, kt_catalogue_t **out, kt_err_t *err)
{
	struct dirent **names;
	int n = scandir(dir, &names, json_file, alphasort);
	if (n < 0)
		return kt__err(err, KT_ENOENT, "%s: cannot read the layers directory", dir);
	kt_catalogue_t *cat = kt_calloc(1, sizeof *cat);
	int rc = cat ? 0 : kt__err(err, KT_ENOMEM, "out of memory");
	if (!rc && !(cat->layers = kt_calloc((size_t)n + 1, sizeof *cat->layers)))
		rc = kt__err(err, KT_ENOMEM, "out of memory");
	for (int i = 0; i < n; i++) {
		if (!rc) {
			char path[4096];
			snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
			char *text = read_file(path, err);
			kt_layer_t *l = text ? kt_layer_parse(text, path, err) : NULL;
			kt_free(text);
			if (!l)
				rc = err ? err->code : KT_EINVAL;
			else if (kt_catalogue_find(cat, l->name)) {
				rc = kt__err(err, KT_EINVAL, "%s: layer \"%s\" is defined twice", path, l->name);
				kt_layer_free(l);
			} else
				cat->layers[cat->n_layers++] = l;
		}
		free(names[i]);
	}
	free(names);
	if (!rc && cat->n_layers == 0)
		rc = kt__err(err, KT_ENOENT, "%s: no layer definition (*.json)", dir);
	if (rc) {
		kt_catalogue_free(cat);
		return rc;
	}
	*out = cat;
	return 0;
}
