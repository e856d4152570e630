#include "request-parse.h"

#include <string.h>

#include "byte-order.h"
#include "ntp-extension.h"
#include "nts-ke-records.h"
#include "nts-packet.h"

static enum request_ke_result ke_error(struct request_ke *out, enum request_ke_result result,
                                       uint16_t type, const char *detail)
{
    out->record_type = type;
    out->detail = detail;
    return result;
}

static bool list_contains(const uint8_t *body, size_t body_len, uint16_t wanted)
{
    for (size_t i = 0; i + 2 <= body_len; i += 2) {
        if (read_be16(body + i) == wanted)
            return true;
    }
    return false;
}

enum request_ke_result request_parse_ke(const uint8_t *buf, size_t len, struct request_ke *out)
{
    memset(out, 0, sizeof(*out));
    bool have_protocol = false;
    bool have_aead = false;
    size_t pos = 0;
    /* Records before End of Message; what follows it is checked below. */
    while (pos < len) {
        if (len - pos < NTS_KE_RECORD_HEADER_LEN)
            break;
        uint16_t type_field = read_be16(buf + pos);
        size_t body_len = read_be16(buf + pos + 2);
        bool critical = (type_field & NTS_KE_CRITICAL_BIT) != 0;
        uint16_t type = type_field & (uint16_t)~NTS_KE_CRITICAL_BIT;
        if (len - pos - NTS_KE_RECORD_HEADER_LEN < body_len)
            break;
        const uint8_t *body = buf + pos + NTS_KE_RECORD_HEADER_LEN;
        pos += NTS_KE_RECORD_HEADER_LEN + body_len;

        switch (type) {
        case NTS_KE_RECORD_END_OF_MESSAGE:
            /* RFC 8915 §4.1.1: critical, empty, and the last record. */
            if (!critical || body_len != 0)
                return ke_error(out, REQUEST_KE_ERR_BAD_REQUEST, type,
                                "End of Message not critical or not empty");
            if (pos != len)
                return ke_error(out, REQUEST_KE_ERR_BAD_REQUEST, type, "data after End of Message");
            if (!have_protocol)
                return ke_error(out, REQUEST_KE_ERR_BAD_REQUEST, NTS_KE_RECORD_NEXT_PROTOCOL,
                                "no Next Protocol record");
            if (!have_aead)
                return ke_error(out, REQUEST_KE_ERR_BAD_REQUEST, NTS_KE_RECORD_AEAD,
                                "no AEAD record");
            out->len = pos;
            return REQUEST_KE_OK;
        case NTS_KE_RECORD_NEXT_PROTOCOL:
            if (have_protocol)
                return ke_error(out, REQUEST_KE_ERR_BAD_REQUEST, type, "two Next Protocol records");
            if (!critical || body_len % 2 != 0)
                return ke_error(out, REQUEST_KE_ERR_BAD_REQUEST, type,
                                "Next Protocol not critical or of odd length");
            have_protocol = true;
            out->ntpv4_offered = list_contains(body, body_len, NTS_KE_PROTOCOL_NTPV4);
            break;
        case NTS_KE_RECORD_AEAD:
            if (have_aead)
                return ke_error(out, REQUEST_KE_ERR_BAD_REQUEST, type, "two AEAD records");
            if (body_len % 2 != 0)
                return ke_error(out, REQUEST_KE_ERR_BAD_REQUEST, type, "AEAD of odd length");
            have_aead = true;
            out->aes_siv_offered = list_contains(body, body_len, NTS_KE_AEAD_AES_SIV_CMAC_256);
            break;
        case NTS_KE_RECORD_ERROR:
        case NTS_KE_RECORD_WARNING:
        case NTS_KE_RECORD_NEW_COOKIE:
            /* RFC 8915 §4.1.3, §4.1.4, §4.1.6: clients must not send these. */
            return ke_error(out, REQUEST_KE_ERR_BAD_REQUEST, type,
                            "Error, Warning or New Cookie record in a request");
        case NTS_KE_RECORD_SERVER:
            break; /* a client may suggest a server; we do not move */
        case NTS_KE_RECORD_PORT:
            if (body_len != 2)
                return ke_error(out, REQUEST_KE_ERR_BAD_REQUEST, type, "Port record not 2 bytes");
            break;
        default:
            if (critical)
                return ke_error(out, REQUEST_KE_ERR_UNKNOWN_CRITICAL, type,
                                "unknown critical record");
            break; /* unknown non-critical records are ignored (RFC 8915 §4) */
        }
    }
    if (len > REQUEST_KE_MAX_LEN)
        return ke_error(out, REQUEST_KE_ERR_TOO_LONG, 0, "request too long");
    return REQUEST_KE_INCOMPLETE;
}

static size_t word_pad(size_t n)
{
    return (n + 3) & ~(size_t)3;
}

enum request_ntp_error request_parse_ntp(const uint8_t *buf, size_t len, struct request_ntp *out)
{
    memset(out, 0, sizeof(*out));
    if (ntp_header_parse(buf, len, &out->header) != NTP_PACKET_OK ||
        out->header.version != NTP_VERSION || out->header.mode != NTP_MODE_CLIENT)
        return REQUEST_NTP_ERR_HEADER;
    if (len == NTP_HEADER_LEN)
        return REQUEST_NTP_ERR_NOT_NTS;

