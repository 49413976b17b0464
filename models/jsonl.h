/* JSON Lines (one JSON value per line): what the corpus builder and the multiple-choice tasks read. */
#ifndef FLOE_MODELS_JSONL_H
#define FLOE_MODELS_JSONL_H

#include <stddef.h>

#include <cjson/cJSON.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One line's JSON value (n bytes, no newline), or NULL when it does not parse or anything but blanks
 * follows it. The caller frees it with cJSON_Delete. */
cJSON *floe_jsonl_parse_line(const char *p, size_t n);

#ifdef __cplusplus
}
#endif

#endif
