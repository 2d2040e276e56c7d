/*
 * names.c — normalisation of field names for automatic mapping.
 *
 * Source files name their fields every way: "TYPE_LANTE", "Type lanté",
 * "Date de pose", "date_pose". Matching compares normalised names: ASCII
 * letters lowercased, the accented Latin letters of Latin-1 and Latin
 * Extended-A folded to their base letters (ligatures spelt out), combining
 * accents (decomposed input) dropped, and every run of anything else,
 * invalid UTF-8 included, turned into a single '_' with none at either end.
 * The result is pure ASCII [a-z0-9_], so it can be compared with strcmp and
 * with layer attribute names, which are already of that form.
 */
#include "kt_import.h"

#include <string.h>

/* Base letters of U+00C0..U+00FF; '-' marks a non-letter, '*' a ligature. */
static const char latin1[65] = "aaaaaa*ceeeeiiii" "dnooooo-ouuuuy**" "aaaaaa*ceeeeiiii" "dnooooo-ouuuuy*y";
/* Base letters of U+0100..U+017F; '*' marks a ligature. */
static const char latin_ext_a[129] = "aaaaaaccccccccdd" "ddeeeeeeeeeegggg" "gggghhhhiiiiiiii"
                                     "ii**jjkkklllllll" "lllnnnnnnnnnoooo" "oo**rrrrrrssssss"
                                     "sstttttt" "uuuuuuuu" "uuuuwwyyyzzzzzzs";

/* Decodes one UTF-8 sequence; returns its length, *cp = -1 when invalid. */
static size_t utf8_next(const unsigned char *p, long *cp)
{
	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	size_t len = (p[0] & 0xE0) == 0xC0 ? 2 : (p[0] & 0xF0) == 0xE0 ? 3 : (p[0] & 0xF8) == 0xF0 ? 4 : 0;
	if (len == 0) {
		*cp = -1;
		return 1;
	}
	long v = p[0] & (0x3F >> (len - 1));
	for (size_t k = 1; k < len; k++) {
		if ((p[k] & 0xC0) != 0x80) {
			*cp = -1;
			return k;
		}
		v = (v << 6) | (p[k] & 0x3F);
	}
	*cp = v;
	return len;
}

/* The ASCII spelling of a code point ("" to drop it, NULL for a separator). */
static const char *fold(long cp, char one[2])
{
	one[1] = 0;
	if ((cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9')) {
		one[0] = (char)cp;
		return one;
	}
	if (cp >= 'A' && cp <= 'Z') {
		one[0] = (char)(cp - 'A' + 'a');
		return one;
	}
	if (cp >= 0x300 && cp <= 0x36F) /* combining diacritical marks */
		return "";
	char c = 0;
	if (cp >= 0xC0 && cp <= 0xFF)
		c = latin1[cp - 0xC0];
	else if (cp >= 0x100 && cp <= 0x17F)
		c = latin_ext_a[cp - 0x100];
	if (c == '*') {
		switch (cp) {
		case 0xC6: case 0xE6: return "ae";
		case 0xDE: case 0xFE: return "th";
		case 0xDF: return "ss";
		case 0x132: case 0x133: return "ij";
		default: return "oe"; /* U+0152, U+0153 */
		}
	}
	if (c == 0 || c == '-')
		return NULL;
	one[0] = c;
	return one;
}

size_t kt_import_normalise_name(const char *in, char *out, size_t out_size)
{
	size_t n = 0;          /* length needed so far */
	int pending_sep = 0;   /* a separator waits for the next letter */
	const unsigned char *p = (const unsigned char *)(in ? in : "");
	while (*p) {
		long cp;
		p += utf8_next(p, &cp);
		char one[2];
		const char *s = cp < 0 ? NULL : fold(cp, one);
		if (!s) {
			pending_sep = n > 0;
			continue;
		}
		for (; *s; s++) {
			if (pending_sep) {
				if (n + 1 < out_size)
					out[n] = '_';
				n++;
				pending_sep = 0;
			}
			if (n + 1 < out_size)
				out[n] = *s;
			n++;
		}
	}
	if (out_size > 0)
		out[n < out_size ? n : out_size - 1] = 0;
	return n;
}
