/*
 * kt_wms_int.h — what the WMS files of the server share: the MapLibre GL
 * style evaluator (style_eval.c), the style loader (style_load.c), the
 * cairo renderer (render.c; a whole layer at once: render_batch.c,
 * render_stamp.c, render_grid.c), the parsed WMS request (wms.c), its
 * exceptions (wms_exception.c) and the operations (wms_caps.c,
 * wms_getmap.c, wms_featureinfo.c, wms_legend.c).
 *
 * Memory: strings built by the evaluator and everything a parser returns
 * live in the request arena; styles are jansson documents owned by the
 * kt_wms_style_t (kt_wms_style_release). Rendering state (cairo, pango)
 * is created and destroyed by the operation that draws.
 *
 * Privacy: the renderer and GetFeatureInfo read feature values only
 * through kt_wms_feature_get (public attributes, uid, the DT-DICT class),
 * and rows only through kt_ows_select_prepare (moderated contributions).
 */
#ifndef KT_WMS_INT_H
#define KT_WMS_INT_H

#include <stddef.h>
#include <stdint.h>

#include "kt_ows_int.h"

/* ---- style values and the expression evaluator ------------------------
 * A value of a MapLibre GL expression. Strings are borrowed from the style
 * document, the feature, or the arena of the env. */
typedef enum kt_sv_type {
	KT_SV_NULL = 0,
	KT_SV_BOOL,
	KT_SV_NUM,
	KT_SV_STR,
	KT_SV_COLOR,
} kt_sv_type_t;

typedef struct kt_sval {
	kt_sv_type_t type;
	int b;
	double n;
	const char *s;
	double rgba[4];  /* COLOR: straight (not premultiplied), 0..1 */
} kt_sval_t;

/* Reads the property key of the feature: returns 1 and fills out when the
 * feature has it with a non-null value, 0 otherwise. */
typedef int (*kt_style_get_fn)(const void *feature, const char *key, kt_sval_t *out);

typedef struct kt_style_env {
	double zoom;
	kt_style_get_fn get;         /* NULL: a feature without properties */
	const void *feature;
	const char *geometry_type;   /* "Point", "LineString", "Polygon" */
	kt_arena_t *arena;           /* for strings built by concat… */
} kt_style_env_t;

/* Evaluates an expression (or a literal) into out. KT_EINVAL for an
 * operator outside the supported subset or a malformed expression (out is
 * then NULL); KT_ENOMEM when the arena is exhausted. Supported: literal,
 * get, has, !has, zoom, geometry-type, match, case, coalesce, step,
 * interpolate (linear, exponential; numbers and colours), concat,
 * to-string, to-number, to-boolean, to-color, upcase, downcase, ==, !=, <,
 * <=, >, >=, !, all, any, none, in, +, -, *, /, and legacy zoom functions
 * ({"stops": …, "base": …}). */
int kt_style_eval(const json_t *expr, const kt_style_env_t *env, kt_sval_t *out);
/* A filter (expression or legacy form): 1 when the feature passes. A
 * filter that cannot be evaluated lets nothing pass. NULL passes all. */
int kt_style_filter(const json_t *filter, const kt_style_env_t *env);
/* Typed reads of an expression with a default when absent, null or of
 * the wrong type. */
double kt_style_num(const json_t *expr, const kt_style_env_t *env, double dflt);
int kt_style_color(const json_t *expr, const kt_style_env_t *env, const double dflt[4],
                   double out[4]);
const char *kt_style_str(const json_t *expr, const kt_style_env_t *env, const char *dflt);
/* Parses a CSS colour (#rgb, #rgba, #rrggbb, #rrggbbaa, rgb(), rgba(),
 * hsl(), hsla(), a few names). KT_EINVAL when it does not parse. */
int kt_color_parse(const char *s, double rgba[4]);
/* The string form MapLibre's to-string gives v (numbers as %.15g,
 * colours as rgba(…)), in the arena. */
const char *kt_sval_string(const kt_sval_t *v, kt_arena_t *a);

