/*
 * demo_int.h — private pieces of the demo generator, shared by the demo/ sources
 * only: the PRNG, the WKB builder, the name lists, the feature emitter and
 * the layout of the quarter every stage draws on.
 *
 * Layout (metres, in EPSG:3948, relative to the origin ox/oy, the
 * south-west corner of the quarter):
 *   the quarter is a grid of cols x rows blocks of BLOCK_W x BLOCK_H with
 *   streets of STREET_W between and around them; street centre lines are
 *   at street_x(i), i = 0..cols and street_y(j), j = 0..rows;
 *   the cemetery lies east of the quarter, from cem_x0 on.
 */
#ifndef KT_DEMO_INT_H
#define KT_DEMO_INT_H

#include <stddef.h>
#include <stdint.h>

#include "kt_demo.h"

/* ---- PRNG: xoshiro256** seeded by splitmix64 -------------------------- */

typedef struct demo_rng {
	uint64_t s[4];
} demo_rng_t;

uint64_t demo_splitmix64(uint64_t *state);
/* A stream of the seed: each stage draws from its own stream so that a
 * change in one stage does not shift the others. */
void demo_rng_init(demo_rng_t *r, uint64_t seed, const char *stream);
uint64_t demo_rng_next(demo_rng_t *r);
double demo_rng_unit(demo_rng_t *r);                     /* [0, 1) */
double demo_rng_between(demo_rng_t *r, double lo, double hi); /* [lo, hi) */
int demo_rng_int(demo_rng_t *r, int lo, int hi);          /* [lo, hi] */
int demo_rng_chance(demo_rng_t *r, double p);
/* Index drawn with the given weights (n of them, sum > 0). */
int demo_rng_weighted(demo_rng_t *r, const double *w, int n);
/* FNV-1a of a string: stream names to numbers. */
uint64_t demo_hash(const char *s);

#define DEMO_DATE_LEN 64 /* room for any int the compiler imagines */
/* "YYYY-MM-DD" of a day counted from 1900-01-01 (day 0). */
void demo_date(int64_t day, char out[DEMO_DATE_LEN]);
int64_t demo_day(int year, int month, int mday);
/* "YYYY-MM-DDTHH:MM:SSZ" */
void demo_datetime(int64_t day, int seconds, char out[DEMO_DATE_LEN]);
int demo_year_of(int64_t day);

/* ---- name lists (generated from data/demo/ lists) ------------------- */

typedef struct demo_list {
	const char *const *items;
	size_t n;
} demo_list_t;

extern const demo_list_t demo_noms;       /* surnames */
extern const demo_list_t demo_prenoms_f;  /* female first names */
extern const demo_list_t demo_prenoms_m;  /* male first names */
extern const demo_list_t demo_voies;      /* street names without the type */

const char *demo_pick(demo_rng_t *r, const demo_list_t *l);

/* ---- WKB builder (ISO, little endian) --------------------------------- */

typedef struct demo_pt {
	double x, y, z;
} demo_pt_t;

typedef struct demo_wkb {
	unsigned char *p;
	size_t len, cap;
	int err; /* KT_ENOMEM once an append failed */
} demo_wkb_t;

void demo_wkb_point(demo_wkb_t *b, demo_pt_t p, int has_z);
void demo_wkb_line(demo_wkb_t *b, const demo_pt_t *pts, size_t n, int has_z);
/* One ring, closed by the builder (do not repeat the first point). */
void demo_wkb_polygon(demo_wkb_t *b, const demo_pt_t *ring, size_t n);
void demo_wkb_multipolygon(demo_wkb_t *b, const demo_pt_t *ring, size_t n);
void demo_wkb_release(demo_wkb_t *b);

/* ---- the generator's state -------------------------------------------- */

