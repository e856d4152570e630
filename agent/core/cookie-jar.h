/* A source's unused NTS cookies (RFC 8915 §5.7): each is sent once, the oldest first; new
 * ones from replies refill the jar up to NTS_MAX_COOKIES; how many placeholders a request
 * should carry so the jar stays full. */
#ifndef GNOMON_CORE_COOKIE_JAR_H
#define GNOMON_CORE_COOKIE_JAR_H

#include <stdbool.h>
#include <stddef.h>

#include "nts-cookie.h"

struct cookie_jar {
    size_t count;
    struct nts_cookie cookies[NTS_MAX_COOKIES]; /* oldest first */
};

void cookie_jar_init(struct cookie_jar *jar);

/* Removes the oldest cookie into *out; false when the jar is empty. */
bool cookie_jar_take(struct cookie_jar *jar, struct nts_cookie *out);

/* Adds a cookie; when full, the oldest is dropped (it is the most likely to be stale). */
void cookie_jar_add(struct cookie_jar *jar, const struct nts_cookie *cookie);

/* Placeholders for a request sent right after a take: the reply brings one cookie per
 * cookie field, so asking for NTS_MAX_COOKIES - 1 - count more fills the jar again. */
unsigned cookie_jar_placeholders(const struct cookie_jar *jar);

/* Forgets every cookie and wipes them. */
void cookie_jar_clear(struct cookie_jar *jar);

#endif