/* ---- styles ----------------------------------------------------------- */
/* A named style of the WMS: a MapLibre GL style of <web_root>/styles/,
 * optionally without its symbol (label) layers. */
typedef struct kt_wms_style {
	char name[80];         /* "lanester", "lanester-nolabels" */
	json_t *doc;           /* the whole style (owned) */
	const json_t *layers;  /* its "layers" array (borrowed from doc) */
	int no_labels;
} kt_wms_style_t;

#define KT_WMS_DEFAULT_STYLE "lanester"
#define KT_WMS_NOLABELS_SUFFIX "-nolabels"

/* Loads the style named (NULL or "" or "default": the default style).
 * KT_ENOENT when there is no such style; KT_EINVAL when its file is not
 * valid JSON (message on stderr). */
int kt_wms_style_load(kt_request_t *req, const char *name, kt_wms_style_t *st);
void kt_wms_style_release(kt_wms_style_t *st);
/* 1 when the style has at least one layer drawing the source-layer. */
int kt_wms_style_draws(const kt_wms_style_t *st, const char *source_layer);
/* The names of the styles offered (the default first), in the arena. */
long kt_wms_style_names(kt_request_t *req, const char ***names);
/* The geometry-type name MapLibre gives a layer's features. */
const char *kt_wms_geometry_type(kt_geom_type_t t);

/* The property accessor of features: env->feature is a kt_wms_feat_t. */
typedef struct kt_wms_feat {
	const kt_layer_t *layer;
	const kt_feature_t *f;
} kt_wms_feat_t;
int kt_wms_feature_get(const void *feature, const char *key, kt_sval_t *out);

/* ---- rendering (cairo) ------------------------------------------------- */
typedef struct kt_label_box {
	double x0, y0, x1, y1;
} kt_label_box_t;

typedef struct kt_render {
	void *cr;               /* cairo_t * */
	int width, height;
	double bbox[4];         /* the image in its CRS, x/y order */
	double zoom;            /* MapLibre zoom of the image scale */
	double pixel_ratio;     /* 1; > 1 for high-DPI requests */
	kt_arena_t *arena;
	kt_label_box_t *boxes;  /* labels placed (collision), kt_malloc'd */
	size_t n_boxes, cap_boxes;
	/* 1 when cr draws on a whole image surface (ARGB32 or RGB24) with
	 * the identity matrix and no clip, so that circles may be stamped
	 * into its pixels directly (render_stamp.c); 0 draws through cairo. */
	int direct;
	struct kt_stamps *stamps; /* pre-rendered circles, kt_malloc'd */
	/* NULL: geometry is read in the image CRS (affine to pixels). Else
	 * it is read in the store CRS and taken to pixels through this grid
	 * (render_grid.c). */
	const struct kt_px_grid *grid;
} kt_render_t;

/* World (image CRS) to pixel. */
static inline double kt_render_px(const kt_render_t *r, double x)
{
	return (x - r->bbox[0]) * r->width / (r->bbox[2] - r->bbox[0]);
}
static inline double kt_render_py(const kt_render_t *r, double y)
{
	return (r->bbox[3] - y) * r->height / (r->bbox[3] - r->bbox[1]);
}

/* Draws one feature with one style layer ("fill", "line", "circle",
 * "symbol"); the geometry is ISO WKB in the image CRS. Features that the
 * layer's filter refuses, or that are outside its zoom range, are not
 * drawn. Returns 0, or KT_ENOMEM. */
int kt_render_feature(kt_render_t *r, const json_t *style_layer, const kt_layer_t *l,
                      const kt_feature_t *f);
/* Places and draws the label of a symbol layer for f (render_label.c):
 * text-field, font, size, anchor, offset, max-width, letter spacing,
 * transform, halo, padding and collision with the labels already placed,
 * symbol-avoid-edges; line placement at the middle of each line. */
int kt_render_label(kt_render_t *r, const json_t *style_layer, const kt_style_env_t *env,
                    const unsigned char *wkb, size_t wkb_len);
