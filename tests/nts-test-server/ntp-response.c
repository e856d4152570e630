#include "ntp-response.h"

#include <string.h>

#include "byte-order.h"
#include "nts-cookie.h"
#include "nts-reply-builder.h"
#include "ntp-time.h"

static uint32_t kiss_code(const char code[4])
{
    return read_be32((const uint8_t *)code);
}

size_t ntp_response_build(const struct ntp_response_params *p, uint8_t *buf, size_t cap)
{
    const enum behaviour b = p->behaviour;
    const struct request_ntp *req = p->request;
    if (b == BEHAVIOUR_SILENT)
        return 0;

    struct nts_reply_builder builder;
    memset(&builder, 0, sizeof(builder));
    uint64_t receive = ntp_time_from_unix_ns(p->receive_ns);
    uint64_t transmit = ntp_time_from_unix_ns(p->transmit_ns);
    nts_reply_builder_default_header(&builder.header, req->header.transmit_ts, receive);
    builder.header.transmit_ts = transmit;
    builder.header.reference_ts = ntp_time_from_unix_ns(p->receive_ns - INT64_C(16000000000));
    builder.header.poll = req->header.poll;
    builder.header.reference_id = 0x7f7f0101; /* stratum 2 names an upstream address */

    uint8_t uid[NTS_PACKET_MAX_LEN];
    if (req->uid_len > sizeof(uid))
        return 0;
    memcpy(uid, req->uid, req->uid_len);
    if (b == BEHAVIOUR_WRONG_UID)
        uid[0] ^= 0xff; /* still authenticated: only the UID check can catch it */
    builder.uid = uid;
    builder.uid_len = req->uid_len;
    builder.s2c_key = p->keys->s2c;

    uint8_t nonce[16];
    if (!server_random(nonce, sizeof(nonce)))
        return 0;
    builder.nonce = nonce;
    builder.nonce_len = sizeof(nonce);

    /* One new cookie for the cookie and each placeholder (RFC 8915 §5.7). */
    struct nts_cookie cookies[NTS_MAX_COOKIES];
    size_t n_cookies = 1 + (size_t)req->placeholders;
    if (n_cookies > NTS_MAX_COOKIES)
        n_cookies = NTS_MAX_COOKIES;
    if (b == BEHAVIOUR_NO_COOKIES)
        n_cookies = 0;
    for (size_t i = 0; i < n_cookies; i++) {
        if (!server_cookie_seal(p->keys, &cookies[i]))
            return 0;
    }
    builder.cookies = cookies;
    builder.n_cookies = n_cookies;

    switch (b) {
    case BEHAVIOUR_ZERO_NONCE:
        /* Nonce length 0 (the tag is left zero: GnuTLS aborts on an empty nonce), with 16
         * bytes of Additional Padding so that the length is the only defect. */
        builder.nonce_len = 0;
        builder.additional_padding = 16;
        break;
    case BEHAVIOUR_SHORT_NONCE_UNPADDED:
        /* Correctly sealed with a 12-byte nonce but without the Additional Padding that
         * RFC 8915 §5.6 requires for nonces under 16 bytes. */
        builder.nonce_len = 12;
        break;
    case BEHAVIOUR_NAK:
        /* RFC 8915 §5.7: kiss code NTSN, the UID echoed, no authenticator. */
        builder.header.leap = NTP_LEAP_UNSYNCHRONIZED;
        builder.header.stratum = 0;
        builder.header.reference_id = kiss_code("NTSN");
        builder.omit_authenticator = true;
        break;
    case BEHAVIOUR_RATE:
        builder.header.leap = NTP_LEAP_UNSYNCHRONIZED;
        builder.header.stratum = 0;
        builder.header.reference_id = kiss_code("RATE");
        break;
    case BEHAVIOUR_UNSYNCHRONIZED:
        builder.header.leap = NTP_LEAP_UNSYNCHRONIZED;
        break;
    default:
        break;
    }

    size_t len = nts_reply_builder_build(&builder, buf, cap);
    if (len > 0 && b == BEHAVIOUR_BAD_TAG && !nts_reply_builder_corrupt_tag(buf, len))
        return 0;
    return len;
}
