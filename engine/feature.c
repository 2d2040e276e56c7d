/*
 * feature.c — kt_feature_t in memory: creation typed after a layer,
 * setters that copy, deep clone, equality of content, and the JSON form
 * the history keeps. No SQL here (see feature_store.c).
 *
 * A feature owns every string and buffer it points to; kt_feature_free
 * releases them all.
 */
#include "kt_engine_int.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

kt_feature_t *kt_feature_new(const kt_layer_t *layer)
{
	kt_feature_t *f = kt_calloc(1, sizeof *f);
	if (!f)
		return NULL;
	f->n_values = layer ? layer->n_attrs : 0;
	f->values = kt_calloc(f->n_values ? f->n_values : 1, sizeof *f->values);
	if (!f->values) {
		kt_free(f);
		return NULL;
	}
	for (size_t i = 0; i < f->n_values; i++) {
		f->values[i].type = layer->attrs[i].type;
		f->values[i].is_null = 1;
	}
	f->precision.xy_cm = NAN;
	f->precision.z_cm = NAN;
	f->precision.transform_m = NAN;
	return f;
}

static void precision_release(kt_precision_t *p)
{
	kt_free(p->survey_date);
	kt_free(p->survey_method);
	kt_free(p->surveyor);
}

void kt_feature_free(kt_feature_t *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n_values; i++)
		kt_free(f->values[i].s);
	kt_free(f->values);
	kt_free(f->uid);
	kt_free(f->source_id);
	kt_free(f->created_at);
	kt_free(f->updated_at);
	kt_free(f->ascol_ref);
	kt_free(f->wkb);
	precision_release(&f->precision);
	kt_free(f);
}

int kt_feature_set_string(char **slot, const char *s)
{
	char *copy = NULL;
	if (s && !(copy = kt_strdup(s)))
		return KT_ENOMEM;
	kt_free(*slot);
	*slot = copy;
	return 0;
}

int kt_feature_set_null(kt_feature_t *f, size_t i)
{
	if (i >= f->n_values)
		return KT_EINVAL;
	kt_free(f->values[i].s);
	f->values[i].s = NULL;
	f->values[i].is_null = 1;
	return 0;
}

int kt_feature_set_text(kt_feature_t *f, size_t i, const char *s)
{
	if (i >= f->n_values)
		return KT_EINVAL;
	if (!s)
		return kt_feature_set_null(f, i);
	int rc = kt_feature_set_string(&f->values[i].s, s);
	if (!rc)
		f->values[i].is_null = 0;
	return rc;
}

int kt_feature_set_int(kt_feature_t *f, size_t i, int64_t v)
{
	if (i >= f->n_values)
		return KT_EINVAL;
	kt_feature_set_null(f, i);
	f->values[i].i = v;
	f->values[i].is_null = 0;
	return 0;
}

int kt_feature_set_real(kt_feature_t *f, size_t i, double v)
{
	if (i >= f->n_values)
		return KT_EINVAL;
	kt_feature_set_null(f, i);
	f->values[i].d = v;
	f->values[i].is_null = 0;
	return 0;
}

int kt_feature_set_wkb(kt_feature_t *f, const unsigned char *wkb, size_t len, int epsg)
{
	unsigned char *copy = NULL;
	if (wkb && len) {
		if (!(copy = kt_malloc(len)))
			return KT_ENOMEM;
		memcpy(copy, wkb, len);
	}
	kt_free(f->wkb);
	f->wkb = copy;
	f->wkb_len = copy ? len : 0;
	f->epsg = epsg;
	return 0;
}

kt_feature_t *kt_feature_clone_deep(const kt_feature_t *f)
{
	kt_feature_t *c = kt_calloc(1, sizeof *c);
	if (!c)
		return NULL;
	*c = *f;
	c->values = NULL;
	c->uid = c->source_id = c->created_at = c->updated_at = c->ascol_ref = NULL;
	c->wkb = NULL;
	c->precision.survey_date = c->precision.survey_method = c->precision.surveyor = NULL;
	c->n_values = 0;
	int rc = 0;
	if (!(c->values = kt_calloc(f->n_values ? f->n_values : 1, sizeof *c->values)))
		rc = KT_ENOMEM;
	for (size_t i = 0; !rc && i < f->n_values; i++) {
		c->values[i] = f->values[i];
		c->values[i].s = NULL;
		c->n_values++;
		rc = kt_feature_set_string(&c->values[i].s, f->values[i].s);
	}
	rc = rc ? rc : kt_feature_set_string(&c->uid, f->uid);
	rc = rc ? rc : kt_feature_set_string(&c->source_id, f->source_id);
	rc = rc ? rc : kt_feature_set_string(&c->created_at, f->created_at);
	rc = rc ? rc : kt_feature_set_string(&c->updated_at, f->updated_at);
	rc = rc ? rc : kt_feature_set_string(&c->ascol_ref, f->ascol_ref);
	rc = rc ? rc : kt_feature_set_string(&c->precision.survey_date, f->precision.survey_date);
	rc = rc ? rc : kt_feature_set_string(&c->precision.survey_method, f->precision.survey_method);
	rc = rc ? rc : kt_feature_set_string(&c->precision.surveyor, f->precision.surveyor);
	rc = rc ? rc : kt_feature_set_wkb(c, f->wkb, f->wkb_len, f->epsg);
	if (rc) {
		kt_feature_free(c);
		return NULL;
	}
	return c;
}

static int same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static int same_real(double a, double b)
{
	return (isnan(a) && isnan(b)) || a == b;
}

