/*
 * rng.c — the demo's own pseudo-random numbers and calendar arithmetic.
 *
 * xoshiro256** (Blackman & Vigna) seeded through splitmix64: the same seed
 * gives the same sequence on every platform, which rand() does not
 * promise. Each stage opens its own stream (seed mixed with the stream
 * name), so the draws of one stage never depend on how many another made.
 * Dates are counted in days from 1900-01-01 in the proleptic Gregorian
 * calendar, so date arithmetic is integer arithmetic.
 */
#include "demo_int.h"

#include <stdio.h>

uint64_t demo_splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint64_t demo_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

void demo_rng_init(demo_rng_t *r, uint64_t seed, const char *stream)
{
	uint64_t st = seed ^ demo_hash(stream);
	for (int i = 0; i < 4; i++)
		r->s[i] = demo_splitmix64(&st);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t demo_rng_next(demo_rng_t *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

double demo_rng_unit(demo_rng_t *r) { return (double)(demo_rng_next(r) >> 11) * 0x1.0p-53; }

double demo_rng_between(demo_rng_t *r, double lo, double hi) { return lo + (hi - lo) * demo_rng_unit(r); }

int demo_rng_int(demo_rng_t *r, int lo, int hi)
{
	uint64_t span = (uint64_t)((int64_t)hi - lo + 1);
	return lo + (int)(demo_rng_next(r) % span); /* bias negligible for small spans */
}

int demo_rng_chance(demo_rng_t *r, double p) { return demo_rng_unit(r) < p; }

int demo_rng_weighted(demo_rng_t *r, const double *w, int n)
{
	double sum = 0;
	for (int i = 0; i < n; i++)
		sum += w[i];
	double x = demo_rng_unit(r) * sum;
	for (int i = 0; i < n; i++) {
		if (x < w[i])
			return i;
		x -= w[i];
	}
	return n - 1;
}

const char *demo_pick(demo_rng_t *r, const demo_list_t *l)
{
	return l->items[demo_rng_next(r) % l->n];
}

/* ---- calendar ----------------------------------------------------------- */

/* Days from 0000-03-01 (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static const int64_t epoch_1900 = -25567; /* days_from_civil(1900, 1, 1) */

int64_t demo_day(int year, int month, int mday) { return days_from_civil(year, month, mday) - epoch_1900; }

void demo_date(int64_t day, char out[DEMO_DATE_LEN])
{
	int y, m, d;
	civil_from_days(day + epoch_1900, &y, &m, &d);
	snprintf(out, DEMO_DATE_LEN, "%04d-%02d-%02d", y % 10000, m, d);
}

int demo_year_of(int64_t day)
{
	int y, m, d;
	civil_from_days(day + epoch_1900, &y, &m, &d);
	return y;
}

void demo_datetime(int64_t day, int seconds, char out[DEMO_DATE_LEN])
{
	int y, m, d;
	civil_from_days(day + epoch_1900, &y, &m, &d);
	seconds %= 86400;
	snprintf(out, DEMO_DATE_LEN, "%04d-%02d-%02dT%02d:%02d:%02dZ", y % 10000, m, d, seconds / 3600, seconds / 60 % 60,
	         seconds % 60);
}
