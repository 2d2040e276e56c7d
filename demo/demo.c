/*
 * demo.c — kt_demo_generate: lays out the quarter, then runs the stages
 * (quarter, lighting, cemetery, collaborative maps, interventions) inside
 * one transaction, with a fixed clock so that the same seed gives the same
 * store content, uids and timestamps included.
 *
 * The layout is a function of the scale only: the grid of blocks grows
 * with it so that every count stays an exact multiple of the scale (see
 * kt_demo_target). What the seed changes is everything drawn: shapes,
 * names, attributes, precision, states, dates.
 */
#include "demo_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Per unit of scale. */
static const struct {
	const char *layer;
	int64_t per_scale;
} targets[] = {
	{"commune", 0}, /* always one */
	{"batiment", 500},
	{"parcelle", 500},
	{"eclairage_armoire", 6},
	{"eclairage_depart", 24},
	{"eclairage_support", 800},
	{"cimetiere", 0}, /* always one */
	{"cimetiere_carre", 8},
	{"cimetiere_emplacement", 2000},
	{"cimetiere_defunt", 3000},
	{"collab_toilettes", 25},
	{"collab_stationnement", 25},
	{"collab_commerce", 25},
	{"collab_equipement", 25},
	{"intervention", 1000},
};

int64_t kt_demo_target(const char *layer, int scale)
{
	for (size_t i = 0; i < sizeof targets / sizeof *targets; i++)
		if (!strcmp(targets[i].layer, layer))
			return targets[i].per_scale ? targets[i].per_scale * scale : 1;
	return -1;
}

double demo_street_x(const demo_t *d, int i) { return STREET_W / 2 + i * (BLOCK_W + STREET_W); }
double demo_street_y(const demo_t *d, int j) { return STREET_W / 2 + j * (BLOCK_H + STREET_W); }

double demo_ground(const demo_t *d, double x, double y)
{
	/* 25 m on the western heights down to 4 m by the river, with swells */
	double slope = 25.0 - 21.0 * x / (d->cem_x0 + d->cem_w);
	return slope + 1.5 * sin(x / 170.0) * cos(y / 230.0);
}

void demo_street_name(const demo_t *d, int horizontal, int i, char *out, size_t size)
{
	static const char *const h_types[] = {"rue", "rue", "boulevard", "rue", "allée"};
	static const char *const v_types[] = {"rue", "avenue", "rue", "impasse", "rue"};
	size_t n = demo_voies.n;
	/* the seed rotates the names; the two families start half a list apart */
	size_t k = (size_t)((d->seed % n) + (size_t)i + (horizontal ? 0 : n / 2)) % n;
	const char *type = horizontal ? h_types[i % 5] : v_types[i % 5];
	snprintf(out, size, "%s %s", type, demo_voies.items[k]);
}

/* Grid of blocks for the scale: about 8 buildings a block, a bit wider
 * than tall; the cemetery east of it, as many carrés as the scale asks. */
static int layout(demo_t *d)
{
	int64_t blocks = (500LL * d->scale + 7) / 8;
	d->cols = (int)ceil(sqrt((double)blocks * 1.2));
	d->rows = (int)((blocks + d->cols - 1) / d->cols);
	d->width = d->cols * (BLOCK_W + STREET_W) + STREET_W;
	d->height = d->rows * (BLOCK_H + STREET_W) + STREET_W;
	d->n_carres = 8 * d->scale;
	d->cem_cols = (int)ceil(sqrt(d->n_carres * CARRE_H / CARRE_W));
	d->cem_rows = (d->n_carres + d->cem_cols - 1) / d->cem_cols;
	d->cem_x0 = d->width + CEM_GAP;
	d->cem_y0 = 40.0;
	d->cem_w = d->cem_cols * (CARRE_W + ALLEY_W) + ALLEY_W;
	d->cem_h = d->cem_rows * (CARRE_H + ALLEY_W) + ALLEY_W;

	kt_transform_t *t;
	int rc = kt_ctx_transform(d->ctx, 4326, DEMO_EPSG, &t);
	if (rc)
		return rc;
	double x = DEMO_LON, y = DEMO_LAT, z = 0;
	if ((rc = kt_transform_point(d->ctx, t, &x, &y, &z)))
		return rc;
	/* the point is the middle of the quarter; round the origin to the
	 * metre so coordinates read well */
	d->ox = floor(x - d->width / 2);
	d->oy = floor(y - d->height / 2);
	return 0;
}

static int check_store(demo_t *d, const char *fn)
{
	char *v = NULL;
	int rc = kt_meta_get(d->ctx, "fictional", &v);
	if (!rc && v) {
		kt_free(v);
		return kt_ctx_error(d->ctx, KT_EEXIST, "%s: the store already holds demo data; generate into "
		                    "a new file", fn);
	}
	kt_free(v);
	return 0;
}

static int write_meta(demo_t *d)
{
	char buf[64];
	int rc = kt_meta_set(d->ctx, "fictional", KT_DEMO_LABEL);
	snprintf(buf, sizeof buf, "%llu", (unsigned long long)d->seed);
	if (!rc)
		rc = kt_meta_set(d->ctx, "demo_seed", buf);
	snprintf(buf, sizeof buf, "%d", d->scale);
	if (!rc)
		rc = kt_meta_set(d->ctx, "demo_scale", buf);
	if (!rc)
		rc = kt_meta_set(d->ctx, "demo_place", "Lanester (Morbihan), quartier fictif");
	return rc;
}

static int run_stages(demo_t *d)
{
	static int (*const stages[])(demo_t *) = {
		demo_gen_quarter, demo_gen_lighting, demo_gen_cemetery, demo_gen_collab, demo_gen_interventions,
	};
	int rc = write_meta(d);
	for (size_t i = 0; !rc && i < sizeof stages / sizeof *stages; i++)
		rc = stages[i](d);
	return rc;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int kt_demo_generate(kt_ctx_t *ctx, const kt_demo_opts_t *opts, kt_demo_report_t *report)
{
	if (!ctx || !opts || opts->scale < 1 || opts->scale > KT_DEMO_MAX_SCALE)
		return kt_ctx_error(ctx, KT_EINVAL, "%s: scale must be 1 to %d", __func__, KT_DEMO_MAX_SCALE);
	kt_demo_report_t local;
	demo_t d = {
		.ctx = ctx,
		.opts = opts,
		.seed = opts->seed,
		.scale = opts->scale,
		.actor = {.who = "demo", .reason = KT_DEMO_LABEL},
		.rep = report ? report : &local,
	};
	memset(d.rep, 0, sizeof *d.rep);
	double t0 = now_s();
	int rc = check_store(&d, __func__);
	if (!rc)
		rc = layout(&d);
	if (!rc)
		rc = kt_ctx_set_fixed_time(ctx, KT_DEMO_TIME);
	if (!rc && !(rc = kt_tx_begin_bulk(ctx, NULL))) {
		rc = run_stages(&d);
		if (!rc)
			rc = kt_tx_commit(ctx);
		if (rc) {
			char msg[1024];
			snprintf(msg, sizeof msg, "%s", kt_errmsg(ctx));
			kt_tx_rollback(ctx);
			kt_ctx_error(ctx, rc, "%s", msg);
		}
	}
	kt_ctx_set_fixed_time(ctx, NULL);
	demo_wkb_release(&d.wkb);
	for (int i = 0; i < d.rep->n_counts; i++)
		d.rep->total += d.rep->counts[i].n;
	d.rep->elapsed_s = now_s() - t0;
	return rc;
}
