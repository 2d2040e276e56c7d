/*
 * test_dtdict.c — DT-DICT precision classes (engine/dtdict.c).
 *
 * Limits from the arrêté of 15 February 2012: class A <= 40 cm for a
 * rigid network, <= 50 cm for a flexible one; class B <= 150 cm; class C
 * beyond, or unknown. The transformation accuracies used in the last test
 * are read from PROJ's projinfo, not from the engine.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kt_engine.h"
#include "kt_test.h"

static void test_dtdict_limits(void **state)
{
	(void)state;
	const struct {
		kt_network_kind_t kind;
		double xy_cm, transform_m;
		char expect;
	} cases[] = {
		/* rigid: A up to 40 cm included */
		{ KT_NETWORK_RIGID, 0, 0, 'A' },
		{ KT_NETWORK_RIGID, 40, 0, 'A' },
		{ KT_NETWORK_RIGID, 40.01, 0, 'B' },
		{ KT_NETWORK_RIGID, 30, 0.10, 'A' },   /* 30 + 10 = 40 exactly */
		{ KT_NETWORK_RIGID, 30, 0.11, 'B' },   /* 41 */
		{ KT_NETWORK_RIGID, 0.1, 0.399, 'A' }, /* 0.1 + 39.9 = 40, though in
		                                        * doubles the sum is 40 + 1 ulp */
		{ KT_NETWORK_RIGID, 45, 0, 'B' },      /* A for flexible, not rigid */
		/* flexible: A up to 50 cm */
		{ KT_NETWORK_FLEXIBLE, 45, 0, 'A' },
		{ KT_NETWORK_FLEXIBLE, 50, 0, 'A' },
		{ KT_NETWORK_FLEXIBLE, 20, 0.30, 'A' }, /* 50 */
		{ KT_NETWORK_FLEXIBLE, 20, 0.31, 'B' }, /* 51 */
		/* B up to 150 cm, for both */
		{ KT_NETWORK_RIGID, 150, 0, 'B' },
		{ KT_NETWORK_RIGID, 50, 1.0, 'B' },     /* 150 */
		{ KT_NETWORK_RIGID, 50, 1.01, 'C' },    /* 151 */
		{ KT_NETWORK_FLEXIBLE, 150.5, 0, 'C' },
		{ KT_NETWORK_FLEXIBLE, 1, 5.0, 'C' },   /* 501 */
		/* a 1 m null datum shift (WGS84) keeps even perfect data out of A */
		{ KT_NETWORK_RIGID, 0, 1.0, 'B' },
		{ KT_NETWORK_FLEXIBLE, 0, 1.0, 'B' },
		/* unknown is C */
		{ KT_NETWORK_RIGID, NAN, 0, 'C' },
		{ KT_NETWORK_RIGID, 1, NAN, 'C' },
		{ KT_NETWORK_FLEXIBLE, NAN, NAN, 'C' },
		{ KT_NETWORK_RIGID, INFINITY, 0, 'C' },
		{ KT_NETWORK_RIGID, -5, 0, 'C' },       /* not a measurement */
		{ KT_NETWORK_RIGID, 5, -0.01, 'C' },
		/* not a network: no class */
		{ KT_NETWORK_NONE, 1, 0, 0 },
		{ KT_NETWORK_NONE, NAN, NAN, 0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char got = kt_dtdict_class(cases[i].kind, cases[i].xy_cm, cases[i].transform_m);
		if (got != cases[i].expect)
			fail_msg("case %zu (kind %d, %g cm, %g m): got '%c' (%d), expected '%c'", i,
			         cases[i].kind, cases[i].xy_cm, cases[i].transform_m, got ? got : '0',
			         got, cases[i].expect ? cases[i].expect : '0');
	}
}

/* Accuracy (m) of the first candidate operation projinfo lists. */
static double projinfo_accuracy(const char *src, const char *dst)
{
	char *out = NULL;
	int st = kt_test_run(&out, "projinfo -s %s -t %s --spatial-test intersects --summary "
	                     "| sed -n 2p", src, dst);
	assert_int_equal(st, 0);
	char *m = strstr(out, " m, ");
	assert_non_null(m);
	char *p = m;
	while (p > out && p[-1] != ',')
		p--;
	double acc = strtod(p, NULL);
	free(out);
	return acc;
}

static void test_dtdict_through_transformations(void **state)
{
	(void)state;
	/* A lamp post surveyed at 5 cm in Lambert-93, stored in CC48: a pure
	 * conversion, it stays A. The same post published in WGS84 and read
	 * back: the datum step costs 1 m, it cannot be A. */
	double conv = projinfo_accuracy("EPSG:2154", "EPSG:3948");
	double wgs = projinfo_accuracy("EPSG:4326", "EPSG:3948");
	assert_true(conv == 0.0);
	assert_true(wgs >= 0.5 && wgs <= 2.0);
	assert_int_equal(kt_dtdict_class(KT_NETWORK_RIGID, 5, conv), 'A');
	assert_int_equal(kt_dtdict_class(KT_NETWORK_RIGID, 5, wgs), 'B');
	assert_int_equal(kt_dtdict_class(KT_NETWORK_FLEXIBLE, 5, wgs), 'B');
	/* through both: the accuracies add up (worst case) */
	assert_int_equal(kt_dtdict_class(KT_NETWORK_RIGID, 5, conv + wgs + wgs), 'C');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dtdict_limits),
		cmocka_unit_test(test_dtdict_through_transformations),
	};
	return cmocka_run_group_tests_name("dtdict", tests, NULL, NULL);
}
