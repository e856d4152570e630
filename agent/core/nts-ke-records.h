/* NTS Key Establishment records (RFC 8915 §4): the client request, and a server response
 * parsed into a typed result with every rule of nts-notes.md (bounded sizes, one
 * protocol, one AEAD, cookies, optional server and port, errors and warnings fatal). The
 * TLS session that carries them is net/'s. */
#ifndef GNOMON_CORE_NTS_KE_RECORDS_H
#define GNOMON_CORE_NTS_KE_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nts-cookie.h"

#define NTS_KE_DEFAULT_PORT 4460
#define NTS_KE_ALPN         "ntske/1"

#define NTS_KE_RECORD_HEADER_LEN 4
#define NTS_KE_CRITICAL_BIT      0x8000

enum nts_ke_record_type {
    NTS_KE_RECORD_END_OF_MESSAGE = 0,
    NTS_KE_RECORD_NEXT_PROTOCOL = 1,
    NTS_KE_RECORD_ERROR = 2,
    NTS_KE_RECORD_WARNING = 3,
    NTS_KE_RECORD_AEAD = 4,
    NTS_KE_RECORD_NEW_COOKIE = 5,
    NTS_KE_RECORD_SERVER = 6,
    NTS_KE_RECORD_PORT = 7,
};

#define NTS_KE_PROTOCOL_NTPV4        0
#define NTS_KE_AEAD_AES_SIV_CMAC_256 15

/* Bounds: the whole response (what chrony accepts too) and the negotiated server name. */
#define NTS_KE_MAX_RESPONSE_LEN 16384
#define NTS_KE_MAX_SERVER_LEN   255

/* Error codes of an Error record (RFC 8915 §4.1.3). */
#define NTS_KE_ERROR_UNRECOGNIZED_CRITICAL 0
#define NTS_KE_ERROR_BAD_REQUEST           1
#define NTS_KE_ERROR_INTERNAL_SERVER       2

struct nts_ke_response {
    uint16_t protocol;
    uint16_t aead;
    size_t n_cookies;
    struct nts_cookie cookies[NTS_MAX_COOKIES];
    bool has_server;
    char server[NTS_KE_MAX_SERVER_LEN + 1]; /* NUL-terminated printable ASCII */
    bool has_port;
    uint16_t port;
    uint16_t error_code;   /* with NTS_KE_ERR_SERVER_ERROR */
    uint16_t warning_code; /* with NTS_KE_ERR_SERVER_WARNING */
    uint16_t record_type;  /* the offending record's type, where one is to blame */
};

enum nts_ke_error {
    NTS_KE_OK = 0,
    NTS_KE_INCOMPLETE,         /* no End of Message yet: read more (not an error) */
    NTS_KE_ERR_TOO_LONG,       /* over NTS_KE_MAX_RESPONSE_LEN */
    NTS_KE_ERR_DATA_AFTER_END, /* bytes (e.g. a second End of Message) after the end */
    NTS_KE_ERR_END_NOT_CRITICAL,
    NTS_KE_ERR_END_NOT_EMPTY,
    NTS_KE_ERR_SERVER_ERROR,      /* an Error record: see error_code */
    NTS_KE_ERR_SERVER_WARNING,    /* a Warning record: none is defined, so fatal */
    NTS_KE_ERR_UNKNOWN_CRITICAL,  /* see record_type */
    NTS_KE_ERR_BAD_RECORD_LENGTH, /* a known record whose body has the wrong size */
    NTS_KE_ERR_PROTOCOL_MISSING,
    NTS_KE_ERR_PROTOCOL_DUPLICATE,
    NTS_KE_ERR_PROTOCOL_NOT_OFFERED, /* not exactly one protocol, or not NTPv4 */
    NTS_KE_ERR_AEAD_MISSING,
    NTS_KE_ERR_AEAD_DUPLICATE,
    NTS_KE_ERR_AEAD_NOT_OFFERED, /* not exactly one algorithm, or not AES-SIV-CMAC-256 */
    NTS_KE_ERR_NO_COOKIES,
    NTS_KE_ERR_TOO_MANY_COOKIES, /* more than NTS_MAX_COOKIES */
    NTS_KE_ERR_COOKIE_LENGTH,    /* empty, over NTS_COOKIE_MAX_LEN, or not a word multiple */
    NTS_KE_ERR_SERVER_NAME,      /* empty, too long, or not printable ASCII without spaces */
    NTS_KE_ERR_SERVER_DUPLICATE,
    NTS_KE_ERR_PORT_DUPLICATE,
    NTS_KE_ERR_PORT_ZERO,
};

/* The client's request: Next Protocol [NTPv4] (critical), AEAD [AES-SIV-CMAC-256]
 * (critical), End of Message. Returns its length, or 0 when cap is too small. */
size_t nts_ke_request_build(uint8_t *buf, size_t cap);

/* Parses everything received so far. NTS_KE_INCOMPLETE means "valid so far, no End of
 * Message yet"; any error is final. Only NTS_KE_OK fills *out completely. */
enum nts_ke_error nts_ke_response_parse(const uint8_t *buf, size_t len,
                                        struct nts_ke_response *out);

/* Whether a failed exchange may be retried unchanged (only "internal server error"). */
bool nts_ke_error_is_transient(enum nts_ke_error error, const struct nts_ke_response *response);

const char *nts_ke_error_str(enum nts_ke_error error);

/* Appends one record; returns the new length or 0 when it does not fit. For tests and the
 * adversarial server, which build responses with this too. */
size_t nts_ke_record_append(uint8_t *buf, size_t cap, size_t len, bool critical, uint16_t type,
                            const uint8_t *body, size_t body_len);

#endif
