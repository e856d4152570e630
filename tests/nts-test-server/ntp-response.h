/* The NTP reply the test server sends to a verified NTS request (RFC 8915 §5), honest or
 * broken in the way the behaviour asks. Built with tests/lib's nts-reply-builder. */
#ifndef GNOMON_TEST_SERVER_NTP_RESPONSE_H
#define GNOMON_TEST_SERVER_NTP_RESPONSE_H

#include <stddef.h>
#include <stdint.h>

#include "behaviour.h"
#include "request-parse.h"
#include "server-cookie.h"

struct ntp_response_params {
    enum behaviour behaviour;
    const struct request_ntp *request; /* parsed and verified */
    const struct server_keys *keys;    /* from the request's cookie */
    int64_t receive_ns;                /* Unix ns, the offset (if any) already added */
    int64_t transmit_ns;
};

/* Returns the reply's length, or 0 when it could not be built (or the behaviour sends
 * nothing). */
size_t ntp_response_build(const struct ntp_response_params *params, uint8_t *buf, size_t cap);

#endif
