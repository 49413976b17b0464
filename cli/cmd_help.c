/* `floe help [command]`: the same text as `floe --help` or `floe <command> --help`. */
#include <stdio.h>

#include "cli/commands.h"

int floe_cmd_help(int argc, char **argv)
{
    if (argc < 2) {
        floe_print_usage(stdout);
        return 0;
    }
    if (argc > 2) {
        fprintf(stderr, "floe help: error: expected at most one command name\n");
        return 2;
    }
    const floe_command *c = floe_find_command(argv[1]);
    if (!c) {
        fprintf(stderr, "floe help: error: '%s' is not a floe command (see 'floe --help')\n", argv[1]);
        return 2;
    }
    char *sub[] = {argv[1], "--help", NULL};
    return c->run(2, sub);
}
