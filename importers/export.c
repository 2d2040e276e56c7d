/*
 * export.c — writing a layer out through GDAL: GeoPackage, GeoJSON, CSV
 * (geometry as WKT) or Shapefile.
 *
 * Every feature of the layer is read from the engine, already reprojected
 * to the output CRS, and written with all its attributes (typed as the
 * layer declares them), its uid, version, source id and ASCOL reference;
 * network layers also carry their survey precision, transformation
 * accuracy and DT-DICT class. One OGR feature is reused for the whole
 * export. The output is written in one GDAL transaction where the format
 * has them, and removed if anything fails, so a failed export never
 * leaves a half-written file behind.
 */
#include "import_int.h"

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { F_UID, F_VERSION, F_SOURCE_ID, F_ASCOL, F_PREC_XY, F_PREC_Z, F_TRANSF, F_DTDICT, F_N };

static const struct {
	const char *name;
	OGRFieldType type;
} common_fields[F_N] = {
	{"uid", OFTString},         {"version", OFTInteger64}, {"source_id", OFTString},
	{"ascol_ref", OFTString},   {"prec_xy_cm", OFTReal},   {"prec_z_cm", OFTReal},
	{"transf_m", OFTReal},      {"dtdict", OFTString},
};

struct export {
	kt_ctx_t *ctx;
	const kt_layer_t *layer;
	GDALDatasetH ds;
	OGRLayerH ol;
	OGRFeatureH of;
	int common[F_N];   /* OGR field index of each common column, -1 none */
	int *attr_field;   /* OGR field index of each layer attribute */
	int64_t n;
	kt_gdal_errors_t gerr;
};

static const char *driver_name(const char *format)
{
	static const char *table[][2] = {{"gpkg", "GPKG"}, {"geojson", "GeoJSON"}, {"csv", "CSV"},
	                                 {"shp", "ESRI Shapefile"}, {NULL, NULL}};
	for (int i = 0; table[i][0]; i++)
		if (format && !strcmp(format, table[i][0]))
			return table[i][1];
	return NULL;
}

static OGRwkbGeometryType ogr_geom_type(const kt_layer_t *layer)
{
	static const OGRwkbGeometryType t[] = {wkbNone, wkbPoint, wkbLineString, wkbPolygon,
	                                       wkbMultiPoint, wkbMultiLineString, wkbMultiPolygon};
	OGRwkbGeometryType g = t[layer->geom_type];
	return layer->has_z && g != wkbNone ? OGR_GT_SetZ(g) : g;
}

static int add_field(struct export *e, const char *name, OGRFieldType type, OGRFieldSubType sub, int *index)
{
	OGRFieldDefnH fd = OGR_Fld_Create(name, type);
	OGR_Fld_SetSubType(fd, sub);
	OGRErr err = OGR_L_CreateField(e->ol, fd, TRUE);
	OGR_Fld_Destroy(fd);
	if (err != OGRERR_NONE)
		return kt_ctx_error(e->ctx, KT_EIO, "cannot create field %s: %s", name, CPLGetLastErrorMsg());
	*index = OGR_FD_GetFieldCount(OGR_L_GetLayerDefn(e->ol)) - 1;
	return 0;
}

static int create_fields(struct export *e)
{
	int rc = 0;
	for (int c = 0; c < F_N; c++) {
		e->common[c] = -1;
		if (c >= F_PREC_XY && e->layer->network == KT_NETWORK_NONE)
			continue;
		if ((rc = add_field(e, common_fields[c].name, common_fields[c].type, OFSTNone, &e->common[c])))
			return rc;
	}
	for (size_t i = 0; i < e->layer->n_attrs; i++) {
		const kt_attr_def_t *a = &e->layer->attrs[i];
		OGRFieldType t = OFTString;
		OGRFieldSubType sub = OFSTNone;
		switch (a->type) {
		case KT_ATTR_INTEGER: t = OFTInteger64; break;
		case KT_ATTR_REAL: t = OFTReal; break;
		case KT_ATTR_BOOLEAN: t = OFTInteger; sub = OFSTBoolean; break;
		case KT_ATTR_DATE: t = OFTDate; break;
		case KT_ATTR_DATETIME: t = OFTDateTime; break;
		default: break;
		}
		if ((rc = add_field(e, a->name, t, sub, &e->attr_field[i])))
			return rc;
	}
	return 0;
}

