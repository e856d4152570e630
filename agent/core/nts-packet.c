#include "nts-packet.h"

#include <string.h>

#include "byte-order.h"

/* RFC 8915 §5.6: a nonce shorter than this (after word padding) needs Additional Padding
 * up to it; 16 is min(16, N_MAX) for AES-SIV-CMAC-256. */
#define NTS_NONCE_PADDED_MIN 16

static size_t word_pad(size_t n)
{
    return (n + 3) & ~(size_t)3;
}

static bool cookie_length_ok(size_t len)
{
    return len > 0 && len <= NTS_COOKIE_MAX_LEN && len % 4 == 0;
}

enum nts_request_error nts_request_build(const struct nts_request_params *params, uint8_t *buf,
                                         size_t cap, size_t *out_len, unsigned *placeholders_sent)
{
    const struct nts_cookie *cookie = params->cookie;
    if (cookie == NULL || !cookie_length_ok(cookie->len))
        return NTS_REQUEST_ERR_COOKIE;
    if (params->placeholders > NTS_MAX_COOKIES - 1)
        return NTS_REQUEST_ERR_PLACEHOLDERS;
    if (cap < NTP_HEADER_LEN)
        return NTS_REQUEST_ERR_NO_ROOM;

    struct ntp_header header = {
        .leap = NTP_LEAP_NONE,
        .version = NTP_VERSION,
        .mode = NTP_MODE_CLIENT,
        .poll = params->poll,
        .transmit_ts = params->transmit_ts,
    };
    ntp_header_write(&header, buf);

    const size_t auth_body_len = 4 + NTS_NONCE_LEN + AES_SIV_TAG_LEN;
    const size_t auth_len = ntp_ext_field_len(auth_body_len, NTP_EXT_MIN_LEN_CLEAR);
    const size_t cookie_field_len = ntp_ext_field_len(cookie->len, NTP_EXT_MIN_LEN_CLEAR);
    size_t limit = cap < NTS_REQUEST_MAX_LEN ? cap : NTS_REQUEST_MAX_LEN;

    struct ntp_ext_writer writer;
    ntp_ext_writer_init(&writer, buf, limit, NTP_HEADER_LEN);
    if (!ntp_ext_append(&writer, NTS_EXT_UNIQUE_ID, params->uid, NTS_UID_LEN,
                        NTP_EXT_MIN_LEN_CLEAR) ||
        !ntp_ext_append(&writer, NTS_EXT_COOKIE, cookie->data, cookie->len, NTP_EXT_MIN_LEN_CLEAR))
        return NTS_REQUEST_ERR_NO_ROOM;

    /* A placeholder has the cookie's length (RFC 8915 §5.5) so that the reply, which
     * carries one new cookie per cookie field, is no larger than the request. */
    uint8_t zeros[NTS_COOKIE_MAX_LEN] = {0};
    unsigned sent = 0;
    while (sent < params->placeholders && writer.len + cookie_field_len + auth_len <= writer.cap) {
        if (!ntp_ext_append(&writer, NTS_EXT_COOKIE_PLACEHOLDER, zeros, cookie->len,
                            NTP_EXT_MIN_LEN_CLEAR))
            return NTS_REQUEST_ERR_NO_ROOM;
        sent++;
    }
    if (writer.len + auth_len > writer.cap)
        return NTS_REQUEST_ERR_NO_ROOM;

    /* Authenticator, last: nonce length, ciphertext length, nonce, SIV tag (nothing is
     * encrypted in a request). The associated data is everything before this field. */
    uint8_t auth_body[4 + NTS_NONCE_LEN + AES_SIV_TAG_LEN];
    write_be16(auth_body, NTS_NONCE_LEN);
    write_be16(auth_body + 2, AES_SIV_TAG_LEN);
    memcpy(auth_body + 4, params->nonce, NTS_NONCE_LEN);
    if (aes_siv_encrypt(params->c2s_key, params->nonce, NTS_NONCE_LEN, buf, writer.len, NULL, 0,
                        auth_body + 4 + NTS_NONCE_LEN) != AES_SIV_OK)
        return NTS_REQUEST_ERR_CRYPTO;
    if (!ntp_ext_append(&writer, NTS_EXT_AUTHENTICATOR, auth_body, sizeof(auth_body),
                        NTP_EXT_MIN_LEN_CLEAR))
        return NTS_REQUEST_ERR_NO_ROOM;

    *out_len = writer.len;
    if (placeholders_sent != NULL)
        *placeholders_sent = sent;
    return NTS_REQUEST_OK;
}

