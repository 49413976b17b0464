/* `floe asm`: assembly text -> binary program container (docs/isa.md). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "common/file_read.h"
#include "isa/asm.h"
#include "isa/container.h"

int floe_cmd_asm(int argc, char **argv)
{
    const char *out = NULL, *fp_text = NULL, *machine = NULL;
    const floe_opt opts[] = {
        {"output", FLOE_ARG_STRING, &out, "FILE", "the program container to write (required)", 0, 0, 'o'},
        {"machine", FLOE_ARG_STRING, &machine, "CSV", "the machine description the program is for (its fingerprint)", 0, 0, 0},
        {"fingerprint", FLOE_ARG_STRING, &fp_text, "HEX",
         "machine fingerprint (floe_machine_fingerprint) the program is for; must agree with a .fingerprint "
         "directive if the source has one",
         0, 0, 0},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    const floe_cmd_spec spec = {
        "asm", "<source.s>", "Assemble a Floe program into a binary container (.flp).",
        "The assembly format and every instruction are described in docs/isa.md. Errors name the\n"
        "line and column and what was expected. The output is written atomically: on error no file\n"
        "is left behind.",
        opts, 1, 1};
    char *pos[1];
    int npos = 0, rc = floe_args_parse_or_exit(&spec, argc, argv, pos, &npos);
    const char *src = npos ? pos[0] : NULL;
    if (rc >= 0)
        return rc;
    if (!out) {
        fprintf(stderr, "floe asm: error: missing --output FILE (see 'floe asm --help')\n");
        return 2;
    }
    uint64_t fp;
    int have_fp;
    if ((rc = floe_cli_machine_fingerprint("asm", machine, fp_text, &fp, &have_fp)) >= 0)
        return rc;
    floe_err err;
    char *text;
    size_t len;
    if (floe_read_file(src, (size_t)256 << 20, &text, &len, &err) != 0)
        return floe_cmd_fail("asm", "%s", err.msg);
    floe_program *p;
    rc = floe_asm(text, len, src, have_fp ? &fp : NULL, &p, &err);
    free(text);
    if (rc != 0)
        return floe_cmd_fail("asm", "%s", err.msg);
    rc = floe_program_save(p, out, &err);
    floe_program_free(p);
    if (rc != 0)
        return floe_cmd_fail("asm", "%s", err.msg);
    return 0;
}
