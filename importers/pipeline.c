/*
 * pipeline.c — the import pipeline: source → mapping → conversion →
 * reprojection → validation → precision grading → upsert, in one
 * transaction.
 *
 * Everything that can be checked before writing is checked first (layer,
 * options, source, mapping, CRS), so that most mistakes leave the store
 * untouched without even opening a transaction. Then every feature is
 * read in source order and either accepted (inserted, updated or found
 * unchanged) or rejected with a reason; reading goes on after a rejection
 * so that the report lists them all. At the end the transaction commits
 * only if nothing was rejected (or --skip-rejected) and it is not a dry
 * run; otherwise it rolls back and the store is as it was. A GDAL read
 * error, a failed write or an interruption never commit anything. The
 * transaction is a bulk one (kt_tx_begin_bulk): writes skip their own
 * savepoints (any failure rolls it all back anyway) and, into an empty
 * layer, the spatial index is built once at the commit.
 *
 * Per feature, the only allocations are the engine's feature and what
 * GDAL returns; the WKB buffer and the CRS transformation are reused.
 */
#include "import_int.h"

#include <cpl_error.h>
#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct run {
	kt_ctx_t *ctx;
	const kt_import_opts_t *o;
	const kt_layer_t *layer;
	kt_import_report_t *rep;
	kt_source_t src;
	int *index;          /* n_attrs + KT_IMPORT_N_EXTRA source field indexes */
	OGRFieldType *ftype; /* type of each source field */
	int id_field, xy_field, z_field;
	kt_transform_t *t;   /* NULL when the source is in the store CRS */
	double accuracy;
	int store_epsg;
	unsigned char *wkb;
	size_t wkb_cap;
	kt_idset_t *ids;
	int64_t batch_id;
	kt_actor_t actor;
	kt_gdal_errors_t gerr;
	char sid[128];
	char reason[1024];
	char repair[512];
};

