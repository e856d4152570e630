/* libFuzzer target: the NTS reply verifier (agent/core/nts-packet.c) and the NTP header
 * and extension field parsers under it. The first input byte picks a mode:
 *   even: the rest is a raw packet, checked as a reply to a fixed request;
 *   odd:  the rest is a header plus fields the harness seals with the right key, so the
 *         parser of the decrypted fields is reached too (a fuzzer cannot forge tags). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aes-siv.h"
#include "byte-order.h"
#include "fuzz-target.h"
#include "ntp-extension.h"
#include "nts-packet.h"

static const uint8_t s2c_key[AES_SIV_KEY_LEN] = {
    0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
    0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69, 0x78, 0x87, 0x96, 0xa5, 0xb4, 0xc3, 0xd2, 0xe1, 0xf0,
};
#define FUZZ_TRANSMIT_TS UINT64_C(0x0123456789abcdef)
static const uint8_t uid[NTS_UID_LEN] = "gnomon-fuzz-unique-identifier-32";
static const uint8_t nonce[NTS_NONCE_LEN] = "fuzz-nonce-16byt";

/* Header (origin and UID forced to match) + the UID field + Authenticator sealing the
 * fuzzer's bytes as the encrypted fields. */
static size_t seal(const uint8_t *data, size_t size, uint8_t *out, size_t cap)
{
    if (size < NTP_HEADER_LEN || cap < NTP_HEADER_LEN)
        return 0;
    memcpy(out, data, NTP_HEADER_LEN);
    write_be64(out + 24, FUZZ_TRANSMIT_TS);
    struct ntp_ext_writer writer;
    ntp_ext_writer_init(&writer, out, cap, NTP_HEADER_LEN);
    if (!ntp_ext_append(&writer, NTS_EXT_UNIQUE_ID, uid, NTS_UID_LEN, NTP_EXT_MIN_LEN_CLEAR))
        return 0;
    const uint8_t *plain = data + NTP_HEADER_LEN;
    size_t plain_len = size - NTP_HEADER_LEN;
    uint8_t auth[4 + NTS_NONCE_LEN + NTS_PACKET_MAX_LEN + AES_SIV_TAG_LEN + 4];
    size_t cipher_len = plain_len + AES_SIV_TAG_LEN;
    size_t body_len = 4 + NTS_NONCE_LEN + ((cipher_len + 3) & ~(size_t)3);
    if (body_len > sizeof(auth))
        return 0;
    memset(auth, 0, body_len);
    write_be16(auth, NTS_NONCE_LEN);
    write_be16(auth + 2, (uint16_t)cipher_len);
    /* The nonce is 16 bytes spelled as a string, without its NUL. */
    memcpy(auth + 4, nonce, NTS_NONCE_LEN); /* NOLINT(bugprone-not-null-terminated-result) */
    if (aes_siv_encrypt(s2c_key, nonce, NTS_NONCE_LEN, out, writer.len, plain, plain_len,
                        auth + 4 + NTS_NONCE_LEN) != AES_SIV_OK)
        return 0;
    if (!ntp_ext_append(&writer, NTS_EXT_AUTHENTICATOR, auth, body_len, NTP_EXT_MIN_LEN_CLEAR))
        return 0;
    return writer.len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > NTS_PACKET_MAX_LEN)
        return 0;
    uint8_t mode = data[0];
    data++;
    size--;

    uint8_t sealed[NTS_PACKET_MAX_LEN + 128];
    const uint8_t *packet = data;
    size_t packet_len = size;
    if (mode & 1) {
        packet_len = seal(data, size, sealed, sizeof(sealed));
        if (packet_len == 0 || packet_len > NTS_PACKET_MAX_LEN)
            return 0;
        packet = sealed;
    }

    struct nts_reply reply;
    struct nts_reply_status status =
        nts_reply_parse(packet, packet_len, s2c_key, uid, FUZZ_TRANSMIT_TS, &reply);
    if (status.error == NTS_REPLY_OK) {
        if (reply.n_cookies > NTS_MAX_COOKIES || reply.header.mode != NTP_MODE_SERVER ||
            reply.header.origin_ts != FUZZ_TRANSMIT_TS)
            abort();
        for (size_t i = 0; i < reply.n_cookies; i++) {
            if (reply.cookies[i].len == 0 || reply.cookies[i].len > NTS_COOKIE_MAX_LEN)
                abort();
        }
    }
    /* A NAK is never an authenticated reply. */
    if (nts_reply_is_nak(packet, packet_len, uid, FUZZ_TRANSMIT_TS) && status.error == NTS_REPLY_OK)
        abort();
    (void)nts_reply_error_str(status.error);
    return 0;
}
