#include "ntp-extension.h"

#include <string.h>

#include "byte-order.h"

#define EXT_MAX_LEN 0xfffc /* the largest word multiple a 16-bit length can hold */

void ntp_ext_reader_init(struct ntp_ext_reader *reader, const uint8_t *buf, size_t len,
                         size_t start, size_t min_field_len)
{
    reader->buf = buf;
    reader->len = len;
    reader->pos = start <= len ? start : len;
    reader->min_field_len = min_field_len < NTP_EXT_HEADER_LEN ? NTP_EXT_HEADER_LEN : min_field_len;
}

enum ntp_ext_error ntp_ext_next(struct ntp_ext_reader *reader, struct ntp_ext_field *field)
{
    size_t left = reader->len - reader->pos;
    if (left == 0)
        return NTP_EXT_END;
    if (left < NTP_EXT_HEADER_LEN)
        return NTP_EXT_ERR_TRUNCATED_HEADER;

    const uint8_t *p = reader->buf + reader->pos;
    size_t field_len = read_be16(p + 2);
    /* RFC 7822 §3: the length counts the whole field and is a multiple of 4. */
    if (field_len % 4 != 0)
        return NTP_EXT_ERR_LENGTH_NOT_WORD;
    if (field_len < reader->min_field_len)
        return NTP_EXT_ERR_LENGTH_TOO_SHORT;
    if (field_len > left)
        return NTP_EXT_ERR_LENGTH_PAST_END;

    field->type = read_be16(p);
    field->body = p + NTP_EXT_HEADER_LEN;
    field->body_len = field_len - NTP_EXT_HEADER_LEN;
    field->start = reader->pos;
    reader->pos += field_len;
    return NTP_EXT_OK;
}

void ntp_ext_writer_init(struct ntp_ext_writer *writer, uint8_t *buf, size_t cap, size_t start)
{
    writer->buf = buf;
    writer->cap = cap;
    writer->len = start <= cap ? start : cap;
}

size_t ntp_ext_field_len(size_t body_len, size_t min_len)
{
    if (body_len > EXT_MAX_LEN)
        return SIZE_MAX;
    size_t len = (NTP_EXT_HEADER_LEN + body_len + 3) & ~(size_t)3;
    size_t min_words = (min_len + 3) & ~(size_t)3;
    return len < min_words ? min_words : len;
}

bool ntp_ext_append(struct ntp_ext_writer *writer, uint16_t type, const uint8_t *body,
                    size_t body_len, size_t min_len)
{
    size_t field_len = ntp_ext_field_len(body_len, min_len);
    if (field_len > EXT_MAX_LEN || field_len > writer->cap - writer->len)
        return false;
    uint8_t *p = writer->buf + writer->len;
    write_be16(p, type);
    write_be16(p + 2, (uint16_t)field_len);
    if (body_len > 0)
        memcpy(p + NTP_EXT_HEADER_LEN, body, body_len);
    memset(p + NTP_EXT_HEADER_LEN + body_len, 0, field_len - NTP_EXT_HEADER_LEN - body_len);
    writer->len += field_len;
    return true;
}

const char *ntp_ext_error_str(enum ntp_ext_error error)
{
    switch (error) {
    case NTP_EXT_OK:
        return "no error";
    case NTP_EXT_END:
        return "end of extension fields";
    case NTP_EXT_ERR_TRUNCATED_HEADER:
        return "truncated extension field header";
    case NTP_EXT_ERR_LENGTH_PAST_END:
        return "extension field length runs past the end of the packet";
    case NTP_EXT_ERR_LENGTH_NOT_WORD:
        return "extension field length is not a multiple of 4";
    case NTP_EXT_ERR_LENGTH_TOO_SHORT:
        return "extension field shorter than the minimum";
    }
    return "unknown extension field error";
}
