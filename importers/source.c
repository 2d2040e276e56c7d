/*
 * source.c — opening an import source with GDAL/OGR.
 *
 * A source is a path GDAL opens, or an archive to look into: .zip through
 * /vsizip/, .tar/.tgz/.tar.gz through /vsitar/, and .tar.bz2 (the form the
 * cadastre ships EDIGEO sheets in, which GDAL cannot stream) decompressed
 * to a temporary .tar first. When an archive's root does not open as a
 * dataset, its files are tried in order of likely formats (EDIGEO .THF,
 * Shapefile, GeoPackage…). CSV files are opened with the X/Y and WKT
 * column names French and international files use, and are checked for an
 * unterminated quote, which GDAL would otherwise read silently as one
 * field running to the end of the file. The chosen layer must be named
 * when the source has several. The CRS is kept as "EPSG:n" when the file
 * says so, else as WKT2, for PROJ.
 */
#include "import_int.h"

#include <bzlib.h>
#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>
#include <cpl_vsi.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- GDAL error capture ------------------------------------------------ */

static void CPL_STDCALL on_gdal_error(CPLErr cls, CPLErrorNum num, const char *msg)
{
	kt_gdal_errors_t *e = CPLGetErrorHandlerUserData();
	(void)num;
	if (!e)
		return;
	if (cls >= CE_Failure) {
		if (e->n_failures++ == 0)
			snprintf(e->failure, sizeof e->failure, "%s", msg);
	} else if (cls == CE_Warning) {
		if (e->n_warnings++ == 0)
			snprintf(e->warning, sizeof e->warning, "%s", msg);
	}
}

void kt__gdal_errors_push(kt_gdal_errors_t *e)
{
	memset(e, 0, sizeof *e);
	CPLPushErrorHandlerEx(on_gdal_error, e);
}

void kt__gdal_errors_pop(void)
{
	CPLPopErrorHandler();
}

/* ---- archives --------------------------------------------------------- */

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !strcasecmp(s + a - b, suffix);
}

/* Decompresses a .bz2 file into a new temporary file; *tmp (kt_free). */
static int bunzip_to_tmp(kt_ctx_t *ctx, const char *path, char **tmp)
{
	const char *dir = getenv("TMPDIR");
	char name[4096];
	snprintf(name, sizeof name, "%s/kartenn-import-XXXXXX.tar", dir && *dir ? dir : "/tmp");
	int fd = mkstemps(name, 4); /* /vsitar/ knows archives by their extension */
	if (fd < 0)
		return kt_ctx_error(ctx, KT_EIO, "%s: cannot create a temporary file: %s", path, strerror(errno));
	FILE *in = fopen(path, "rb");
	FILE *out = fdopen(fd, "wb");
	int bzerr = BZ_OK, rc = 0;
	BZFILE *bz = in ? BZ2_bzReadOpen(&bzerr, in, 0, 0, NULL, 0) : NULL;
	if (!in || !out || !bz || bzerr != BZ_OK) {
		rc = kt_ctx_error(ctx, KT_EIO, "%s: cannot read: %s", path, in ? "bad bzip2 data" : strerror(errno));
	} else {
		char buf[65536];
		while (bzerr == BZ_OK) {
			int n = BZ2_bzRead(&bzerr, bz, buf, sizeof buf);
			if ((bzerr == BZ_OK || bzerr == BZ_STREAM_END) && n > 0 && fwrite(buf, 1, (size_t)n, out) != (size_t)n)
				bzerr = BZ_IO_ERROR;
		}
		if (bzerr != BZ_STREAM_END)
			rc = kt_ctx_error(ctx, KT_EIO, "%s: corrupt or truncated bzip2 archive", path);
	}
	if (bz)
		BZ2_bzReadClose(&bzerr, bz);
	if (in)
		fclose(in);
	if (out && fclose(out) != 0 && rc == 0)
		rc = kt_ctx_error(ctx, KT_EIO, "%s: cannot write a temporary file", path);
	if (!out)
		close(fd);
	if (rc) {
		unlink(name);
		return rc;
	}
	*tmp = kt_strdup(name);
	return *tmp ? 0 : KT_ENOMEM;
}