#define DEMO_EPSG 3948
#define DEMO_LON (-3.34)
#define DEMO_LAT 47.76
#define BLOCK_W 120.0
#define BLOCK_H 80.0
#define STREET_W 14.0
#define CEM_GAP 80.0
/* cemetery: carrés of CARRE_RANGS rows of CARRE_NUMS plots, alleys between */
#define CARRE_NUMS 25
#define CARRE_RANGS 10
#define PLOT_PITCH_X 1.6
#define PLOT_PITCH_Y 3.0
#define CARRE_MARGIN 0.2
#define ALLEY_W 4.0
#define CARRE_W (CARRE_NUMS * PLOT_PITCH_X + 2 * CARRE_MARGIN)
#define CARRE_H (CARRE_RANGS * PLOT_PITCH_Y + 2 * CARRE_MARGIN)

typedef struct demo {
	kt_ctx_t *ctx;
	const kt_demo_opts_t *opts;
	uint64_t seed;
	int scale;
	double ox, oy;         /* origin in EPSG:3948 */
	int cols, rows;        /* blocks of the quarter */
	double width, height;  /* of the quarter, streets included */
	double cem_x0, cem_y0; /* south-west corner of the cemetery */
	double cem_w, cem_h;
	int n_carres, cem_cols, cem_rows; /* carrés and their grid */
	int64_t n_municipal;   /* buildings with an ASCOL reference */
	int64_t n_armoires, n_supports;
	demo_wkb_t wkb;
	kt_actor_t actor;
	int64_t written;
	kt_demo_report_t *rep;
} demo_t;

double demo_street_x(const demo_t *d, int i);
double demo_street_y(const demo_t *d, int j);
/* Ground altitude (m) of a point: a gentle slope towards the Scorff. */
double demo_ground(const demo_t *d, double x, double y);
/* "rue de Kerpont": the name of street i of the horizontal (or vertical)
 * family. */
void demo_street_name(const demo_t *d, int horizontal, int i, char *out, size_t size);

/* A point of the layout (local metres) in EPSG:3948. */
static inline demo_pt_t demo_at(const demo_t *d, double x, double y, double z)
{
	return (demo_pt_t){d->ox + x, d->oy + y, z};
}

/* ---- emitter: one layer's features, one at a time ---------------------- */

typedef struct demo_emit {
	demo_t *d;
	const kt_layer_t *layer;
	kt_feature_t *f;
	uint64_t uid_key;
	int64_t batch_id;
	int64_t n;
	int rc; /* first error; later calls do nothing */
	int slot;
} demo_emit_t;

int demo_emit_open(demo_t *d, demo_emit_t *e, const char *layer);
/* Starts a feature; its uid derives from the seed, layer and rank. */
void demo_emit_begin(demo_emit_t *e, const char *source_id);
void demo_emit_text(demo_emit_t *e, const char *attr, const char *s);
void demo_emit_textf(demo_emit_t *e, const char *attr, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void demo_emit_int(demo_emit_t *e, const char *attr, int64_t v);
void demo_emit_real(demo_emit_t *e, const char *attr, double v);
void demo_emit_bool(demo_emit_t *e, const char *attr, int v);
void demo_emit_ascol(demo_emit_t *e, const char *ref);
/* Takes the geometry built in d->wkb. */
void demo_emit_geom(demo_emit_t *e);
/* Survey precision and method; computes the DT-DICT class. */
void demo_emit_precision(demo_emit_t *e, double xy_cm, double z_cm, const char *date,
                         const char *method, const char *surveyor);
/* Inserts the feature; returns e->rc. */
int demo_emit_end(demo_emit_t *e);
/* Finishes the batch; returns e->rc. */
int demo_emit_close(demo_emit_t *e);

/* ---- stages ------------------------------------------------------------ */

int demo_gen_quarter(demo_t *d);   /* commune, buildings, parcels */
int demo_gen_lighting(demo_t *d);  /* cabinets, circuits, supports, foyers, cables */
int demo_gen_cemetery(demo_t *d);  /* cemetery, sections, alleys, plots, concessions, deceased */
int demo_gen_collab(demo_t *d);    /* the four collaborative themes */
int demo_gen_interventions(demo_t *d);

#endif
