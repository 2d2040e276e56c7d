/*
 * test_import_real.c — `kartenn import` and `kartenn export` on the real
 * files of ../shared/data, checked against the same files read with GDAL:
 * every Montpellier lamp back in Lambert-93 within 1 mm, Montpellier
 * buildings WGS84 → CC48 → WGS84, the EDIGEO sheet, Épinay-sur-Orge
 * parcels, Lanester among the Morbihan communes, Monaco's OSM buildings,
 * DXF and DGN drawings; upserts (re-import changes nothing, a changed
 * feature gets a new version); bad input refused with the store digest
 * unchanged; and an import killed with SIGKILL half-way leaving the store
 * exactly as it was.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <gdal.h>
#include <jansson.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>
#include <sqlite3.h>

#include "kt_engine.h"
#include "kt_test.h"

/* ---- helpers ------------------------------------------------------------ */

static char data_path[4096];

static const char *data(const char *rel)
{
	snprintf(data_path, sizeof data_path, "%s/%s", kt_test_env("KT_SHARED_DATA"), rel);
	return data_path;
}

static char *new_store(const char *name)
{
	char *db = kt_test_path(name);
	int rc = kt_test_init_store(db);
	if (rc != 0)
		fail_msg("kartenn init --db %s failed (%d)", db, rc);
	return db;
}

/* Runs `kartenn import --db DB ARGS` with --report; returns the exit
 * status, the output in *out (may be NULL) and the parsed report in
 * *report (NULL when none was written). */
static int import(const char *db, json_t **report, char **out, const char *fmt, ...)
{
	char args[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof args, fmt, ap);
	va_end(ap);
	char *rpath = kt_test_path("report.json");
	int rc = kt_test_run(out, "'%s' import --db '%s' --report '%s' %s", kt_test_env("KARTENN"), db, rpath, args);
	if (report) {
		json_error_t je;
		*report = json_load_file(rpath, 0, &je);
	}
	unlink(rpath);
	free(rpath);
	return rc;
}

static json_int_t count_of(json_t *report, const char *what)
{
	return json_integer_value(json_object_get(json_object_get(report, "counts"), what));
}

static int export_layer(const char *db, const char *layer, const char *format, int epsg, const char *out)
{
	char *msg = NULL;
	int rc = kt_test_run(&msg, "'%s' export --db '%s' --layer %s --format %s --crs EPSG:%d --overwrite '%s'",
	                     kt_test_env("KARTENN"), db, layer, format, epsg, out);
	if (rc != 0)
		fprintf(stderr, "export failed: %s\n", msg);
	free(msg);
	return rc;
}

static GDALDatasetH open_vector(const char *path)
{
	GDALAllRegister();
	GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_VECTOR | GDAL_OF_READONLY, NULL, NULL, NULL);
	if (!ds)
		fail_msg("GDAL cannot open %s", path);
	return ds;
}

/* Number of features of a layer with an attribute filter, read by GDAL. */
static long gdal_count(const char *path, const char *layer, const char *where)
{
	GDALDatasetH ds = open_vector(path);
	OGRLayerH l = layer ? GDALDatasetGetLayerByName(ds, layer) : GDALDatasetGetLayer(ds, 0);
	assert_non_null(l);
	if (where)
		assert_int_equal(OGR_L_SetAttributeFilter(l, where), OGRERR_NONE);
	long n = 0;
	OGRFeatureH f;
	while ((f = OGR_L_GetNextFeature(l)) != NULL) {
		n++;
		OGR_F_Destroy(f);
	}
	GDALClose(ds);
	return n;
}

/* The features of a layer, sorted by the text of one field. */
typedef struct {
	char *key;
	OGRFeatureH f;
} keyed;

typedef struct {
	keyed *items;
	long n;
} feature_index;

static int cmp_keyed(const void *a, const void *b)
{
	return strcmp(((const keyed *)a)->key, ((const keyed *)b)->key);
}

static feature_index index_by(OGRLayerH l, const char *field)
{
	feature_index ix = {NULL, 0};
	long cap = 1024;
	ix.items = malloc(cap * sizeof *ix.items);
	int fi = OGR_FD_GetFieldIndex(OGR_L_GetLayerDefn(l), field);
	assert_true(fi >= 0);
	OGR_L_ResetReading(l);
	OGRFeatureH f;
	while ((f = OGR_L_GetNextFeature(l)) != NULL) {
		if (ix.n == cap) {
			cap *= 2;
			ix.items = realloc(ix.items, cap * sizeof *ix.items);
		}
		ix.items[ix.n].key = strdup(OGR_F_GetFieldAsString(f, fi));
		ix.items[ix.n++].f = f;
	}
	qsort(ix.items, ix.n, sizeof *ix.items, cmp_keyed);
	return ix;
}

static OGRFeatureH index_get(const feature_index *ix, const char *key)
{
	keyed k = {(char *)key, NULL};
	keyed *hit = bsearch(&k, ix->items, ix->n, sizeof *ix->items, cmp_keyed);
	return hit ? hit->f : NULL;
}

static void index_free(feature_index *ix)
{
	for (long i = 0; i < ix->n; i++) {
		OGR_F_Destroy(ix->items[i].f);
		free(ix->items[i].key);
	}
	free(ix->items);
}

