/*
 * kt_import.h — the public interface of kartenn's importers: read any
 * source GDAL/OGR reads, map it onto a layer of the store, reproject it,
 * validate it, grade its precision, upsert it in one transaction and
 * report what happened; and export a layer back out through GDAL.
 *
 * Conventions are the engine's (kt_engine.h): 0 or a negative KT_E* code,
 * the human message on the ctx (kt_errmsg) or in a kt_err_t, the caller
 * that opens or allocates closes or frees (kt_free for plain buffers).
 */
#ifndef KT_IMPORT_H
#define KT_IMPORT_H

#include <stdint.h>
#include <stdio.h>

#include "kt_engine.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- import ----------------------------------------------------------- */

typedef struct kt_import_opts {
	const char *source;        /* a path GDAL opens; .zip, .tar, .tar.gz and
	                            * .tar.bz2 archives are looked into */
	const char *layer;         /* target layer of the store */
	const char *source_layer;  /* needed when the source has several */
	const char *source_crs;    /* "EPSG:n", WKT or PROJ; overrides the file's */
	const char *mapping_file;  /* JSON {"layer_attr": "SOURCE_FIELD"|null} */
	const char *id_field;      /* upsert key; NULL: every feature inserted */
	const char *where;         /* OGR attribute filter */
	const char *who;           /* for provenance and history; NULL "import" */
	double precision_xy_cm;    /* NAN when not given */
	double precision_z_cm;     /* NAN when not given */
	const char *precision_field;   /* source field holding XY precision (cm) */
	const char *precision_z_field; /* source field holding Z precision (cm) */
	int skip_rejected;         /* commit the accepted features anyway */
	int dry_run;               /* do everything, then roll back */
	int allow_ballpark;        /* accept a ballpark CRS transformation */
	/* Called every few hundred features and at the end; total is -1 when
	 * the source cannot count cheaply. */
	void (*on_progress)(int64_t done, int64_t total, void *data);
	void *data;
} kt_import_opts_t;

/* Fills opts with defaults (NULLs, zeros, NAN precisions). */
void kt_import_opts_init(kt_import_opts_t *opts);

/* One rejected or repaired feature. */
typedef struct kt_import_issue {
	int64_t index;    /* 1-based position in the order the source was read */
	int64_t fid;      /* OGR feature id in the source */
	char *source_id;  /* may be NULL */
	char *reason;
} kt_import_issue_t;

typedef struct kt_import_report {
	char *source;
	char *source_layer;
	char *layer;
	char *source_crs;        /* as given to PROJ ("EPSG:4326", WKT2…) */
	char *source_crs_name;   /* human name of the source CRS */
	int store_epsg;
	char *transform_name;    /* operation PROJ used; "none" when same CRS */
	double transform_accuracy_m; /* 0 for a conversion, NAN unknown */
	int64_t read, inserted, updated, unchanged, repaired, rejected;
	kt_import_issue_t *rejections;
	size_t n_rejections;
	kt_import_issue_t *repairs;
	size_t n_repairs;
	char **mapping;          /* pairs: attribute, source field (2 * n_mapping) */
	size_t n_mapping;
	char **unmapped;         /* source fields that feed no attribute */
	size_t n_unmapped;
	char *error;             /* why the import failed, NULL on success */
	int dry_run;
	int committed;           /* 1 when the changes are in the store */
	int64_t batch_id;
	double seconds;
} kt_import_report_t;

/* Runs an import into the store of ctx. One transaction: it lands whole or
 * not at all. Returns 0 when the import committed (or, with dry_run, would
 * have). Any rejected feature makes it fail with KT_EINVAL and roll back,
 * unless skip_rejected. A source that cannot be read, a source without CRS
 * and without source_crs (KT_ECRS), a mapping that does not fit, an empty
 * source: a negative code and nothing written. The message is on the ctx.
 * *report is set whenever the source could be opened (also on failure) and
 * is freed with kt_import_report_free. */
int kt_import_run(kt_ctx_t *ctx, const kt_import_opts_t *opts, kt_import_report_t **report);

void kt_import_report_free(kt_import_report_t *report);
/* The report as JSON text (kt_free); NULL on allocation failure. */
char *kt_import_report_json(const kt_import_report_t *report);
/* Writes the JSON report to path. */
int kt_import_report_write(const kt_import_report_t *report, const char *path, kt_err_t *err);
/* Prints the human summary; at most max_issues rejections and repairs are
 * listed one per line (0 = all). */