    struct ntp_ext_reader reader;
    struct ntp_ext_field field;
    struct ntp_ext_field auth = {0};
    bool have_auth = false;
    unsigned cookies = 0;
    unsigned placeholders = 0;
    size_t placeholder_len[NTS_MAX_COOKIES * 4];
    enum ntp_ext_error ext;
    ntp_ext_reader_init(&reader, buf, len, NTP_HEADER_LEN, NTP_EXT_MIN_LEN_CLEAR);
    while ((ext = ntp_ext_next(&reader, &field)) == NTP_EXT_OK) {
        if (have_auth)
            return REQUEST_NTP_ERR_AUTHENTICATOR; /* RFC 8915 §5.6: it must be last */
        switch (field.type) {
        case NTS_EXT_UNIQUE_ID:
            if (out->uid != NULL || field.body_len < NTS_UID_LEN)
                return REQUEST_NTP_ERR_UID;
            out->uid = field.body;
            out->uid_len = field.body_len;
            break;
        case NTS_EXT_COOKIE:
            cookies++;
            out->cookie = field.body;
            out->cookie_len = field.body_len;
            break;
        case NTS_EXT_COOKIE_PLACEHOLDER:
            if (placeholders < sizeof(placeholder_len) / sizeof(placeholder_len[0]))
                placeholder_len[placeholders++] = field.body_len;
            break;
        case NTS_EXT_AUTHENTICATOR:
            auth = field;
            have_auth = true;
            break;
        default:
            break; /* fields we do not know are only associated data to us */
        }
    }
    if (ext != NTP_EXT_END)
        return REQUEST_NTP_ERR_EXTENSION;
    if (out->uid == NULL)
        return REQUEST_NTP_ERR_UID;
    if (cookies != 1) /* RFC 8915 §5.4: exactly one */
        return REQUEST_NTP_ERR_COOKIE;
    if (!have_auth || auth.body_len < 4)
        return REQUEST_NTP_ERR_AUTHENTICATOR;
    for (unsigned i = 0; i < placeholders; i++) {
        /* RFC 8915 §5.5: a placeholder as long as the cookie keeps the reply no larger
         * than the request; a shorter one is not honoured. */
        if (placeholder_len[i] >= out->cookie_len)
            out->placeholders++;
        else
            out->short_placeholders++;
    }

    size_t nonce_len = read_be16(auth.body);
    size_t cipher_len = read_be16(auth.body + 2);
    size_t room = auth.body_len - 4;
    if (nonce_len == 0 || cipher_len < AES_SIV_TAG_LEN ||
        word_pad(nonce_len) + word_pad(cipher_len) > room)
        return REQUEST_NTP_ERR_AUTHENTICATOR;
    out->auth_start = auth.start;
    out->nonce = auth.body + 4;
    out->nonce_len = nonce_len;
    out->cipher = auth.body + 4 + word_pad(nonce_len);
    out->cipher_len = cipher_len;
    return REQUEST_NTP_OK;
}

enum aes_siv_error request_verify_ntp(struct request_ntp *request, const uint8_t *buf,
                                      const uint8_t c2s_key[AES_SIV_KEY_LEN])
{
    uint8_t plain[NTS_PACKET_MAX_LEN];
    if (request->cipher_len - AES_SIV_TAG_LEN > sizeof(plain))
        return AES_SIV_ERR_INTERNAL;
    enum aes_siv_error error =
        aes_siv_decrypt(c2s_key, request->nonce, request->nonce_len, buf, request->auth_start,
                        request->cipher, request->cipher_len, plain);
    if (error != AES_SIV_OK)
        return error;

    /* Encrypted fields (RFC 8915 §5.6): only placeholders mean anything to us. */
    struct ntp_ext_reader reader;
    struct ntp_ext_field field;
    ntp_ext_reader_init(&reader, plain, request->cipher_len - AES_SIV_TAG_LEN, 0,
                        NTP_EXT_MIN_LEN_ENCRYPTED);
    while (ntp_ext_next(&reader, &field) == NTP_EXT_OK) {
        if (field.type != NTS_EXT_COOKIE_PLACEHOLDER)
            continue;
        if (field.body_len >= request->cookie_len)
            request->placeholders++;
        else
            request->short_placeholders++;
    }
    return AES_SIV_OK;
}

const char *request_ntp_error_str(enum request_ntp_error error)
{
    switch (error) {
    case REQUEST_NTP_OK:
        return "no error";
    case REQUEST_NTP_ERR_HEADER:
        return "not an NTPv4 client request";
    case REQUEST_NTP_ERR_NOT_NTS:
        return "plain NTP request without NTS fields";
    case REQUEST_NTP_ERR_EXTENSION:
        return "malformed extension field";
    case REQUEST_NTP_ERR_UID:
        return "Unique Identifier missing, duplicated or shorter than 32 bytes";
    case REQUEST_NTP_ERR_COOKIE:
        return "not exactly one NTS Cookie field";
    case REQUEST_NTP_ERR_AUTHENTICATOR:
        return "NTS Authenticator missing, not last or malformed";
    }
    return "unknown request error";
}
