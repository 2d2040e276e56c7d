/*
 * kt_ows_int.h — what the OGC service files of the server share: the KVP
 * parser (kvp.c), the OWS exception report (ows_exception.c), CRS names
 * and axis order (ows_crs.c), a growing text buffer (sbuf.c), the FES
 * filter tree (fes_parse.c, gml_read.c) and its translation to SQL
 * (fes_sql.c), GML writing (gml_write.c), the parsed WFS request
 * (wfs_request.c, wfs_xml.c) and the WFS operations (wfs_*.c). OGC API
 * Features (ogcapi*.c) uses the CRS, buffer and SQL helpers too.
 *
 * Memory: everything a parser returns lives in the request arena given
 * to it; nothing here is freed by the caller except the buffers of kt_sbuf
 * (taken with kt_sbuf_take, or released).
 *
 * Privacy: the only way from a layer to the names a client may see, filter
 * or sort on is kt_ows_public_attr(); the only way to rows is through
 * kt_layer_publish_sql() (collaborative layers publish only moderated
 * contributions, as catalogue.c does).
 */
#ifndef KT_OWS_INT_H
#define KT_OWS_INT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "kt_server_int.h"

/* The feature-type namespace and its prefix. */
#define KT_OWS_NS "https://www.lanester.bzh/kartenn"
#define KT_OWS_PREFIX "kartenn"
/* Most features one GetFeature answers when the client sets no count. */
#define KT_OWS_MAX_FEATURES 1000000

/* ---- text buffer ------------------------------------------------------ */
typedef struct kt_sbuf {
	char *p;      /* kt_malloc'd, NUL-terminated when len > 0 */
	size_t len, cap;
	int oom;      /* an append failed: the content is incomplete */
} kt_sbuf_t;

