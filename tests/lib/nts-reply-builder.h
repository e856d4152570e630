/* Builds NTS-protected NTP server replies for the unit tests and the adversarial test
 * server, with knobs to break every rule a client checks (the client's parser is
 * agent/core/nts-packet.c; this is the other side, and only tests use it). */
#ifndef GNOMON_TESTS_NTS_REPLY_BUILDER_H
#define GNOMON_TESTS_NTS_REPLY_BUILDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ntp-packet.h"
#include "nts-cookie.h"
#include "nts-packet.h"

struct nts_reply_builder {
    struct ntp_header header;
    const uint8_t *s2c_key;
    const uint8_t *uid; /* echoed Unique Identifier */
    size_t uid_len;
    bool omit_uid;
    bool duplicate_uid;
    const uint8_t *nonce;
    size_t nonce_len;          /* the length stated in the field and used for the AEAD */
    bool unpadded;             /* pack nonce and ciphertext without word padding (malformed) */
    size_t additional_padding; /* RFC 8915 §5.6 Additional Padding bytes */
    const struct nts_cookie *cookies;
    size_t n_cookies;
    bool omit_authenticator;
    bool field_after_authenticator;
    size_t cookie_field_extra; /* extra zero bytes inside each encrypted cookie field */
    const uint8_t *raw_plain;  /* when set: encrypt these bytes instead of cookie fields */
    size_t raw_plain_len;
};

/* Returns the reply's length, or 0 when it does not fit cap. */
size_t nts_reply_builder_build(const struct nts_reply_builder *builder, uint8_t *buf, size_t cap);

/* Fills a sane server header answering a request sent with transmit_ts. */
void nts_reply_builder_default_header(struct ntp_header *header, uint64_t transmit_ts,
                                      uint64_t server_time);

/* Flips one bit of the SIV tag in a reply built above (with word padding, i.e. without
 * `unpadded`), leaving every length intact: the result is well-formed but must not verify.
 * False when buf holds no authenticator with a whole tag. */
bool nts_reply_builder_corrupt_tag(uint8_t *buf, size_t len);

#endif
