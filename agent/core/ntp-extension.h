/* NTP extension fields (RFC 7822): a reader that walks the fields after the header, and a
 * writer that appends them. Every length is checked against what is left of the packet. */
#ifndef GNOMON_CORE_NTP_EXTENSION_H
#define GNOMON_CORE_NTP_EXTENSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NTP_EXT_HEADER_LEN        4
/* RFC 7822 §3: a field in the clear is at least 16 bytes. Fields inside NTS's encrypted
 * part are only required to be word multiples (RFC 8915 §5.6). */
#define NTP_EXT_MIN_LEN_CLEAR     16
#define NTP_EXT_MIN_LEN_ENCRYPTED 4

enum ntp_ext_error {
    NTP_EXT_OK = 0,
    NTP_EXT_END,                  /* no more fields: not an error */
    NTP_EXT_ERR_TRUNCATED_HEADER, /* 1-3 bytes left: not even a field header */
    NTP_EXT_ERR_LENGTH_PAST_END,  /* the field's length runs past the packet */
    NTP_EXT_ERR_LENGTH_NOT_WORD,  /* length not a multiple of 4 */
    NTP_EXT_ERR_LENGTH_TOO_SHORT, /* below the minimum (16 in the clear) */
};

struct ntp_ext_field {
    uint16_t type;
    const uint8_t *body; /* the value, padding included */
    size_t body_len;
    size_t start; /* offset of the field's first byte in the buffer being read */
};

struct ntp_ext_reader {
    const uint8_t *buf;
    size_t len;
    size_t pos;
    size_t min_field_len;
};

/* Reads fields from buf[start..len), each at least min_field_len bytes long. */
void ntp_ext_reader_init(struct ntp_ext_reader *reader, const uint8_t *buf, size_t len,
                         size_t start, size_t min_field_len);

/* NTP_EXT_OK and a field, NTP_EXT_END at the end, or an error (the reader then stays put). */
enum ntp_ext_error ntp_ext_next(struct ntp_ext_reader *reader, struct ntp_ext_field *field);

struct ntp_ext_writer {
    uint8_t *buf;
    size_t cap;
    size_t len;
};

void ntp_ext_writer_init(struct ntp_ext_writer *writer, uint8_t *buf, size_t cap, size_t start);

/* Appends one field: type, length, body, zero padding up to a word and up to min_len.
 * Returns false (and writes nothing) when it does not fit or is longer than 65535. */
bool ntp_ext_append(struct ntp_ext_writer *writer, uint16_t type, const uint8_t *body,
                    size_t body_len, size_t min_len);

/* Room for a field of body_len after padding to a word and to min_len. */
size_t ntp_ext_field_len(size_t body_len, size_t min_len);

const char *ntp_ext_error_str(enum ntp_ext_error error);

#endif
