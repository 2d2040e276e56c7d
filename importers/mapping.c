/*
 * mapping.c — which source field feeds which layer attribute.
 *
 * A mapping file is a JSON object {"layer_attr": "SOURCE_FIELD", …}; a null
 * value leaves the attribute empty even if a field of the same name exists.
 * Attributes the file does not name are matched automatically: a field
 * spelt exactly like the attribute (case aside) wins, else one whose
 * normalised name (names.c) equals it. Two fields that match equally well
 * are an error, never a coin toss. The common columns ascol_ref,
 * survey_date, survey_method and surveyor are matched the same way after
 * the layer's own attributes.
 */
#include "kt_import.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *extra_names[KT_IMPORT_N_EXTRA] = {"ascol_ref", "survey_date", "survey_method",
                                                     "surveyor"};

const char *kt_import_extra_name(int extra)
{
	return extra >= 0 && extra < KT_IMPORT_N_EXTRA ? extra_names[extra] : NULL;
}

static int err_set(kt_err_t *err, int code, const char *fmt, const char *a, const char *b)
{
	if (err) {
		err->code = code;
		snprintf(err->msg, sizeof err->msg, fmt, a, b ? b : "");
	}
	return code;
}

void kt_import_mapping_free(kt_import_mapping_t *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++) {
		kt_free(m->attr[i]);
		kt_free(m->field[i]);
	}
	kt_free(m->attr);
	kt_free(m->field);
	kt_free(m);
}

int kt_import_mapping_parse(const char *json, const char *origin, kt_import_mapping_t **out,
                            kt_err_t *err)
{
	json_error_t je;
	json_t *root = json_loads(json, 0, &je);
	if (!root) {
		char where[64];
		snprintf(where, sizeof where, "%d:%d", je.line, je.column);
		return err_set(err, KT_EINVAL, "%s: invalid JSON at %s", origin, where);
	}
	if (!json_is_object(root)) {
		json_decref(root);
		return err_set(err, KT_EINVAL, "%s: a mapping is a JSON object {\"attribute\": \"FIELD\"}%s",
		               origin, NULL);
	}
	kt_import_mapping_t *m = kt_calloc(1, sizeof *m);
	size_t n = json_object_size(root);
	if (m) {
		m->attr = kt_calloc(n, sizeof *m->attr);
		m->field = kt_calloc(n, sizeof *m->field);
	}
	if (!m || !m->attr || !m->field) {
		kt_import_mapping_free(m);
		json_decref(root);
		return err_set(err, KT_ENOMEM, "%s: out of memory%s", origin, NULL);
	}
	const char *key;
	json_t *val;
	json_object_foreach(root, key, val) {
		if (!json_is_string(val) && !json_is_null(val)) {
			int rc = err_set(err, KT_EINVAL, "%s: \"%s\": the value must be a field name or null",
			                 origin, key);
			kt_import_mapping_free(m);
			json_decref(root);
			return rc;
		}
		size_t i = m->n++;
		m->attr[i] = kt_strdup(key);
		m->field[i] = json_is_string(val) ? kt_strdup(json_string_value(val)) : NULL;
		if (!m->attr[i] || (json_is_string(val) && !m->field[i])) {
			kt_import_mapping_free(m);
			json_decref(root);
			return err_set(err, KT_ENOMEM, "%s: out of memory%s", origin, NULL);
		}
	}
	json_decref(root);
	*out = m;
	return 0;
}

int kt_import_mapping_load(const char *path, kt_import_mapping_t **out, kt_err_t *err)
{
	json_error_t je;
	json_t *root = json_load_file(path, 0, &je);
	if (!root) {
		char where[160];
		snprintf(where, sizeof where, "line %d: %.100s", je.line, je.text);
		return err_set(err, KT_EINVAL, "%s: %s", path, where);
	}
	char *text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (!text)
		return err_set(err, KT_ENOMEM, "%s: out of memory%s", path, NULL);
	int rc = kt_import_mapping_parse(text, path, out, err);
	free(text);
	return rc;
}

