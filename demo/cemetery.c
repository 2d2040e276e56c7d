/*
 * cemetery.c — a Corpont-like cemetery east of the quarter: its outline,
 * carrés (sections) on a grid with alleys between them, the alleys as a
 * walkable network, plots, concessions and the deceased.
 *
 * Geometry keeps three promises the kiosk relies on: every plot lies
 * inside its carré (plots are laid on a pitch inside the carré's margin),
 * every alley ends on another alley's end (the alley grid is split at
 * every crossing, so the network is connected and noded), and the main
 * alley reaches the gate on the south side.
 *
 * People: each plot holds a family. The number of deceased per plot is
 * drawn, then adjusted so the total is exactly the target; a plot with a
 * burial has a concession (holders are personal data: private layer).
 * Names come from the lists of data/demo/: wives may carry their
 * husband's name as usage name, first names may be compound or several.
 */
#include "demo_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define CEM_CODE "CORPONT"
#define MAX_PER_PLOT 5

struct cem {
	demo_rng_t r;
	demo_emit_t ep, ec, ed;   /* plots, concessions, deceased */
	unsigned char *per_plot;  /* deceased per plot */
	int64_t n_plots, n_dead, n_conc;
};

static void carre_code(int c, char out[8])
{
	if (c < 26)
		snprintf(out, 8, "%c", 'A' + c);
	else
		snprintf(out, 8, "%c%c", 'A' + (c / 26 - 1) % 26, 'A' + c % 26);
}

static double carre_x(const demo_t *d, int c) { return d->cem_x0 + ALLEY_W + (c % d->cem_cols) * (CARRE_W + ALLEY_W); }
static double carre_y(const demo_t *d, int c) { return d->cem_y0 + ALLEY_W + (c / d->cem_cols) * (CARRE_H + ALLEY_W); }

static void rect(const demo_t *d, double x0, double y0, double x1, double y1, demo_pt_t ring[4])
{
	ring[0] = demo_at(d, x0, y0, 0), ring[1] = demo_at(d, x1, y0, 0);
	ring[2] = demo_at(d, x1, y1, 0), ring[3] = demo_at(d, x0, y1, 0);
}

static int gen_outline_and_carres(demo_t *d)
{
	demo_emit_t e;
	demo_pt_t ring[4];
	demo_emit_open(d, &e, "cimetiere");
	demo_emit_begin(&e, CEM_CODE);
	demo_emit_text(&e, "code", CEM_CODE);
	demo_emit_text(&e, "nom", "Cimetière de Corpont (fictif)");
	demo_emit_text(&e, "adresse", "rue de Corpont, 56600 Lanester");
	demo_emit_text(&e, "horaires", "8 h 30 – 18 h (19 h l'été)");
	demo_emit_real(&e, "surface", d->cem_w * d->cem_h);
	rect(d, d->cem_x0, d->cem_y0, d->cem_x0 + d->cem_w, d->cem_y0 + d->cem_h, ring);
	demo_wkb_multipolygon(&d->wkb, ring, 4);
	demo_emit_geom(&e);
	demo_emit_end(&e);
	int rc = demo_emit_close(&e);
	if (rc)
		return rc;
	demo_emit_open(d, &e, "cimetiere_carre");
	for (int c = 0; c < d->n_carres && !e.rc; c++) {
		char code[8];
		carre_code(c, code);
		demo_emit_begin(&e, NULL);
		demo_emit_text(&e, "cimetiere", CEM_CODE);
		demo_emit_text(&e, "code", code);
		demo_emit_textf(&e, "nom", "Carré %s", code);
		demo_emit_text(&e, "type_carre", c % 8 == 6 ? "militaire" : c % 8 == 7 ? "enfants" : "ordinaire");
		double x = carre_x(d, c), y = carre_y(d, c);
		rect(d, x, y, x + CARRE_W, y + CARRE_H, ring);
		demo_wkb_polygon(&d->wkb, ring, 4);
		demo_emit_geom(&e);
		demo_emit_end(&e);
	}
	return demo_emit_close(&e);
}