int kt_feature_same(const kt_feature_t *a, const kt_feature_t *b)
{
	if (a->n_values != b->n_values || a->wkb_len != b->wkb_len ||
	    (a->wkb_len && memcmp(a->wkb, b->wkb, a->wkb_len)) || !same_str(a->ascol_ref, b->ascol_ref))
		return 0;
	const kt_precision_t *p = &a->precision, *q = &b->precision;
	if (!same_real(p->xy_cm, q->xy_cm) || !same_real(p->z_cm, q->z_cm) ||
	    !same_real(p->transform_m, q->transform_m) || p->dtdict_class != q->dtdict_class ||
	    !same_str(p->survey_date, q->survey_date) || !same_str(p->survey_method, q->survey_method) ||
	    !same_str(p->surveyor, q->surveyor))
		return 0;
	for (size_t i = 0; i < a->n_values; i++) {
		const kt_value_t *x = &a->values[i], *y = &b->values[i];
		if (x->is_null != y->is_null)
			return 0;
		if (x->is_null)
			continue;
		switch (x->type) {
		case KT_ATTR_INTEGER:
		case KT_ATTR_BOOLEAN:
			if (x->i != y->i)
				return 0;
			break;
		case KT_ATTR_REAL:
			if (!same_real(x->d, y->d))
				return 0;
			break;
		default:
			if (!same_str(x->s, y->s))
				return 0;
		}
	}
	return 1;
}

/* ---- JSON form, for the history ---------------------------------------- */

static json_t *jstr(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *jreal(double d)
{
	return isnan(d) ? json_null() : json_real(d);
}

char *kt__feature_to_json(const kt_layer_t *layer, const kt_feature_t *f)
{
	json_t *attrs = json_object();
	for (size_t i = 0; i < f->n_values && i < layer->n_attrs; i++) {
		const kt_value_t *v = &f->values[i];
		json_t *j;
		if (v->is_null)
			j = json_null();
		else if (v->type == KT_ATTR_INTEGER)
			j = json_integer(v->i);
		else if (v->type == KT_ATTR_BOOLEAN)
			j = json_boolean(v->i);
		else if (v->type == KT_ATTR_REAL)
			j = json_real(v->d);
		else
			j = json_string(v->s);
		json_object_set_new(attrs, layer->attrs[i].name, j);
	}
	char cls[2] = {f->precision.dtdict_class, 0};
	json_t *root = json_pack("{s:o, s:o, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
	                         "attributes", attrs, "source_id", jstr(f->source_id), "batch_id",
	                         (json_int_t)f->batch_id, "ascol_ref", jstr(f->ascol_ref), "precision_xy_cm",
	                         jreal(f->precision.xy_cm), "precision_z_cm", jreal(f->precision.z_cm),
	                         "transform_accuracy_m", jreal(f->precision.transform_m), "dtdict_class",
	                         cls[0] ? json_string(cls) : json_null(), "survey_date",
	                         jstr(f->precision.survey_date), "survey_method",
	                         jstr(f->precision.survey_method), "surveyor", jstr(f->precision.surveyor),
	                         "created_at", jstr(f->created_at));
	if (!root)
		return NULL;
	char *text = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(17));
	json_decref(root);
	if (!text)
		return NULL;
	char *copy = kt_strdup(text);
	free(text);
	return copy;
}

static double get_real(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_number(v) ? json_number_value(v) : NAN;
}

static int get_str(json_t *o, const char *k, char **slot)
{
	json_t *v = json_object_get(o, k);
	return kt_feature_set_string(slot, json_is_string(v) ? json_string_value(v) : NULL);
}

static int value_from_json(kt_feature_t *f, size_t i, json_t *v)
{
	if (!v || json_is_null(v))
		return kt_feature_set_null(f, i);
	switch (f->values[i].type) {
	case KT_ATTR_INTEGER: return kt_feature_set_int(f, i, json_integer_value(v));
	case KT_ATTR_BOOLEAN: return kt_feature_set_int(f, i, json_is_true(v));
	case KT_ATTR_REAL: return kt_feature_set_real(f, i, json_number_value(v));
	default: return kt_feature_set_text(f, i, json_string_value(v));
	}
}

int kt__feature_from_json(const kt_layer_t *layer, const char *text, const void *wkb, size_t wkb_len,
                          int epsg, kt_feature_t **out)
{
	json_t *root = json_loads(text, 0, NULL);
	kt_feature_t *f = root ? kt_feature_new(layer) : NULL;
	if (!f) {
		json_decref(root);
		return root ? KT_ENOMEM : KT_EINVAL;
	}
	json_t *attrs = json_object_get(root, "attributes");
	int rc = 0;
	for (size_t i = 0; !rc && i < layer->n_attrs; i++)
		rc = value_from_json(f, i, json_object_get(attrs, layer->attrs[i].name));
	rc = rc ? rc : get_str(root, "source_id", &f->source_id);
	rc = rc ? rc : get_str(root, "ascol_ref", &f->ascol_ref);
	rc = rc ? rc : get_str(root, "survey_date", &f->precision.survey_date);
	rc = rc ? rc : get_str(root, "survey_method", &f->precision.survey_method);
	rc = rc ? rc : get_str(root, "surveyor", &f->precision.surveyor);
	rc = rc ? rc : get_str(root, "created_at", &f->created_at);
	rc = rc ? rc : kt_feature_set_wkb(f, wkb, wkb_len, epsg);
	f->batch_id = json_integer_value(json_object_get(root, "batch_id"));
	f->precision.xy_cm = get_real(root, "precision_xy_cm");
	f->precision.z_cm = get_real(root, "precision_z_cm");
	f->precision.transform_m = get_real(root, "transform_accuracy_m");
	json_t *cls = json_object_get(root, "dtdict_class");
	f->precision.dtdict_class = json_is_string(cls) ? json_string_value(cls)[0] : 0;
	json_decref(root);
	if (rc) {
		kt_feature_free(f);
		return rc;
	}
	*out = f;
	return 0;
}