/* Largest distance between corresponding vertices of two geometries of the
 * same structure; INFINITY when the structures differ. */
static double vertex_distance(OGRGeometryH a, OGRGeometryH b)
{
	int na = OGR_G_GetGeometryCount(a), nb = OGR_G_GetGeometryCount(b);
	if (na != nb)
		return INFINITY;
	if (na > 0) {
		double worst = 0;
		for (int i = 0; i < na; i++) {
			double d = vertex_distance(OGR_G_GetGeometryRef(a, i), OGR_G_GetGeometryRef(b, i));
			worst = d > worst ? d : worst;
		}
		return worst;
	}
	int pa = OGR_G_GetPointCount(a), pb = OGR_G_GetPointCount(b);
	if (pa != pb)
		return INFINITY;
	double worst = 0;
	for (int i = 0; i < pa; i++) {
		double d = hypot(OGR_G_GetX(a, i) - OGR_G_GetX(b, i), OGR_G_GetY(a, i) - OGR_G_GetY(b, i));
		worst = d > worst ? d : worst;
	}
	return worst;
}

/* A single geometry promoted to a one-part multi compares with its part. */
static OGRGeometryH single(OGRGeometryH g)
{
	OGRwkbGeometryType t = wkbFlatten(OGR_G_GetGeometryType(g));
	if ((t == wkbMultiPolygon || t == wkbMultiLineString || t == wkbMultiPoint) && OGR_G_GetGeometryCount(g) == 1)
		return OGR_G_GetGeometryRef(g, 0);
	return g;
}

/* Source ids of the repaired features in a report. */
static int was_repaired(json_t *report, const char *source_id)
{
	json_t *r;
	size_t i;
	json_array_foreach(json_object_get(report, "repairs"), i, r) {
		const char *sid = json_string_value(json_object_get(r, "source_id"));
		if (sid && !strcmp(sid, source_id))
			return 1;
	}
	return 0;
}

/* Compares every feature of a source layer with its export: same count,
 * every vertex within tol (not for repaired ones), and field pairs equal.
 * key_src is the source field the store's source_id came from, NULL when
 * it was the FID ("fid:N"). */
static void compare_export(const char *src_path, const char *src_layer, const char *where,
                           const char *key_src, const char *exported, json_t *report, double tol,
                           const char *const *field_pairs)
{
	GDALDatasetH sds = open_vector(src_path), eds = open_vector(exported);
	OGRLayerH sl = src_layer ? GDALDatasetGetLayerByName(sds, src_layer) : GDALDatasetGetLayer(sds, 0);
	OGRLayerH el = GDALDatasetGetLayer(eds, 0);
	assert_non_null(sl);
	if (where)
		OGR_L_SetAttributeFilter(sl, where);
	feature_index ix = index_by(el, "source_id");
	int key = key_src ? OGR_FD_GetFieldIndex(OGR_L_GetLayerDefn(sl), key_src) : -1;
	long n = 0, compared = 0;
	double worst = 0;
	OGRFeatureH sf;
	while ((sf = OGR_L_GetNextFeature(sl)) != NULL) {
		char sid[256];
		if (key >= 0)
			snprintf(sid, sizeof sid, "%s", OGR_F_GetFieldAsString(sf, key));
		else
			snprintf(sid, sizeof sid, "fid:%lld", (long long)OGR_F_GetFID(sf));
		OGRFeatureH ef = index_get(&ix, sid);
		if (!ef)
			fail_msg("source feature %s is not in the export", sid);
		n++;
		if (!was_repaired(report, sid)) {
			double d = vertex_distance(single(OGR_F_GetGeometryRef(sf)), single(OGR_F_GetGeometryRef(ef)));
			if (!(d <= tol))
				fail_msg("feature %s: a vertex moved by %g (tolerance %g)", sid, d, tol);
			worst = d > worst ? d : worst;
			compared++;
		}
		for (const char *const *p = field_pairs; p && *p; p += 2) {
			const char *a = OGR_F_GetFieldAsString(sf, OGR_F_GetFieldIndex(sf, p[1]));
			const char *b = OGR_F_GetFieldAsString(ef, OGR_F_GetFieldIndex(ef, p[0]));
			if (strcmp(a, b))
				fail_msg("feature %s: %s is '%s', source %s is '%s'", sid, p[0], b, p[1], a);
		}
		OGR_F_Destroy(sf);
	}
	assert_int_equal(n, ix.n);
	assert_true(compared > 0);
	fprintf(stderr, "  %s: %ld features, %ld compared vertex by vertex, worst %.3g\n", src_path, n, compared,
	        worst);
	index_free(&ix);
	GDALClose(sds);
	GDALClose(eds);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Removes a scratch file (and its SQLite side files) and frees its path. */
static void drop(char *path)
{
	char side[4200];
	const char *ext[] = {"", "-wal", "-shm", "-journal"};
	for (int i = 0; i < 4; i++) {
		snprintf(side, sizeof side, "%s%s", path, ext[i]);
		unlink(side);
	}
	free(path);
}

static uint64_t digest(const char *db)
{
	uint64_t d = 0;
	assert_int_equal(kt_test_store_digest(db, &d), 0);
	return d;
}

static int64_t ctx_int(kt_ctx_t *ctx, const char *sql)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(kt_ctx_sqlite(ctx), sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(kt_ctx_sqlite(ctx)));
	int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
	sqlite3_finalize(st);
	return v;
}