static int alley(demo_t *d, demo_emit_t *e, demo_pt_t a, demo_pt_t b, const char *name, int main)
{
	demo_emit_begin(e, NULL);
	demo_emit_text(e, "cimetiere", CEM_CODE);
	demo_emit_text(e, "nom", name);
	demo_emit_real(e, "largeur", main ? ALLEY_W : ALLEY_W - 1);
	demo_emit_text(e, "revetement", main ? "enrobé" : "gravillons");
	demo_emit_bool(e, "accessible_pmr", main);
	demo_pt_t pts[2] = {demo_at(d, a.x, a.y, 0), demo_at(d, b.x, b.y, 0)};
	demo_wkb_line(&d->wkb, pts, 2, 0);
	demo_emit_geom(e);
	return demo_emit_end(e);
}

/* Centre lines between carrés, split at every crossing; the middle
 * north-south alley is the main one and starts at the gate. */
static int gen_alleys(demo_t *d)
{
	static const char *const trees[] = {"des Ifs", "des Cyprès", "des Tilleuls", "des Buis", "des Houx",
	                                    "des Charmes", "des Chênes", "des Érables", "des Magnolias"};
	demo_emit_t e;
	demo_emit_open(d, &e, "cimetiere_allee");
	int nc = d->cem_cols, nr = d->cem_rows, mid = nc / 2;
	double px = CARRE_W + ALLEY_W, py = CARRE_H + ALLEY_W;
	double ax = d->cem_x0 + ALLEY_W / 2, ay = d->cem_y0 + ALLEY_W / 2;
	char name[64];
	for (int j = 0; j <= nr && !e.rc; j++)
		for (int i = 0; i < nc && !e.rc; i++) {
			snprintf(name, sizeof name, "Allée n° %d", j + 1);
			alley(d, &e, (demo_pt_t){ax + i * px, ay + j * py, 0}, (demo_pt_t){ax + (i + 1) * px, ay + j * py, 0},
			      name, j == 0);
		}
	for (int i = 0; i <= nc && !e.rc; i++)
		for (int j = 0; j < nr && !e.rc; j++) {
			if (i == mid)
				snprintf(name, sizeof name, "Allée centrale");
			else
				snprintf(name, sizeof name, "Allée %s", trees[i % 9]);
			alley(d, &e, (demo_pt_t){ax + i * px, ay + j * py, 0}, (demo_pt_t){ax + i * px, ay + (j + 1) * py, 0},
			      name, i == mid);
		}
	/* from the gate, in the south wall, to the first crossing */
	alley(d, &e, (demo_pt_t){ax + mid * px, d->cem_y0, 0}, (demo_pt_t){ax + mid * px, ay, 0}, "Entrée", 1);
	return demo_emit_close(&e);
}

/* Deceased per plot: drawn, then nudged to the exact total. */
static int draw_occupancy(demo_t *d, struct cem *c)
{
	c->n_plots = kt_demo_target("cimetiere_emplacement", d->scale);
	c->n_dead = kt_demo_target("cimetiere_defunt", d->scale);
	c->per_plot = kt_malloc((size_t)c->n_plots);
	if (!c->per_plot)
		return kt_ctx_error(d->ctx, KT_ENOMEM, "%s: out of memory", __func__);
	static const double w[] = {15, 35, 28, 14, 6, 2};
	int64_t sum = 0;
	for (int64_t i = 0; i < c->n_plots; i++)
		sum += c->per_plot[i] = (unsigned char)demo_rng_weighted(&c->r, w, MAX_PER_PLOT + 1);
	while (sum != c->n_dead) {
		int64_t i = (int64_t)(demo_rng_next(&c->r) % (uint64_t)c->n_plots);
		if (sum > c->n_dead && c->per_plot[i] > 0)
			c->per_plot[i]--, sum--;
		else if (sum < c->n_dead && c->per_plot[i] > 0 && c->per_plot[i] < MAX_PER_PLOT)
			c->per_plot[i]++, sum++;
	}
	return 0;
}

struct person {
	char nom[96], usage[96], prenoms[160];
	int64_t born, died, buried;
};

static void first_names(demo_rng_t *r, int female, char *out, size_t size)
{
	const demo_list_t *l = female ? &demo_prenoms_f : &demo_prenoms_m;
	int n = 1 + demo_rng_chance(r, 0.45) + demo_rng_chance(r, 0.15);
	size_t len = 0;
	out[0] = 0;
	for (int i = 0; i < n && len < size; i++)
		len += (size_t)snprintf(out + len, size - len, "%s%s", i ? " " : "", demo_pick(r, l));
}

