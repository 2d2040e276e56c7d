/*
 * kt_test.h — helpers shared by the test programs: environment, scratch
 * files, running the kartenn binary, and a digest of a whole store (every
 * row of every table) to prove that a failed operation changed nothing.
 */
#ifndef KT_TEST_H
#define KT_TEST_H

#include <stddef.h>
#include <stdint.h>

#include "kt_engine.h"

/* The value of an environment variable set by ctest; aborts if unset. */
const char *kt_test_env(const char *name);
/* A fresh path under $KT_TMP (removed first if it exists); static buffer
 * per call is NOT used: the caller frees. */
char *kt_test_path(const char *name);
/* Runs a shell command, returns its exit status (or -1), and stores its
 * combined stdout+stderr in *output (malloc'd, may be NULL). */
int kt_test_run(char **output, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* 64-bit digest of every row of every table of an SQLite file, in a
 * stable order (tables by name, rows by rowid). Returns 0 on success. */
int kt_test_store_digest(const char *path, uint64_t *digest);
/* A fresh store named name under $KT_TMP, made from the repository's
 * layers/ through the engine, opened with one ctx. Returns 0, or -1 after
 * printing why. kt_test_store_close closes both and frees *path. */
int kt_test_store_open(const char *name, char **path, kt_store_t **store, kt_ctx_t **ctx);
void kt_test_store_close(char *path, kt_store_t *store, kt_ctx_t *ctx);
/* Creates a store at path from the repository's layers/ (kartenn init). */
int kt_test_init_store(const char *path);

#endif
