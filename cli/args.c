#include "cli/args.h"

#include "isa/machine.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void floe_args_usage(const floe_cmd_spec *spec)
{
    printf("usage: floe %s [options]%s%s\n\n%s\n", spec->name, spec->args ? " " : "",
           spec->args ? spec->args : "", spec->summary);
    printf("\noptions:\n");
    if (spec->opts) {
        for (const floe_opt *o = spec->opts; o->name; o++) {
            char left[96], alias[8] = "";
            if (o->short_name)
                snprintf(alias, sizeof alias, "-%c, ", o->short_name);
            if (o->kind == FLOE_ARG_FLAG)
                snprintf(left, sizeof left, "%s--%s", alias, o->name);
            else
                snprintf(left, sizeof left, "%s--%s %s", alias, o->name, o->metavar ? o->metavar : "VALUE");
            printf("  %-26s %s\n", left, o->help ? o->help : "");
        }
    }
    printf("  %-26s %s\n", "-h, --help", "show this help");
    if (spec->details)
        printf("\n%s\n", spec->details);
}

static int arg_error(const floe_cmd_spec *spec, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "floe %s: error: ", spec->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see 'floe %s --help')\n", spec->name);
    return FLOE_ARGS_ERROR;
}

static int set_value(const floe_cmd_spec *spec, const floe_opt *o, const char *v)
{
    switch (o->kind) {
    case FLOE_ARG_STRING:
        *(const char **)o->dest = v;
        return 0;
    case FLOE_ARG_INT: {
        char *end;
        errno = 0;
        long long x = strtoll(v, &end, 0);
        if (errno || end == v || *end)
            return arg_error(spec, "option --%s: expected an integer, got '%s'", o->name, v);
        if (o->min < o->max && ((double)x < o->min || (double)x > o->max))
            return arg_error(spec, "option --%s: %lld is outside [%.17g, %.17g]", o->name, x, o->min, o->max);
        *(long long *)o->dest = x;
        return 0;
    }
    case FLOE_ARG_DOUBLE: {
        char *end;
        errno = 0;
        double x = strtod(v, &end);
        if (errno || end == v || *end || !isfinite(x))
            return arg_error(spec, "option --%s: expected a number, got '%s'", o->name, v);
        if (o->min < o->max && (x < o->min || x > o->max))
            return arg_error(spec, "option --%s: %g is outside [%.17g, %.17g]", o->name, x, o->min, o->max);
        *(double *)o->dest = x;
        return 0;
    }
    case FLOE_ARG_LIST: {
        floe_arg_list *l = o->dest;
        if (l->n == FLOE_ARG_LIST_MAX)
            return arg_error(spec, "option --%s: more than %d values", o->name, FLOE_ARG_LIST_MAX);
        l->v[l->n++] = v;
        return 0;
    }
    case FLOE_ARG_FLAG:
        break;
    }
    return arg_error(spec, "option --%s takes no value", o->name);
}

int floe_args_parse(const floe_cmd_spec *spec, int argc, char **argv, char **pos, int *npos)
{
    int only_positional = 0;
    *npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_positional || a[0] != '-' || a[1] == '\0') {
            if (*npos >= spec->max_pos) /* pos has room for max_pos entries only */
                return arg_error(spec, "unexpected argument '%s'", a);
            pos[(*npos)++] = argv[i];
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_positional = 1;
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            floe_args_usage(spec);
            return FLOE_ARGS_HELP;
        }
        const floe_opt *found = NULL;
        const char *eq = NULL;
        if (a[1] != '-') { /* a one-letter alias: "-o FILE" */
            for (const floe_opt *o = spec->opts; o && o->name; o++)
                if (o->short_name && a[1] == o->short_name && a[2] == '\0')
                    found = o;
            if (!found)
                return arg_error(spec, "unknown option '%s'", a);
        } else {
            const char *name = a + 2;
            eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            for (const floe_opt *o = spec->opts; o && o->name; o++)
                if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
                    found = o;
            if (!found)
                return arg_error(spec, "unknown option '--%.*s'", (int)len, name);
        }
        if (found->kind == FLOE_ARG_FLAG) {
            if (eq)
                return arg_error(spec, "option --%s takes no value", found->name);
            *(int *)found->dest = 1;
            continue;
        }
        const char *v = eq ? eq + 1 : NULL;
        if (!v) {
            if (i + 1 >= argc)
                return arg_error(spec, "option --%s needs a value (%s)", found->name,
                                 found->metavar ? found->metavar : "VALUE");
            v = argv[++i];
        }
        if (set_value(spec, found, v) != 0)
            return FLOE_ARGS_ERROR;
    }
    if (*npos < spec->min_pos)
        return arg_error(spec, "expected %s", spec->args ? spec->args : "more arguments");
    return FLOE_ARGS_OK;
}

int floe_args_parse_or_exit(const floe_cmd_spec *spec, int argc, char **argv, char **pos, int *npos)
{
    int r = floe_args_parse(spec, argc, argv, pos, npos);
    if (r == FLOE_ARGS_HELP)
        return 0;
    if (r == FLOE_ARGS_ERROR)
        return 2;
    return -1;
}

int floe_cmd_fail(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "floe %s: error: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

int floe_cli_machine_fingerprint(const char *cmd, const char *machine_path, const char *fp_text, uint64_t *fp,
                                 int *have)
{
    *have = 0;
    *fp = 0;
    uint64_t from_text = 0;
    if (fp_text) {
        const char *s = fp_text + ((fp_text[0] == '0' && (fp_text[1] == 'x' || fp_text[1] == 'X')) ? 2 : 0);
        size_t n = strlen(s);
        if (n == 0 || n > 16 || strspn(s, "0123456789abcdefABCDEF") != n) {
            fprintf(stderr, "floe %s: error: option --fingerprint: expected up to 16 hex digits, got '%s'\n", cmd,
                    fp_text);
            return 2;
        }
        from_text = (uint64_t)strtoull(s, NULL, 16);
        *fp = from_text;
        *have = 1;
    }
    if (machine_path) {
        floe_machine m;
        floe_err err;
        if (floe_machine_load(machine_path, &m, &err) != 0)
            return floe_cmd_fail(cmd, "%s", err.msg);
        uint64_t f = floe_machine_fingerprint(&m);
        if (fp_text && f != from_text)
            return floe_cmd_fail(cmd, "--fingerprint %016llx disagrees with %s (fingerprint %016llx)",
                                 (unsigned long long)from_text, machine_path, (unsigned long long)f);
        *fp = f;
        *have = 1;
    }
    return -1;
}

int floe_cli_load_machine(const char *cmd, const char *machine_path, const char *energy_path, floe_machine *m,
                          floe_energy_table *e)
{
    if (!machine_path) {
        fprintf(stderr, "floe %s: error: --machine is required (see 'floe %s --help')\n", cmd, cmd);
        return 2;
    }
    floe_err err;
    if (floe_machine_load(machine_path, m, &err) != 0 ||
        (energy_path && floe_energy_table_load(energy_path, e, &err) != 0))
        return floe_cmd_fail(cmd, "%s", err.msg);
    return -1;
}