/* The k-th person buried in a family plot whose first burial is day0. */
static void draw_person(demo_rng_t *r, const char *family, int k, int64_t day0, int64_t today, struct person *p)
{
	int female = demo_rng_chance(r, 0.5);
	int married_in = female && demo_rng_chance(r, 0.55);
	snprintf(p->nom, sizeof p->nom, "%s", married_in ? demo_pick(r, &demo_noms) : family);
	snprintf(p->usage, sizeof p->usage, "%s", married_in ? family : "");
	first_names(r, female, p->prenoms, sizeof p->prenoms);
	p->died = day0 + (k ? demo_rng_int(r, 0, 25 * 365) : 0);
	if (p->died > today - 30)
		p->died = today - 30 - demo_rng_int(r, 0, 400);
	int age = demo_rng_chance(r, 0.04) ? demo_rng_int(r, 0, 15) : demo_rng_int(r, 45, 101);
	p->born = p->died - age * 365 - demo_rng_int(r, 0, 364);
	p->buried = p->died + demo_rng_int(r, 2, 6);
}

static int gen_dead(demo_t *d, struct cem *c, const char *plot, const char *conc, const char *family,
                    int k, int64_t day0, int64_t today)
{
	struct person p;
	char ref[64], date[DEMO_DATE_LEN];
	draw_person(&c->r, family, k, day0, today, &p);
	snprintf(ref, sizeof ref, "%s-%d", plot, k + 1);
	demo_emit_t *e = &c->ed;
	demo_emit_begin(e, ref);
	demo_emit_text(e, "nom", p.nom);
	if (p.usage[0])
		demo_emit_text(e, "nom_usage", p.usage);
	demo_emit_text(e, "prenoms", p.prenoms);
	demo_emit_int(e, "annee_naissance", demo_year_of(p.born));
	demo_emit_int(e, "annee_deces", demo_year_of(p.died));
	demo_emit_text(e, "emplacement", plot);
	demo_date(p.born, date);
	demo_emit_text(e, "date_naissance", date);
	demo_date(p.died, date);
	demo_emit_text(e, "date_deces", date);
	demo_date(p.buried, date);
	demo_emit_text(e, "date_inhumation", date);
	if (conc)
		demo_emit_text(e, "concession", conc);
	return demo_emit_end(e);
}

static int gen_concession(demo_t *d, struct cem *c, const char *plot, const char *family, int64_t start,
                          char ref[48])
{
	static const char *const types[] = {"temporaire", "trentenaire", "cinquantenaire", "perpétuelle"};
	static const int years[] = {15, 30, 50, 0};
	static const double price[] = {160, 480, 950, 2100};
	static const double w_old[] = {0, 0, 30, 70}, w_new[] = {20, 40, 30, 10};
	demo_rng_t *r = &c->r;
	int t = demo_rng_weighted(r, demo_year_of(start) < 1960 ? w_old : w_new, 4);
	char date[DEMO_DATE_LEN], holders[256], first[160], street[128];
	snprintf(ref, 48, "CONC-%06lld", (long long)++c->n_conc);
	first_names(r, demo_rng_chance(r, 0.5), first, sizeof first);
	int n = snprintf(holders, sizeof holders, "%s %s", first, family);
	if (demo_rng_chance(r, 0.4)) {
		first_names(r, demo_rng_chance(r, 0.5), first, sizeof first);
		snprintf(holders + n, sizeof holders - (size_t)n, ", %s %s", first, demo_rng_chance(r, 0.6) ? family : demo_pick(r, &demo_noms));
	}
	demo_street_name(d, demo_rng_chance(r, 0.5), demo_rng_int(r, 0, d->rows), street, sizeof street);
	demo_emit_t *e = &c->ec;
	demo_emit_begin(e, ref);
	demo_emit_text(e, "reference", ref);
	demo_emit_text(e, "emplacement", plot);
	demo_emit_text(e, "type_concession", types[t]);
	if (years[t])
		demo_emit_int(e, "duree_ans", years[t]);
	demo_date(start, date);
	demo_emit_text(e, "date_debut", date);
	if (years[t]) {
		demo_date(start + (int64_t)lround(years[t] * 365.2425), date);
		demo_emit_text(e, "date_fin", date);
	}
	demo_emit_text(e, "titulaires", holders);
	demo_emit_textf(e, "adresse_titulaire", "%d %s, 56600 Lanester", demo_rng_int(r, 1, 120), street);
	demo_emit_real(e, "montant", price[t] * demo_rng_between(r, 0.6, 1.0));
	return demo_emit_end(e);
}

