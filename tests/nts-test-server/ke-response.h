/* The NTS-KE response the test server writes for a request (RFC 8915 §4), honest or broken
 * in the way the behaviour asks. Pure apart from drawing cookies. */
#ifndef GNOMON_TEST_SERVER_KE_RESPONSE_H
#define GNOMON_TEST_SERVER_KE_RESPONSE_H

#include <stddef.h>
#include <stdint.h>

#include "behaviour.h"
#include "request-parse.h"
#include "server-cookie.h"

#define KE_RESPONSE_COOKIES 8
/* ke-oversized writes this much without End of Message: over 64 KiB, four times what
 * chrony accepts (16 KiB). */
#define KE_OVERSIZED_LEN    73728 /* 72 KiB */
#define KE_RESPONSE_MAX_LEN (KE_OVERSIZED_LEN + 2048)

/* An unknown record type: ke-oversized pads with it (non-critical), ke-unknown-critical
 * sends it critical. */
#define KE_RECORD_UNKNOWN 0x4e7a

struct ke_response_params {
    enum behaviour behaviour;
    enum request_ke_result result; /* of request_parse_ke */
    const struct request_ke *request;
    const struct server_keys *keys; /* exported from the session, with REQUEST_KE_OK */
    uint16_t port;                  /* NTPv4 Port record value, 0 for none */
};

/* Returns the response's length, or 0 when building failed. */
size_t ke_response_build(const struct ke_response_params *params, uint8_t *buf, size_t cap);

#endif
