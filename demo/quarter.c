/*
 * quarter.c — the streets' surroundings: the commune outline, then block
 * by block the cadastre lots (parcels) and one building per lot.
 *
 * Every block is cut into lots along its two long sides (south and north
 * halves), each lot facing its street; a building is a rectangle or an
 * L-shape set back from the street inside its lot, so buildings never
 * overlap and always lie within their parcel. The number of buildings of
 * block b is floor((b+1)T/B) - floor(bT/B): exactly T over the B blocks.
 * Municipal buildings (schools, gymnasiums…) get an ASCOL reference
 * BAT-nnnnn, the key interventions.c joins on.
 */
#include "demo_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int gen_commune(demo_t *d)
{
	demo_rng_t r;
	demo_rng_init(&r, d->seed, "commune");
	double w = d->cem_x0 + d->cem_w, h = fmax(d->height, d->cem_y0 + d->cem_h);
	double cx = w / 2, cy = h / 2, rx = w / 2 * 1.6 + 150, ry = h / 2 * 1.6 + 150;
	double ph[3];
	for (int i = 0; i < 3; i++)
		ph[i] = demo_rng_between(&r, 0, 2 * M_PI);
	enum { N = 72 };
	demo_pt_t ring[N];
	for (int k = 0; k < N; k++) {
		double t = 2 * M_PI * k / N;
		/* star-shaped around the centre, so the ring never crosses itself */
		double f = 1 + 0.04 * sin(3 * t + ph[0]) + 0.03 * sin(5 * t + ph[1]) + 0.02 * sin(11 * t + ph[2]);
		ring[k] = demo_at(d, cx + rx * f * cos(t), cy + ry * f * sin(t), 0);
	}
	demo_emit_t e;
	demo_emit_open(d, &e, "commune");
	demo_emit_begin(&e, "56098");
	demo_emit_text(&e, "code", "56098");
	demo_emit_text(&e, "nom", "Lanester");
	demo_emit_int(&e, "population", 23000LL * d->scale);
	demo_wkb_multipolygon(&d->wkb, ring, N);
	demo_emit_geom(&e);
	demo_emit_end(&e);
	return demo_emit_close(&e);
}

enum usage_kind { U_MAISON, U_COLLECTIF, U_COMMERCE, U_BUREAUX, U_ATELIER, U_ECOLE, U_SPORT, U_SALLE,
                  U_TECHNIQUE, U_CULTE, U_MEDIATHEQUE, U_CRECHE, U_COUNT };
static const struct {
	const char *usage, *name; /* name: NULL for private buildings */
	double weight;
	int min_levels, max_levels, erp;
} usages[U_COUNT] = {
	{"logement individuel", NULL, 50, 1, 2, 0},  {"logement collectif", NULL, 15, 3, 6, 0},
	{"commerce", NULL, 10, 1, 2, 5},              {"bureaux", NULL, 5, 2, 4, 0},
	{"activité", NULL, 5, 1, 2, 0},               {"enseignement", "École", 3, 1, 2, 4},
	{"équipement sportif", "Gymnase", 3, 1, 1, 3}, {"salle municipale", "Salle", 3, 1, 1, 3},
	{"services techniques", "Centre technique", 2, 1, 2, 0},
	{"culte", "Chapelle", 1, 1, 1, 4},            {"culture", "Médiathèque", 1, 1, 2, 3},
	{"petite enfance", "Crèche", 2, 1, 1, 5},
};
static const char *const quartiers[] = {"Kerfréhour", "Lann Gazec", "Saint-Guénaël", "Kesler",
                                        "Locunel", "Kerpont", "Le Rohu", "Centre-ville", "Kerentrech"};

struct lot {
	double x0, y0, x1, y1; /* the parcel */
	double front;          /* y of the street side */
	int dir;               /* +1: building grows north from the front */
	int street;            /* horizontal street index */
	int number;            /* street number */
	int block;
};