static struct nts_reply_status reply_error(enum nts_reply_error error)
{
    struct nts_reply_status status = {.error = error};
    return status;
}

/* Where the nonce and ciphertext of an Authenticator field lie (RFC 8915 §5.6). */
struct authenticator {
    const uint8_t *nonce;
    size_t nonce_len;
    const uint8_t *cipher;
    size_t cipher_len;
};

static enum nts_reply_error parse_authenticator(const struct ntp_ext_field *field,
                                                struct authenticator *auth)
{
    if (field->body_len < 4)
        return NTS_REPLY_ERR_AUTHENTICATOR_MALFORMED;
    size_t nonce_len = read_be16(field->body);
    size_t cipher_len = read_be16(field->body + 2);
    if (nonce_len == 0)
        return NTS_REPLY_ERR_NONCE_EMPTY;
    size_t room = field->body_len - 4;
    if (nonce_len + cipher_len > room)
        return NTS_REPLY_ERR_AUTHENTICATOR_MALFORMED;
    size_t nonce_padded = word_pad(nonce_len);
    size_t needed = nonce_padded + word_pad(cipher_len);
    if (nonce_padded < NTS_NONCE_PADDED_MIN)
        needed += NTS_NONCE_PADDED_MIN - nonce_padded;
    if (needed > room)
        return NTS_REPLY_ERR_NONCE_PADDING;
    if (cipher_len < AES_SIV_TAG_LEN)
        return NTS_REPLY_ERR_CIPHERTEXT_SHORT;
    auth->nonce = field->body + 4;
    auth->nonce_len = nonce_len;
    auth->cipher = field->body + 4 + nonce_padded;
    auth->cipher_len = cipher_len;
    return NTS_REPLY_OK;
}

/* The decrypted fields: only New Cookie fields mean anything to a client; others are
 * skipped (RFC 8915 §5.6 lets servers add fields we do not know). */
static struct nts_reply_status take_cookies(const uint8_t *plain, size_t plain_len,
                                            struct nts_reply *out)
{
    struct ntp_ext_reader reader;
    struct ntp_ext_field field;
    enum ntp_ext_error ext;
    ntp_ext_reader_init(&reader, plain, plain_len, 0, NTP_EXT_MIN_LEN_ENCRYPTED);
    out->n_cookies = 0;
    while ((ext = ntp_ext_next(&reader, &field)) == NTP_EXT_OK) {
        if (field.type != NTS_EXT_COOKIE)
            continue;
        /* The body holds the cookie and the field's padding; cookies are word multiples,
         * so the body is the cookie. */
        if (!cookie_length_ok(field.body_len))
            return reply_error(NTS_REPLY_ERR_COOKIE_LENGTH);
        if (out->n_cookies == NTS_MAX_COOKIES)
            return reply_error(NTS_REPLY_ERR_TOO_MANY_COOKIES);
        struct nts_cookie *cookie = &out->cookies[out->n_cookies++];
        cookie->len = field.body_len;
        memcpy(cookie->data, field.body, field.body_len);
    }
    if (ext != NTP_EXT_END) {
        struct nts_reply_status status = {.error = NTS_REPLY_ERR_ENCRYPTED_EXTENSION,
                                          .ext_error = ext};
        return status;
    }
    return reply_error(NTS_REPLY_OK);
}

