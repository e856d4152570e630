/* A guard in front of json-glib for the files gnomon reads back: json-glib parses nested
 * arrays and objects by recursion, so a file of some ten thousand "[" exhausts the stack.
 * This bounds the nesting before the parser sees the text. */
#ifndef GNOMON_CORE_JSON_NESTING_H
#define GNOMON_CORE_JSON_NESTING_H

#include <stdbool.h>
#include <stddef.h>

/* Whether text could hold more than max arrays and objects. Every "[" and "{" byte counts,
 * in strings too: the count bounds the depth whatever json-glib's tokenizer (which also
 * takes single-quoted strings and comments) makes of the rest. */
bool json_nesting_too_deep(const char *text, size_t len, size_t max);

#endif
