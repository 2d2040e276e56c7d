/*
 * dtdict.c — DT-DICT precision classes (arrêté of 15 February 2012).
 *
 * A network object's class comes from the worst case of what it went
 * through: its survey XY uncertainty plus the accuracy of every CRS
 * transformation applied to it (total_cm = xy_cm + transform_m * 100).
 *   class A   total <= 40 cm (rigid network) or <= 50 cm (flexible one)
 *   class B   total <= 150 cm
 *   class C   anything worse, and anything unknown: a NAN, an infinite or
 *             a negative figure is not a measurement, so it grades C.
 * So data that passed through WGS84 with a null datum shift (PROJ reports
 * 1 m for "RGF93 v1 to WGS 84 (1)") can never be class A.
 * The limits are compared with a tolerance of 1e-9 cm, so that a figure
 * on the limit (30 cm + 0.1 m) is not pushed over it by binary rounding.
 * Pure function: no ctx, no allocation.
 */
#include <math.h>

#include "kt_engine.h"

#define KT_DTDICT_A_RIGID_CM 40.0
#define KT_DTDICT_A_FLEXIBLE_CM 50.0
#define KT_DTDICT_B_CM 150.0
#define KT_DTDICT_EPS_CM 1e-9

char kt_dtdict_class(kt_network_kind_t kind, double xy_cm, double transform_m)
{
	double a_limit;
	switch (kind) {
	case KT_NETWORK_RIGID:
		a_limit = KT_DTDICT_A_RIGID_CM;
		break;
	case KT_NETWORK_FLEXIBLE:
		a_limit = KT_DTDICT_A_FLEXIBLE_CM;
		break;
	default:
		return 0;
	}
	if (!isfinite(xy_cm) || !isfinite(transform_m) || xy_cm < 0 || transform_m < 0)
		return 'C';
	double total = xy_cm + transform_m * 100.0;
	if (total <= a_limit + KT_DTDICT_EPS_CM)
		return 'A';
	if (total <= KT_DTDICT_B_CM + KT_DTDICT_EPS_CM)
		return 'B';
	return 'C';
}
