/* Option parsing shared by every `floe <command>`.
 *
 * A command declares its options in a table; floe_args_parse handles `--name value`, `--name=value`,
 * `--help`/`-h`, `--` and range checks, and prints usage or a clear error itself, so every command
 * behaves the same way: unknown options and bad values exit 2 with a message naming the option.
 */
#ifndef FLOE_CLI_ARGS_H
#define FLOE_CLI_ARGS_H

#include <stdint.h>

#include "isa/energy_table.h"
#include "isa/machine.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    FLOE_ARG_FLAG,   /* dest: int*, set to 1 when present */
    FLOE_ARG_STRING, /* dest: const char**, points into argv */
    FLOE_ARG_INT,    /* dest: long long* */
    FLOE_ARG_DOUBLE, /* dest: double* */
    FLOE_ARG_LIST,   /* dest: floe_arg_list*, repeatable: every value is kept */
} floe_arg_kind;

#define FLOE_ARG_LIST_MAX 64
typedef struct floe_arg_list {
    const char *v[FLOE_ARG_LIST_MAX]; /* point into argv */
    int n;
} floe_arg_list;

typedef struct floe_opt {
    const char *name;    /* long name without the dashes: "steps"; NULL ends the table */
    floe_arg_kind kind;
    void *dest;
    const char *metavar; /* shown in help: "N", "FILE" */
    const char *help;    /* one line; the default is best stated here */
    double min, max;     /* INT/DOUBLE: accepted range when min < max */
    char short_name;     /* optional one-letter alias ('o' for -o), 0 for none */
} floe_opt;

typedef struct floe_cmd_spec {
    const char *name;     /* "numerics" */
    const char *args;     /* positional synopsis after the options, e.g. "<program>"; may be NULL */
    const char *summary;  /* one line */
    const char *details;  /* optional text printed after the options */
    const floe_opt *opts; /* may be NULL */
    int min_pos, max_pos; /* how many positional arguments are accepted */
} floe_cmd_spec;

enum { FLOE_ARGS_OK = 0, FLOE_ARGS_HELP = 1, FLOE_ARGS_ERROR = 2 };

/* argv[0] is the command name. Positional arguments (pointers into argv) go to pos[0..*npos); pos
 * must have room for spec->max_pos entries (one more is an error, never a write). Returns FLOE_ARGS_OK, FLOE_ARGS_HELP (usage printed to stdout:
 * the command should exit 0) or FLOE_ARGS_ERROR (message printed to stderr: exit 2). */
int floe_args_parse(const floe_cmd_spec *spec, int argc, char **argv, char **pos, int *npos);

/* Prints the command's usage to stdout. */
void floe_args_usage(const floe_cmd_spec *spec);

/* Convenience for commands: parse, and map HELP/ERROR to the exit code to return. Returns -1 when the
 * command should go on. */
int floe_args_parse_or_exit(const floe_cmd_spec *spec, int argc, char **argv, char **pos, int *npos);

/* Prints "floe <cmd>: error: <msg>" to stderr and returns 1 (the exit code for a failed command). */
int floe_cmd_fail(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* The machine a program is for, from `--machine FILE` (a machine description, whose fingerprint is
 * taken) or `--fingerprint HEX`; both may be given if they agree. Sets *have to 0 when neither was.
 * Prints an error naming the command and returns its exit code (1 or 2), or -1 when all is well. */
int floe_cli_machine_fingerprint(const char *cmd, const char *machine_path, const char *fp_text, uint64_t *fp,
                                 int *have);

/* Every command's machine prelude: loads `--machine` (required: a missing one is a usage error, exit
 * 2) and, when energy_path is not NULL, the energy table into *e. Prints the error naming the command
 * and returns its exit code, or -1 when both loaded. */
int floe_cli_load_machine(const char *cmd, const char *machine_path, const char *energy_path, floe_machine *m,
                          floe_energy_table *e);

#ifdef __cplusplus
}
#endif

#endif
