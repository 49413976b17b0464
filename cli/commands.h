/* The command table of the `floe` executable (see cli/commands.def). */
#ifndef FLOE_CLI_COMMANDS_H
#define FLOE_CLI_COMMANDS_H

#include <stdio.h>

typedef struct floe_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} floe_command;

#define FLOE_COMMAND(ident, name, summary) int floe_cmd_##ident(int argc, char **argv);
#include "cli/commands.def"
#undef FLOE_COMMAND

extern const floe_command floe_commands[]; /* ends with a NULL name */
const floe_command *floe_find_command(const char *name);
void floe_print_usage(FILE *out);

#endif
