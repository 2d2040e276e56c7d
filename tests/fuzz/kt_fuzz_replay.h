/*
 * kt_fuzz_replay.h — the corpus-replay main() of a fuzz target, for the
 * targets built as plain programs (KT_FUZZ_REPLAY defined): every file of
 * the directories (or the files) given is passed once, in name order, to
 * LLVMFuzzerTestOneInput, in a buffer of its exact size so that ASan sees
 * an overrun as the fuzzer would. Same behaviour as the replay written
 * out in fuzz_wkb.c; include this last, from one target file.
 */
#ifndef KT_FUZZ_REPLAY_H
#define KT_FUZZ_REPLAY_H
#ifdef KT_FUZZ_REPLAY

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		return -1;
	}
	size_t cap = 4096, len = 0, got;
	unsigned char *b = malloc(cap);
	while (b && (got = fread(b + len, 1, cap - len, f)) > 0) {
		len += got;
		if (len == cap) {
			unsigned char *nb = realloc(b, cap *= 2);
			if (!nb)
				free(b);
			b = nb;
		}
	}
	fclose(f);
	if (!b)
		return -1;
	unsigned char *exact = malloc(len ? len : 1);
	if (!exact) {
		free(b);
		return -1;
	}
	memcpy(exact, b, len);
	free(b);
	LLVMFuzzerTestOneInput(exact, len);
	free(exact);
	return 0;
}

static int replay_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int replay_dir(const char *dir, long *n)
{
	DIR *d = opendir(dir);
	if (!d) {
		perror(dir);
		return -1;
	}
	char **names = NULL;
	size_t nn = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char **nv = realloc(names, (nn + 1) * sizeof *names);
		if (!nv)
			break;
		names = nv;
		names[nn] = malloc(strlen(dir) + strlen(e->d_name) + 2);
		if (names[nn])
			sprintf(names[nn++], "%s/%s", dir, e->d_name);
	}
	closedir(d);
	qsort(names, nn, sizeof *names, replay_cmp);
	int rc = 0;
	for (size_t i = 0; i < nn; i++) {
		if (!rc && replay_file(names[i]))
			rc = -1;
		else
			(*n)++;
		free(names[i]);
	}
	free(names);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s DIR|FILE...\n", argv[0]);
		return 2;
	}
	long n = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st)) {
			perror(argv[i]);
			return 1;
		}
		if (S_ISDIR(st.st_mode) ? replay_dir(argv[i], &n) : replay_file(argv[i]))
			return 1;
		if (!S_ISDIR(st.st_mode))
			n++;
	}
	printf("%s: %ld inputs replayed\n", argv[0], n);
	return n > 0 ? 0 : 1;
}

#endif /* KT_FUZZ_REPLAY */
#endif /* KT_FUZZ_REPLAY_H */