/* The name GDAL should open for path (kt_free), decompressing if needed. */
static int vsi_name(kt_ctx_t *ctx, const char *path, kt_source_t *src, char **out)
{
	const char *prefix = "";
	if (!strncmp(path, "/vsi", 4))
		prefix = "";
	else if (ends_with(path, ".tar.bz2") || ends_with(path, ".tbz2") || ends_with(path, ".tbz")) {
		int rc = bunzip_to_tmp(ctx, path, &src->tmp_file);
		if (rc)
			return rc;
		path = src->tmp_file;
		prefix = "/vsitar/";
	} else if (ends_with(path, ".zip"))
		prefix = "/vsizip/";
	else if (ends_with(path, ".tar") || ends_with(path, ".tgz") || ends_with(path, ".tar.gz"))
		prefix = "/vsitar/";
	else if (ends_with(path, ".gz"))
		prefix = "/vsigzip/";
	size_t n = strlen(prefix) + strlen(path) + 1;
	*out = kt_malloc(n);
	if (!*out)
		return KT_ENOMEM;
	snprintf(*out, n, "%s%s", prefix, path);
	return 0;
}

/* ---- opening ---------------------------------------------------------- */

static const char *csv_options[] = {
	"X_POSSIBLE_NAMES=x,lon,long,longitude,lng,easting,est,coord_x,coordx,xcoord",
	"Y_POSSIBLE_NAMES=y,lat,latitude,northing,nord,coord_y,coordy,ycoord",
	"Z_POSSIBLE_NAMES=z,alt,altitude,elevation,coord_z,coordz,zcoord",
	"GEOM_POSSIBLE_NAMES=wkt,geom,geometry,the_geom,geometrie,wkt_geom",
	"KEEP_GEOM_COLUMNS=NO",
	NULL,
};

static GDALDatasetH open_one(const char *name)
{
	GDALDriverH drv = GDALIdentifyDriverEx(name, GDAL_OF_VECTOR, NULL, NULL);
	if (drv && !strcmp(GDALGetDriverShortName(drv), "CSV")) {
		static const char *const only_csv[] = {"CSV", NULL};
		return GDALOpenEx(name, GDAL_OF_VECTOR | GDAL_OF_READONLY, only_csv, csv_options, NULL);
	}
	return GDALOpenEx(name, GDAL_OF_VECTOR | GDAL_OF_READONLY, NULL, NULL, NULL);
}

/* Tries the files inside an archive, likeliest formats first. */
static GDALDatasetH open_in_archive(const char *root, char **opened)
{
	static const char *exts[] = {".thf", ".shp", ".gpkg", ".geojson", ".json", ".gml", ".kml",
	                             ".dxf", ".dgn", ".csv", ".osm.pbf", ".pbf", NULL};
	char **list = VSIReadDirRecursive(root);
	GDALDatasetH ds = NULL;
	for (const char **e = exts; *e && !ds; e++) {
		for (char **p = list; p && *p && !ds; p++) {
			if (!ends_with(*p, *e))
				continue;
			char *name = CPLStrdup(CPLFormFilename(root, *p, NULL));
			CPLErrorReset();
			ds = open_one(name);
			if (ds)
				*opened = kt_strdup(name);
			CPLFree(name);
		}
	}
	CSLDestroy(list);
	return ds;
}

/* Checks that every quote of a CSV file is closed; returns the line where
 * an unterminated quoted field opens, or 0. */
static long csv_unterminated_quote(const char *name)
{
	VSILFILE *f = VSIFOpenL(name, "rb");
	if (!f)
		return 0;
	char buf[65536];
	size_t n;
	long line = 1, open_line = 0;
	int in_quote = 0;
	while ((n = VSIFReadL(buf, 1, sizeof buf, f)) > 0) {
		for (size_t i = 0; i < n; i++) {
			if (buf[i] == '"') {
				in_quote = !in_quote; /* "" inside quotes toggles twice */
				if (in_quote)
					open_line = line;
			} else if (buf[i] == '\n') {
				line++;
			}
		}
	}
	VSIFCloseL(f);
	return in_quote ? open_line : 0;
}

/* Checks that nothing but blanks follows the EOF group of an ASCII DXF
 * file (data there would be silently ignored: a concatenated or damaged
 * drawing). Returns the line of the first byte after EOF, or 0. */