struct nts_reply_status nts_reply_parse(const uint8_t *buf, size_t len,
                                        const uint8_t s2c_key[AES_SIV_KEY_LEN],
                                        const uint8_t uid[NTS_UID_LEN], uint64_t transmit_ts,
                                        struct nts_reply *out)
{
    struct nts_reply_status status = {.error = NTS_REPLY_OK};
    out->n_cookies = 0;
    if (len > NTS_PACKET_MAX_LEN)
        len = NTS_PACKET_MAX_LEN; /* the caller's buffer bound; nothing valid is longer */
    status.header_error = ntp_header_parse(buf, len, &out->header);
    if (status.header_error != NTP_PACKET_OK) {
        status.error = NTS_REPLY_ERR_HEADER;
        return status;
    }
    /* The origin timestamp must be the random transmit timestamp we sent (RFC 5905
     * §8 bogus check; RFC 9109): anything else is not a reply to our request. */
    if (out->header.origin_ts != transmit_ts)
        return reply_error(NTS_REPLY_ERR_NOT_OUR_REQUEST);
    if (nts_reply_is_nak(buf, len, uid, transmit_ts))
        return reply_error(NTS_REPLY_ERR_NAK);

    struct ntp_ext_reader reader;
    struct ntp_ext_field field;
    struct ntp_ext_field auth_field = {0};
    bool have_auth = false;
    const uint8_t *reply_uid = NULL;
    size_t reply_uid_len = 0;
    enum ntp_ext_error ext;
    ntp_ext_reader_init(&reader, buf, len, NTP_HEADER_LEN, NTP_EXT_MIN_LEN_CLEAR);
    while ((ext = ntp_ext_next(&reader, &field)) == NTP_EXT_OK) {
        if (have_auth)
            return reply_error(NTS_REPLY_ERR_AUTHENTICATOR_NOT_LAST);
        if (field.type == NTS_EXT_UNIQUE_ID) {
            if (reply_uid != NULL)
                return reply_error(NTS_REPLY_ERR_UID_DUPLICATE);
            reply_uid = field.body;
            reply_uid_len = field.body_len;
        } else if (field.type == NTS_EXT_AUTHENTICATOR) {
            auth_field = field;
            have_auth = true;
        }
        /* Other fields in the clear are covered by the AEAD as associated data and
         * otherwise ignored; unauthenticated cookies are never taken (RFC 8915 §5.7). */
    }
    if (ext != NTP_EXT_END) {
        status.error = NTS_REPLY_ERR_EXTENSION;
        status.ext_error = ext;
        return status;
    }
    if (!have_auth)
        return reply_error(NTS_REPLY_ERR_AUTHENTICATOR_MISSING);
    if (reply_uid == NULL)
        return reply_error(NTS_REPLY_ERR_UID_MISSING);
    if (reply_uid_len != NTS_UID_LEN || memcmp(reply_uid, uid, NTS_UID_LEN) != 0)
        return reply_error(NTS_REPLY_ERR_UID_MISMATCH);

    struct authenticator auth;
    enum nts_reply_error auth_error = parse_authenticator(&auth_field, &auth);
    if (auth_error != NTS_REPLY_OK)
        return reply_error(auth_error);

    uint8_t plain[NTS_PACKET_MAX_LEN];
    enum aes_siv_error aead =
        aes_siv_decrypt(s2c_key, auth.nonce, auth.nonce_len, buf, auth_field.start, auth.cipher,
                        auth.cipher_len, plain);
    if (aead == AES_SIV_ERR_AUTHENTICATION)
        return reply_error(NTS_REPLY_ERR_AUTHENTICATION);
    if (aead != AES_SIV_OK)
        return reply_error(NTS_REPLY_ERR_CRYPTO);

    status = take_cookies(plain, auth.cipher_len - AES_SIV_TAG_LEN, out);
    if (status.error != NTS_REPLY_OK)
        return status;

    /* Authenticated from here: a kiss code is now the server's word (RATE: slow down). */
    if (out->header.stratum == 0)
        return reply_error(NTS_REPLY_ERR_KISS);
    status.header_error = ntp_header_check_reply(&out->header);
    if (status.header_error != NTP_PACKET_OK) {
        status.error = NTS_REPLY_ERR_HEADER;
        return status;
    }
    /* Every request carries one cookie field, so every reply owes at least one new
     * cookie; a server that sends none would drain the jar (chrony drops these too). */
    if (out->n_cookies == 0)
        status.error = NTS_REPLY_ERR_NO_COOKIES;
    return status;
}

