#include "json-nesting.h"

bool json_nesting_too_deep(const char *text, size_t len, size_t max)
{
    size_t containers = 0;
    for (size_t i = 0; i < len; i++) {
        if ((text[i] == '[' || text[i] == '{') && ++containers > max)
            return true;
    }
    return false;
}
