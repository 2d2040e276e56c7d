/*
 * kt_test.c — see kt_test.h.
 */
#include "kt_test.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <sqlite3.h>

const char *kt_test_env(const char *name)
{
	const char *v = getenv(name);
	if (!v || !*v) {
		fprintf(stderr, "test: environment variable %s is not set (run through ctest)\n", name);
		abort();
	}
	return v;
}

char *kt_test_path(const char *name)
{
	const char *tmp = kt_test_env("KT_TMP");
	size_t n = strlen(tmp) + strlen(name) + 32;
	char *p = malloc(n);
	snprintf(p, n, "%s/%ld-%s", tmp, (long)getpid(), name);
	char side[4096];
	unlink(p);
	snprintf(side, sizeof side, "%s-wal", p);
	unlink(side);
	snprintf(side, sizeof side, "%s-shm", p);
	unlink(side);
	snprintf(side, sizeof side, "%s-journal", p);
	unlink(side);
	return p;
}

int kt_test_run(char **output, const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	char full[8300];
	snprintf(full, sizeof full, "(%s) 2>&1", cmd);
	FILE *p = popen(full, "r");
	if (!p)
		return -1;
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	size_t got;
	while ((got = fread(buf + len, 1, cap - len - 1, p)) > 0) {
		len += got;
		if (cap - len < 1024) {
			cap *= 2;
			buf = realloc(buf, cap);
		}
	}
	buf[len] = 0;
	int status = pclose(p);
	if (output)
		*output = buf;
	else
		free(buf);
	if (status == -1 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static void mix(uint64_t *h, const void *data, size_t n)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < n; i++) {
		*h ^= p[i];
		*h *= 0x100000001b3ULL;
	}
}

int kt_test_store_digest(const char *path, uint64_t *digest)
{
	sqlite3 *db;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return -1;
	uint64_t h = 0xcbf29ce484222325ULL;
	sqlite3_stmt *tables;
	/* plain tables only: virtual tables (spatial indexes) are mirrored
	 * by their shadow tables, which are plain and included */
	if (sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type='table' "
	                           "AND sql NOT LIKE 'CREATE VIRTUAL%' ORDER BY name",
	                       -1, &tables, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return -1;
	}
	while (sqlite3_step(tables) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(tables, 0);
		mix(&h, t, strlen(t) + 1);
		char *sql = sqlite3_mprintf("SELECT * FROM \"%w\" ORDER BY 1", t);
		sqlite3_stmt *rows;
		if (sqlite3_prepare_v2(db, sql, -1, &rows, NULL) == SQLITE_OK) {
			while (sqlite3_step(rows) == SQLITE_ROW) {
				int n = sqlite3_column_count(rows);
				for (int i = 0; i < n; i++) {
					int type = sqlite3_column_type(rows, i);
					mix(&h, &type, sizeof type);
					const void *b = sqlite3_column_blob(rows, i);
					mix(&h, b ? b : "", (size_t)sqlite3_column_bytes(rows, i));
				}
			}
			sqlite3_finalize(rows);
		}
		sqlite3_free(sql);
	}
	sqlite3_finalize(tables);
	sqlite3_close(db);
	*digest = h;
	return 0;
}

int kt_test_init_store(const char *path)
{
	return kt_test_run(NULL, "'%s' init --db '%s' --layers '%s'", kt_test_env("KARTENN"), path,
	                   kt_test_env("KT_LAYERS_DIR"));
}

int kt_test_store_open(const char *name, char **path, kt_store_t **store, kt_ctx_t **ctx)
{
	kt_err_t err = {0};
	*path = kt_test_path(name);
	kt_init_opts_t o = {.layers_dir = kt_test_env("KT_LAYERS_DIR")};
	if (kt_store_init(*path, &o, &err) || kt_store_open(*path, store, &err) ||
	    kt_ctx_open(*store, ctx, &err)) {
		fprintf(stderr, "test: cannot make the store %s: %s\n", *path, err.msg);
		return -1;
	}
	return 0;
}

void kt_test_store_close(char *path, kt_store_t *store, kt_ctx_t *ctx)
{
	kt_ctx_close(ctx);
	kt_store_close(store);
	free(path);
}