bool nts_reply_is_nak(const uint8_t *buf, size_t len, const uint8_t uid[NTS_UID_LEN],
                      uint64_t transmit_ts)
{
    struct ntp_header header;
    if (ntp_header_parse(buf, len, &header) != NTP_PACKET_OK)
        return false;
    if (header.mode != NTP_MODE_SERVER || header.origin_ts != transmit_ts ||
        !ntp_header_is_kiss(&header, "NTSN"))
        return false;
    /* RFC 8915 §5.7: a NAK echoes the Unique Identifier and carries no authenticator. */
    struct ntp_ext_reader reader;
    struct ntp_ext_field field;
    bool uid_matches = false;
    enum ntp_ext_error ext;
    ntp_ext_reader_init(&reader, buf, len, NTP_HEADER_LEN, NTP_EXT_MIN_LEN_CLEAR);
    while ((ext = ntp_ext_next(&reader, &field)) == NTP_EXT_OK) {
        if (field.type == NTS_EXT_AUTHENTICATOR)
            return false;
        if (field.type == NTS_EXT_UNIQUE_ID)
            uid_matches =
                field.body_len == NTS_UID_LEN && memcmp(field.body, uid, NTS_UID_LEN) == 0;
    }
    return ext == NTP_EXT_END && uid_matches;
}

const char *nts_request_error_str(enum nts_request_error error)
{
    switch (error) {
    case NTS_REQUEST_OK:
        return "no error";
    case NTS_REQUEST_ERR_COOKIE:
        return "cookie empty, too long or not a multiple of 4 bytes";
    case NTS_REQUEST_ERR_PLACEHOLDERS:
        return "too many cookie placeholders";
    case NTS_REQUEST_ERR_NO_ROOM:
        return "request does not fit the buffer";
    case NTS_REQUEST_ERR_CRYPTO:
        return "AEAD encryption failed";
    }
    return "unknown request error";
}

const char *nts_reply_error_str(enum nts_reply_error error)
{
    switch (error) {
    case NTS_REPLY_OK:
        return "no error";
    case NTS_REPLY_ERR_HEADER:
        return "bad NTP header";
    case NTS_REPLY_ERR_NOT_OUR_REQUEST:
        return "origin timestamp does not match our request";
    case NTS_REPLY_ERR_EXTENSION:
        return "malformed extension field";
    case NTS_REPLY_ERR_UID_MISSING:
        return "no Unique Identifier field";
    case NTS_REPLY_ERR_UID_DUPLICATE:
        return "more than one Unique Identifier field";
    case NTS_REPLY_ERR_UID_MISMATCH:
        return "Unique Identifier does not match our request";
    case NTS_REPLY_ERR_AUTHENTICATOR_MISSING:
        return "no NTS Authenticator field";
    case NTS_REPLY_ERR_AUTHENTICATOR_NOT_LAST:
        return "NTS Authenticator is not the last field";
    case NTS_REPLY_ERR_AUTHENTICATOR_MALFORMED:
        return "NTS Authenticator lengths do not fit the field";
    case NTS_REPLY_ERR_NONCE_EMPTY:
        return "NTS Authenticator nonce is empty";
    case NTS_REPLY_ERR_NONCE_PADDING:
        return "NTS Authenticator nonce or ciphertext lacks the padding RFC 8915 requires";
    case NTS_REPLY_ERR_CIPHERTEXT_SHORT:
        return "NTS Authenticator ciphertext shorter than the AEAD tag";
    case NTS_REPLY_ERR_AUTHENTICATION:
        return "authentication failed (forged or corrupted reply)";
    case NTS_REPLY_ERR_ENCRYPTED_EXTENSION:
        return "malformed encrypted extension field";
    case NTS_REPLY_ERR_COOKIE_LENGTH:
        return "new cookie empty, too long or not a multiple of 4 bytes";
    case NTS_REPLY_ERR_TOO_MANY_COOKIES:
        return "more than 8 new cookies";
    case NTS_REPLY_ERR_NAK:
        return "NTS NAK: the server did not accept our cookie";
    case NTS_REPLY_ERR_KISS:
        return "authenticated kiss-o'-death";
    case NTS_REPLY_ERR_NO_COOKIES:
        return "authenticated reply without a new cookie";
    case NTS_REPLY_ERR_CRYPTO:
        return "AEAD decryption failed";
    }
    return "unknown reply error";
}
