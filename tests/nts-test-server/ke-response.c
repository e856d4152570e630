#include "ke-response.h"

#include <string.h>

#include "byte-order.h"
#include "nts-ke-records.h"

struct out {
    uint8_t *buf;
    size_t cap;
    size_t len;
    bool failed;
};

static void put(struct out *o, bool critical, uint16_t type, const uint8_t *body, size_t body_len)
{
    if (o->failed)
        return;
    size_t len = nts_ke_record_append(o->buf, o->cap, o->len, critical, type, body, body_len);
    if (len == 0)
        o->failed = true;
    else
        o->len = len;
}

static void put_u16(struct out *o, uint16_t type, uint16_t value)
{
    uint8_t body[2];
    write_be16(body, value);
    put(o, true, type, body, sizeof(body));
}

static void put_end(struct out *o)
{
    put(o, true, NTS_KE_RECORD_END_OF_MESSAGE, NULL, 0);
}

static size_t finish(const struct out *o)
{
    return o->failed ? 0 : o->len;
}

size_t ke_response_build(const struct ke_response_params *p, uint8_t *buf, size_t cap)
{
    const enum behaviour b = p->behaviour;
    struct out o = {.buf = buf, .cap = cap};

    /* A request we cannot serve gets the honest answer whatever the behaviour. */
    switch (p->result) {
    case REQUEST_KE_OK:
        break;
    case REQUEST_KE_ERR_UNKNOWN_CRITICAL:
        put_u16(&o, NTS_KE_RECORD_ERROR, NTS_KE_ERROR_UNRECOGNIZED_CRITICAL);
        put_end(&o);
        return finish(&o);
    case REQUEST_KE_INCOMPLETE:
    case REQUEST_KE_ERR_TOO_LONG:
    case REQUEST_KE_ERR_BAD_REQUEST:
        put_u16(&o, NTS_KE_RECORD_ERROR, NTS_KE_ERROR_BAD_REQUEST);
        put_end(&o);
        return finish(&o);
    }
    if (b == BEHAVIOUR_KE_ERROR) {
        put_u16(&o, NTS_KE_RECORD_ERROR, NTS_KE_ERROR_BAD_REQUEST);
        put_end(&o);
        return finish(&o);
    }
    if (!p->request->ntpv4_offered) {
        /* RFC 8915 §4.1.2: no protocol in common is an empty Next Protocol record. */
        put(&o, true, NTS_KE_RECORD_NEXT_PROTOCOL, NULL, 0);
        put_end(&o);
        return finish(&o);
    }
    put_u16(&o, NTS_KE_RECORD_NEXT_PROTOCOL, NTS_KE_PROTOCOL_NTPV4);
    if (!p->request->aes_siv_offered) {
        /* RFC 8915 §4.1.5: no algorithm in common is an empty AEAD record. */
        put(&o, true, NTS_KE_RECORD_AEAD, NULL, 0);
        put_end(&o);
        return finish(&o);
    }
    /* AEAD 30 is AEAD_AES_128_GCM_SIV: real, but the client did not offer it. */
    put_u16(&o, NTS_KE_RECORD_AEAD,
            b == BEHAVIOUR_KE_WRONG_AEAD ? 30 : NTS_KE_AEAD_AES_SIV_CMAC_256);
    if (b == BEHAVIOUR_KE_UNKNOWN_CRITICAL) {
        static const uint8_t body[4] = {'g', 'n', 'm', 'n'};
        put(&o, true, KE_RECORD_UNKNOWN, body, sizeof(body));
    }
    if (p->port != 0)
        put_u16(&o, NTS_KE_RECORD_PORT, p->port);
    if (b != BEHAVIOUR_KE_NO_COOKIES) {
        for (int i = 0; i < KE_RESPONSE_COOKIES; i++) {
            struct nts_cookie cookie;
            if (!server_cookie_seal(p->keys, &cookie))
                return 0;
            put(&o, false, NTS_KE_RECORD_NEW_COOKIE, cookie.data, cookie.len);
        }
    }

    switch (b) {
    case BEHAVIOUR_KE_MALFORMED: {
        /* A New Cookie record claiming 200 bytes of body, of which 20 follow; the
         * connection is closed after them. */
        uint8_t partial[NTS_KE_RECORD_HEADER_LEN + 20] = {0};
        write_be16(partial, NTS_KE_RECORD_NEW_COOKIE);
        write_be16(partial + 2, 200);
        if (o.failed || o.cap - o.len < sizeof(partial))
            return 0;
        memcpy(o.buf + o.len, partial, sizeof(partial));
        o.len += sizeof(partial);
        return o.len;
    }
    case BEHAVIOUR_KE_OVERSIZED: {
        /* Valid, ignorable (unknown non-critical) records and never End of Message: only
         * a bound on the response's size stops a client reading. */
        uint8_t filler[1020];
        memset(filler, 0x5a, sizeof(filler));
        while (!o.failed && o.len < KE_OVERSIZED_LEN)
            put(&o, false, KE_RECORD_UNKNOWN, filler, sizeof(filler));
        return finish(&o);
    }
    default:
        put_end(&o);
        return finish(&o);
    }
}