/* The layer's R*Tree (packed at commit by the import, or entered row by
 * row) is sound by the module's own check and holds every geometry's box,
 * exactly as the module would enter it. */
static void assert_spatial_index(const char *db, const char *layer, int64_t n)
{
	kt_store_t *store = NULL;
	kt_ctx_t *ctx = NULL;
	kt_err_t err;
	assert_int_equal(kt_store_open(db, &store, &err), 0);
	assert_int_equal(kt_ctx_open(store, &ctx, &err), 0);
	char sql[1024];
	snprintf(sql, sizeof sql, "SELECT rtreecheck('idx_%s_geom') = 'ok'", layer);
	assert_int_equal(ctx_int(ctx, sql), 1);
	snprintf(sql, sizeof sql, "SELECT count(*) FROM idx_%s_geom", layer);
	assert_int_equal(ctx_int(ctx, sql), n);
	snprintf(sql, sizeof sql, "CREATE VIRTUAL TABLE temp.ref USING rtree(pkid, xmin, xmax, ymin, ymax);"
	         "INSERT INTO temp.ref SELECT fid, MbrMinX(geom), MbrMaxX(geom), MbrMinY(geom), MbrMaxY(geom)"
	         " FROM %s WHERE geom IS NOT NULL", layer);
	assert_int_equal(sqlite3_exec(kt_ctx_sqlite(ctx), sql, NULL, NULL, NULL), SQLITE_OK);
	snprintf(sql, sizeof sql, "SELECT count(*) FROM (SELECT * FROM temp.ref EXCEPT SELECT * FROM idx_%s_geom)",
	         layer);
	assert_int_equal(ctx_int(ctx, sql), 0);
	kt_ctx_close(ctx);
	kt_store_close(store);
}

/* ---- real files ----------------------------------------------------------- */

#define LAMPS "fr/montpellier/ecl/VilleMTP_MTP_EclairagePublic.shp"

static void test_import_montpellier_lighting(void **state)
{
	(void)state;
	char *db = new_store("lamps.sqlite");
	json_t *rep = NULL;
	char *out = NULL;
	int rc = import(db, &rep, &out, "--layer eclairage_support '%s'", data(LAMPS));
	if (rc != 0)
		fail_msg("import failed: %s", out);
	long n = gdal_count(data(LAMPS), NULL, NULL);
	assert_int_equal(n, 29969);
	assert_int_equal(count_of(rep, "read"), n);
	assert_int_equal(count_of(rep, "inserted"), n);
	assert_int_equal(count_of(rep, "rejected"), 0);
	/* Lambert-93 → CC48 is a conversion (same datum): accuracy 0 */
	assert_true(json_real_value(json_object_get(json_object_get(rep, "transformation"), "accuracy_m")) == 0.0);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(rep, "crs"), "store_epsg")), 3948);
	assert_non_null(strstr(out, "inserted 29969"));
	assert_spatial_index(db, "eclairage_support", n);

	char *gpkg = kt_test_path("lamps-2154.gpkg");
	assert_int_equal(export_layer(db, "eclairage_support", "gpkg", 2154, gpkg), 0);
	const char *pairs[] = {"type_lante", "type_lante", NULL};
	compare_export(data(LAMPS), NULL, NULL, NULL, gpkg, rep, 0.001, pairs);

	/* every feature carries its precision: no survey precision given → C */
	GDALDatasetH ds = open_vector(gpkg);
	OGRLayerH l = GDALDatasetGetLayer(ds, 0);
	OGRFeatureH f;
	while ((f = OGR_L_GetNextFeature(l)) != NULL) {
		assert_string_equal(OGR_F_GetFieldAsString(f, OGR_F_GetFieldIndex(f, "dtdict")), "C");
		assert_true(OGR_F_GetFieldAsDouble(f, OGR_F_GetFieldIndex(f, "transf_m")) == 0.0);
		assert_int_equal(OGR_F_GetFieldAsInteger64(f, OGR_F_GetFieldIndex(f, "version")), 1);
		OGR_F_Destroy(f);
	}
	GDALClose(ds);

	/* the other formats carry the same features */
	const char *fmts[][2] = {{"geojson", "lamps.geojson"}, {"csv", "lamps.csv"}, {"shp", "lamps.shp"}};
	for (int i = 0; i < 3; i++) {
		char *p = kt_test_path(fmts[i][1]);
		assert_int_equal(export_layer(db, "eclairage_support", fmts[i][0], 2154, p), 0);
		assert_int_equal(gdal_count(p, NULL, NULL), n);
		size_t len = strlen(p);
		if (len > 4 && !strcmp(p + len - 4, ".shp")) /* and its .shx, .dbf, .prj, .cpg */
			kt_test_run(NULL, "rm -f '%.*s'.*", (int)(len - 4), p);
		drop(p);
	}
	json_decref(rep);
	free(out);
	drop(gpkg);
	drop(db);
}

