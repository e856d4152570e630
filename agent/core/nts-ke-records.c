#include "nts-ke-records.h"

#include <string.h>

#include "byte-order.h"

size_t nts_ke_record_append(uint8_t *buf, size_t cap, size_t len, bool critical, uint16_t type,
                            const uint8_t *body, size_t body_len)
{
    if (len > cap || body_len > UINT16_MAX || cap - len < NTS_KE_RECORD_HEADER_LEN + body_len)
        return 0;
    uint16_t type_field = (uint16_t)((type & 0x7fff) | (critical ? NTS_KE_CRITICAL_BIT : 0));
    write_be16(buf + len, type_field);
    write_be16(buf + len + 2, (uint16_t)body_len);
    if (body_len > 0)
        memcpy(buf + len + NTS_KE_RECORD_HEADER_LEN, body, body_len);
    return len + NTS_KE_RECORD_HEADER_LEN + body_len;
}

size_t nts_ke_request_build(uint8_t *buf, size_t cap)
{
    uint8_t protocol[2], aead[2];
    write_be16(protocol, NTS_KE_PROTOCOL_NTPV4);
    write_be16(aead, NTS_KE_AEAD_AES_SIV_CMAC_256);
    size_t len = nts_ke_record_append(buf, cap, 0, true, NTS_KE_RECORD_NEXT_PROTOCOL, protocol, 2);
    if (len > 0)
        len = nts_ke_record_append(buf, cap, len, true, NTS_KE_RECORD_AEAD, aead, 2);
    if (len > 0)
        len = nts_ke_record_append(buf, cap, len, true, NTS_KE_RECORD_END_OF_MESSAGE, NULL, 0);
    return len;
}

/* The server name must be usable as a host name or address literal: printable ASCII
 * without spaces (so no NUL, no control bytes, nothing outside ASCII). */
static bool server_name_ok(const uint8_t *name, size_t len)
{
    if (len == 0 || len > NTS_KE_MAX_SERVER_LEN)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (name[i] <= 0x20 || name[i] >= 0x7f)
            return false;
    }
    return true;
}

struct parse_state {
    bool have_protocol;
    bool have_aead;
    bool protocol_ok;
    bool aead_ok;
};

/* One record's meaning; NTS_KE_OK to go on. */
static enum nts_ke_error take_record(uint16_t type, bool critical, const uint8_t *body,
                                     size_t body_len, struct parse_state *state,
                                     struct nts_ke_response *out)
{
    out->record_type = type;
    switch (type) {
    case NTS_KE_RECORD_NEXT_PROTOCOL:
        if (state->have_protocol)
            return NTS_KE_ERR_PROTOCOL_DUPLICATE;
        if (body_len % 2 != 0)
            return NTS_KE_ERR_BAD_RECORD_LENGTH;
        state->have_protocol = true;
        /* RFC 8915 §4.1.2: the server answers with exactly one protocol we offered. */
        state->protocol_ok = body_len == 2 && read_be16(body) == NTS_KE_PROTOCOL_NTPV4;
        if (body_len == 2)
            out->protocol = read_be16(body);
        return state->protocol_ok ? NTS_KE_OK : NTS_KE_ERR_PROTOCOL_NOT_OFFERED;
    case NTS_KE_RECORD_ERROR:
        if (body_len != 2)
            return NTS_KE_ERR_BAD_RECORD_LENGTH;
        out->error_code = read_be16(body);
        return NTS_KE_ERR_SERVER_ERROR;
    case NTS_KE_RECORD_WARNING:
        if (body_len != 2)
            return NTS_KE_ERR_BAD_RECORD_LENGTH;
        out->warning_code = read_be16(body);
        return NTS_KE_ERR_SERVER_WARNING;
    case NTS_KE_RECORD_AEAD:
        if (state->have_aead)
            return NTS_KE_ERR_AEAD_DUPLICATE;
        if (body_len % 2 != 0)
            return NTS_KE_ERR_BAD_RECORD_LENGTH;
        state->have_aead = true;
        state->aead_ok = body_len == 2 && read_be16(body) == NTS_KE_AEAD_AES_SIV_CMAC_256;
        if (body_len == 2)
            out->aead = read_be16(body);
        return state->aead_ok ? NTS_KE_OK : NTS_KE_ERR_AEAD_NOT_OFFERED;
    case NTS_KE_RECORD_NEW_COOKIE:
        if (body_len == 0 || body_len > NTS_COOKIE_MAX_LEN || body_len % 4 != 0)
            return NTS_KE_ERR_COOKIE_LENGTH;
        if (out->n_cookies == NTS_MAX_COOKIES)
            return NTS_KE_ERR_TOO_MANY_COOKIES;
        out->cookies[out->n_cookies].len = body_len;
        memcpy(out->cookies[out->n_cookies].data, body, body_len);
        out->n_cookies++;
        return NTS_KE_OK;
    case NTS_KE_RECORD_SERVER:
        if (out->has_server)
            return NTS_KE_ERR_SERVER_DUPLICATE;
        if (!server_name_ok(body, body_len))
            return NTS_KE_ERR_SERVER_NAME;
        memcpy(out->server, body, body_len);
        out->server[body_len] = '\0';
        out->has_server = true;
        return NTS_KE_OK;
    case NTS_KE_RECORD_PORT:
        if (out->has_port)
            return NTS_KE_ERR_PORT_DUPLICATE;
        if (body_len != 2)
            return NTS_KE_ERR_BAD_RECORD_LENGTH;
        out->port = read_be16(body);
        if (out->port == 0)
            return NTS_KE_ERR_PORT_ZERO;
        out->has_port = true;
        return NTS_KE_OK;
    default:
        /* RFC 8915 §4: unknown records are ignored unless marked critical. */
        return critical ? NTS_KE_ERR_UNKNOWN_CRITICAL : NTS_KE_OK;
    }
}

