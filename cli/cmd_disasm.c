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
    const char *out = NULL, *fp_text = NULL, *machine = NULL;
    const floe_opt opts[] = {
        {"output", FLOE_ARG_STRING, &out, "FILE", "write the assembly here (default: standard output)", 0, 0, 'o'},
        {"machine", FLOE_ARG_STRING, &machine, "CSV", "refuse a program built for another machine", 0, 0, 0},
        {"fingerprint", FLOE_ARG_STRING, &fp_text, "HEX",
         "refuse a program built for a machine with another fingerprint", 0, 0, 0},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    const floe_cmd_spec spec = {
        "disasm", "<program.flp>", "Disassemble a Floe program container into assembly text.",
        "`floe asm` turns the output back into the identical container.",
        opts, 1, 1};
    char *pos[1];
    int npos = 0, rc = floe_args_parse_or_exit(&spec, argc, argv, pos, &npos);
    const char *src = npos ? pos[0] : NULL;
    if (rc >= 0)
        return rc;
    uint64_t fp;
    int have_fp;
    if ((rc = floe_cli_machine_fingerprint("disasm", machine, fp_text, &fp, &have_fp)) >= 0)
        return rc;
    floe_err err;
    floe_program *p;
    if (floe_program_load(src, have_fp ? &fp : NULL, &p, &err) != 0)
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