static void set_or_unset_real(OGRFeatureH of, int i, double d)
{
	if (i < 0)
		return;
	if (isfinite(d))
		OGR_F_SetFieldDouble(of, i, d);
	else
		OGR_F_SetFieldNull(of, i);
}

static void set_or_unset_text(OGRFeatureH of, int i, const char *s)
{
	if (i < 0)
		return;
	if (s)
		OGR_F_SetFieldString(of, i, s);
	else
		OGR_F_SetFieldNull(of, i);
}

static void set_common(struct export *e, const kt_feature_t *f)
{
	OGRFeatureH of = e->of;
	set_or_unset_text(of, e->common[F_UID], f->uid);
	OGR_F_SetFieldInteger64(of, e->common[F_VERSION], f->version);
	set_or_unset_text(of, e->common[F_SOURCE_ID], f->source_id);
	set_or_unset_text(of, e->common[F_ASCOL], f->ascol_ref);
	set_or_unset_real(of, e->common[F_PREC_XY], f->precision.xy_cm);
	set_or_unset_real(of, e->common[F_PREC_Z], f->precision.z_cm);
	set_or_unset_real(of, e->common[F_TRANSF], f->precision.transform_m);
	char cls[2] = {f->precision.dtdict_class, 0};
	set_or_unset_text(of, e->common[F_DTDICT], cls[0] ? cls : NULL);
}

static int write_one(const kt_feature_t *f, void *data)
{
	struct export *e = data;
	OGRFeatureH of = e->of;
	set_common(e, f);
	for (size_t i = 0; i < e->layer->n_attrs && i < f->n_values; i++) {
		const kt_value_t *v = &f->values[i];
		int k = e->attr_field[i];
		if (v->is_null)
			OGR_F_SetFieldNull(of, k);
		else if (v->type == KT_ATTR_INTEGER || v->type == KT_ATTR_BOOLEAN)
			OGR_F_SetFieldInteger64(of, k, v->i);
		else if (v->type == KT_ATTR_REAL)
			OGR_F_SetFieldDouble(of, k, v->d);
		else
			OGR_F_SetFieldString(of, k, v->s ? v->s : "");
	}
	OGRGeometryH g = NULL;
	if (f->wkb && OGR_G_CreateFromWkbEx(f->wkb, NULL, &g, f->wkb_len) != OGRERR_NONE) {
		kt_ctx_error(e->ctx, KT_EGEOM, "feature %s: unreadable geometry", f->uid);
		return 1;
	}
	OGR_F_SetGeometryDirectly(of, g);
	OGR_F_SetFID(of, OGRNullFID);
	if (OGR_L_CreateFeature(e->ol, of) != OGRERR_NONE || e->gerr.n_failures) {
		kt_ctx_error(e->ctx, KT_EIO, "feature %s: %s", f->uid,
		             e->gerr.n_failures ? e->gerr.failure : CPLGetLastErrorMsg());
		return 1;
	}
	e->n++;
	return 0;
}

/* Creates the dataset and its layer. */
static int create_output(struct export *e, const kt_export_opts_t *o, GDALDriverH drv, int epsg)
{
	char **dsco = NULL, **lco = NULL;
	if (!strcmp(o->format, "csv"))
		lco = CSLSetNameValue(lco, "GEOMETRY", "AS_WKT");
	if (!strcmp(o->format, "shp"))
		lco = CSLSetNameValue(lco, "ENCODING", "UTF-8");
	e->ds = GDALCreate(drv, o->path, 0, 0, 0, GDT_Unknown, dsco);
	if (!e->ds) {
		CSLDestroy(lco);
		return kt_ctx_error(e->ctx, KT_EIO, "%s: cannot create: %s", o->path,
		                    e->gerr.n_failures ? e->gerr.failure : CPLGetLastErrorMsg());
	}
	OGRSpatialReferenceH srs = NULL;
	if (e->layer->geom_type != KT_GEOM_NONE) {
		srs = OSRNewSpatialReference(NULL);
		OSRSetAxisMappingStrategy(srs, OAMS_TRADITIONAL_GIS_ORDER);
		if (OSRImportFromEPSG(srs, epsg) != OGRERR_NONE) {
			OSRDestroySpatialReference(srs);
			CSLDestroy(lco);
			return kt_ctx_error(e->ctx, KT_ECRS, "EPSG:%d: unknown CRS", epsg);
		}
	}
	e->ol = GDALDatasetCreateLayer(e->ds, e->layer->name, srs, ogr_geom_type(e->layer), lco);
	if (srs)
		OSRDestroySpatialReference(srs);
	CSLDestroy(lco);
	if (!e->ol)
		return kt_ctx_error(e->ctx, KT_EIO, "%s: cannot create layer %s: %s", o->path, e->layer->name,
		                    e->gerr.n_failures ? e->gerr.failure : CPLGetLastErrorMsg());
	return 0;
}

