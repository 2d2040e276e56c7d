/*
 * fuzz_mvt.c — fuzz target for the vector-tile validator
 * (tileserver/mvt_validate.c, `kartenn tiles validate`), which reads
 * untrusted bytes: gzip, the protobuf (protobuf-c), geometry command
 * streams with forged counts, rings handed to GEOS.
 *
 * Built as a libFuzzer target with -DKT_FUZZ=ON (clang), and as a corpus
 * replay (KT_FUZZ_REPLAY, ctest fuzz_mvt_corpus) otherwise; the seed
 * corpus is the fixtures of @mapbox/mvt-fixtures (CC0) and tiles kartenn
 * served from the fictional demo data.
 * What must hold for any input: no crash, no access outside the input, no
 * leak; a result >= 0 (problems found) — the checker itself never fails
 * on bad input —, and a report for every problem counted.
 */
#include <stdint.h>
#include <stdlib.h>

#include <geos_c.h>

#include "kt_engine.h"
#include "kt_server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void count(const char *problem, void *data)
{
	(void)problem;
	(*(long *)data)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static GEOSContextHandle_t geos;
	if (!geos)
		geos = GEOS_init_r();
	long reported = 0;
	long n = kt_mvt_validate(data, size, geos, count, &reported, 0);
	if (n < 0 || n != reported)
		abort();
	return 0;
}

#include "kt_fuzz_replay.h"