static void test_import_precision_grading(void **state)
{
	(void)state;
	char *db = new_store("grading.sqlite");
	char *out = NULL;
	/* 20 cm surveyed, Lambert-93 → CC48 (0 m): class A for a rigid network */
	assert_int_equal(import(db, NULL, &out, "--layer eclairage_support --precision-xy 20 --precision-z 5 "
	                                        "--where \"type_lante = 'LANTERNE'\" '%s'", data(LAMPS)), 0);
	free(out);
	char *gpkg = kt_test_path("grading.gpkg");
	assert_int_equal(export_layer(db, "eclairage_support", "gpkg", 3948, gpkg), 0);
	long n = gdal_count(gpkg, NULL, "dtdict = 'A' AND prec_xy_cm = 20 AND prec_z_cm = 5");
	assert_true(n > 0);
	assert_int_equal(n, gdal_count(data(LAMPS), NULL, "type_lante = 'LANTERNE'"));
	drop(gpkg);

	/* precision from a field, combined with the transformation accuracy:
	 * 30 cm through Lambert-93 (0 m) is A, through WGS84 (1 m) only B */
	const char *crs[2] = {"EPSG:2154", "EPSG:4326"};
	const char *rows[2] = {"reference,x,y,prec\nS1,770000,6279000,30\nS2,770010,6279010,200\nS3,770020,6279020,\n",
	                       "reference,lon,lat,prec\nS1,-3.34,47.76,30\nS2,-3.341,47.761,200\nS3,-3.342,47.762,\n"};
	const char *want[][3] = {{"A", "C", "C"}, {"B", "C", "C"}};
	char *csv = kt_test_path("survey.csv");
	for (int i = 0; i < 2; i++) {
		write_file(csv, rows[i]);
		char *db2 = new_store("grading2.sqlite");
		char *out2 = NULL;
		int rc = import(db2, NULL, &out2, "--layer eclairage_support --source-crs %s --precision-field prec "
		                                  "--id-field reference '%s'", crs[i], csv);
		if (rc)
			fail_msg("%s", out2);
		free(out2);
		char *g = kt_test_path("grading2.gpkg");
		assert_int_equal(export_layer(db2, "eclairage_support", "gpkg", 3948, g), 0);
		for (int k = 0; k < 3; k++) {
			char where[128];
			snprintf(where, sizeof where, "reference = 'S%d' AND dtdict = '%s'", k + 1, want[i][k]);
			if (gdal_count(g, NULL, where) != 1)
				fail_msg("%s: expected %s", crs[i], where);
		}
		drop(g);
		drop(db2);
	}
	free(csv);
	drop(db);
}

#define BUILDINGS "fr/montpellier/VilleMTP_MTP_Batiments.geojson"

static void test_import_montpellier_buildings(void **state)
{
	(void)state;
	char *db = new_store("buildings.sqlite");
	char *map = kt_test_path("buildings-map.json");
	write_file(map, "{\"nom\": \"PATRLIB\", \"quartier\": \"LIBQUART\", \"usage\": \"TYPE\", \"surface\": \"AREA\"}");
	json_t *rep = NULL;
	char *out = NULL;
	int rc = import(db, &rep, &out, "--layer batiment --mapping '%s' --id-field OBJECTID '%s'", map, data(BUILDINGS));
	if (rc)
		fail_msg("import failed: %s", out);
	free(out);
	long n = gdal_count(data(BUILDINGS), NULL, NULL);
	assert_int_equal(count_of(rep, "read"), n);
	assert_int_equal(count_of(rep, "inserted") + count_of(rep, "rejected"), n);
	assert_int_equal(count_of(rep, "rejected"), 0);
	/* WGS84 → RGF93: the null datum shift PROJ knows to 1 m */
	assert_true(json_real_value(json_object_get(json_object_get(rep, "transformation"), "accuracy_m")) == 1.0);

	/* WGS84 → CC48 → WGS84: every vertex back within 1e-8 degree (~1 mm) */
	char *back = kt_test_path("buildings-4326.geojson");
	assert_int_equal(export_layer(db, "batiment", "geojson", 4326, back), 0);
	const char *pairs[] = {"nom", "PATRLIB", "quartier", "LIBQUART", "usage", "TYPE", NULL};
	compare_export(data(BUILDINGS), NULL, NULL, "OBJECTID", back, rep, 1e-8, pairs);
	json_decref(rep);

	/* the same file again: nothing new, nothing changed */
	assert_int_equal(import(db, &rep, NULL, "--layer batiment --mapping '%s' --id-field OBJECTID '%s'", map,
	                        data(BUILDINGS)), 0);
	assert_int_equal(count_of(rep, "inserted"), 0);
	assert_int_equal(count_of(rep, "updated"), 0);
	assert_int_equal(count_of(rep, "unchanged"), n);
	json_decref(rep);
	assert_spatial_index(db, "batiment", n);
	drop(back);
	free(map);
	drop(db);
}