static long dxf_trailing_data(const char *name)
{
	VSILFILE *f = VSIFOpenL(name, "rb");
	if (!f)
		return 0;
	char line[256], buf[65536];
	long lineno = 0, found = 0;
	int prev_zero = 0, after_eof = 0;
	size_t len = 0, n;
	while (!found && (n = VSIFReadL(buf, 1, sizeof buf, f)) > 0) {
		for (size_t i = 0; i < n && !found; i++) {
			char c = buf[i];
			if (after_eof) {
				if (c == '\n')
					lineno++;
				else if (c != ' ' && c != '\t' && c != '\r' && c != 0x1a)
					found = lineno + 1;
				continue;
			}
			if (c != '\n') {
				if (len < sizeof line - 1)
					line[len++] = c;
				continue;
			}
			lineno++;
			while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
				len--;
			line[len] = 0;
			const char *t = line + strspn(line, " \t");
			after_eof = prev_zero && !strcmp(t, "EOF");
			prev_zero = !strcmp(t, "0");
			len = 0;
		}
	}
	VSIFCloseL(f);
	return found;
}

/* Lists the layers of ds as "a, b, c" (kt_free). */
static char *layer_list(GDALDatasetH ds)
{
	size_t cap = 1, n = GDALDatasetGetLayerCount(ds) > 0 ? (size_t)GDALDatasetGetLayerCount(ds) : 0;
	for (size_t i = 0; i < n; i++)
		cap += strlen(OGR_L_GetName(GDALDatasetGetLayer(ds, (int)i))) + 2;
	char *s = kt_malloc(cap);
	if (!s)
		return NULL;
	s[0] = 0;
	for (size_t i = 0; i < n; i++) {
		if (i)
			strcat(s, ", ");
		strcat(s, OGR_L_GetName(GDALDatasetGetLayer(ds, (int)i)));
	}
	return s;
}

static int pick_layer(kt_ctx_t *ctx, const char *path, const char *want, kt_source_t *src)
{
	int n = GDALDatasetGetLayerCount(src->ds);
	if (n == 0)
		return kt_ctx_error(ctx, KT_EINVAL, "%s: the source holds no layer", path);
	if (!want && n == 1) {
		src->layer = GDALDatasetGetLayer(src->ds, 0);
		return 0;
	}
	if (want)
		src->layer = GDALDatasetGetLayerByName(src->ds, want);
	if (src->layer)
		return 0;
	char *list = layer_list(src->ds);
	int rc = want ? kt_ctx_error(ctx, KT_ENOENT, "%s: no layer '%s' in the source (layers: %s)", path,
	                             want, list ? list : "?")
	              : kt_ctx_error(ctx, KT_EINVAL,
	                             "%s: the source has %d layers, choose one with --source-layer (%s)",
	                             path, n, list ? list : "?");
	kt_free(list);
	return rc;
}

/* The CRS of the layer as text for PROJ, and its name. */
static int read_crs(kt_source_t *src)
{
	OGRSpatialReferenceH srs = OGR_L_GetSpatialRef(src->layer);
	if (!srs)
		return 0;
	const char *name = OSRGetName(srs);
	src->crs_name = kt_strdup(name ? name : "unnamed");
	const char *auth = OSRGetAuthorityName(srs, NULL);
	const char *code = OSRGetAuthorityCode(srs, NULL);
	if (auth && code && !strcasecmp(auth, "EPSG")) {
		char buf[32];
		snprintf(buf, sizeof buf, "EPSG:%s", code);
		src->crs = kt_strdup(buf);
	} else {
		char *wkt = NULL;
		const char *opts[] = {"FORMAT=WKT2_2019", "MULTILINE=NO", NULL};
		if (OSRExportToWktEx(srs, &wkt, opts) == OGRERR_NONE && wkt)
			src->crs = kt_strdup(wkt);
		CPLFree(wkt);
	}
	return src->crs && src->crs_name ? 0 : KT_ENOMEM;
}

static int read_fields(kt_source_t *src)
{
	OGRFeatureDefnH defn = OGR_L_GetLayerDefn(src->layer);
	int n = OGR_FD_GetFieldCount(defn);
	src->fields = kt_calloc((size_t)n + 1, sizeof *src->fields);
	if (!src->fields)
		return KT_ENOMEM;
	for (int i = 0; i < n; i++) {
		src->fields[i] = kt_strdup(OGR_Fld_GetNameRef(OGR_FD_GetFieldDefn(defn, i)));
		if (!src->fields[i])
			return KT_ENOMEM;
		src->n_fields++;
	}
	return 0;
}