/* Records the reason a feature is rejected; returns 1 (rejected). */
static int reject(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int reject(struct run *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof r->reason, fmt, ap);
	va_end(ap);
	return 1;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- preparation ------------------------------------------------------ */

static int check_opts(struct run *r)
{
	const kt_import_opts_t *o = r->o;
	if (!o->source || !o->layer)
		return kt_ctx_error(r->ctx, KT_EINVAL, "a source and a layer are required");
	r->layer = kt_store_layer(kt_ctx_store(r->ctx), o->layer);
	if (!r->layer)
		return kt_ctx_error(r->ctx, KT_ENOENT, "the store has no layer '%s'", o->layer);
	if (!isnan(o->precision_xy_cm) && o->precision_field)
		return kt_ctx_error(r->ctx, KT_EINVAL, "give --precision-xy or --precision-field, not both");
	if (!isnan(o->precision_z_cm) && o->precision_z_field)
		return kt_ctx_error(r->ctx, KT_EINVAL, "give --precision-z or --precision-z-field, not both");
	if ((!isnan(o->precision_xy_cm) && o->precision_xy_cm < 0) ||
	    (!isnan(o->precision_z_cm) && o->precision_z_cm < 0))
		return kt_ctx_error(r->ctx, KT_EINVAL, "a precision cannot be negative");
	r->store_epsg = kt_store_epsg(kt_ctx_store(r->ctx));
	r->actor.who = o->who ? o->who : "import";
	r->actor.reason = "import";
	return 0;
}

/* Index of a source field named by an option, exactly or normalised. */
static int option_field(struct run *r, const char *opt, const char *name, int *out)
{
	*out = -1;
	if (!name)
		return 0;
	char a[256], b[256];
	kt_import_normalise_name(name, a, sizeof a);
	for (size_t j = 0; j < r->src.n_fields; j++)
		if (!strcmp(r->src.fields[j], name))
			*out = (int)j;
	for (size_t j = 0; j < r->src.n_fields && *out < 0; j++) {
		kt_import_normalise_name(r->src.fields[j], b, sizeof b);
		if (a[0] && !strcmp(a, b))
			*out = (int)j;
	}
	if (*out >= 0)
		return 0;
	return kt_ctx_error(r->ctx, KT_EINVAL, "%s: %s '%s': the source has no such field", r->o->source,
	                    opt, name);
}

static int record_mapping(struct run *r)
{
	kt_import_report_t *rep = r->rep;
	size_t n_targets = r->layer->n_attrs + KT_IMPORT_N_EXTRA;
	rep->mapping = kt_calloc(2 * n_targets + 1, sizeof *rep->mapping);
	rep->unmapped = kt_calloc(r->src.n_fields + 1, sizeof *rep->unmapped);
	if (!rep->mapping || !rep->unmapped)
		return KT_ENOMEM;
	for (size_t t = 0; t < n_targets; t++) {
		if (r->index[t] < 0)
			continue;
		const char *name = t < r->layer->n_attrs ? r->layer->attrs[t].name
		                                         : kt_import_extra_name((int)(t - r->layer->n_attrs));
		size_t k = 2 * rep->n_mapping++;
		if (kt__report_set(&rep->mapping[k], name) ||
		    kt__report_set(&rep->mapping[k + 1], r->src.fields[r->index[t]]))
			return KT_ENOMEM;
	}
	for (size_t j = 0; j < r->src.n_fields; j++) {
		int used = (int)j == r->id_field || (int)j == r->xy_field || (int)j == r->z_field;
		for (size_t t = 0; t < n_targets && !used; t++)
			used = r->index[t] == (int)j;
		if (!used && kt__report_set(&rep->unmapped[rep->n_unmapped++], r->src.fields[j]))
			return KT_ENOMEM;
	}
	return 0;
}

static int resolve_fields(struct run *r)
{
	const kt_import_opts_t *o = r->o;
	kt_import_mapping_t *m = NULL;
	kt_err_t err = {0, ""};
	if (o->mapping_file && kt_import_mapping_load(o->mapping_file, &m, &err))
		return kt_ctx_error(r->ctx, err.code, "%s", err.msg);
	r->index = kt_calloc(r->layer->n_attrs + KT_IMPORT_N_EXTRA, sizeof *r->index);
	r->ftype = kt_calloc(r->src.n_fields + 1, sizeof *r->ftype);
	if (!r->index || !r->ftype) {
		kt_import_mapping_free(m);
		return kt_ctx_error(r->ctx, KT_ENOMEM, "out of memory");
	}
	int rc = kt_import_mapping_resolve(m, r->layer, (const char *const *)r->src.fields, r->src.n_fields,
	                                   r->index, &err);
	kt_import_mapping_free(m);
	if (rc)
		return kt_ctx_error(r->ctx, rc, "%s: %s", o->source, err.msg);
	OGRFeatureDefnH defn = OGR_L_GetLayerDefn(r->src.layer);
	for (size_t j = 0; j < r->src.n_fields; j++)
		r->ftype[j] = OGR_Fld_GetType(OGR_FD_GetFieldDefn(defn, (int)j));
	if ((rc = option_field(r, "--id-field", o->id_field, &r->id_field)) ||
	    (rc = option_field(r, "--precision-field", o->precision_field, &r->xy_field)) ||
	    (rc = option_field(r, "--precision-z-field", o->precision_z_field, &r->z_field)))
		return rc;
	if (record_mapping(r))
		return kt_ctx_error(r->ctx, KT_ENOMEM, "out of memory");
	return 0;
}

static int setup_crs(struct run *r)
{
	const char *src = r->o->source_crs ? r->o->source_crs : r->src.crs;
	if (!src)
		return kt_ctx_error(r->ctx, KT_ECRS,
		                    "%s: the source declares no CRS; give it with --source-crs EPSG:n",
		                    r->o->source);
	char dst[32];
	snprintf(dst, sizeof dst, "EPSG:%d", r->store_epsg);
	if (kt__report_set(&r->rep->source_crs, src) ||
	    kt__report_set(&r->rep->source_crs_name, r->o->source_crs ? r->o->source_crs : r->src.crs_name))
		return kt_ctx_error(r->ctx, KT_ENOMEM, "out of memory");
	r->rep->store_epsg = r->store_epsg;
	if (!strcmp(src, dst)) {
		r->accuracy = 0;
		r->rep->transform_accuracy_m = 0;
		return kt__report_set(&r->rep->transform_name, "none (source already in the store CRS)");
	}
	int rc = kt_transform_new(r->ctx, src, dst, r->o->allow_ballpark, &r->t);
	if (rc)
		return kt_ctx_error(r->ctx, rc, "%s: no transformation from %s to %s: %s", r->o->source,
		                    r->rep->source_crs_name, dst, kt_errmsg(r->ctx));
	r->accuracy = kt_transform_accuracy(r->t);
	r->rep->transform_accuracy_m = r->accuracy;
	return kt__report_set(&r->rep->transform_name, kt_transform_name(r->t));
}

/* ---- one feature ------------------------------------------------------ */

static int date_text(OGRFeatureH of, int j, char *buf, size_t n)
{
	int y, m, d, hh, mi, tz;
	float ss;
	if (!OGR_F_GetFieldAsDateTimeEx(of, j, &y, &m, &d, &hh, &mi, &ss, &tz))
		return -1;
	char zone[16] = "";
	if (tz == 100)
		strcpy(zone, "Z");
	else if (tz > 1) {
		int off = (tz - 100) * 15;
		snprintf(zone, sizeof zone, "%c%02d:%02d", off < 0 ? '-' : '+', abs(off) / 60, abs(off) % 60);
	}
	if (ss == floorf(ss))
		snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d%s", y, m, d, hh, mi, (int)ss, zone);
	else
		snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%06.3f%s", y, m, d, hh, mi, ss, zone);
	return 0;
}

/* Reads source field j as a value of type; 1 and a reason if it does not fit. */
static int read_value(struct run *r, OGRFeatureH of, int j, kt_attr_type_t type, const char *target,
                      kt_import_value_t *v)
{
	char why[256] = "", text[64];
	int rc;
	if (!OGR_F_IsFieldSetAndNotNull(of, j)) {
		memset(v, 0, sizeof *v);
		v->is_null = 1;
		return 0;
	}
	OGRFieldType ft = r->ftype[j];
	if (type != KT_ATTR_TEXT && (ft == OFTInteger || ft == OFTInteger64))
		rc = kt_import_convert_number(type, 0, 1, OGR_F_GetFieldAsInteger64(of, j), v, why, sizeof why);
	else if (type != KT_ATTR_TEXT && ft == OFTReal)
		rc = kt_import_convert_number(type, OGR_F_GetFieldAsDouble(of, j), 0, 0, v, why, sizeof why);
	else if ((type == KT_ATTR_DATE || type == KT_ATTR_DATETIME) && (ft == OFTDate || ft == OFTDateTime))
		rc = date_text(of, j, text, sizeof text) ? KT_EINVAL
		                                         : kt_import_convert_text(type, text, v, why, sizeof why);
	else
		rc = kt_import_convert_text(type, OGR_F_GetFieldAsString(of, j), v, why, sizeof why);
	if (rc)
		return reject(r, "field '%s' → %s (%s): %s", r->src.fields[j], target, kt_attr_type_name(type),
		              why[0] ? why : "unreadable value");
	return 0;
}

static int set_value(kt_feature_t *f, size_t i, kt_attr_type_t type, const kt_import_value_t *v)
{
	if (v->is_null)
		return kt_feature_set_null(f, i);
	switch (type) {
	case KT_ATTR_INTEGER:
	case KT_ATTR_BOOLEAN:
		return kt_feature_set_int(f, i, v->i);
	case KT_ATTR_REAL:
		return kt_feature_set_real(f, i, v->d);
	default:
		return kt_feature_set_text(f, i, v->s);
	}
}

static int fill_attributes(struct run *r, OGRFeatureH of, kt_feature_t *f)
{
	static const kt_attr_type_t extra_type[KT_IMPORT_N_EXTRA] = {KT_ATTR_TEXT, KT_ATTR_DATE,
	                                                             KT_ATTR_TEXT, KT_ATTR_TEXT};
	const kt_layer_t *L = r->layer;
	kt_import_value_t v;
	for (size_t t = 0; t < L->n_attrs; t++) {
		int j = r->index[t];
		if (j < 0)
			continue;
		if (read_value(r, of, j, L->attrs[t].type, L->attrs[t].name, &v))
			return 1;
		if (v.is_null && L->attrs[t].required)
			return reject(r, "attribute %s is required but field '%s' is empty", L->attrs[t].name,
			              r->src.fields[j]);
		if (set_value(f, t, L->attrs[t].type, &v))
			return kt_ctx_error(r->ctx, KT_ENOMEM, "out of memory");
	}
	char **slot[KT_IMPORT_N_EXTRA] = {&f->ascol_ref, &f->precision.survey_date,
	                                  &f->precision.survey_method, &f->precision.surveyor};
	for (int x = 0; x < KT_IMPORT_N_EXTRA; x++) {
		int j = r->index[L->n_attrs + x];
		if (j < 0)
			continue;
		if (read_value(r, of, j, extra_type[x], kt_import_extra_name(x), &v))
			return 1;
		if (kt_feature_set_string(slot[x], v.is_null ? NULL : v.s))
			return kt_ctx_error(r->ctx, KT_ENOMEM, "out of memory");
	}
	return 0;
}

/* A precision in cm from an option or a field; NAN when unknown. */
static int read_precision(struct run *r, OGRFeatureH of, double given, int j, double *out)
{
	*out = given;
	if (j < 0)
		return 0;
	kt_import_value_t v;
	if (read_value(r, of, j, KT_ATTR_REAL, "precision (cm)", &v))
		return 1;
	if (!v.is_null && v.d < 0)
		return reject(r, "field '%s': a precision cannot be negative (%g)", r->src.fields[j], v.d);
	*out = v.is_null ? NAN : v.d;
	return 0;
}

static int fill_precision(struct run *r, OGRFeatureH of, kt_feature_t *f)
{
	kt_precision_t *p = &f->precision;
	if (read_precision(r, of, r->o->precision_xy_cm, r->xy_field, &p->xy_cm) ||
	    read_precision(r, of, r->o->precision_z_cm, r->z_field, &p->z_cm))
		return 1;
	p->transform_m = r->accuracy;
	p->dtdict_class = r->layer->network != KT_NETWORK_NONE
	                          ? kt_dtdict_class(r->layer->network, p->xy_cm, r->accuracy)
	                          : 0;
	return 0;
}

/* Source geometry → ISO WKB in r->wkb, linear, without M, Z as the layer
 * wants; returns its size, 0 when rejected. */
static size_t export_wkb(struct run *r, OGRGeometryH g)
{
	OGRGeometryH lin = NULL;
	if (OGR_G_HasCurveGeometry(g, TRUE))
		g = lin = OGR_G_GetLinearGeometry(g, 0, NULL);
	if (!g) {
		reject(r, "a curved geometry could not be linearised");
		return 0;
	}
	if (!r->layer->has_z && OGR_G_Is3D(g))
		OGR_G_Set3D(g, FALSE);
	if (OGR_G_IsMeasured(g))
		OGR_G_SetMeasured(g, FALSE);
	size_t size = (size_t)OGR_G_WkbSize(g);
	if (size > r->wkb_cap) {
		unsigned char *b = kt_realloc(r->wkb, size * 2);
		if (!b) {
			OGR_G_DestroyGeometry(lin);
			reject(r, "out of memory for a geometry of %zu bytes", size);
			return 0;
		}
		r->wkb = b;
		r->wkb_cap = size * 2;
	}
	OGRErr e = OGR_G_ExportToIsoWkb(g, wkbNDR, r->wkb);
	if (lin)
		OGR_G_DestroyGeometry(lin);
	if (e != OGRERR_NONE) {
		reject(r, "the geometry cannot be written as WKB");
		return 0;
	}
	return size;
}

static int fill_geometry(struct run *r, OGRFeatureH of, kt_feature_t *f, kt_geom_fix_t *fix)
{
	*fix = KT_GEOM_VALID;
	if (r->layer->geom_type == KT_GEOM_NONE)
		return 0;
	OGRGeometryH g = OGR_F_GetGeometryRef(of);
	if (!g)
		return reject(r, "no geometry");
	if (OGR_G_IsEmpty(g))
		return reject(r, "empty geometry");
	size_t size = export_wkb(r, g);
	if (size == 0)
		return 1;
	if (r->t && kt_transform_wkb(r->ctx, r->t, r->wkb, size))
		return reject(r, "reprojection failed: %s", kt_errmsg(r->ctx));
	unsigned char *out = NULL;
	size_t out_len = 0;
	r->repair[0] = 0;
	int rc = kt_geom_conform(r->ctx, r->wkb, size, r->layer->geom_type, r->layer->has_z, &out, &out_len,
	                         fix, r->repair, sizeof r->repair);
	if (rc == KT_EGEOM || rc == KT_EINVAL)
		return reject(r, "%s", kt_errmsg(r->ctx));
	if (rc)
		return rc;
	rc = kt_feature_set_wkb(f, out, out_len, r->store_epsg);
	kt_free(out);
	return rc;
}

/* Keeps, on update, what this import does not carry: unmapped attributes,
 * common columns and a survey precision not given. */
static int carry_over(struct run *r, const kt_feature_t *old, kt_feature_t *f)
{
	const kt_layer_t *L = r->layer;
	int rc = 0;
	for (size_t t = 0; t < L->n_attrs && !rc; t++) {
		const kt_value_t *v = &old->values[t];
		if (r->index[t] >= 0 || v->is_null)
			continue;
		if (v->type == KT_ATTR_INTEGER || v->type == KT_ATTR_BOOLEAN)
			rc = kt_feature_set_int(f, t, v->i);
		else if (v->type == KT_ATTR_REAL)
			rc = kt_feature_set_real(f, t, v->d);
		else
			rc = kt_feature_set_text(f, t, v->s);
	}
	const char *from[KT_IMPORT_N_EXTRA] = {old->ascol_ref, old->precision.survey_date,
	                                       old->precision.survey_method, old->precision.surveyor};
	char **to[KT_IMPORT_N_EXTRA] = {&f->ascol_ref, &f->precision.survey_date,
	                                &f->precision.survey_method, &f->precision.surveyor};
	for (int x = 0; x < KT_IMPORT_N_EXTRA && !rc; x++)
		if (r->index[L->n_attrs + x] < 0)
			rc = kt_feature_set_string(to[x], from[x]);
	if (isnan(r->o->precision_xy_cm) && r->xy_field < 0)
		f->precision.xy_cm = old->precision.xy_cm;
	if (isnan(r->o->precision_z_cm) && r->z_field < 0)
		f->precision.z_cm = old->precision.z_cm;
	if (L->network != KT_NETWORK_NONE)
		f->precision.dtdict_class = kt_dtdict_class(L->network, f->precision.xy_cm, r->accuracy);
	return rc ? kt_ctx_error(r->ctx, KT_ENOMEM, "out of memory") : 0;
}

/* Writes f: 0 done (counted), 1 rejected by the engine, <0 failure. */
static int upsert(struct run *r, kt_feature_t *f)
{
	kt_feature_t *old = NULL;
	int rc = r->id_field >= 0 ? kt_feature_get_by_source(r->ctx, r->layer->name, r->sid, &old) : KT_ENOENT;
	if (rc == 0) {
		rc = carry_over(r, old, f);
		if (!rc && kt_feature_same(old, f)) {
			r->rep->unchanged++;
		} else if (!rc) {
			rc = kt_feature_set_string(&f->uid, old->uid) ? KT_ENOMEM : 0;
			f->version = old->version;
			if (!rc && (rc = kt_feature_update(r->ctx, r->layer->name, f, &r->actor)) == 0)
				r->rep->updated++;
		}
		kt_feature_free(old);
	} else if (rc == KT_ENOENT) {
		if ((rc = kt_feature_insert(r->ctx, r->layer->name, f, &r->actor)) == 0)
			r->rep->inserted++;
	}
	if (rc == KT_EINVAL || rc == KT_EGEOM)
		return reject(r, "%s", kt_errmsg(r->ctx));
	return rc;
}

static int source_id(struct run *r, OGRFeatureH of)
{
	if (r->id_field < 0) {
		snprintf(r->sid, sizeof r->sid, "fid:%lld", (long long)OGR_F_GetFID(of));
		return 0;
	}
	const char *s = OGR_F_IsFieldSetAndNotNull(of, r->id_field) ? OGR_F_GetFieldAsString(of, r->id_field) : "";
	if (!*s)
		return reject(r, "the id field '%s' is empty", r->src.fields[r->id_field]);
	if (strlen(s) >= sizeof r->sid)
		return reject(r, "the id '%.40s…' is longer than %zu bytes", s, sizeof r->sid - 1);
	snprintf(r->sid, sizeof r->sid, "%s", s);
	int added = kt__idset_add(r->ids, s);
	if (added < 0)
		return kt_ctx_error(r->ctx, KT_ENOMEM, "out of memory");
	return added ? 0 : reject(r, "the id '%s' comes twice in the source", s);
}

/* One source feature: 0 accepted, 1 rejected (reason in r->reason), <0. */
static int process(struct run *r, OGRFeatureH of)
{
	r->sid[0] = 0;
	int rc = source_id(r, of);
	if (rc)
		return rc;
	kt_feature_t *f = kt_feature_new(r->layer);
	if (!f)
		return kt_ctx_error(r->ctx, KT_ENOMEM, "out of memory");
	kt_geom_fix_t fix = KT_GEOM_VALID;
	f->batch_id = r->batch_id;
	rc = kt_feature_set_string(&f->source_id, r->sid) ? kt_ctx_error(r->ctx, KT_ENOMEM, "out of memory") : 0;
	if (!rc)
		rc = fill_attributes(r, of, f);
	if (!rc)
		rc = fill_precision(r, of, f);
	if (!rc)
		rc = fill_geometry(r, of, f, &fix);
	if (!rc)
		rc = upsert(r, f);
	kt_feature_free(f);
	if (rc == 0 && fix == KT_GEOM_REPAIRED) {
		r->rep->repaired++;
		if (kt__report_issue(&r->rep->repairs, &r->rep->n_repairs, r->rep->read, OGR_F_GetFID(of),
		                     r->sid[0] ? r->sid : NULL, r->repair[0] ? r->repair : "invalid geometry repaired"))
			return kt_ctx_error(r->ctx, KT_ENOMEM, "out of memory");
	}
	if (rc == 1) {
		r->rep->rejected++;
		if (kt__report_issue(&r->rep->rejections, &r->rep->n_rejections, r->rep->read, OGR_F_GetFID(of),
		                     r->sid[0] ? r->sid : NULL, r->reason))
			return kt_ctx_error(r->ctx, KT_ENOMEM, "out of memory");
	}
	return rc < 0 ? rc : 0;
}

/* ---- the run ---------------------------------------------------------- */

static int read_all(struct run *r)
{
	const kt_import_opts_t *o = r->o;
	int rc = 0;
	kt__gdal_errors_push(&r->gerr);
	for (;;) {
		OGRFeatureH of = OGR_L_GetNextFeature(r->src.layer);
		if (r->gerr.n_failures) {
			rc = kt_ctx_error(r->ctx, KT_EIO, "%s: reading feature #%lld: %s", o->source,
			                  (long long)r->rep->read + 1, r->gerr.failure);
			OGR_F_Destroy(of);
			break;
		}
		if (!of)
			break;
		r->rep->read++;
		rc = process(r, of);
		OGR_F_Destroy(of);
		if (rc)
			break;
		if (o->on_progress && (r->rep->read & 1023) == 0)
			o->on_progress(r->rep->read, r->src.total, o->data);
	}
	kt__gdal_errors_pop();
	if (o->on_progress)
		o->on_progress(r->rep->read, r->src.total, o->data);
	return rc;
}

/* Decides the outcome once every feature was read; commits or rolls back. */
static int conclude(struct run *r, int rc)
{
	kt_import_report_t *rep = r->rep;
	int64_t accepted = rep->inserted + rep->updated + rep->unchanged;
	if (!rc && rep->read == 0)
		rc = kt_ctx_error(r->ctx, KT_EINVAL, "%s: no feature to import (empty source%s)", r->o->source,
		                  r->o->where ? ", or --where matched nothing" : "");
	if (!rc && rep->rejected && !r->o->skip_rejected)
		rc = kt_ctx_error(r->ctx, KT_EINVAL,
		                  "%s: %lld of %lld features rejected, nothing imported "
		                  "(--skip-rejected imports the others)",
		                  r->o->source, (long long)rep->rejected, (long long)rep->read);
	if (!rc && rep->rejected && accepted == 0)
		rc = kt_ctx_error(r->ctx, KT_EINVAL, "%s: every feature was rejected", r->o->source);
	if (!rc) {
		rep->committed = !r->o->dry_run;
		char *json = kt_import_report_json(rep);
		rc = json ? kt_batch_finish(r->ctx, r->batch_id, json) : KT_ENOMEM;
		kt_free(json);
	}
	if (!rc && !r->o->dry_run)
		rc = kt_tx_commit(r->ctx); /* when it fails, the transaction is still open */
	if (rc || r->o->dry_run) {
		char keep[1024];
		snprintf(keep, sizeof keep, "%s", kt_errmsg(r->ctx));
		kt_tx_rollback(r->ctx);
		kt_ctx_error(r->ctx, rc, "%s", keep); /* the rollback must not hide why */
	}
	if (rc)
		rep->committed = 0;
	return rc;
}

static int prepare(struct run *r)
{
	int rc = check_opts(r);
	if (rc)
		return rc;
	rc = kt__source_open(r->ctx, r->o->source, r->o->source_layer, r->o->where, &r->src);
	if (rc)
		return rc;
	if (kt__report_set(&r->rep->source_layer, r->src.layer_name))
		return kt_ctx_error(r->ctx, KT_ENOMEM, "out of memory");
	if ((rc = resolve_fields(r)) || (rc = setup_crs(r)))
		return rc;
	r->ids = kt__idset_new();
	return r->ids ? 0 : kt_ctx_error(r->ctx, KT_ENOMEM, "out of memory");
}

int kt_import_run(kt_ctx_t *ctx, const kt_import_opts_t *opts, kt_import_report_t **report)
{
	double t0 = now_s();
	struct run r;
	memset(&r, 0, sizeof r);
	r.ctx = ctx;
	r.o = opts;
	r.id_field = r.xy_field = r.z_field = -1;
	*report = NULL;
	r.rep = kt__report_new(opts);
	if (!r.rep)
		return kt_ctx_error(ctx, KT_ENOMEM, "out of memory");
	int rc = prepare(&r);
	if (!rc && (rc = kt_tx_begin_bulk(ctx, opts->layer)) == 0) {
		rc = kt_batch_begin(ctx, opts->layer, opts->source, r.actor.who, &r.batch_id);
		r.rep->batch_id = r.batch_id;
		if (!rc)
			rc = read_all(&r);
		rc = conclude(&r, rc);
	}
	r.rep->seconds = now_s() - t0;
	if (rc && kt__report_set(&r.rep->error, kt_errmsg(ctx)))
		rc = KT_ENOMEM;
	if (r.t)
		kt_transform_free(r.t);
	kt__idset_free(r.ids);
	kt__source_close(&r.src);
	kt_free(r.index);
	kt_free(r.ftype);
	kt_free(r.wkb);
	*report = r.rep;
	return rc;
}