/* kt_render_feature with the evaluation environment given (the legend
 * draws synthetic features this way). */
int kt_render_draw(kt_render_t *r, const json_t *style_layer, const kt_style_env_t *env,
                   const unsigned char *wkb, size_t wkb_len);
/* 1 when the style layer is visible at r->zoom. */
int kt_render_layer_visible(const kt_render_t *r, const json_t *style_layer);
void kt_render_release(kt_render_t *r);
/* The zoom MapLibre GL would show a map of resolution res_3857 (EPSG:3857
 * metres per pixel) at. */
double kt_render_zoom(double res_3857);

/* The paint of one feature with one style layer, evaluated. Set whole
 * (memset) so that two paints compare with memcmp. */
enum { KT_PAINT_NONE = -1, KT_PAINT_CIRCLE = 0, KT_PAINT_LINE = 1, KT_PAINT_FILL = 2 };
#define KT_PAINT_MAX_DASH 16
typedef struct kt_paint {
	int kind;                  /* KT_PAINT_* */
	double fill[4];            /* fill, circle: straight RGBA, opacity applied */
	double stroke[4];          /* line, circle stroke */
	double outline[4];         /* fill-outline-color */
	int has_outline;
	double radius, stroke_w;   /* circle, pixels */
	double width;              /* line, pixels */
	int cap, join;             /* cairo_line_cap_t, cairo_line_join_t */
	double miter;
	double dash[KT_PAINT_MAX_DASH];
	int n_dash;
} kt_paint_t;

/* Evaluates the paint of a "circle", "line" or "fill" style layer for
 * env: 1 when there is something to draw, 0 otherwise (other types,
 * zero width…). */
int kt_render_paint(const kt_render_t *r, const json_t *style_layer, const kt_style_env_t *env,
                    kt_paint_t *p);
/* Cairo state of a line paint: cap, join, miter, width, dashes, colour. */
void kt_render_apply_line(void *cr, const kt_paint_t *p);
/* Fills the current path with a fill paint (and its outline). */
void kt_render_fill_path(void *cr, const kt_paint_t *p);
/* One circle of a circle paint at pixel x, y, with cairo. */
void kt_render_circle(void *cr, const kt_paint_t *p, double x, double y);
/* A pixel coordinate clamped so that cairo's fixed point never overflows
 * (NaN gives 0). */
double kt_render_clamp_px(double v);

/* ---- whole layers at once (render_batch.c) ----------------------------
 * The features of one layer for one image, read once: their geometry in
 * pixel coordinates (the affine of the image bbox, clamped), as runs of
 * points (kind 0 point, 1 line, 2 polygon ring; first marks a polygon's
 * exterior), and, when the style reads their properties, the features
 * themselves. A style layer is then drawn over all of them with its paint
 * evaluated once when it does not depend on the feature, consecutive
 * features of equal opaque paint filled or stroked as one cairo path, and
 * circles stamped (render_stamp.c). */
typedef struct kt_px_run {
	uint32_t off, n;        /* points [off, off + n) of xy */
	uint8_t kind, first;
} kt_px_run_t;

typedef struct kt_px_feat {
	size_t run_end;         /* one past its last run */
	kt_feature_t *f;        /* owned copy, or NULL (the style reads none) */
	float box[4];           /* its points' extent, pixels */
} kt_px_feat_t;

typedef struct kt_px_set {
	double *xy;             /* x, y pairs, pixels */
	size_t n_pts, cap_pts;
	kt_px_run_t *runs;
	size_t n_runs, cap_runs;
	kt_px_feat_t *feats;
	size_t n_feat, cap_feat;
	double *scratch;        /* WKB reading */
	size_t cap_scratch;
} kt_px_set_t;

/* Appends one feature: its geometry (ISO WKB in the image CRS) and f,
 * whose ownership passes to the set (NULL when the style reads no
 * property). KT_ENOMEM (f is then freed) or KT_EINVAL for bad WKB (the
 * feature is then left out). */