static int gen_parcel(demo_t *d, demo_emit_t *e, const struct lot *lot, int64_t rank)
{
	int64_t section = lot->block / 10;
	char sec[3] = {(char)('A' + section / 26 % 26), (char)('A' + section % 26), 0};
	char idu[32];
	snprintf(idu, sizeof idu, "56098%03lld%s%04lld", (long long)(section / 676 % 1000), sec,
	         (long long)(rank % 9999 + 1));
	demo_emit_begin(e, idu);
	demo_emit_text(e, "id", idu);
	demo_emit_text(e, "commune", "56098");
	demo_emit_textf(e, "prefixe", "%03lld", (long long)(section / 676 % 1000));
	demo_emit_text(e, "section", sec);
	demo_emit_textf(e, "numero", "%lld", (long long)(rank % 9999 + 1));
	demo_emit_int(e, "contenance", (int64_t)llround((lot->x1 - lot->x0) * (lot->y1 - lot->y0)));
	demo_emit_bool(e, "arpente", 1);
	demo_pt_t ring[4] = {demo_at(d, lot->x0, lot->y0, 0), demo_at(d, lot->x1, lot->y0, 0),
	                     demo_at(d, lot->x1, lot->y1, 0), demo_at(d, lot->x0, lot->y1, 0)};
	demo_wkb_multipolygon(&d->wkb, ring, 4);
	demo_emit_geom(e);
	return demo_emit_end(e);
}

/* The footprint in lot: rectangle, or L with a rear wing. Returns its
 * vertex count and area. */
static int footprint(demo_rng_t *r, const struct lot *lot, demo_pt_t ring[6], double *area)
{
	double lw = lot->x1 - lot->x0;
	double w = lw * demo_rng_between(r, 0.5, 0.85), s = demo_rng_between(r, 1, 5);
	double dp = demo_rng_between(r, 8, 14);
	double xl = lot->x0 + demo_rng_between(r, 1, lw - w - 1), xr = xl + w;
	double yf = lot->front + lot->dir * s, yb = yf + lot->dir * dp;
	*area = w * dp;
	if (!demo_rng_chance(r, 0.35)) {
		ring[0] = (demo_pt_t){xl, yf, 0}, ring[1] = (demo_pt_t){xr, yf, 0};
		ring[2] = (demo_pt_t){xr, yb, 0}, ring[3] = (demo_pt_t){xl, yb, 0};
		return 4;
	}
	double ww = w * demo_rng_between(r, 0.35, 0.55), ex = demo_rng_between(r, 4, 10);
	double ye = yb + lot->dir * ex;
	*area += ww * ex;
	ring[0] = (demo_pt_t){xl, yf, 0}, ring[1] = (demo_pt_t){xr, yf, 0};
	if (demo_rng_chance(r, 0.5)) { /* wing on the right */
		ring[2] = (demo_pt_t){xr, ye, 0}, ring[3] = (demo_pt_t){xr - ww, ye, 0};
		ring[4] = (demo_pt_t){xr - ww, yb, 0}, ring[5] = (demo_pt_t){xl, yb, 0};
	} else {
		ring[2] = (demo_pt_t){xr, yb, 0}, ring[3] = (demo_pt_t){xl + ww, yb, 0};
		ring[4] = (demo_pt_t){xl + ww, ye, 0}, ring[5] = (demo_pt_t){xl, ye, 0};
	}
	return 6;
}

