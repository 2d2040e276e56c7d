/*
 * kt_cli.h — the subcommands of the `kartenn` binary.
 *
 * Each subcommand lives in its own file cli/cmd_<name>.c and is one entry
 * of the table in kartenn.c. A subcommand receives argv starting at its
 * own name (argv[0] == "import"), prints its own --help, and returns the
 * process exit status: 0 success, 1 failure of the work, 2 bad usage.
 */
#ifndef KT_CLI_H
#define KT_CLI_H

int kt_cmd_init(int argc, char **argv);
int kt_cmd_import(int argc, char **argv);
int kt_cmd_export(int argc, char **argv);
int kt_cmd_serve(int argc, char **argv);
int kt_cmd_demo(int argc, char **argv);
int kt_cmd_layers(int argc, char **argv);
int kt_cmd_history(int argc, char **argv);
int kt_cmd_tiles(int argc, char **argv);

/* "EPSG:2154" or "2154" → 2154; -1 when not an EPSG code. */
int kt_cli_parse_epsg(const char *s, int *epsg);

#endif