void kt_sbuf_put(kt_sbuf_t *b, const char *s, size_t n);
void kt_sbuf_puts(kt_sbuf_t *b, const char *s);
void kt_sbuf_printf(kt_sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s escaped for XML text and attribute values (& < > " '). */
void kt_sbuf_xml(kt_sbuf_t *b, const char *s);
/* Appends s percent-encoded for a URL query value. */
void kt_sbuf_url(kt_sbuf_t *b, const char *s);
/* Hands the content over (kt_free) and empties b; NULL when b->oom. */
char *kt_sbuf_take(kt_sbuf_t *b, size_t *len);
void kt_sbuf_release(kt_sbuf_t *b);

/* ---- KVP -------------------------------------------------------------- */
typedef struct kt_kvp_pair {
	const char *key;    /* decoded, as sent */
	const char *value;  /* decoded ('+' is a space) */
} kt_kvp_pair_t;

typedef struct kt_kvp {
	kt_kvp_pair_t *v;
	size_t n;
} kt_kvp_t;

/* Parses a query string or a form body "k=v&k2=v2" (s[0..n)). Empty
 * pieces ("a=1&&b=2") are skipped; a key without '=' has value "". Refuses
 * (KT_EINVAL, *why in a) a bad %-escape, a NUL byte, an empty key and a
 * key given twice (case-insensitively: OGC keys are case-insensitive);
 * *bad_key names the key at fault when there is one. */
int kt_kvp_parse(kt_arena_t *a, const char *s, size_t n, kt_kvp_t *out, const char **why,
                 const char **bad_key);
/* The value of key (case-insensitive), or NULL. */
const char *kt_kvp_get(const kt_kvp_t *k, const char *key);
/* Splits s on sep into trimmed items (in a); empty items are kept as "".
 * Returns the count, or -1 when out of memory. At most max items. */
long kt_kvp_split(kt_arena_t *a, const char *s, char sep, char ***items, size_t max);
/* Parses "x1,y1,x2,y2[,crs]" into v and crs (NULL when absent). */
int kt_kvp_bbox(kt_arena_t *a, const char *s, double v[4], const char **crs);

/* ---- OWS exceptions --------------------------------------------------- */
typedef struct kt_ows_exc {
	const char *code;     /* "InvalidParameterValue", … */
	const char *locator;  /* may be NULL */
	const char *text;     /* human explanation */
} kt_ows_exc_t;

/* Fills e (text formatted into a) and returns KT_EINVAL. */
int kt_ows_fail(kt_ows_exc_t *e, kt_arena_t *a, const char *code, const char *locator,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The HTTP status of an exception code (OWS Common 2.0, WFS 2.0). */
unsigned kt_ows_exc_status(const char *code);
/* Answers an ows:ExceptionReport: OWS 1.1 for version "2.0.0" (and any
 * other), OWS 1.0 for "1.1.0". */
int kt_ows_respond_exc(kt_request_t *req, const char *version, const kt_ows_exc_t *e);

/* ---- CRS -------------------------------------------------------------- */
typedef enum kt_crs_form {
	KT_CRS_SHORT = 0, /* EPSG:n — x/y (easting or longitude first) */
	KT_CRS_URN,       /* urn:ogc:def:crs:EPSG::n — the authority's axis order */
	KT_CRS_URI,       /* http://www.opengis.net/def/crs/EPSG/0/n — idem */
	KT_CRS_CRS84,     /* OGC CRS84: EPSG:4326 longitude first */
} kt_crs_form_t;

typedef struct kt_crs {
	int epsg;          /* 0: none given */
	kt_crs_form_t form;
	int swap;          /* axes in the authority order are (lat, lon) or
	                    * (northing, easting): set by kt_ows_crs_resolve */
} kt_crs_t;

/* Parses a CRS name; KT_EINVAL when not an EPSG or CRS84 name. */
int kt_ows_crs_parse(const char *s, kt_crs_t *crs);
/* Checks the engine can transform from the store CRS to crs->epsg and
 * sets crs->swap from the CRS axis order (PROJ) and the form. */
int kt_ows_crs_resolve(kt_ctx_t *ctx, kt_crs_t *crs);
/* The name of crs in its form ("urn:ogc:def:crs:EPSG::3948", …) into buf. */
const char *kt_ows_crs_name(const kt_crs_t *crs, char *buf, size_t size);

/* ---- privacy ---------------------------------------------------------- */
/* The public attribute name of l (a prefix "kartenn:" is accepted), or
 * NULL when there is none of that name or it is private. */
const kt_attr_def_t *kt_ows_public_attr(const kt_layer_t *l, const char *name);
/* The public layer named (an "kartenn:" prefix accepted), or NULL. */
const kt_layer_t *kt_ows_public_layer(const kt_store_t *s, const char *name);

/* The public attributes of f as a JSON object (never a private one). */
json_t *kt_ows_properties_json(const kt_layer_t *l, const kt_feature_t *f);
/* A GeoJSON Feature with id and public properties; NULL on bad WKB. */
json_t *kt_ows_feature_json(const kt_layer_t *l, const kt_feature_t *f, const char *id);
/* The same Feature appended to b as compact text, exactly what json_dumps
 * of kt_ows_feature_json gives with KT_JSON_FLAGS, without building the
 * tree (ows_common.c). KT_EINVAL (b then holds a partial feature: the
 * caller drops the answer) where kt_ows_feature_json gives NULL. */
int kt_ows_feature_geojson(kt_sbuf_t *b, const kt_layer_t *l, const kt_feature_t *f,
                           const char *id);
/* A JSON string literal of s, escaped as jansson dumps it; KT_EINVAL
 * (nothing written) when s is not valid UTF-8, which jansson refuses. */
int kt_sbuf_json_string(kt_sbuf_t *b, const char *s);
/* An ISO WKB geometry as GeoJSON text (geojson.c): what json_dumps of
 * kt_wkb_to_geojson's object gives with KT_JSON_FLAGS; KT_EINVAL where
 * that fails. */
int kt_wkb_geojson_write(kt_sbuf_t *b, const unsigned char *wkb, size_t len);
/* A real as jansson dumps it with KT_JSON_FLAGS, into out; returns its
 * length, 0 when v is not finite (jansson has no such real). */
size_t kt_json_real(double v, char out[32]);

/* ---- geometry --------------------------------------------------------- */
typedef struct kt_geom {
	unsigned char *wkb;   /* ISO WKB, XY, in the arena */
	size_t len;
	kt_crs_t crs;         /* as named on the GML element; epsg 0: default */
	double env[4];        /* its envelope, x/y as read (after axis swap) */
} kt_geom_t;

/* ---- FES filters ------------------------------------------------------ */
typedef enum kt_fes_kind {
	KT_FES_AND = 1,
	KT_FES_OR,
	KT_FES_NOT,
	KT_FES_CMP,       /* op: kt_fes_cmp_t */
	KT_FES_LIKE,
	KT_FES_NULL,      /* PropertyIsNull and PropertyIsNil */
	KT_FES_BETWEEN,
	KT_FES_SPATIAL,   /* op: kt_fes_spatial_t */
	KT_FES_RID,
} kt_fes_kind_t;

typedef enum kt_fes_cmp {
	KT_CMP_EQ = 0, KT_CMP_NE, KT_CMP_LT, KT_CMP_GT, KT_CMP_LE, KT_CMP_GE,
} kt_fes_cmp_t;

typedef enum kt_fes_spatial {
	KT_SP_BBOX = 0, KT_SP_INTERSECTS, KT_SP_WITHIN, KT_SP_CONTAINS, KT_SP_DISJOINT,
	KT_SP_TOUCHES, KT_SP_CROSSES, KT_SP_OVERLAPS, KT_SP_EQUALS, KT_SP_DWITHIN, KT_SP_BEYOND,
} kt_fes_spatial_t;

typedef struct kt_fes kt_fes_t;
struct kt_fes {
	kt_fes_kind_t kind;
	int op;
	kt_fes_t **kids;            /* AND, OR (>= 2), NOT (1) */
	size_t n_kids;
	const char *prop;           /* value reference as sent; NULL for the
	                             * default geometry of a spatial op */
	const char *lit, *lit2;     /* literal; BETWEEN: lower, upper */
	int match_case;             /* 1 unless matchCase="false" */
	char wild, single, escape;  /* LIKE */
	kt_geom_t geom;             /* SPATIAL */
	double distance_m;          /* DWITHIN, BEYOND */
	const char **rids;          /* RID: "layer.uid" */
	size_t n_rids;
};

/* Parses a filter document (fes:Filter 2.0 or ogc:Filter 1.1). On error
 * fills e (OperationParsingFailed for bad XML, InvalidParameterValue for
 * an unsupported or malformed operator) with locator "FILTER". */
int kt_fes_parse(kt_arena_t *a, const char *xml, size_t len, kt_fes_t **out, kt_ows_exc_t *e);
/* The same from a parsed Filter element (xmlNode *). */
int kt_fes_from_node(kt_arena_t *a, void *node, kt_fes_t **out, kt_ows_exc_t *e);
/* Parses one GML geometry element (xmlNode *): Point, LineString,
 * Polygon, Envelope, MultiPoint, MultiCurve/MultiLineString,
 * MultiSurface/MultiPolygon, GML 3.1.1 or 3.2. */
int kt_gml_read(kt_arena_t *a, void *node, kt_geom_t *g, kt_ows_exc_t *e);

/* A WHERE fragment with its bound values, built in an arena. */
typedef struct kt_sqlw {
	kt_sbuf_t sql;
	kt_sql_value_t *params;
	size_t n_params, cap;
} kt_sqlw_t;

typedef struct kt_fes_env {
	kt_ctx_t *ctx;            /* to reproject operands (NULL: no CRS work) */
	const kt_layer_t *layer;
	int store_epsg;
	kt_crs_t default_crs;     /* for geometries without srsName */
} kt_fes_env_t;

/* Appends the SQL of f for env->layer to w (values bound, columns
 * checked through kt_ows_public_attr). InvalidParameterValue in e for an
 * unknown or private property, a literal of the wrong type, a bad CRS. */
int kt_fes_sql(kt_arena_t *a, const kt_fes_env_t *env, const kt_fes_t *f, kt_sqlw_t *w,
               kt_ows_exc_t *e);
/* Appends the condition "intersects the box bbox (x/y order, EPSG:epsg)"
 * to w: the box reprojected to the store CRS as a polygon (not as its
 * enclosing envelope), through the spatial index. */
int kt_fes_bbox_sql(kt_arena_t *a, const kt_fes_env_t *env, const double bbox[4], int epsg,
                    kt_sqlw_t *w, kt_ows_exc_t *e);
/* Appends " AND " when w already holds a condition. */
void kt_sqlw_and(kt_sqlw_t *w);
int kt_sqlw_bind(kt_arena_t *a, kt_sqlw_t *w, const kt_sql_value_t *v);
/* Converts a literal to the SQL value of an attribute type; KT_EINVAL
 * when it does not parse (an integer attribute compared with "abc"). */
int kt_sql_literal(kt_attr_type_t t, const char *lit, kt_sql_value_t *v);

/* ---- GML writing ------------------------------------------------------ */
typedef struct kt_gml_opts {
	int v32;            /* GML 3.2 (gml ns 3.2, gml:id on every geometry) or 3.1.1 */
	int swap;           /* write y before x */
	const char *srs;    /* srsName written on the top geometry */
	const char *id;     /* base for gml:id of the geometries */
} kt_gml_opts_t;

/* Writes the ISO WKB geometry as GML ("gml:" prefix). KT_EINVAL on bad WKB. */
int kt_gml_write(kt_sbuf_t *b, const unsigned char *wkb, size_t len, const kt_gml_opts_t *o);
/* The GML property type of a layer geometry ("gml:PointPropertyType"…). */
const char *kt_gml_property_type(kt_geom_type_t t);
/* Appends the value as XML Schema text (true/false, %.17g, escaped text). */
void kt_xml_value(kt_sbuf_t *b, const kt_value_t *v);
/* The xsd type of an attribute type ("xsd:string"…). */
const char *kt_xsd_type(kt_attr_type_t t);
/* Envelope of an ISO WKB geometry; KT_EINVAL on bad WKB or empty. */
int kt_wkb_envelope(const unsigned char *wkb, size_t len, double env[4]);
/* Swaps x and y of every coordinate of an ISO WKB in place. */
int kt_wkb_swap_xy(unsigned char *wkb, size_t len);

/* ---- WFS -------------------------------------------------------------- */
typedef enum kt_wfs_op {
	KT_WFS_GETCAPABILITIES = 1,
	KT_WFS_DESCRIBEFEATURETYPE,
	KT_WFS_GETFEATURE,
	KT_WFS_LISTSTOREDQUERIES,
	KT_WFS_DESCRIBESTOREDQUERIES,
} kt_wfs_op_t;

typedef enum kt_wfs_format {
	KT_FMT_GML32 = 1,
	KT_FMT_GML31,
	KT_FMT_GEOJSON,
} kt_wfs_format_t;

#define KT_WFS_GETFEATUREBYID "urn:ogc:def:query:OGC-WFS::GetFeatureById"

typedef struct kt_wfs_query {
	const kt_layer_t *layer;
	kt_fes_t *filter;          /* NULL: none */
	kt_sort_key_t *sort;
	size_t n_sort;
} kt_wfs_query_t;

typedef struct kt_wfs_req {
	kt_wfs_op_t op;
	int v2;                    /* 2.0.0, else 1.1.0 */
	const char *version;       /* "2.0.0" or "1.1.0" */
	kt_wfs_query_t *queries;   /* GetFeature; DescribeFeatureType: layers */
	size_t n_queries;
	kt_crs_t srs;              /* srsName; epsg 0 = the store CRS */
	int has_bbox;              /* KVP BBOX */
	double bbox[4];
	kt_crs_t bbox_crs;
	int64_t count;             /* -1: none */
	int64_t start;
	int hits;
	kt_wfs_format_t format;
	int by_id;                 /* the GetFeatureById stored query */
	const char *sq_ids;        /* DescribeStoredQueries: STOREDQUERY_ID */
	const kt_kvp_t *kvp;       /* a GET request's parameters (next links) */
	int all_types;             /* DescribeFeatureType without TYPENAME(S) */
} kt_wfs_req_t;

/* Reads a WFS request from KVP. */
int kt_wfs_from_kvp(kt_request_t *req, const kt_kvp_t *kvp, kt_wfs_req_t *w, kt_ows_exc_t *e);
/* Reads a WFS request from an XML document (xmlDoc *). */
int kt_wfs_from_xml(kt_request_t *req, void *doc, kt_wfs_req_t *w, kt_ows_exc_t *e);
/* The output format named (NULL: the version's GML), or 0 if unknown. */
kt_wfs_format_t kt_wfs_format(const char *name, int v2);
/* Sort keys from "a DESC,b" (2.0) or "a D,b A" (1.1). */
int kt_wfs_sortby(kt_arena_t *a, const kt_layer_t *l, const char *s, kt_wfs_query_t *q,
                  kt_ows_exc_t *e);
/* Adds a layer query; NULL layer → InvalidParameterValue TYPENAMES. */
int kt_wfs_add_query(kt_arena_t *a, kt_wfs_req_t *w, const kt_store_t *store, const char *name,
                     const char *locator, kt_ows_exc_t *e);
/* Resource ids ("layer.uid", …) grouped into queries with a RID filter. */
int kt_wfs_add_rids(kt_arena_t *a, kt_wfs_req_t *w, const kt_store_t *store, char **rids,
                    size_t n, kt_ows_exc_t *e);

int kt_wfs_run(kt_request_t *req, kt_wfs_req_t *w);   /* wfs.c: operation dispatch */
int kt_wfs_capabilities(kt_request_t *req, kt_wfs_req_t *w);
int kt_wfs_describe(kt_request_t *req, kt_wfs_req_t *w);
int kt_wfs_getfeature(kt_request_t *req, kt_wfs_req_t *w);
int kt_wfs_stored_queries(kt_request_t *req, kt_wfs_req_t *w);

/* The server's base URL for links ("http://host:port"), from Host. */
const char *kt_ows_base_url(kt_request_t *req);
/* Layer extent in EPSG:4326 (lon/lat); KT_ENOENT when empty. */
int kt_ows_layer_wgs84(kt_ctx_t *ctx, const kt_layer_t *l, double out[4]);
/* Runs the select of a layer with its publish filter and an optional
 * extra fragment, for WFS and OGC API. */
typedef struct kt_ows_select {
	const kt_layer_t *layer;
	kt_sqlw_t *where;         /* may be NULL */
	const kt_sort_key_t *sort;
	size_t n_sort;
	int has_bbox;
	double bbox[4];           /* x/y order */
	int bbox_epsg;
	int out_epsg;
	int64_t limit, offset;
} kt_ows_select_t;
int kt_ows_select_prepare(kt_arena_t *a, const kt_ows_select_t *s, kt_select_t *out);

#endif /* KT_OWS_INT_H */