static void test_import_upsert_new_version(void **state)
{
	(void)state;
	char *db = new_store("upsert.sqlite");
	char *v1 = kt_test_path("parcels-v1.geojson"), *v2 = kt_test_path("parcels-v2.geojson");
	const char *src = data("fr/cadastre-etalab/cadastre-91216-parcelles.json");
	/* first 5 parcels, then the same 5 with one area changed */
	assert_int_equal(kt_test_run(NULL, "ogr2ogr -f GeoJSON '%s' '%s' -limit 5", v1, src), 0);
	assert_int_equal(kt_test_run(NULL, "ogr2ogr -f GeoJSON '%s' '%s' -limit 5 -dialect SQLite -sql "
	                                   "\"SELECT *, CASE WHEN rowid = 2 THEN contenance + 1 ELSE contenance END "
	                                   "AS contenance2 FROM \\\"cadastre-91216-parcelles\\\"\"", v2, src), 0);
	char *map = kt_test_path("parcels-map.json");
	write_file(map, "{\"contenance\": \"contenance2\"}");
	json_t *rep = NULL;
	assert_int_equal(import(db, &rep, NULL, "--layer parcelle --id-field id '%s'", v1), 0);
	assert_int_equal(count_of(rep, "inserted"), 5);
	json_decref(rep);
	assert_int_equal(import(db, &rep, NULL, "--layer parcelle --id-field id --mapping '%s' '%s'", map, v2), 0);
	assert_int_equal(count_of(rep, "updated"), 1);
	assert_int_equal(count_of(rep, "unchanged"), 4);
	assert_int_equal(count_of(rep, "inserted"), 0);
	json_decref(rep);
	char *gpkg = kt_test_path("upsert.gpkg");
	assert_int_equal(export_layer(db, "parcelle", "gpkg", 3948, gpkg), 0);
	assert_int_equal(gdal_count(gpkg, NULL, NULL), 5);
	assert_int_equal(gdal_count(gpkg, NULL, "version = 2"), 1);
	assert_int_equal(gdal_count(gpkg, NULL, "version = 1"), 4);
	drop(gpkg);
	free(map);
	free(v1);
	free(v2);
	drop(db);
}

#define EDIGEO "fr/cadastre-edigeo-74024/edigeo-740240000A01.tar.bz2"

static void test_import_edigeo(void **state)
{
	(void)state;
	char *db = new_store("edigeo.sqlite");
	char *out = NULL;
	uint64_t before = digest(db);
	/* 21 layers: which one must be said */
	assert_int_equal(import(db, NULL, &out, "--layer parcelle '%s'", data(EDIGEO)), 1);
	assert_non_null(strstr(out, "--source-layer"));
	assert_non_null(strstr(out, "PARCELLE_id"));
	assert_non_null(strstr(out, "BATIMENT_id"));
	free(out);
	assert_true(digest(db) == before);

	/* the reference read: GDAL on a copy extracted by tar */
	char *dir = kt_test_path("edigeo-x");
	assert_int_equal(kt_test_run(NULL, "mkdir -p '%s' && tar xjf '%s' -C '%s'", dir, data(EDIGEO), dir), 0);
	char thf[4200];
	snprintf(thf, sizeof thf, "%s/E0000A01.THF", dir);

	char *map = kt_test_path("edigeo-map.json");
	write_file(map, "{\"id\": \"IDU\"}");
	json_t *rep = NULL;
	assert_int_equal(import(db, &rep, &out, "--layer parcelle --source-layer PARCELLE_id --mapping '%s' "
	                                        "--id-field IDU '%s'", map, data(EDIGEO)), 0);
	free(out);
	assert_int_equal(count_of(rep, "inserted"), gdal_count(thf, "PARCELLE_id", NULL));
	assert_int_equal(count_of(rep, "inserted"), 404);
	char *gpkg = kt_test_path("edigeo-parcels.gpkg");
	assert_int_equal(export_layer(db, "parcelle", "gpkg", 2154, gpkg), 0);
	const char *pairs[] = {"id", "IDU", NULL};
	compare_export(thf, "PARCELLE_id", NULL, "IDU", gpkg, rep, 0.001, pairs);
	json_decref(rep);

	assert_int_equal(import(db, &rep, NULL, "--layer batiment --source-layer BATIMENT_id '%s'", data(EDIGEO)), 0);
	assert_int_equal(count_of(rep, "inserted"), gdal_count(thf, "BATIMENT_id", NULL));
	assert_int_equal(count_of(rep, "inserted"), 81);
	char *bat = kt_test_path("edigeo-buildings.gpkg");
	assert_int_equal(export_layer(db, "batiment", "gpkg", 2154, bat), 0);
	compare_export(thf, "BATIMENT_id", NULL, NULL, bat, rep, 0.001, NULL);
	json_decref(rep);
	drop(bat);
	drop(gpkg);
	free(map);
	kt_test_run(NULL, "rm -rf '%s'", dir);
	free(dir);
	drop(db);
}

#define EPINAY "fr/cadastre-etalab/cadastre-91216-parcelles.json"

