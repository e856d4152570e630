#include "nts-reply-builder.h"

#include <string.h>

#include "aes-siv.h"
#include "byte-order.h"
#include "ntp-extension.h"

void nts_reply_builder_default_header(struct ntp_header *header, uint64_t transmit_ts,
                                      uint64_t server_time)
{
    memset(header, 0, sizeof(*header));
    header->leap = NTP_LEAP_NONE;
    header->version = NTP_VERSION;
    header->mode = NTP_MODE_SERVER;
    header->stratum = 2;
    header->poll = 4;
    header->precision = -20;
    header->root_delay = 0x00000100;
    header->root_dispersion = 0x00000200;
    header->reference_id = 0x7f000001;
    header->reference_ts = server_time - (UINT64_C(16) << 32);
    header->origin_ts = transmit_ts;
    header->receive_ts = server_time;
    header->transmit_ts = server_time + 1000;
}

size_t nts_reply_builder_build(const struct nts_reply_builder *b, uint8_t *buf, size_t cap)
{
    if (cap < NTP_HEADER_LEN)
        return 0;
    ntp_header_write(&b->header, buf);
    struct ntp_ext_writer writer;
    ntp_ext_writer_init(&writer, buf, cap, NTP_HEADER_LEN);
    if (!b->omit_uid) {
        if (!ntp_ext_append(&writer, NTS_EXT_UNIQUE_ID, b->uid, b->uid_len, NTP_EXT_MIN_LEN_CLEAR))
            return 0;
        if (b->duplicate_uid &&
            !ntp_ext_append(&writer, NTS_EXT_UNIQUE_ID, b->uid, b->uid_len, NTP_EXT_MIN_LEN_CLEAR))
            return 0;
    }
    if (b->omit_authenticator)
        return writer.len;

    /* The encrypted part: one New Cookie field per cookie. */
    uint8_t plain[NTS_PACKET_MAX_LEN];
    struct ntp_ext_writer inner;
    ntp_ext_writer_init(&inner, plain, sizeof(plain), 0);
    for (size_t i = 0; i < b->n_cookies; i++) {
        uint8_t body[NTS_COOKIE_MAX_LEN + 64] = {0};
        size_t body_len = b->cookies[i].len + b->cookie_field_extra;
        if (body_len > sizeof(body))
            return 0;
        memcpy(body, b->cookies[i].data, b->cookies[i].len);
        if (!ntp_ext_append(&inner, NTS_EXT_COOKIE, body, body_len, NTP_EXT_MIN_LEN_ENCRYPTED))
            return 0;
    }

    const uint8_t *plain_bytes = plain;
    size_t plain_len = inner.len;
    if (b->raw_plain != NULL) {
        plain_bytes = b->raw_plain;
        plain_len = b->raw_plain_len;
    }
    size_t cipher_len = plain_len + AES_SIV_TAG_LEN;
    size_t nonce_room = b->unpadded ? b->nonce_len : (b->nonce_len + 3) & ~(size_t)3;
    size_t cipher_room = b->unpadded ? cipher_len : (cipher_len + 3) & ~(size_t)3;
    size_t body_len = 4 + nonce_room + cipher_room + b->additional_padding;
    uint8_t auth[4 + 1024 + NTS_PACKET_MAX_LEN + 64];
    if (body_len > sizeof(auth))
        return 0;
    memset(auth, 0, sizeof(auth));
    write_be16(auth, (uint16_t)b->nonce_len);
    write_be16(auth + 2, (uint16_t)cipher_len);
    if (b->nonce_len > 0)
        memcpy(auth + 4, b->nonce, b->nonce_len);
    /* An empty nonce cannot go through GnuTLS (it aborts): leave the tag zero then. */
    if (b->nonce_len > 0 &&
        aes_siv_encrypt(b->s2c_key, b->nonce, b->nonce_len, buf, writer.len, plain_bytes, plain_len,
                        auth + 4 + nonce_room) != AES_SIV_OK)
        return 0;
    if (!ntp_ext_append(&writer, NTS_EXT_AUTHENTICATOR, auth, body_len, NTP_EXT_MIN_LEN_CLEAR))
        return 0;
    if (b->field_after_authenticator) {
        uint8_t junk[12] = {0};
        if (!ntp_ext_append(&writer, 0x0f00, junk, sizeof(junk), NTP_EXT_MIN_LEN_CLEAR))
            return 0;
    }
    return writer.len;
}

bool nts_reply_builder_corrupt_tag(uint8_t *buf, size_t len)
{
    struct ntp_ext_reader reader;
    struct ntp_ext_field field;
    ntp_ext_reader_init(&reader, buf, len, NTP_HEADER_LEN, NTP_EXT_MIN_LEN_CLEAR);
    while (ntp_ext_next(&reader, &field) == NTP_EXT_OK) {
        if (field.type != NTS_EXT_AUTHENTICATOR || field.body_len < 4)
            continue;
        size_t nonce_room = (read_be16(field.body) + (size_t)3) & ~(size_t)3;
        size_t tag = 4 + nonce_room;
        if (read_be16(field.body + 2) < AES_SIV_TAG_LEN || field.body_len < tag + AES_SIV_TAG_LEN)
            return false;
        buf[field.start + NTP_EXT_HEADER_LEN + tag] ^= 0x01;
        return true;
    }
    return false;
}
