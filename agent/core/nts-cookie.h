/* An NTS cookie: an opaque token from the server (RFC 8915 §6), sent back once each. */
#ifndef GNOMON_CORE_NTS_COOKIE_H
#define GNOMON_CORE_NTS_COOKIE_H

#include <stddef.h>
#include <stdint.h>

#define NTS_COOKIE_MAX_LEN 256
#define NTS_MAX_COOKIES    8

struct nts_cookie {
    size_t len; /* 1..NTS_COOKIE_MAX_LEN, a multiple of 4 */
    uint8_t data[NTS_COOKIE_MAX_LEN];
};

#endif