static void test_import_epinay_parcels(void **state)
{
	(void)state;
	char *db = new_store("epinay.sqlite");
	json_t *rep = NULL;
	assert_int_equal(import(db, &rep, NULL, "--layer parcelle --id-field id '%s'", data(EPINAY)), 0);
	long n = gdal_count(data(EPINAY), NULL, NULL);
	assert_int_equal(n, 4241);
	assert_int_equal(count_of(rep, "inserted"), n);
	json_decref(rep);
	char *back = kt_test_path("epinay.gpkg");
	assert_int_equal(export_layer(db, "parcelle", "gpkg", 4326, back), 0);
	assert_int_equal(import(db, &rep, NULL, "--layer parcelle --id-field id '%s'", data(EPINAY)), 0);
	const char *pairs[] = {"id", "id", "commune", "commune", "section", "section", "numero", "numero",
	                       "contenance", "contenance", "arpente", "arpente", NULL};
	compare_export(data(EPINAY), NULL, NULL, "id", back, rep, 1e-8, pairs);
	assert_int_equal(count_of(rep, "unchanged"), n);
	assert_int_equal(count_of(rep, "inserted"), 0);
	json_decref(rep);
	drop(back);
	drop(db);
}

#define COMMUNES "fr/communes/communes-56-morbihan.geojson"

static void test_import_lanester_by_insee(void **state)
{
	(void)state;
	char *db = new_store("communes.sqlite");
	json_t *rep = NULL;
	assert_int_equal(import(db, &rep, NULL, "--layer commune --where \"code = '56098'\" '%s'", data(COMMUNES)), 0);
	assert_int_equal(count_of(rep, "read"), 1);
	assert_int_equal(count_of(rep, "inserted"), 1);
	char *out = kt_test_path("lanester.gpkg");
	assert_int_equal(export_layer(db, "commune", "gpkg", 3948, out), 0);
	assert_int_equal(gdal_count(out, NULL, "nom = 'Lanester' AND code = '56098'"), 1);

	/* the same outline reprojected by GDAL has the same area */
	GDALDatasetH s = open_vector(data(COMMUNES)), e = open_vector(out);
	OGRLayerH sl = GDALDatasetGetLayer(s, 0);
	OGR_L_SetAttributeFilter(sl, "code = '56098'");
	OGRFeatureH sf = OGR_L_GetNextFeature(sl), ef = OGR_L_GetNextFeature(GDALDatasetGetLayer(e, 0));
	OGRGeometryH sg = OGR_G_Clone(OGR_F_GetGeometryRef(sf));
	OGRSpatialReferenceH cc48 = OSRNewSpatialReference(NULL);
	OSRImportFromEPSG(cc48, 3948);
	OSRSetAxisMappingStrategy(cc48, OAMS_TRADITIONAL_GIS_ORDER);
	assert_int_equal(OGR_G_TransformTo(sg, cc48), OGRERR_NONE);
	double a = OGR_G_Area(sg), b = OGR_G_Area(OGR_F_GetGeometryRef(ef));
	fprintf(stderr, "  Lanester: %.1f m² (GDAL) vs %.1f m² (kartenn)\n", a, b);
	assert_true(a > 1e7 && a < 3e7); /* about 18 km² */
	assert_true(fabs(a - b) / a < 1e-9);
	OGR_G_DestroyGeometry(sg);
	OSRDestroySpatialReference(cc48);
	OGR_F_Destroy(sf);
	OGR_F_Destroy(ef);
	GDALClose(s);
	GDALClose(e);
	json_decref(rep);
	free(out);
	drop(db);
}

#define MONACO "osm/monaco-latest.osm.pbf"

static void test_import_monaco_osm(void **state)
{
	(void)state;
	char *db = new_store("monaco.sqlite");
	char *out = NULL;
	assert_int_equal(import(db, NULL, &out, "--layer batiment '%s'", data(MONACO)), 1);
	assert_non_null(strstr(out, "multipolygons"));
	free(out);
	char *map = kt_test_path("osm-map.json");
	write_file(map, "{\"nom\": \"name\"}");
	json_t *rep = NULL;
	assert_int_equal(import(db, &rep, &out, "--layer batiment --source-layer multipolygons --mapping '%s' "
	                                        "--where \"building IS NOT NULL\" '%s'", map, data(MONACO)), 0);
	free(out);
	long n = gdal_count(data(MONACO), "multipolygons", "building IS NOT NULL");
	assert_true(n > 1000);
	assert_int_equal(count_of(rep, "read"), n);
	assert_int_equal(count_of(rep, "inserted"), n);
	char *back = kt_test_path("monaco.gpkg");
	assert_int_equal(export_layer(db, "batiment", "gpkg", 4326, back), 0);
	const char *pairs[] = {"nom", "name", NULL};
	compare_export(data(MONACO), "multipolygons", "building IS NOT NULL", NULL, back, rep, 1e-8, pairs);
	json_decref(rep);
	drop(back);
	free(map);
	drop(db);
}

