/*
 * kt_demo.h — the generator of the fictional Lanester demo quarter.
 *
 * kt_demo_generate() fills an open store with a town quarter invented from
 * a seed: street grid, buildings and cadastre parcels, the commune outline,
 * a street-lighting network (cabinets, circuits, cables, supports and their
 * light points, with a mix of DT-DICT precision classes), a cemetery
 * (sections, walkable alleys, plots, concessions, deceased with French and
 * Breton names), collaborative points and ASCOL-style interventions. The
 * quarter sits at Lanester's real position (3.34° W, 47.76° N).
 *
 * Determinism: the same seed and scale give the same content, down to the
 * uids and the timestamps (a fixed demo time is set on the ctx for the
 * duration of the call). The store metadata labels the data as fictional
 * (kt_meta "fictional", "demo_seed", "demo_scale").
 *
 * Counts are exact multiples of the scale: see kt_demo_target().
 */
#ifndef KT_DEMO_H
#define KT_DEMO_H

#include <stdint.h>

#include "kt_engine.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The label written to kt_meta "fictional". */
#define KT_DEMO_LABEL "données fictives de démonstration"
/* The time every demo change is stamped with. */
#define KT_DEMO_TIME "2025-01-01T00:00:00Z"
#define KT_DEMO_DEFAULT_SEED 56098u /* Lanester's INSEE code */
#define KT_DEMO_MAX_SCALE 10000

/* Per-layer counts of one run, in generation order. */
#define KT_DEMO_MAX_LAYERS 24
typedef struct kt_demo_count {
	const char *layer; /* static string */
	int64_t n;
} kt_demo_count_t;

typedef struct kt_demo_report {
	kt_demo_count_t counts[KT_DEMO_MAX_LAYERS];
	int n_counts;
	int64_t total;
	double elapsed_s;
} kt_demo_report_t;

typedef struct kt_demo_opts {
	uint64_t seed;
	int scale; /* 1 .. KT_DEMO_MAX_SCALE */
	/* Called now and then with the stage name and features written so
	 * far (may be NULL). */
	void (*on_progress)(const char *stage, int64_t written, void *data);
	void *data;
} kt_demo_opts_t;

/* Generates the quarter into the store of ctx, inside one transaction
 * (kt_tx_begin/commit; rolled back on error). The store must have the
 * demo layers (layers/) and hold no demo data yet (kt_meta "fictional"
 * unset), else KT_EEXIST / KT_ESCHEMA with a message on ctx. report may be
 * NULL. */
int kt_demo_generate(kt_ctx_t *ctx, const kt_demo_opts_t *opts, kt_demo_report_t *report);

/* The exact number of features kt_demo_generate writes to layer at scale,
 * for the layers whose count is fixed by the scale (commune, batiment,
 * parcelle, eclairage_armoire, eclairage_depart, eclairage_support,
 * cimetiere, cimetiere_carre, cimetiere_emplacement, cimetiere_defunt, the
 * four collab_* layers, intervention); -1 for the others (foyers, cables,
 * alleys, concessions), whose count depends on the draw or the layout. */
int64_t kt_demo_target(const char *layer, int scale);

#ifdef __cplusplus
}
#endif
#endif /* KT_DEMO_H */
