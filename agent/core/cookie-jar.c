#include "cookie-jar.h"

#include <string.h>

void cookie_jar_init(struct cookie_jar *jar)
{
    memset(jar, 0, sizeof(*jar));
}

bool cookie_jar_take(struct cookie_jar *jar, struct nts_cookie *out)
{
    if (jar->count == 0)
        return false;
    *out = jar->cookies[0];
    memmove(&jar->cookies[0], &jar->cookies[1], (jar->count - 1) * sizeof(jar->cookies[0]));
    jar->count--;
    memset(&jar->cookies[jar->count], 0, sizeof(jar->cookies[0]));
    return true;
}

void cookie_jar_add(struct cookie_jar *jar, const struct nts_cookie *cookie)
{
    if (cookie->len == 0 || cookie->len > NTS_COOKIE_MAX_LEN)
        return;
    if (jar->count == NTS_MAX_COOKIES) {
        memmove(&jar->cookies[0], &jar->cookies[1],
                (NTS_MAX_COOKIES - 1) * sizeof(jar->cookies[0]));
        jar->count--;
    }
    jar->cookies[jar->count++] = *cookie;
}

unsigned cookie_jar_placeholders(const struct cookie_jar *jar)
{
    return jar->count >= NTS_MAX_COOKIES - 1 ? 0 : (unsigned)(NTS_MAX_COOKIES - 1 - jar->count);
}

void cookie_jar_clear(struct cookie_jar *jar)
{
    memset(jar, 0, sizeof(*jar));
}