static int open_dataset(kt_ctx_t *ctx, const char *path, kt_source_t *src)
{
	struct stat st;
	if (strncmp(path, "/vsi", 4) && stat(path, &st) != 0)
		return kt_ctx_error(ctx, KT_ENOENT, "%s: %s", path, strerror(errno));
	if (strncmp(path, "/vsi", 4) && S_ISREG(st.st_mode) && st.st_size == 0)
		return kt_ctx_error(ctx, KT_EINVAL, "%s: the file is empty", path);
	char *name = NULL;
	int rc = vsi_name(ctx, path, src, &name);
	if (rc)
		return rc;
	kt_gdal_errors_t e;
	kt__gdal_errors_push(&e);
	src->ds = open_one(name);
	if (!src->ds && strcmp(name, path))
		src->ds = open_in_archive(name, &src->opened);
	kt__gdal_errors_pop();
	if (!src->ds) {
		rc = kt_ctx_error(ctx, KT_EINVAL, "%s: GDAL cannot read it: %s", path,
		                  e.n_failures ? e.failure : "not a format GDAL knows");
		kt_free(name);
		return rc;
	}
	if (!src->opened)
		src->opened = name;
	else
		kt_free(name);
	src->driver = GDALGetDriverShortName(GDALGetDatasetDriver(src->ds));
	if (!strcmp(src->driver, "DXF")) {
		long line = dxf_trailing_data(src->opened);
		if (line)
			return kt_ctx_error(ctx, KT_EINVAL,
			                    "%s: data after the DXF end of file (EOF) at line %ld: the drawing "
			                    "is damaged or two files were concatenated",
			                    path, line);
	}
	if (!strcmp(src->driver, "CSV")) {
		long line = csv_unterminated_quote(src->opened);
		if (line)
			return kt_ctx_error(ctx, KT_EINVAL, "%s: a quoted field opened on line %ld is never closed",
			                    path, line);
	}
	return 0;
}

int kt__source_open(kt_ctx_t *ctx, const char *path, const char *layer_name, const char *where,
                    kt_source_t *src)
{
	memset(src, 0, sizeof *src);
	src->total = -1;
	GDALAllRegister();
	int rc = open_dataset(ctx, path, src);
	if (!rc)
		rc = pick_layer(ctx, path, layer_name, src);
	if (!rc && where && *where) {
		kt_gdal_errors_t e;
		kt__gdal_errors_push(&e);
		OGRErr oe = OGR_L_SetAttributeFilter(src->layer, where);
		kt__gdal_errors_pop();
		if (oe != OGRERR_NONE)
			rc = kt_ctx_error(ctx, KT_EINVAL, "%s: bad --where '%s': %s", path, where,
			                  e.n_failures ? e.failure : "not an OGR SQL expression");
	}
	if (!rc) {
		src->layer_name = kt_strdup(OGR_L_GetName(src->layer));
		rc = src->layer_name ? read_fields(src) : KT_ENOMEM;
	}
	if (!rc)
		rc = read_crs(src);
	if (!rc) {
		GIntBig n = OGR_L_GetFeatureCount(src->layer, FALSE);
		src->total = n >= 0 ? (int64_t)n : -1;
		OGR_L_ResetReading(src->layer);
	}
	if (rc == KT_ENOMEM)
		kt_ctx_error(ctx, rc, "%s: out of memory", path);
	if (rc)
		kt__source_close(src);
	return rc;
}

void kt__source_close(kt_source_t *src)
{
	if (src->ds)
		GDALClose(src->ds);
	if (src->tmp_file) {
		unlink(src->tmp_file);
		kt_free(src->tmp_file);
	}
	for (size_t i = 0; i < src->n_fields; i++)
		kt_free(src->fields[i]);
	kt_free(src->fields);
	kt_free(src->opened);
	kt_free(src->layer_name);
	kt_free(src->crs);
	kt_free(src->crs_name);
	memset(src, 0, sizeof *src);
}