int kt_px_set_add(kt_px_set_t *s, const kt_render_t *r, const unsigned char *wkb,
                  size_t wkb_len, kt_feature_t *f);
void kt_px_set_release(kt_px_set_t *s);
/* 1 when the style layer reads no feature property: no filter, and
 * paint and layout values that depend on the zoom only. */
int kt_style_layer_constant(const json_t *style_layer);
/* Draws every feature of s with one "fill", "line" or "circle" style
 * layer (others are ignored), as kt_render_feature would one by one.
 * The features' f must be there unless the layer is constant. */
int kt_render_set(kt_render_t *r, const json_t *style_layer, const kt_layer_t *l,
                  const kt_px_set_t *s);

/* ---- circles as stamps (render_stamp.c) ---------------------------------
 * A circle of a given paint is drawn by cairo once per quarter-pixel
 * position into small premultiplied images, then composited (OVER) into
 * the target's pixels wherever a feature has it: the same pixels as one
 * cairo fill and stroke per point, to a quarter pixel of position. */
/* Draws the circles of colour fill (radius) and stroke (width stroke_w)
 * centred at the n pixel positions xy. Returns 0 when drawn, 1 when r is
 * not direct or the circle too large for a stamp (nothing drawn: the
 * caller draws with cairo), or KT_ENOMEM. */
int kt_stamp_circles(kt_render_t *r, double radius, double stroke_w, const double fill[4],
                     const double stroke[4], const double *xy, size_t n);
void kt_stamps_free(struct kt_stamps *st);

/* ---- store CRS to pixels (render_grid.c) -------------------------------
 * When the image is in another CRS than the store, PROJ on every vertex
 * was 7 % of GetMap's time. Over a map image the map from the store CRS
 * to pixels is smooth: it is sampled by PROJ on a grid of
 * GRID_CELLS² (8 × 8) cells and interpolated (bilinear) in between, and the grid
 * is used only when, at every cell centre, it is within 1/50 px of PROJ.
 * Points outside the grid (parts of features reaching far out) are
 * transformed by PROJ one by one. */
typedef struct kt_px_grid {
	double x0, y0, dx, dy;     /* store CRS: grid origin and cell size */
	int n;                     /* cells a side */
	double *px;                /* (n + 1)² nodes, pixel x, y; kt_malloc'd */
	kt_ctx_t *ctx;
	kt_transform_t *t;         /* store -> image CRS (owned by ctx) */
	const kt_render_t *r;      /* image CRS -> pixels */
} kt_px_grid_t;

/* Sets the grid up over box (image CRS) for r. Returns 0, 1 when no grid
 * is precise enough or the CRS are the same (read in the image CRS), or
 * KT_ENOMEM. */
int kt_px_grid_init(kt_px_grid_t *g, kt_ctx_t *ctx, const kt_render_t *r, int store_epsg,
                    int image_epsg, const double box[4]);
void kt_px_grid_release(kt_px_grid_t *g);
/* A store CRS point in pixels. */
void kt_px_grid_map(const kt_px_grid_t *g, double x, double y, double *px, double *py);

/* Calls fn for every vertex run of an ISO WKB geometry: kind 0 point, 1
 * line, 2 polygon ring (ring 0 of a polygon is the exterior: first=1).
 * pts are x,y pairs (read unaligned from the WKB into a scratch buffer).
 * Returns KT_EINVAL on bad WKB. */
typedef int (*kt_wkb_run_fn)(int kind, int first, const double *pts, size_t n, void *data);
int kt_wkb_runs(const unsigned char *wkb, size_t len, kt_wkb_run_fn fn, void *data);
/* The same with the caller's scratch buffer (kt_realloc'd as needed, the
 * caller frees it), for a caller that walks many geometries. */
int kt_wkb_runs_scratch(const unsigned char *wkb, size_t len, kt_wkb_run_fn fn, void *data,
                        double **scratch, size_t *cap);