static int write_all(struct export *e, const kt_export_opts_t *o, int epsg)
{
	int rc = create_fields(e);
	if (rc)
		return rc;
	e->of = OGR_F_Create(OGR_L_GetLayerDefn(e->ol));
	int tx = GDALDatasetStartTransaction(e->ds, FALSE) == OGRERR_NONE;
	kt_query_t q;
	memset(&q, 0, sizeof q);
	q.layer = e->layer->name;
	q.out_epsg = epsg;
	rc = kt_features_query(e->ctx, &q, write_one, e);
	if (!rc && tx && GDALDatasetCommitTransaction(e->ds) != OGRERR_NONE)
		rc = kt_ctx_error(e->ctx, KT_EIO, "%s: cannot commit: %s", o->path, CPLGetLastErrorMsg());
	if (rc == KT_EABORT) /* write_one stopped: its message is on the ctx */
		rc = KT_EIO;
	return rc;
}

int kt_export_run(kt_ctx_t *ctx, const kt_export_opts_t *o, int64_t *count)
{
	struct export e;
	memset(&e, 0, sizeof e);
	e.ctx = ctx;
	if (count)
		*count = 0;
	const char *dname = driver_name(o->format);
	if (!dname)
		return kt_ctx_error(ctx, KT_EINVAL, "unknown format '%s' (gpkg, geojson, csv, shp)",
		                    o->format ? o->format : "");
	e.layer = kt_store_layer(kt_ctx_store(ctx), o->layer);
	if (!e.layer)
		return kt_ctx_error(ctx, KT_ENOENT, "the store has no layer '%s'", o->layer);
	GDALAllRegister();
	GDALDriverH drv = GDALGetDriverByName(dname);
	if (!drv)
		return kt_ctx_error(ctx, KT_EINVAL, "GDAL has no %s driver", dname);
	struct stat st;
	if (stat(o->path, &st) == 0) {
		if (!o->overwrite)
			return kt_ctx_error(ctx, KT_EEXIST, "%s: already exists (--overwrite replaces it)", o->path);
		GDALDeleteDataset(drv, o->path);
		unlink(o->path);
	}
	int epsg = o->epsg ? o->epsg : kt_store_epsg(kt_ctx_store(ctx));
	e.attr_field = kt_calloc(e.layer->n_attrs + 1, sizeof *e.attr_field);
	if (!e.attr_field)
		return kt_ctx_error(ctx, KT_ENOMEM, "out of memory");
	kt__gdal_errors_push(&e.gerr);
	int rc = create_output(&e, o, drv, epsg);
	if (!rc)
		rc = write_all(&e, o, epsg);
	if (e.of)
		OGR_F_Destroy(e.of);
	int failures = e.gerr.n_failures;
	if (e.ds)
		GDALClose(e.ds); /* returns void before GDAL 3.7: errors come through the handler */
	if (!rc && e.gerr.n_failures > failures)
		rc = kt_ctx_error(ctx, KT_EIO, "%s: cannot finish writing: %s", o->path, e.gerr.failure);
	if (rc)
		GDALDeleteDataset(drv, o->path);
	kt__gdal_errors_pop();
	kt_free(e.attr_field);
	if (count)
		*count = rc ? 0 : e.n;
	return rc;
}