enum nts_ke_error nts_ke_response_parse(const uint8_t *buf, size_t len, struct nts_ke_response *out)
{
    memset(out, 0, sizeof(*out));
    if (len > NTS_KE_MAX_RESPONSE_LEN)
        return NTS_KE_ERR_TOO_LONG;

    struct parse_state state = {0};
    size_t pos = 0;
    for (;;) {
        if (len - pos < NTS_KE_RECORD_HEADER_LEN)
            return NTS_KE_INCOMPLETE;
        uint16_t type_field = read_be16(buf + pos);
        size_t body_len = read_be16(buf + pos + 2);
        if (len - pos - NTS_KE_RECORD_HEADER_LEN < body_len)
            return NTS_KE_INCOMPLETE; /* a longer record than the bound shows up as TOO_LONG */
        const uint8_t *body = buf + pos + NTS_KE_RECORD_HEADER_LEN;
        bool critical = (type_field & NTS_KE_CRITICAL_BIT) != 0;
        uint16_t type = type_field & 0x7fff;
        pos += NTS_KE_RECORD_HEADER_LEN + body_len;

        if (type == NTS_KE_RECORD_END_OF_MESSAGE) {
            out->record_type = type;
            if (!critical)
                return NTS_KE_ERR_END_NOT_CRITICAL;
            if (body_len != 0)
                return NTS_KE_ERR_END_NOT_EMPTY;
            break;
        }
        enum nts_ke_error error = take_record(type, critical, body, body_len, &state, out);
        if (error != NTS_KE_OK)
            return error;
    }
    /* The message ends at End of Message (no close_notify wait, nts-notes.md); a second
     * one, or anything else, behind it means the server is not speaking NTS-KE. */
    if (pos != len)
        return NTS_KE_ERR_DATA_AFTER_END;
    if (!state.have_protocol)
        return NTS_KE_ERR_PROTOCOL_MISSING;
    if (!state.have_aead)
        return NTS_KE_ERR_AEAD_MISSING;
    if (out->n_cookies == 0)
        return NTS_KE_ERR_NO_COOKIES;
    return NTS_KE_OK;
}

bool nts_ke_error_is_transient(enum nts_ke_error error, const struct nts_ke_response *response)
{
    return error == NTS_KE_ERR_SERVER_ERROR && response->error_code == NTS_KE_ERROR_INTERNAL_SERVER;
}

const char *nts_ke_error_str(enum nts_ke_error error)
{
    switch (error) {
    case NTS_KE_OK:
        return "no error";
    case NTS_KE_INCOMPLETE:
        return "response incomplete (no End of Message)";
    case NTS_KE_ERR_TOO_LONG:
        return "response longer than 16 KiB";
    case NTS_KE_ERR_DATA_AFTER_END:
        return "data after End of Message";
    case NTS_KE_ERR_END_NOT_CRITICAL:
        return "End of Message record not marked critical";
    case NTS_KE_ERR_END_NOT_EMPTY:
        return "End of Message record has a body";
    case NTS_KE_ERR_SERVER_ERROR:
        return "server sent an Error record";
    case NTS_KE_ERR_SERVER_WARNING:
        return "server sent a Warning record";
    case NTS_KE_ERR_UNKNOWN_CRITICAL:
        return "unknown critical record";
    case NTS_KE_ERR_BAD_RECORD_LENGTH:
        return "record body has the wrong length";
    case NTS_KE_ERR_PROTOCOL_MISSING:
        return "no Next Protocol record";
    case NTS_KE_ERR_PROTOCOL_DUPLICATE:
        return "more than one Next Protocol record";
    case NTS_KE_ERR_PROTOCOL_NOT_OFFERED:
        return "server chose a protocol we did not offer";
    case NTS_KE_ERR_AEAD_MISSING:
        return "no AEAD Algorithm record";
    case NTS_KE_ERR_AEAD_DUPLICATE:
        return "more than one AEAD Algorithm record";
    case NTS_KE_ERR_AEAD_NOT_OFFERED:
        return "server chose an AEAD algorithm we did not offer";
    case NTS_KE_ERR_NO_COOKIES:
        return "no cookies in the response";
    case NTS_KE_ERR_TOO_MANY_COOKIES:
        return "more than 8 cookies in the response";
    case NTS_KE_ERR_COOKIE_LENGTH:
        return "cookie empty, longer than 256 bytes or not a multiple of 4";
    case NTS_KE_ERR_SERVER_NAME:
        return "negotiated server name empty, too long or not printable ASCII";
    case NTS_KE_ERR_SERVER_DUPLICATE:
        return "more than one NTPv4 Server record";
    case NTS_KE_ERR_PORT_DUPLICATE:
        return "more than one NTPv4 Port record";
    case NTS_KE_ERR_PORT_ZERO:
        return "negotiated NTP port is 0";
    }
    return "unknown NTS-KE error";
}