/* ---- the WMS request ---------------------------------------------------- */
typedef enum kt_wms_op {
	KT_WMS_GETCAPABILITIES = 1,
	KT_WMS_GETMAP,
	KT_WMS_GETFEATUREINFO,
	KT_WMS_GETLEGENDGRAPHIC,
} kt_wms_op_t;

typedef enum kt_wms_exc_fmt {
	KT_WMS_EXC_XML = 0,
	KT_WMS_EXC_INIMAGE,
	KT_WMS_EXC_BLANK,
} kt_wms_exc_fmt_t;

typedef enum kt_wms_img {
	KT_WMS_PNG = 1,
	KT_WMS_JPEG,
} kt_wms_img_t;

#define KT_WMS_MAX_LAYERS 64
#define KT_WMS_DEFAULT_MAX_SIZE 4096

typedef struct kt_wms_req {
	kt_wms_op_t op;
	int v130;                   /* 1.3.0, else 1.1.1 */
	const char *version;        /* "1.3.0" or "1.1.1" */
	const kt_kvp_t *kvp;
	kt_wms_exc_fmt_t exc;
	/* GetMap, GetFeatureInfo */
	const kt_layer_t *layers[KT_WMS_MAX_LAYERS];
	kt_wms_style_t *styles[KT_WMS_MAX_LAYERS]; /* per layer, into style_pool */
	size_t n_layers;
	kt_wms_style_t style_pool[4];
	size_t n_styles;
	kt_crs_t crs;               /* swap: the BBOX was given y/x */
	double bbox[4];             /* x/y order */
	int width, height;
	kt_wms_img_t format;
	const char *format_name;
	int transparent;
	double bg[3];
	/* GetFeatureInfo */
	const kt_layer_t *qlayers[KT_WMS_MAX_LAYERS];
	size_t n_qlayers;
	double i, j;
	long feature_count;
	const char *info_format;
} kt_wms_req_t;

/* Reads a WMS request from KVP (and loads its styles). On an error, fills
 * e with the WMS exception code and returns KT_EINVAL; w->version and
 * w->exc are set as far as they could be read. */
int kt_wms_from_kvp(kt_request_t *req, const kt_kvp_t *kvp, kt_wms_req_t *w, kt_ows_exc_t *e);
void kt_wms_req_release(kt_wms_req_t *w);
/* Most pixels a side of a GetMap (the server's configuration). */
int kt_wms_max_size(const kt_request_t *req);
/* The CRS the WMS offers, as named in capabilities. */
extern const char *const kt_wms_crs_list[];
extern const size_t kt_wms_n_crs;
/* The public layers with a geometry, in catalogue order. */
size_t kt_wms_layers(const kt_store_t *s, const kt_layer_t **out, size_t max);

/* Answers the exception in the format w asks (XML of its version, or an
 * image for GetMap with INIMAGE / BLANK). */
int kt_wms_respond_exc(kt_request_t *req, const kt_wms_req_t *w, const kt_ows_exc_t *e);
/* Encodes a cairo image surface (PNG or JPEG) and answers it. */
int kt_wms_respond_image(kt_request_t *req, void *surface, kt_wms_img_t fmt);

int kt_wms_capabilities(kt_request_t *req, kt_wms_req_t *w);
int kt_wms_getmap(kt_request_t *req, kt_wms_req_t *w);
int kt_wms_featureinfo(kt_request_t *req, kt_wms_req_t *w);
int kt_wms_legend(kt_request_t *req, kt_wms_req_t *w);
/* The size of the legend image of layer l in style st (wms_legend.c). */
int kt_wms_legend_size(kt_request_t *req, const kt_wms_style_t *st, const kt_layer_t *l,
                       int sw, int sh, int *width, int *height);
/* ows.c's entry point for SERVICE=WMS. */
int kt_wms_kvp(kt_request_t *req, const kt_kvp_t *kvp);

/* Draws the layers of w (geometry then labels) on an image surface
 * already filled with the background. */
int kt_wms_draw(kt_request_t *req, kt_ctx_t *ctx, kt_wms_req_t *w, void *surface,
                kt_ows_exc_t *e);

#endif /* KT_WMS_INT_H */
