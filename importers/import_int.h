/*
 * import_int.h — private structures of the importers. Only the importers' .c files
 * include this; everything else goes through kt_import.h.
 */
#ifndef KT_IMPORT_INT_H
#define KT_IMPORT_INT_H

#include "kt_import.h"

#include <gdal.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>

/* GDAL errors raised while a handler is pushed: failures make an import
 * fail, warnings are counted and the first one kept for the report. */
typedef struct kt_gdal_errors {
	int n_failures;
	char failure[512];
	int n_warnings;
	char warning[512];
} kt_gdal_errors_t;

void kt__gdal_errors_push(kt_gdal_errors_t *e);
void kt__gdal_errors_pop(void);

/* An opened source layer. */
typedef struct kt_source {
	GDALDatasetH ds;
	OGRLayerH layer;
	char *opened;          /* the name GDAL opened (may be a /vsi path) */
	char *tmp_file;        /* decompressed archive, removed at close */
	char *layer_name;
	const char *driver;    /* GDAL short name, borrowed */
	int64_t total;         /* features to read, -1 unknown */
	char **fields;         /* source field names */
	size_t n_fields;
	char *crs;             /* CRS text for PROJ; NULL when the file has none */
	char *crs_name;
} kt_source_t;

/* Opens path (archives looked into), picks its layer (layer_name may be
 * NULL for a single-layer source), applies the where filter, reads its
 * fields and CRS. Errors go on ctx. */
int kt__source_open(kt_ctx_t *ctx, const char *path, const char *layer_name, const char *where,
                    kt_source_t *src);
void kt__source_close(kt_source_t *src);

/* Report building. */
kt_import_report_t *kt__report_new(const kt_import_opts_t *opts);
int kt__report_issue(kt_import_issue_t **list, size_t *n, int64_t index, int64_t fid,
                     const char *source_id, const char *reason);
int kt__report_set(char **slot, const char *s);

/* A set of strings (source ids seen in one import). */
typedef struct kt_idset kt_idset_t;
kt_idset_t *kt__idset_new(void);
void kt__idset_free(kt_idset_t *s);
/* Adds s; returns 1 if it was new, 0 if already there, KT_ENOMEM. */
int kt__idset_add(kt_idset_t *s, const char *str);

#endif
