/* `floe disasm`: binary program container -> assembly text that assembles back to the same bytes. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "common/atomic_file.h"
#include "isa/asm.h"
#include "isa/container.h"

int floe_cmd_disasm(int argc, char **argv)
{
    const char *out = NULL, *fp_text = NULL;
    const floe_opt opts[] = {
        {"output", FLOE_ARG_STRING, &out, "FILE", "write the assembly here (default: standard output)", 0, 0},
        {"fingerprint", FLOE_ARG_STRING, &fp_text, "HEX",
         "refuse a program built for a machine with another fingerprint", 0, 0},
        {NULL, 0, NULL, NULL, NULL, 0, 0},
    };
    const floe_cmd_spec spec = {
        "disasm", "<program.flp>", "Disassemble a Floe program container into assembly text.",
        "`floe asm` turns the output back into the identical container. -o is short for --output.",
        opts, 1, 1};
    char **av = malloc(((size_t)argc + 1) * sizeof *av);
    if (!av)
        return floe_cmd_fail("disasm", "out of memory");
    for (int i = 0; i < argc; i++)
        av[i] = strcmp(argv[i], "-o") == 0 ? "--output" : argv[i];
    av[argc] = NULL;
    char *pos[64];
    int npos = 0;
    int rc = argc < 64 ? floe_args_parse_or_exit(&spec, argc, av, pos, &npos) : 2;
    if (argc >= 64)
        fprintf(stderr, "floe disasm: error: too many arguments\n");
    free(av);
    if (rc >= 0)
        return rc;
    uint64_t fp = 0;
    if (fp_text) {
        const char *s = fp_text + ((fp_text[0] == '0' && (fp_text[1] == 'x' || fp_text[1] == 'X')) ? 2 : 0);
        size_t n = strlen(s);
        if (n == 0 || n > 16 || strspn(s, "0123456789abcdefABCDEF") != n) {
            fprintf(stderr, "floe disasm: error: option --fingerprint: expected up to 16 hex digits, got '%s'\n",
                    fp_text);
            return 2;
        }
        fp = (uint64_t)strtoull(s, NULL, 16);
    }
    floe_err err;
    floe_program *p;
    if (floe_program_load(pos[0], fp_text ? &fp : NULL, &p, &err) != 0)
        return floe_cmd_fail("disasm", "%s", err.msg);
    if (!out) {
        rc = floe_disasm(p, stdout, &err);
        floe_program_free(p);
        if (rc == 0 && fflush(stdout) != 0)
            return floe_cmd_fail("disasm", "standard output: write error");
        return rc == 0 ? 0 : floe_cmd_fail("disasm", "%s", err.msg);
    }
    floe_afile af;
    if (floe_afile_open(&af, out, &err) != 0) {
        floe_program_free(p);
        return floe_cmd_fail("disasm", "%s", err.msg);
    }
    rc = floe_disasm(p, af.fp, &err);
    floe_program_free(p);
    if (rc != 0) {
        floe_afile_abort(&af);
        return floe_cmd_fail("disasm", "%s: %s", out, err.msg);
    }
    if (floe_afile_commit(&af, &err) != 0)
        return floe_cmd_fail("disasm", "%s", err.msg);
    return 0;
}