static void test_import_cad(void **state)
{
	(void)state;
	char *db = new_store("cad.sqlite");
	const char *files[] = {"cad/dxf/Leica_Disto_S910.dxf", "cad/dxf/ASCII_R12.dxf", "cad/dgn/smalltest.dgn"};
	for (int i = 0; i < 3; i++) {
		json_t *rep = NULL;
		char *out = NULL;
		int rc = import(db, &rep, &out, "--layer eclairage_cable --source-crs EPSG:3948 "
		                                "--where \"OGR_GEOMETRY = 'LINESTRING'\" '%s'", data(files[i]));
		if (rc)
			fail_msg("%s: %s", files[i], out);
		long n = gdal_count(data(files[i]), NULL, "OGR_GEOMETRY = 'LINESTRING'");
		assert_true(n > 0);
		assert_int_equal(count_of(rep, "inserted"), n);
		/* drawing coordinates are kept exactly */
		char *gpkg = kt_test_path("cad.gpkg");
		assert_int_equal(export_layer(db, "eclairage_cable", "gpkg", 3948, gpkg), 0);
		compare_export(data(files[i]), NULL, "OGR_GEOMETRY = 'LINESTRING'", NULL, gpkg, rep, 0.0, NULL);
		drop(gpkg);
		/* the next drawing goes into an empty layer: clear it by a new store */
		drop(db);
		db = new_store("cad.sqlite");
		json_decref(rep);
		free(out);
	}
	/* points of a drawing into a point layer, the rest rejected and skipped */
	json_t *rep = NULL;
	assert_int_equal(import(db, &rep, NULL, "--layer eclairage_support --source-crs EPSG:3948 --skip-rejected '%s'",
	                        data("cad/dxf/Leica_Disto_S910.dxf")), 0);
	long points = gdal_count(data("cad/dxf/Leica_Disto_S910.dxf"), NULL, "OGR_GEOMETRY = 'POINT'");
	assert_int_equal(count_of(rep, "inserted"), points);
	assert_int_equal(count_of(rep, "rejected"), count_of(rep, "read") - points);
	json_decref(rep);
	drop(db);
}

/* ---- bad input -------------------------------------------------------------- */

/* Runs an import that must fail; checks the exit status, that the message
 * names the source and says why, and that the store did not change. */
static void refused(const char *db, const char *source, const char *why, const char *fmt, ...)
{
	char args[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof args, fmt, ap);
	va_end(ap);
	uint64_t before = digest(db);
	char *out = NULL;
	int rc = kt_test_run(&out, "'%s' import --db '%s' %s '%s'", kt_test_env("KARTENN"), db, args, source);
	if (rc == 0 || rc == -1)
		fail_msg("import of %s should fail (%s) but exited %d: %s", source, why, rc, out);
	if (!strstr(out, why) || !strstr(out, "kartenn import: "))
		fail_msg("import of %s: message should say '%s': %s", source, why, out);
	assert_true(digest(db) == before);
	free(out);
}

static void test_import_bad_input(void **state)
{
	(void)state;
	char *db = new_store("bad.sqlite");
	json_t *rep = NULL;
	/* something in the store, so that the digest covers real rows */
	assert_int_equal(import(db, &rep, NULL, "--layer commune --where \"code IN ('56098', '56121')\" '%s'",
	                        data(COMMUNES)), 0);
	assert_int_equal(count_of(rep, "inserted"), 2);
	json_decref(rep);

	/* a truncated Shapefile */
	char *dir = kt_test_path("trunc");
	assert_int_equal(kt_test_run(NULL, "mkdir -p '%s' && cp '%s'/fr/montpellier/ecl/VilleMTP_MTP_EclairagePublic.* '%s' "
	                                   "&& chmod u+w '%s'/* && truncate -s 400000 '%s'/VilleMTP_MTP_EclairagePublic.shp",
	                                   dir, kt_test_env("KT_SHARED_DATA"), dir, dir, dir), 0);
	char shp[4200];
	snprintf(shp, sizeof shp, "%s/VilleMTP_MTP_EclairagePublic.shp", dir);
	refused(db, shp, "reading feature", "--layer eclairage_support");

	/* an empty file, a missing one */
	char *empty = kt_test_path("empty.geojson");
	write_file(empty, "");
	refused(db, empty, "empty", "--layer commune");
	refused(db, "/nonexistent/nothing.shp", "No such file", "--layer commune");

	/* a drawing without CRS and no --source-crs */
	refused(db, data("cad/dxf/Leica_Disto_S910.dxf"), "declares no CRS", "--layer eclairage_cable");
	/* an unknown layer */
	refused(db, data(COMMUNES), "unknown layer 'nope'", "--layer nope");
	/* points into a polygon layer: every feature rejected with its reason */
	refused(db, data(LAMPS), "rejected", "--layer batiment");
	refused(db, data(LAMPS), "does not fit", "--layer batiment");
	/* the DXF with trash after EOF */
	refused(db, data("cad/dxf/R12_with_trash_beyond_EOF.dxf"), "after the DXF end of file",
	        "--layer eclairage_cable --source-crs EPSG:3948");
	/* a CSV with a quote never closed */
	char *csv = kt_test_path("broken.csv");
	write_file(csv, "id,x,y,nom\n1,250000,6750000,\"ok\"\n2,250001,6750001,\"broken\n3,250002,6750002,\"fine\"\n");
	refused(db, csv, "never closed", "--layer collab_toilettes --source-crs EPSG:2154");
	/* an unknown source layer, a mapping naming a missing field */
	refused(db, data(MONACO), "no layer 'roads'", "--layer batiment --source-layer roads");
	char *map = kt_test_path("bad-map.json");
	write_file(map, "{\"nom\": \"NO_SUCH_FIELD\"}");
	char args[4400];
	snprintf(args, sizeof args, "--layer commune --mapping '%s'", map);
	refused(db, data(COMMUNES), "NO_SUCH_FIELD", "%s", args);
	/* a value that does not fit the attribute type: named with its field */
	char *csv2 = kt_test_path("values.csv");
	write_file(csv2, "nom,places,payant,etat,x,y\nA,12,oui,publie,250000,6750000\nB,douze,non,publie,250010,6750010\n"
	                 "C,3,peut-etre,publie,250020,6750020\n");
	refused(db, csv2, "'douze' is not an integer", "--layer collab_stationnement --source-crs EPSG:2154");
	refused(db, csv2, "'peut-etre' is not a boolean", "--layer collab_stationnement --source-crs EPSG:2154");
	/* a dry run changes nothing either, even when it succeeds */
	uint64_t before = digest(db);
	assert_int_equal(import(db, &rep, NULL, "--dry-run --layer commune '%s'", data(COMMUNES)), 0);
	assert_int_equal(count_of(rep, "inserted"), 253);
	assert_false(json_is_true(json_object_get(rep, "committed")));
	json_decref(rep);
	assert_true(digest(db) == before);
	/* --skip-rejected commits the good rows and lists the bad ones */
	assert_int_equal(import(db, &rep, NULL, "--skip-rejected --layer collab_stationnement --source-crs EPSG:2154 '%s'",
	                        csv2), 0);
	assert_int_equal(count_of(rep, "inserted"), 1);
	assert_int_equal(count_of(rep, "rejected"), 2);
	json_t *r0 = json_array_get(json_object_get(rep, "rejections"), 0);
	assert_int_equal(json_integer_value(json_object_get(r0, "index")), 2);
	assert_non_null(strstr(json_string_value(json_object_get(r0, "reason")), "places"));
	json_decref(rep);
	assert_false(digest(db) == before);
	free(csv2);
	free(map);
	free(csv);
	drop(empty);
	kt_test_run(NULL, "rm -rf '%s'", dir);
	free(dir);
	drop(db);
}

