/* `floe asm`: assembly text -> binary program container (docs/isa.md). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "common/file_read.h"
#include "isa/asm.h"
#include "isa/container.h"

/* A 64-bit fingerprint in hex, with or without 0x. */
static int parse_fingerprint(const char *s, uint64_t *out)
{
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        s += 2;
    size_t n = strlen(s);
    if (n == 0 || n > 16 || strspn(s, "0123456789abcdefABCDEF") != n)
        return -1;
    errno = 0;
    *out = (uint64_t)strtoull(s, NULL, 16);
    return errno ? -1 : 0;
}

int floe_cmd_asm(int argc, char **argv)
{
    const char *out = NULL, *fp_text = NULL;
    const floe_opt opts[] = {
        {"output", FLOE_ARG_STRING, &out, "FILE", "the program container to write (required)", 0, 0},
        {"fingerprint", FLOE_ARG_STRING, &fp_text, "HEX",
         "machine fingerprint (floe_machine_fingerprint) the program is for; must agree with a .fingerprint "
         "directive if the source has one",
         0, 0},
        {NULL, 0, NULL, NULL, NULL, 0, 0},
    };
    const floe_cmd_spec spec = {
        "asm", "<source.s>", "Assemble a Floe program into a binary container (.flp).",
        "The assembly format and every instruction are described in docs/isa.md. Errors name the\n"
        "line and column and what was expected. The output is written atomically: on error no file\n"
        "is left behind. -o is short for --output.",
        opts, 1, 1};
    /* Accept the conventional "-o FILE" as well as --output. */
    char **av = malloc(((size_t)argc + 1) * sizeof *av);
    if (!av)
        return floe_cmd_fail("asm", "out of memory");
    for (int i = 0; i < argc; i++)
        av[i] = strcmp(argv[i], "-o") == 0 ? "--output" : argv[i];
    av[argc] = NULL;
    char *pos[64];
    int npos = 0;
    int rc = argc < 64 ? floe_args_parse_or_exit(&spec, argc, av, pos, &npos) : 2;
    if (argc >= 64)
        fprintf(stderr, "floe asm: error: too many arguments\n");
    free(av);
    if (rc >= 0)
        return rc;
    if (!out) {
        fprintf(stderr, "floe asm: error: missing --output FILE (see 'floe asm --help')\n");
        return 2;
    }
    uint64_t fp = 0;
    if (fp_text && parse_fingerprint(fp_text, &fp) != 0) {
        fprintf(stderr, "floe asm: error: option --fingerprint: expected up to 16 hex digits, got '%s'\n", fp_text);
        return 2;
    }
    floe_err err;
    char *text;
    size_t len;
    if (floe_read_file(pos[0], (size_t)256 << 20, &text, &len, &err) != 0)
        return floe_cmd_fail("asm", "%s", err.msg);
    floe_program *p;
    rc = floe_asm(text, len, pos[0], fp_text ? &fp : NULL, &p, &err);
    free(text);
    if (rc != 0)
        return floe_cmd_fail("asm", "%s", err.msg);
    rc = floe_program_save(p, out, &err);
    floe_program_free(p);
    if (rc != 0)
        return floe_cmd_fail("asm", "%s", err.msg);
    return 0;
}