/* Index of the field named exactly (case aside) or, if none, by normalised
 * name; -1 when none, -2 when two match equally well (their indexes in
 * amb[0], amb[1]). */
static int find_field(const char *want, const char *const *fields, size_t n, int amb[2])
{
	int exact[2] = {-1, -1}, norm[2] = {-1, -1};
	char a[256], b[256];
	kt_import_normalise_name(want, a, sizeof a);
	for (size_t j = 0; j < n; j++) {
		int *slot = NULL;
		if (!strcasecmp(fields[j], want)) {
			slot = exact;
		} else {
			kt_import_normalise_name(fields[j], b, sizeof b);
			if (a[0] && !strcmp(a, b))
				slot = norm;
		}
		if (slot && slot[0] < 0)
			slot[0] = (int)j;
		else if (slot && slot[1] < 0)
			slot[1] = (int)j;
	}
	const int *best = exact[0] >= 0 ? exact : norm;
	if (best[1] >= 0) {
		amb[0] = best[0];
		amb[1] = best[1];
		return -2;
	}
	return best[0];
}

static const char *target_name(const kt_layer_t *layer, size_t t)
{
	return t < layer->n_attrs ? layer->attrs[t].name : extra_names[t - layer->n_attrs];
}

/* Applies the mapping file; marks explicit nulls with -3 in index. */
static int apply_mapping(const kt_import_mapping_t *m, const kt_layer_t *layer,
                         const char *const *fields, size_t n_fields, int *index, kt_err_t *err)
{
	size_t n_targets = layer->n_attrs + KT_IMPORT_N_EXTRA;
	for (size_t i = 0; m && i < m->n; i++) {
		size_t t;
		for (t = 0; t < n_targets; t++)
			if (!strcmp(m->attr[i], target_name(layer, t)))
				break;
		if (t == n_targets)
			return err_set(err, KT_EINVAL, "mapping: layer %s has no attribute '%s'", layer->name,
			               m->attr[i]);
		if (!m->field[i]) {
			index[t] = -3;
			continue;
		}
		int amb[2];
		int j = find_field(m->field[i], fields, n_fields, amb);
		if (j == -1)
			return err_set(err, KT_EINVAL, "mapping: the source has no field '%s' (for %s)",
			               m->field[i], m->attr[i]);
		if (j < -1)
			return err_set(err, KT_EINVAL, "mapping: several source fields match '%s' (for %s)",
			               m->field[i], m->attr[i]);
		index[t] = j;
	}
	return 0;
}

int kt_import_mapping_resolve(const kt_import_mapping_t *m, const kt_layer_t *layer,
                              const char *const *fields, size_t n_fields, int *index,
                              kt_err_t *err)
{
	size_t n_targets = layer->n_attrs + KT_IMPORT_N_EXTRA;
	for (size_t t = 0; t < n_targets; t++)
		index[t] = -1;
	int rc = apply_mapping(m, layer, fields, n_fields, index, err);
	if (rc)
		return rc;
	for (size_t t = 0; t < n_targets; t++) {
		if (index[t] != -1)
			continue;
		int amb[2];
		int j = find_field(target_name(layer, t), fields, n_fields, amb);
		if (j < -1) {
			char both[300];
			snprintf(both, sizeof both, "'%s' and '%s'", fields[amb[0]], fields[amb[1]]);
			return err_set(err, KT_EINVAL,
			               "source fields %s both match attribute '%s': say which in --mapping",
			               both, target_name(layer, t));
		}
		index[t] = j;
	}
	for (size_t t = 0; t < n_targets; t++) {
		if (index[t] == -3)
			index[t] = -1;
		if (t < layer->n_attrs && layer->attrs[t].required && index[t] < 0)
			return err_set(err, KT_EINVAL,
			               "attribute '%s' of layer %s is required and no source field feeds it "
			               "(name one with --mapping)",
			               layer->attrs[t].name, layer->name);
	}
	return 0;
}
