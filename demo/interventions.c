/*
 * interventions.c — ASCOL-style maintenance interventions, without
 * geometry, joined to what they concern by the ASCOL asset reference
 * (common column ascol_ref): municipal buildings (BAT-nnnnn), lighting
 * supports (EP-S-nnnnnn) and cabinets (EP-A-nnnn), all written before by
 * quarter.c and lighting.c. States follow the dates, seen from the demo's
 * fixed "today" (KT_DEMO_TIME): past requests are done or cancelled,
 * recent ones requested, planned or in progress.
 */
#include "demo_int.h"

#include <stdio.h>

static const struct trade {
	const char *name, *jobs[4];
} building_trades[] = {
	{"plomberie", {"Fuite sur réseau d'eau", "Remplacement d'un robinet", "Débouchage de canalisation", "Remplacement d'un chauffe-eau"}},
	{"électricité", {"Remplacement de blocs de secours", "Contrôle du tableau électrique", "Remplacement d'éclairage intérieur", "Prise hors service"}},
	{"chauffage", {"Entretien de la chaudière", "Panne de chauffage", "Purge des radiateurs", "Remplacement d'une vanne"}},
	{"menuiserie", {"Porte qui ferme mal", "Remplacement d'une vitre", "Réparation de volet", "Pose de serrure"}},
	{"couverture", {"Fuite en toiture", "Nettoyage des gouttières", "Remplacement d'ardoises", "Reprise d'étanchéité"}},
	{"sécurité incendie", {"Vérification des extincteurs", "Contrôle du SSI", "Vérification des désenfumages", "Remplacement de détecteur"}},
};
static const struct trade lighting_trade = {
	"éclairage public", {"Lampe hors service", "Remplacement de lanterne", "Mât accidenté", "Visite de maintenance préventive"}};
static const struct trade cabinet_trade = {
	"éclairage public", {"Disjonction d'un départ", "Réglage de l'horloge", "Contrôle réglementaire", "Remplacement de contacteur"}};

static int gen_one(demo_t *d, demo_emit_t *e, demo_rng_t *r, int64_t i)
{
	static const char *const types[] = {"curative", "préventive", "réglementaire", "travaux"};
	static const double type_w[] = {50, 30, 10, 10};
	static const char *const firms[] = {"Régie municipale", "Régie municipale", "Régie municipale",
	                                    "Scorff Bâtiment (fictif)", "Blavet Lumière (fictif)", "Ar Mor Thermique (fictif)"};
	char asset[32], id[40], date[DEMO_DATE_LEN];
	const struct trade *tr;
	double pick = demo_rng_unit(r);
	if (pick < 0.6 && d->n_municipal > 0) {
		snprintf(asset, sizeof asset, "BAT-%05lld", (long long)(1 + demo_rng_next(r) % (uint64_t)d->n_municipal));
		tr = &building_trades[demo_rng_next(r) % 6];
	} else if (pick < 0.95 && d->n_supports > 0) {
		snprintf(asset, sizeof asset, "EP-S-%06lld", (long long)(1 + demo_rng_next(r) % (uint64_t)d->n_supports));
		tr = &lighting_trade;
	} else {
		snprintf(asset, sizeof asset, "EP-A-%04lld", (long long)(1 + demo_rng_next(r) % (uint64_t)d->n_armoires));
		tr = &cabinet_trade;
	}
	int64_t today = demo_day(2025, 1, 1), asked = demo_day(2019, 1, 1) + demo_rng_int(r, 0, 6 * 365 - 1);
	int64_t planned = asked + demo_rng_int(r, 1, 45);
	snprintf(id, sizeof id, "INT-%d-%06lld", demo_year_of(asked), (long long)(i + 1));
	const char *state;
	if (asked < today - 60)
		state = demo_rng_chance(r, 0.92) ? "terminée" : "annulée";
	else
		state = planned < today ? (demo_rng_chance(r, 0.5) ? "en cours" : "terminée") : demo_rng_chance(r, 0.5) ? "planifiée" : "demandée";
	int done = state[0] == 't';
	demo_emit_begin(e, id);
	demo_emit_ascol(e, asset);
	demo_emit_text(e, "ascol_id", id);
	demo_emit_text(e, "libelle", tr->jobs[demo_rng_next(r) % 4]);
	demo_emit_text(e, "type_intervention", types[demo_rng_weighted(r, type_w, 4)]);
	demo_emit_text(e, "corps_etat", tr->name);
	demo_emit_text(e, "etat", state);
	demo_date(asked, date);
	demo_emit_text(e, "date_demande", date);
	demo_date(planned, date);
	demo_emit_text(e, "date_prevue", date);
	if (done) {
		int64_t did = planned + demo_rng_int(r, -2, 10);
		demo_date(did > today ? today : did, date);
		demo_emit_text(e, "date_realisation", date);
		demo_emit_real(e, "duree_h", 0.5 * demo_rng_int(r, 1, 32));
		demo_emit_real(e, "cout_ht", demo_rng_between(r, 40, 2500));
	}
	demo_emit_text(e, "intervenant", firms[demo_rng_next(r) % 6]);
	return demo_emit_end(e);
}

int demo_gen_interventions(demo_t *d)
{
	demo_emit_t e;
	demo_rng_t r;
	demo_rng_init(&r, d->seed, "intervention");
	demo_emit_open(d, &e, "intervention");
	int64_t n = kt_demo_target("intervention", d->scale);
	for (int64_t i = 0; i < n && !e.rc; i++)
		gen_one(d, &e, &r, i);
	return demo_emit_close(&e);
}
