#include "models/jsonl.h"

cJSON *floe_jsonl_parse_line(const char *p, size_t n)
{
    const char *end = NULL;
    cJSON *o = cJSON_ParseWithLengthOpts(p, n, &end, 0);
    if (!o)
        return NULL;
    for (; end && end < p + n; end++)
        if (*end != ' ' && *end != '\t' && *end != '\r') {
            cJSON_Delete(o);
            return NULL;
        }
    return o;
}