void kt_import_report_print(const kt_import_report_t *report, FILE *out, size_t max_issues);

/* ---- field names and mapping ------------------------------------------ */

/* Normalises a UTF-8 field name for matching: lowercase, Latin accents
 * stripped (é→e, œ→oe, ß→ss…), every run of other characters turned into
 * one '_', no leading or trailing '_'. Writes at most out_size bytes with
 * the NUL; returns the length it needed (like snprintf). */
size_t kt_import_normalise_name(const char *in, char *out, size_t out_size);

/* Common columns a mapping may feed besides the layer attributes. */
enum kt_import_extra {
	KT_IMPORT_ASCOL_REF = 0,
	KT_IMPORT_SURVEY_DATE,
	KT_IMPORT_SURVEY_METHOD,
	KT_IMPORT_SURVEYOR,
	KT_IMPORT_N_EXTRA
};
/* "ascol_ref", "survey_date", … */
const char *kt_import_extra_name(int extra);

/* A mapping file: layer attribute -> source field, or NULL to leave the
 * attribute unmapped (no automatic match either). */
typedef struct kt_import_mapping {
	char **attr;
	char **field; /* field[i] NULL: explicitly unmapped */
	size_t n;
} kt_import_mapping_t;

int kt_import_mapping_parse(const char *json, const char *origin, kt_import_mapping_t **out,
                            kt_err_t *err);
int kt_import_mapping_load(const char *path, kt_import_mapping_t **out, kt_err_t *err);
void kt_import_mapping_free(kt_import_mapping_t *m);

/* For each attribute of layer, then each extra column (n_attrs +
 * KT_IMPORT_N_EXTRA entries), finds the index of the source field that
 * feeds it, or -1. The mapping (may be NULL) comes first; the rest is
 * matched by normalised name, an exact name beating a normalised one.
 * Fails (KT_EINVAL, message in err) when the mapping names an unknown
 * attribute or field, when two fields match an attribute equally well, or
 * when a required attribute is left without a field. */
int kt_import_mapping_resolve(const kt_import_mapping_t *m, const kt_layer_t *layer,
                              const char *const *fields, size_t n_fields, int *index,
                              kt_err_t *err);

/* ---- value conversion ------------------------------------------------- */

/* A converted value. s points into the input or into buf. */
typedef struct kt_import_value {
	int is_null;
	int64_t i;   /* INTEGER, BOOLEAN */
	double d;    /* REAL */
	const char *s; /* TEXT, DATE, DATETIME */
	char buf[40];
} kt_import_value_t;

/* Converts source text into a value of an attribute type. Empty or
 * all-blank text is null (also for TEXT). Integers must be whole and fit
 * 64 bits ("12.0" is accepted, "12.5" is not); reals accept a decimal comma;
 * booleans accept 1/0, true/false, yes/no, oui/non, vrai/faux, t/f, o/n, y/n;
 * dates accept YYYY-MM-DD, YYYYMMDD, DD/MM/YYYY and must exist on the
 * calendar; date-times accept ISO 8601 with 'T' or ' ' and an optional zone.
 * On failure returns KT_EINVAL and writes why into why. */
int kt_import_convert_text(kt_attr_type_t type, const char *text, kt_import_value_t *out,
                           char *why, size_t why_size);
/* The same from a number (source fields typed integer or real). */
int kt_import_convert_number(kt_attr_type_t type, double d, int is_integer, int64_t i,
                             kt_import_value_t *out, char *why, size_t why_size);

/* ---- export ----------------------------------------------------------- */

typedef struct kt_export_opts {
	const char *layer;
	const char *format;  /* "gpkg", "geojson", "csv", "shp" */
	const char *path;    /* output file (a .shp path or a folder for shp) */
	int epsg;            /* output CRS; 0 = the store CRS */
	int overwrite;       /* replace an existing output */
} kt_export_opts_t;

/* Writes every feature of a layer (all attributes, uid, version, and for
 * network layers the precision and DT-DICT class) through GDAL. Geometry
 * is reprojected by the engine. *count (may be NULL) receives the number
 * of features written. On failure the partial output is removed. */
int kt_export_run(kt_ctx_t *ctx, const kt_export_opts_t *opts, int64_t *count);

#ifdef __cplusplus
}
#endif
#endif /* KT_IMPORT_H */