static int gen_building(demo_t *d, demo_emit_t *e, demo_rng_t *r, const struct lot *lot)
{
	double w[U_COUNT];
	for (int i = 0; i < U_COUNT; i++)
		w[i] = usages[i].weight;
	int u = demo_rng_weighted(r, w, U_COUNT);
	demo_pt_t ring[6];
	double area;
	int n = footprint(r, lot, ring, &area);
	for (int i = 0; i < n; i++)
		ring[i] = demo_at(d, ring[i].x, ring[i].y, 0);
	char street[128], ref[32];
	demo_street_name(d, 1, lot->street, street, sizeof street);
	snprintf(ref, sizeof ref, "BAT-%05lld", (long long)(d->n_municipal + 1));
	demo_emit_begin(e, NULL);
	if (usages[u].name) {
		demo_emit_ascol(e, ref);
		demo_emit_textf(e, "nom", "%s %s", usages[u].name, demo_pick(r, &demo_voies));
		demo_emit_text(e, "proprietaire", "Ville de Lanester");
		d->n_municipal++;
	} else {
		demo_emit_text(e, "proprietaire", u == U_COLLECTIF ? "bailleur social" : "propriétaire privé");
	}
	demo_emit_text(e, "usage", usages[u].usage);
	demo_emit_text(e, "voie", street);
	demo_emit_textf(e, "adresse", "%d %s, 56600 Lanester", lot->number, street);
	int qi = (int)((lot->x0 / d->width) * 3) * 3 + (int)((lot->y0 / d->height) * 3);
	demo_emit_text(e, "quartier", quartiers[qi % 9]);
	int year = demo_rng_chance(r, 0.1) ? demo_rng_int(r, 1880, 1947) : demo_rng_int(r, 1948, 2023);
	demo_emit_int(e, "annee_construction", year);
	int levels = demo_rng_int(r, usages[u].min_levels, usages[u].max_levels);
	demo_emit_int(e, "niveaux", levels);
	demo_emit_real(e, "hauteur", levels * 3.0 + demo_rng_between(r, 0.5, 2.5));
	demo_emit_real(e, "surface", area);
	if (usages[u].erp)
		demo_emit_int(e, "erp_categorie", usages[u].erp);
	demo_emit_text(e, "dur", demo_rng_chance(r, 0.95) ? "01" : "02");
	demo_wkb_multipolygon(&d->wkb, ring, (size_t)n);
	demo_emit_geom(e);
	return demo_emit_end(e);
}

/* Lots of block b (k of them), south side first. */
static int gen_block(demo_t *d, demo_emit_t *eb, demo_emit_t *ep, demo_rng_t *r, int b, int k)
{
	int i = b % d->cols, j = b / d->cols;
	double x0 = STREET_W + i * (BLOCK_W + STREET_W), y0 = STREET_W + j * (BLOCK_H + STREET_W);
	int south = (k + 1) / 2;
	int rc = 0;
	for (int side = 0; side < 2 && !rc; side++) {
		int n = side ? k - south : south;
		for (int m = 0; m < n && !rc; m++) {
			struct lot lot = {
				.x0 = x0 + m * BLOCK_W / n, .x1 = x0 + (m + 1) * BLOCK_W / n,
				.y0 = side ? y0 + BLOCK_H / 2 : y0, .y1 = side ? y0 + BLOCK_H : y0 + BLOCK_H / 2,
				.front = side ? y0 + BLOCK_H : y0, .dir = side ? -1 : 1,
				.street = j + side, .number = 2 * (i * 4 + m) + 1 + side, .block = b,
			};
			rc = gen_parcel(d, ep, &lot, ep->n);
			if (!rc)
				rc = gen_building(d, eb, r, &lot);
		}
	}
	return rc;
}

int demo_gen_quarter(demo_t *d)
{
	int rc = gen_commune(d);
	if (rc)
		return rc;
	demo_emit_t eb, ep;
	demo_rng_t r;
	demo_rng_init(&r, d->seed, "batiment");
	demo_emit_open(d, &eb, "batiment");
	demo_emit_open(d, &ep, "parcelle");
	int64_t total = kt_demo_target("batiment", d->scale), blocks = (int64_t)d->cols * d->rows;
	for (int64_t b = 0; b < blocks && !rc; b++) {
		int k = (int)((b + 1) * total / blocks - b * total / blocks);
		rc = gen_block(d, &eb, &ep, &r, (int)b, k);
	}
	int rc1 = demo_emit_close(&eb), rc2 = demo_emit_close(&ep);
	return rc ? rc : rc1 ? rc1 : rc2;
}
