/* NTS-protected NTP packets (RFC 8915 §5): build a client request (Unique Identifier, one
 * cookie, placeholders, Authenticator last) and parse and verify a server reply (header
 * sanity, that it answers our request, UID, AEAD, new cookies from the encrypted part),
 * and recognise an NTS NAK. All randomness (UID, nonce, transmit timestamp) is the
 * caller's: core does no I/O. */
#ifndef GNOMON_CORE_NTS_PACKET_H
#define GNOMON_CORE_NTS_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aes-siv.h"
#include "ntp-extension.h"
#include "ntp-packet.h"
#include "nts-cookie.h"

#define NTS_EXT_UNIQUE_ID          0x0104
#define NTS_EXT_COOKIE             0x0204
#define NTS_EXT_COOKIE_PLACEHOLDER 0x0304
#define NTS_EXT_AUTHENTICATOR      0x0404

#define NTS_UID_LEN         32 /* RFC 8915 §5.3: at least 32 */
#define NTS_NONCE_LEN       16 /* what we send; replies may use 1..16 with padding */
/* Requests stay under this so no path MTU trouble or middlebox drops them. */
#define NTS_REQUEST_MAX_LEN 1280
/* The largest reply we read; a reply is about as long as its request. */
#define NTS_PACKET_MAX_LEN  2048

struct nts_request_params {
    const uint8_t *c2s_key; /* AES_SIV_KEY_LEN bytes */
    const uint8_t *uid;     /* NTS_UID_LEN random bytes, fresh per request */
    const uint8_t *nonce;   /* NTS_NONCE_LEN random bytes, fresh per request */
    const struct nts_cookie *cookie;
    unsigned placeholders; /* how many more cookies to ask for (0..NTS_MAX_COOKIES-1) */
    uint64_t transmit_ts;  /* random (RFC 9109), echoed back as the origin timestamp */
    int8_t poll;
};

enum nts_request_error {
    NTS_REQUEST_OK = 0,
    NTS_REQUEST_ERR_COOKIE,       /* cookie empty, too long or not a word multiple */
    NTS_REQUEST_ERR_PLACEHOLDERS, /* more than NTS_MAX_COOKIES - 1 */
    NTS_REQUEST_ERR_NO_ROOM,      /* does not fit the buffer */
    NTS_REQUEST_ERR_CRYPTO,       /* AEAD refused */
};

/* Writes the whole request into buf (cap bytes); *out_len gets its length. Placeholders
 * that would push the packet past NTS_REQUEST_MAX_LEN are left out (*placeholders_sent
 * says how many went, may be NULL). */
enum nts_request_error nts_request_build(const struct nts_request_params *params, uint8_t *buf,
                                         size_t cap, size_t *out_len, unsigned *placeholders_sent);

struct nts_reply {
    struct ntp_header header;
    size_t n_cookies;
    struct nts_cookie cookies[NTS_MAX_COOKIES];
};

enum nts_reply_error {
    NTS_REPLY_OK = 0,
    NTS_REPLY_ERR_HEADER,          /* see header_error */
    NTS_REPLY_ERR_NOT_OUR_REQUEST, /* origin timestamp is not our transmit timestamp */
    NTS_REPLY_ERR_EXTENSION,       /* malformed field in the clear: see ext_error */
    NTS_REPLY_ERR_UID_MISSING,
    NTS_REPLY_ERR_UID_DUPLICATE,
    NTS_REPLY_ERR_UID_MISMATCH,
    NTS_REPLY_ERR_AUTHENTICATOR_MISSING,
    NTS_REPLY_ERR_AUTHENTICATOR_NOT_LAST,
    NTS_REPLY_ERR_AUTHENTICATOR_MALFORMED, /* lengths do not fit the field */
    NTS_REPLY_ERR_NONCE_EMPTY,
    NTS_REPLY_ERR_NONCE_PADDING,       /* short nonce without RFC 8915 §5.6 padding */
    NTS_REPLY_ERR_CIPHERTEXT_SHORT,    /* shorter than the SIV tag */
    NTS_REPLY_ERR_AUTHENTICATION,      /* the tag does not verify */
    NTS_REPLY_ERR_ENCRYPTED_EXTENSION, /* malformed field inside the ciphertext */
    NTS_REPLY_ERR_COOKIE_LENGTH,       /* a new cookie empty or over NTS_COOKIE_MAX_LEN */
    NTS_REPLY_ERR_TOO_MANY_COOKIES,
    NTS_REPLY_ERR_NAK,        /* stratum 0 "NTSN": unauthenticated, see nts_reply_is_nak */
    NTS_REPLY_ERR_KISS,       /* authenticated kiss code (e.g. RATE) in header.reference_id */
    NTS_REPLY_ERR_NO_COOKIES, /* authenticated, but no new cookie (RFC 8915 §5.7) */
    NTS_REPLY_ERR_CRYPTO,     /* AEAD failed for a reason other than the tag */
};

struct nts_reply_status {
    enum nts_reply_error error;
    enum ntp_packet_error header_error; /* with NTS_REPLY_ERR_HEADER */
    enum ntp_ext_error ext_error;       /* with the two _EXTENSION errors */
};

/* Accepts buf as the reply to the request sent with transmit_ts and uid only if every check
 * of nts-notes.md holds; then *out has the header and the new cookies. */
struct nts_reply_status nts_reply_parse(const uint8_t *buf, size_t len,
                                        const uint8_t s2c_key[AES_SIV_KEY_LEN],
                                        const uint8_t uid[NTS_UID_LEN], uint64_t transmit_ts,
                                        struct nts_reply *out);

/* An NTS NAK (RFC 8915 §5.7): stratum 0, kiss code NTSN, our origin and UID, no
 * authenticator. It proves nothing (anyone can send one): callers only note it. */
bool nts_reply_is_nak(const uint8_t *buf, size_t len, const uint8_t uid[NTS_UID_LEN],
                      uint64_t transmit_ts);

const char *nts_request_error_str(enum nts_request_error error);
const char *nts_reply_error_str(enum nts_reply_error error);

#endif
