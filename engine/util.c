/*
 * util.c — small helpers: random uids and UTC timestamps.
 */
#include "kt_engine_int.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* UUID version 7 (RFC 9562) from 16 random bytes: 48 bits of Unix time in
 * milliseconds, then random bits. Uids made one after the other sort
 * together, so the unique index on uid grows at its end instead of being
 * written all over. */
void kt__uid_format(const unsigned char random[16], char out[37])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[16];
	memcpy(b, random, sizeof b);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
	for (int i = 0; i < 6; i++)
		b[i] = (unsigned char)(ms >> (40 - 8 * i));
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x70); /* version 7 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 9562 variant */
	char *o = out;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*o++ = '-';
		*o++ = hex[b[i] >> 4];
		*o++ = hex[b[i] & 15];
	}
	*o = 0;
}

int kt_uid_new(char out[37])
{
	unsigned char b[16];
	if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
		return KT_EIO;
	kt__uid_format(b, out);
	return 0;
}

void kt_now_iso(char out[32])
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
