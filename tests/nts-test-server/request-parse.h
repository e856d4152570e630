/* The server's side of NTS: parse a client's NTS-KE request (RFC 8915 §4) and a client's
 * NTS-protected NTP request (RFC 8915 §5), and verify the request's authenticator. Pure:
 * no I/O, never reads past len, never aborts on input (it is fed by the network). */
#ifndef GNOMON_TEST_SERVER_REQUEST_PARSE_H
#define GNOMON_TEST_SERVER_REQUEST_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aes-siv.h"
#include "ntp-packet.h"

/* The largest NTS-KE request read before it counts as a bad request. */
#define REQUEST_KE_MAX_LEN 4096

enum request_ke_result {
    REQUEST_KE_OK = 0,
    REQUEST_KE_INCOMPLETE,           /* no End of Message yet: read more */
    REQUEST_KE_ERR_TOO_LONG,         /* over REQUEST_KE_MAX_LEN */
    REQUEST_KE_ERR_UNKNOWN_CRITICAL, /* answer with Error 0 */
    REQUEST_KE_ERR_BAD_REQUEST,      /* answer with Error 1 (see detail) */
};

struct request_ke {
    bool ntpv4_offered;   /* Next Protocol lists NTPv4 */
    bool aes_siv_offered; /* AEAD lists AEAD_AES_SIV_CMAC_256 */
    uint16_t record_type; /* the offending record, with an error */
    const char *detail;   /* why, with an error */
    size_t len;           /* bytes up to and including End of Message, with OK */
};

/* Parses what was received so far. */
enum request_ke_result request_parse_ke(const uint8_t *buf, size_t len, struct request_ke *out);

/* A client's NTP request, fields pointing into the parsed buffer. */
struct request_ntp {
    struct ntp_header header;
    const uint8_t *uid; /* Unique Identifier body (padding included) */
    size_t uid_len;
    const uint8_t *cookie;
    size_t cookie_len;
    unsigned placeholders;       /* in the clear, each at least as long as the cookie */
    unsigned short_placeholders; /* placeholders shorter than the cookie: not honoured */
    size_t auth_start;           /* offset of the Authenticator: the associated data's length */
    const uint8_t *nonce;
    size_t nonce_len;
    const uint8_t *cipher; /* SIV tag, then encrypted fields */
    size_t cipher_len;
};

enum request_ntp_error {
    REQUEST_NTP_OK = 0,
    REQUEST_NTP_ERR_HEADER,        /* shorter than a header, not version 4 or not mode 3 */
    REQUEST_NTP_ERR_NOT_NTS,       /* no extension fields at all: plain NTP */
    REQUEST_NTP_ERR_EXTENSION,     /* a malformed extension field */
    REQUEST_NTP_ERR_UID,           /* missing, duplicated or shorter than 32 bytes */
    REQUEST_NTP_ERR_COOKIE,        /* not exactly one cookie */
    REQUEST_NTP_ERR_AUTHENTICATOR, /* missing, not last, or malformed */
};

enum request_ntp_error request_parse_ntp(const uint8_t *buf, size_t len, struct request_ntp *out);

/* Checks the authenticator with the client-to-server key (associated data: buf up to the
 * authenticator). Encrypted placeholders at least as long as the cookie are added to
 * request->placeholders. */
enum aes_siv_error request_verify_ntp(struct request_ntp *request, const uint8_t *buf,
                                      const uint8_t c2s_key[AES_SIV_KEY_LEN]);

const char *request_ntp_error_str(enum request_ntp_error error);

#endif