/* ---- interruption --------------------------------------------------------- */

static long file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* CPU time (user + system) a process has used, from /proc. */
static double cpu_seconds(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
	unsigned long utime = 0, stime = 0;
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
		return 0;
	return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static void test_import_killed_midway(void **state)
{
	(void)state;
	char *db = new_store("killed.sqlite");
	json_t *rep = NULL;
	assert_int_equal(import(db, &rep, NULL, "--layer commune '%s'", data(COMMUNES)), 0);
	json_decref(rep);
	uint64_t before = digest(db);

	/* a large source: the Montpellier lamps eight times over */
	char *big = kt_test_path("big.gpkg");
	assert_int_equal(kt_test_run(NULL, "for i in 1 2 3 4 5 6 7 8; do ogr2ogr -f GPKG -append -nln lamps '%s' '%s' || exit 1; done",
	                             big, data(LAMPS)), 0);
	assert_int_equal(gdal_count(big, NULL, NULL), 8 * 29969);

	char wal[4200];
	snprintf(wal, sizeof wal, "%s-wal", db);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		freopen("/dev/null", "w", stdout);
		execl(kt_test_env("KARTENN"), "kartenn", "import", "--db", db, "--layer", "eclairage_support", big,
		      (char *)NULL);
		_exit(127);
	}
	/* wait until the import has worked a while (1.5 s of CPU: opening takes
	 * a tenth of that, the 240,000 features about 4 s), then kill it */
	int status, running = 1;
	double cpu = 0;
	for (int i = 0; i < 24000 && cpu < 1.5; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			running = 0;
			break;
		}
		cpu = cpu_seconds(pid);
		usleep(5000);
	}
	if (!running)
		fail_msg("the import ended (status %d) before it could be killed", status);
	long wal_at_kill = file_size(wal);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	fprintf(stderr, "  killed after %.2f s of CPU, WAL of %ld bytes\n", cpu, wal_at_kill);
	assert_true(cpu >= 1.5);

	/* the store opens and holds exactly what it held */
	assert_true(digest(db) == before);
	kt_store_t *store = NULL;
	kt_ctx_t *ctx = NULL;
	kt_err_t err;
	assert_int_equal(kt_store_open(db, &store, &err), 0);
	assert_int_equal(kt_ctx_open(store, &ctx, &err), 0);
	int64_t n = -1;
	assert_int_equal(kt_features_count(ctx, "eclairage_support", &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(kt_features_count(ctx, "commune", &n), 0);
	assert_int_equal(n, 253);
	kt_ctx_close(ctx);
	kt_store_close(store);
	assert_true(digest(db) == before);
	drop(big);
	drop(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_import_montpellier_lighting),
		cmocka_unit_test(test_import_precision_grading),
		cmocka_unit_test(test_import_montpellier_buildings),
		cmocka_unit_test(test_import_upsert_new_version),
		cmocka_unit_test(test_import_edigeo),
		cmocka_unit_test(test_import_epinay_parcels),
		cmocka_unit_test(test_import_lanester_by_insee),
		cmocka_unit_test(test_import_monaco_osm),
		cmocka_unit_test(test_import_cad),
		cmocka_unit_test(test_import_bad_input),
		cmocka_unit_test(test_import_killed_midway),
	};
	return cmocka_run_group_tests_name("import_real", tests, NULL, NULL);
}