static const struct plot_kind {
	const char *name;
	double w, h; /* footprint (m), within the PLOT_PITCH_X x PLOT_PITCH_Y pitch */
	int places;
} plot_kinds[] = {
	{"pleine terre", 1.1, 2.3, 2},
	{"caveau", 1.3, 2.6, 4},
	{"cavurne", 1.0, 1.0, 4},
};

/* Plot (carré, rang, numero) and what it holds. */
static int gen_plot(demo_t *d, struct cem *c, int carre, int rang, int num, int64_t idx)
{
	demo_rng_t *r = &c->r;
	int k = c->per_plot[idx];
	char code[8], ref[48], conc[48];
	carre_code(carre, code);
	snprintf(ref, sizeof ref, "%s-%s-%02d-%02d", CEM_CODE, code, rang, num);
	static const double kind_w[] = {50, 40, 10};
	const struct plot_kind *pk = &plot_kinds[k >= 3 ? 1 : demo_rng_weighted(r, kind_w, 3)];
	int reserved = !k && demo_rng_chance(r, 0.25), taken_back = !k && !reserved && demo_rng_chance(r, 0.33);
	const char *state = k ? "occupé" : reserved ? "réservé" : taken_back ? "repris" : "libre";
	double x = carre_x(d, carre) + CARRE_MARGIN + (num - 1) * PLOT_PITCH_X + (PLOT_PITCH_X - pk->w) / 2;
	double y = carre_y(d, carre) + CARRE_MARGIN + (rang - 1) * PLOT_PITCH_Y + (PLOT_PITCH_Y - pk->h) / 2;
	demo_emit_t *e = &c->ep;
	demo_emit_begin(e, ref);
	demo_emit_text(e, "reference", ref);
	demo_emit_text(e, "cimetiere", CEM_CODE);
	demo_emit_text(e, "carre", code);
	demo_emit_int(e, "rang", rang);
	demo_emit_int(e, "numero", num);
	demo_emit_text(e, "type_emplacement", pk->name);
	demo_emit_int(e, "nb_places", k > pk->places ? k : pk->places);
	demo_emit_text(e, "etat", state);
	demo_pt_t ring[4];
	rect(d, x, y, x + pk->w, y + pk->h, ring);
	demo_wkb_polygon(&d->wkb, ring, 4);
	demo_emit_geom(e);
	int rc = demo_emit_end(e);
	if (rc || (!k && !reserved))
		return rc;
	int64_t today = demo_day(2025, 1, 1);
	int64_t day0 = k ? demo_day(demo_rng_int(r, 1905, 2023), demo_rng_int(r, 1, 12), demo_rng_int(r, 1, 28))
	                 : today - demo_rng_int(r, 30, 15 * 365);
	const char *family = demo_pick(r, &demo_noms);
	rc = gen_concession(d, c, ref, family, day0, conc);
	for (int i = 0; i < k && !rc; i++)
		rc = gen_dead(d, c, ref, conc, family, i, day0, today);
	return rc;
}

int demo_gen_cemetery(demo_t *d)
{
	int rc = gen_outline_and_carres(d);
	if (!rc)
		rc = gen_alleys(d);
	if (rc)
		return rc;
	struct cem c;
	memset(&c, 0, sizeof c);
	demo_rng_init(&c.r, d->seed, "cimetiere");
	if ((rc = draw_occupancy(d, &c)))
		return rc;
	demo_emit_open(d, &c.ep, "cimetiere_emplacement");
	demo_emit_open(d, &c.ec, "cimetiere_concession");
	demo_emit_open(d, &c.ed, "cimetiere_defunt");
	int64_t idx = 0;
	for (int carre = 0; carre < d->n_carres && !rc; carre++)
		for (int rang = 1; rang <= CARRE_RANGS && !rc; rang++)
			for (int num = 1; num <= CARRE_NUMS && !rc; num++)
				rc = gen_plot(d, &c, carre, rang, num, idx++);
	int rc1 = demo_emit_close(&c.ep), rc2 = demo_emit_close(&c.ec), rc3 = demo_emit_close(&c.ed);
	kt_free(c.per_plot);
	return rc ? rc : rc1 ? rc1 : rc2 ? rc2 : rc3;
}
