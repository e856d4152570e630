/* Tests agent/core/nts-packet.c: NTS client requests and the verification of replies,
 * against replies built by tests/lib/nts-reply-builder.c, including every malformed or
 * forged variant the parser must refuse. */
#include <check.h>
#include <string.h>

#include "byte-order.h"
#include "check-main.h"
#include "nts-packet.h"
#include "nts-reply-builder.h"

#define TRANSMIT_TS      UINT64_C(0x9a3f5c7e11223344)
#define SERVER_TIME      (UINT64_C(0xea000000) << 32)
/* In a built reply: header, then the 36-byte UID field, then the Authenticator. */
#define AUTH_BODY_OFFSET (NTP_HEADER_LEN + 4 + NTS_UID_LEN + 4)

static uint8_t c2s_key[AES_SIV_KEY_LEN], s2c_key[AES_SIV_KEY_LEN];
static uint8_t uid[NTS_UID_LEN], nonce[64];
static struct nts_cookie cookies[NTS_MAX_COOKIES + 1];

static void setup(void)
{
    for (size_t i = 0; i < AES_SIV_KEY_LEN; i++) {
        c2s_key[i] = (uint8_t)(i * 7 + 1);
        s2c_key[i] = (uint8_t)(i * 13 + 5);
    }
    for (size_t i = 0; i < NTS_UID_LEN; i++)
        uid[i] = (uint8_t)(0xa0 + i);
    for (size_t i = 0; i < sizeof(nonce); i++)
        nonce[i] = (uint8_t)(0x30 + i);
    for (size_t c = 0; c < NTS_MAX_COOKIES + 1; c++) {
        cookies[c].len = 100;
        for (size_t i = 0; i < cookies[c].len; i++)
            cookies[c].data[i] = (uint8_t)(c * 31 + i);
    }
}

static struct nts_reply_builder good_builder(void)
{
    struct nts_reply_builder b;
    memset(&b, 0, sizeof(b));
    nts_reply_builder_default_header(&b.header, TRANSMIT_TS, SERVER_TIME);
    b.s2c_key = s2c_key;
    b.uid = uid;
    b.uid_len = NTS_UID_LEN;
    b.nonce = nonce;
    b.nonce_len = NTS_NONCE_LEN;
    b.cookies = cookies;
    b.n_cookies = 2;
    return b;
}

static struct nts_reply_status parse(const uint8_t *buf, size_t len, struct nts_reply *reply)
{
    return nts_reply_parse(buf, len, s2c_key, uid, TRANSMIT_TS, reply);
}

static enum nts_reply_error build_and_parse(const struct nts_reply_builder *b)
{
    uint8_t buf[NTS_PACKET_MAX_LEN];
    struct nts_reply reply;
    size_t len = nts_reply_builder_build(b, buf, sizeof(buf));
    ck_assert_uint_gt(len, 0);
    return parse(buf, len, &reply).error;
}

static struct nts_request_params request_params(unsigned placeholders)
{
    struct nts_request_params p = {
        .c2s_key = c2s_key,
        .uid = uid,
        .nonce = nonce,
        .cookie = &cookies[0],
        .placeholders = placeholders,
        .transmit_ts = TRANSMIT_TS,
        .poll = 6,
    };
    return p;
}

START_TEST(test_request_layout)
{
    uint8_t buf[NTS_PACKET_MAX_LEN];
    size_t len = 0;
    unsigned sent = 99;
    struct nts_request_params p = request_params(7);
    ck_assert_int_eq(nts_request_build(&p, buf, sizeof(buf), &len, &sent), NTS_REQUEST_OK);
    ck_assert_uint_eq(sent, 7);
    /* header + UID (36) + cookie (104) + 7 placeholders (104 each) + authenticator (40) */
    ck_assert_uint_eq(len, 48 + 36 + 104 + 7 * 104 + 40);

    struct ntp_header h;
    ck_assert_int_eq(ntp_header_parse(buf, len, &h), NTP_PACKET_OK);
    ck_assert_uint_eq(h.mode, NTP_MODE_CLIENT);
    ck_assert_uint_eq(h.version, 4);
    ck_assert_uint_eq(h.transmit_ts, TRANSMIT_TS);
    ck_assert_uint_eq(h.origin_ts, 0);
    ck_assert_uint_eq(h.receive_ts, 0);

    struct ntp_ext_reader r;
    struct ntp_ext_field f;
    ntp_ext_reader_init(&r, buf, len, NTP_HEADER_LEN, NTP_EXT_MIN_LEN_CLEAR);
    ck_assert_int_eq(ntp_ext_next(&r, &f), NTP_EXT_OK);
    ck_assert_uint_eq(f.type, NTS_EXT_UNIQUE_ID);
    ck_assert_mem_eq(f.body, uid, NTS_UID_LEN);
    ck_assert_int_eq(ntp_ext_next(&r, &f), NTP_EXT_OK);
    ck_assert_uint_eq(f.type, NTS_EXT_COOKIE);
    ck_assert_uint_eq(f.body_len, 100);
    ck_assert_mem_eq(f.body, cookies[0].data, 100);
    for (int i = 0; i < 7; i++) {
        ck_assert_int_eq(ntp_ext_next(&r, &f), NTP_EXT_OK);
        ck_assert_uint_eq(f.type, NTS_EXT_COOKIE_PLACEHOLDER);
        ck_assert_uint_eq(f.body_len, 100);
    }
    ck_assert_int_eq(ntp_ext_next(&r, &f), NTP_EXT_OK);
    ck_assert_uint_eq(f.type, NTS_EXT_AUTHENTICATOR);
    ck_assert_uint_eq(read_be16(f.body), NTS_NONCE_LEN);
    ck_assert_uint_eq(read_be16(f.body + 2), AES_SIV_TAG_LEN);
    ck_assert_mem_eq(f.body + 4, nonce, NTS_NONCE_LEN);
    /* The tag authenticates everything before the authenticator under the C2S key. */
    uint8_t plain[1];
    ck_assert_int_eq(aes_siv_decrypt(c2s_key, nonce, NTS_NONCE_LEN, buf, f.start,
                                     f.body + 4 + NTS_NONCE_LEN, AES_SIV_TAG_LEN, plain),
                     AES_SIV_OK);
    ck_assert_int_eq(ntp_ext_next(&r, &f), NTP_EXT_END);
}
END_TEST

START_TEST(test_request_stays_under_size_limit)
{
    struct nts_cookie big;
    big.len = NTS_COOKIE_MAX_LEN;
    memset(big.data, 0x5a, big.len);
    struct nts_request_params p = request_params(7);
    p.cookie = &big;
    uint8_t buf[4096];
    size_t len = 0;
    unsigned sent = 0;
    ck_assert_int_eq(nts_request_build(&p, buf, sizeof(buf), &len, &sent), NTS_REQUEST_OK);
    ck_assert_uint_le(len, NTS_REQUEST_MAX_LEN);
    /* 48 + 36 + 260 + n * 260 + 40 <= 1280 -> n = 3 */
    ck_assert_uint_eq(sent, 3);
}
END_TEST

START_TEST(test_request_bad_inputs)
{
    uint8_t buf[NTS_PACKET_MAX_LEN];
    size_t len;
    struct nts_cookie bad = {.len = 6};
    struct nts_request_params p = request_params(0);
    p.cookie = &bad;
    ck_assert_int_eq(nts_request_build(&p, buf, sizeof(buf), &len, NULL), NTS_REQUEST_ERR_COOKIE);
    bad.len = 0;
    ck_assert_int_eq(nts_request_build(&p, buf, sizeof(buf), &len, NULL), NTS_REQUEST_ERR_COOKIE);
    bad.len = NTS_COOKIE_MAX_LEN + 4;
    ck_assert_int_eq(nts_request_build(&p, buf, sizeof(buf), &len, NULL), NTS_REQUEST_ERR_COOKIE);
    p = request_params(NTS_MAX_COOKIES);
    ck_assert_int_eq(nts_request_build(&p, buf, sizeof(buf), &len, NULL),
                     NTS_REQUEST_ERR_PLACEHOLDERS);
    p = request_params(0);
    ck_assert_int_eq(nts_request_build(&p, buf, 200, &len, NULL), NTS_REQUEST_ERR_NO_ROOM);
    ck_assert_int_eq(nts_request_build(&p, buf, 20, &len, NULL), NTS_REQUEST_ERR_NO_ROOM);
}
END_TEST

START_TEST(test_reply_round_trip)
{
    struct nts_reply_builder b = good_builder();
    b.n_cookies = 8;
    uint8_t buf[NTS_PACKET_MAX_LEN];
    size_t len = nts_reply_builder_build(&b, buf, sizeof(buf));
    struct nts_reply reply;
    struct nts_reply_status s = parse(buf, len, &reply);
    ck_assert_int_eq(s.error, NTS_REPLY_OK);
    ck_assert_uint_eq(reply.n_cookies, 8);
    for (size_t i = 0; i < 8; i++) {
        ck_assert_uint_eq(reply.cookies[i].len, cookies[i].len);
        ck_assert_mem_eq(reply.cookies[i].data, cookies[i].data, cookies[i].len);
    }
    ck_assert_uint_eq(reply.header.receive_ts, SERVER_TIME);
    ck_assert_uint_eq(reply.header.stratum, 2);
}
END_TEST

START_TEST(test_reply_wrong_uid)
{
    uint8_t other[NTS_UID_LEN];
    memcpy(other, uid, sizeof(other));
    other[5] ^= 0x40;
    struct nts_reply_builder b = good_builder();
    b.uid = other;
    ck_assert_int_eq(build_and_parse(&b), NTS_REPLY_ERR_UID_MISMATCH);
    b.uid = uid;
    b.uid_len = 16; /* a shorter, otherwise equal prefix is not our UID either */
    ck_assert_int_eq(build_and_parse(&b), NTS_REPLY_ERR_UID_MISMATCH);
}
END_TEST

START_TEST(test_reply_uid_missing_or_duplicate)
{
    struct nts_reply_builder b = good_builder();
    b.omit_uid = true;
    ck_assert_int_eq(build_and_parse(&b), NTS_REPLY_ERR_UID_MISSING);
    b = good_builder();
    b.duplicate_uid = true;
    ck_assert_int_eq(build_and_parse(&b), NTS_REPLY_ERR_UID_DUPLICATE);
}
END_TEST

START_TEST(test_reply_without_authenticator)
{
    struct nts_reply_builder b = good_builder();
    b.omit_authenticator = true;
    ck_assert_int_eq(build_and_parse(&b), NTS_REPLY_ERR_AUTHENTICATOR_MISSING);
}
END_TEST

START_TEST(test_reply_authenticator_not_last)
{
    struct nts_reply_builder b = good_builder();
    b.field_after_authenticator = true;
    ck_assert_int_eq(build_and_parse(&b), NTS_REPLY_ERR_AUTHENTICATOR_NOT_LAST);
}
END_TEST

START_TEST(test_reply_nonce_empty)
{
    struct nts_reply_builder b = good_builder();
    b.nonce_len = 0;
    ck_assert_int_eq(build_and_parse(&b), NTS_REPLY_ERR_NONCE_EMPTY);
}
END_TEST

START_TEST(test_reply_nonce_15_padded_accepted)
{
    /* 15 bytes word-padded to 16 need no Additional Padding (RFC 8915 §5.6). */
    struct nts_reply_builder b = good_builder();
    b.nonce_len = 15;
    ck_assert_int_eq(build_and_parse(&b), NTS_REPLY_OK);
}
END_TEST

START_TEST(test_reply_nonce_15_unpadded_refused)
{
    /* Nonce and ciphertext packed without padding: 4 + 15 + 17 = 36 bytes, a word
     * multiple, but not the layout RFC 8915 §5.6 defines. */
    struct nts_reply_builder b = good_builder();
    const uint8_t one_byte[1] = {0};
    b.nonce_len = 15;
    b.unpadded = true;
    b.raw_plain = one_byte;
    b.raw_plain_len = 1;
    ck_assert_int_eq(build_and_parse(&b), NTS_REPLY_ERR_NONCE_PADDING);
}
END_TEST

START_TEST(test_reply_short_nonce_needs_additional_padding)
{
    struct nts_reply_builder b = good_builder();
    b.nonce_len = 12;
    ck_assert_int_eq(build_and_parse(&b), NTS_REPLY_ERR_NONCE_PADDING);
    b.additional_padding = 4;
    ck_assert_int_eq(build_and_parse(&b), NTS_REPLY_OK);
    b.nonce_len = 1;
    b.additional_padding = 12;
    ck_assert_int_eq(build_and_parse(&b), NTS_REPLY_OK);
}
END_TEST

START_TEST(test_reply_huge_nonce_length)
{
    struct nts_reply_builder b = good_builder();
    uint8_t buf[NTS_PACKET_MAX_LEN];
    size_t len = nts_reply_builder_build(&b, buf, sizeof(buf));
    struct nts_reply reply;
    write_be16(buf + AUTH_BODY_OFFSET, 0xfff0);
    ck_assert_int_eq(parse(buf, len, &reply).error, NTS_REPLY_ERR_AUTHENTICATOR_MALFORMED);
    write_be16(buf + AUTH_BODY_OFFSET, NTS_NONCE_LEN);
    write_be16(buf + AUTH_BODY_OFFSET + 2, 0xfff0);
    ck_assert_int_eq(parse(buf, len, &reply).error, NTS_REPLY_ERR_AUTHENTICATOR_MALFORMED);
}
END_TEST

START_TEST(test_reply_ciphertext_shorter_than_tag)
{
    struct nts_reply_builder b = good_builder();
    b.n_cookies = 0;
    uint8_t buf[NTS_PACKET_MAX_LEN];
    size_t len = nts_reply_builder_build(&b, buf, sizeof(buf));
    struct nts_reply reply;
    write_be16(buf + AUTH_BODY_OFFSET + 2, AES_SIV_TAG_LEN - 4);
    ck_assert_int_eq(parse(buf, len, &reply).error, NTS_REPLY_ERR_CIPHERTEXT_SHORT);
}
END_TEST

START_TEST(test_reply_every_flipped_bit_refused)
{
    struct nts_reply_builder b = good_builder();
    uint8_t good[NTS_PACKET_MAX_LEN], buf[NTS_PACKET_MAX_LEN];
    size_t len = nts_reply_builder_build(&b, good, sizeof(good));
    struct nts_reply reply;
    for (size_t bit = 0; bit < len * 8; bit++) {
        memcpy(buf, good, len);
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        ck_assert_int_ne(parse(buf, len, &reply).error, NTS_REPLY_OK);
    }
}
END_TEST

START_TEST(test_reply_to_another_request)
{
    struct nts_reply_builder b = good_builder();
    b.header.origin_ts = TRANSMIT_TS + 1;
    ck_assert_int_eq(build_and_parse(&b), NTS_REPLY_ERR_NOT_OUR_REQUEST);
}
END_TEST

START_TEST(test_reply_wrong_key)
{
    uint8_t other[AES_SIV_KEY_LEN];
    memcpy(other, s2c_key, sizeof(other));
    other[0] ^= 1;
    struct nts_reply_builder b = good_builder();
    b.s2c_key = other;
    ck_assert_int_eq(build_and_parse(&b), NTS_REPLY_ERR_AUTHENTICATION);
    /* A reply sealed with the client's own key (a reflection) fails too. */
    b.s2c_key = c2s_key;
    ck_assert_int_eq(build_and_parse(&b), NTS_REPLY_ERR_AUTHENTICATION);
}
END_TEST

START_TEST(test_nak_recognised)
{
    struct nts_reply_builder b = good_builder();
    b.header.stratum = 0;
    b.header.reference_id = read_be32((const uint8_t *)"NTSN");
    b.omit_authenticator = true;
    uint8_t buf[NTS_PACKET_MAX_LEN];
    size_t len = nts_reply_builder_build(&b, buf, sizeof(buf));
    struct nts_reply reply;
    ck_assert(nts_reply_is_nak(buf, len, uid, TRANSMIT_TS));
    ck_assert_int_eq(parse(buf, len, &reply).error, NTS_REPLY_ERR_NAK);
    ck_assert_uint_eq(reply.n_cookies, 0);
    /* Not a NAK for us: other UID, other request, or an authenticator present. */
    uint8_t other_uid[NTS_UID_LEN] = {0};
    ck_assert(!nts_reply_is_nak(buf, len, other_uid, TRANSMIT_TS));
    ck_assert(!nts_reply_is_nak(buf, len, uid, TRANSMIT_TS + 1));
    b.omit_authenticator = false;
    len = nts_reply_builder_build(&b, buf, sizeof(buf));
    ck_assert(!nts_reply_is_nak(buf, len, uid, TRANSMIT_TS));
}
END_TEST

START_TEST(test_authenticated_kiss)
{
    struct nts_reply_builder b = good_builder();
    b.header.stratum = 0;
    b.header.reference_id = read_be32((const uint8_t *)"RATE");
    uint8_t buf[NTS_PACKET_MAX_LEN];
    size_t len = nts_reply_builder_build(&b, buf, sizeof(buf));
    struct nts_reply reply;
    ck_assert_int_eq(parse(buf, len, &reply).error, NTS_REPLY_ERR_KISS);
    ck_assert(ntp_header_is_kiss(&reply.header, "RATE"));
}
END_TEST

START_TEST(test_authenticated_but_unsynchronized)
{
    struct nts_reply_builder b = good_builder();
    b.header.leap = NTP_LEAP_UNSYNCHRONIZED;
    uint8_t buf[NTS_PACKET_MAX_LEN];
    size_t len = nts_reply_builder_build(&b, buf, sizeof(buf));
    struct nts_reply reply;
    struct nts_reply_status s = parse(buf, len, &reply);
    ck_assert_int_eq(s.error, NTS_REPLY_ERR_HEADER);
    ck_assert_int_eq(s.header_error, NTP_PACKET_ERR_UNSYNCHRONIZED);
}
END_TEST

START_TEST(test_reply_malformed_encrypted_field)
{
    /* A cookie field claiming 40 bytes inside 24 bytes of plaintext. */
    uint8_t plain[24] = {0x02, 0x04, 0x00, 40};
    struct nts_reply_builder b = good_builder();
    b.raw_plain = plain;
    b.raw_plain_len = sizeof(plain);
    uint8_t buf[NTS_PACKET_MAX_LEN];
    size_t len = nts_reply_builder_build(&b, buf, sizeof(buf));
    struct nts_reply reply;
    struct nts_reply_status s = parse(buf, len, &reply);
    ck_assert_int_eq(s.error, NTS_REPLY_ERR_ENCRYPTED_EXTENSION);
    ck_assert_int_eq(s.ext_error, NTP_EXT_ERR_LENGTH_PAST_END);
}
END_TEST

START_TEST(test_reply_without_new_cookie)
{
    struct nts_reply_builder b = good_builder();
    b.n_cookies = 0;
    ck_assert_int_eq(build_and_parse(&b), NTS_REPLY_ERR_NO_COOKIES);
    b.n_cookies = 1;
    ck_assert_int_eq(build_and_parse(&b), NTS_REPLY_OK);
}
END_TEST

START_TEST(test_reply_too_many_cookies)
{
    struct nts_reply_builder b = good_builder();
    b.n_cookies = NTS_MAX_COOKIES + 1;
    ck_assert_int_eq(build_and_parse(&b), NTS_REPLY_ERR_TOO_MANY_COOKIES);
}
END_TEST

START_TEST(test_reply_oversized_cookie)
{
    struct nts_cookie big[1];
    big[0].len = NTS_COOKIE_MAX_LEN;
    memset(big[0].data, 1, NTS_COOKIE_MAX_LEN);
    struct nts_reply_builder b = good_builder();
    b.cookies = big;
    b.n_cookies = 1;
    ck_assert_int_eq(build_and_parse(&b), NTS_REPLY_OK);
    b.cookie_field_extra = 4; /* 260 bytes */
    ck_assert_int_eq(build_and_parse(&b), NTS_REPLY_ERR_COOKIE_LENGTH);
}
END_TEST

START_TEST(test_reply_truncated)
{
    struct nts_reply_builder b = good_builder();
    uint8_t buf[NTS_PACKET_MAX_LEN];
    size_t len = nts_reply_builder_build(&b, buf, sizeof(buf));
    struct nts_reply reply;
    struct nts_reply_status s = parse(buf, NTP_HEADER_LEN - 1, &reply);
    ck_assert_int_eq(s.error, NTS_REPLY_ERR_HEADER);
    ck_assert_int_eq(s.header_error, NTP_PACKET_ERR_TRUNCATED);
    s = parse(buf, len - 4, &reply);
    ck_assert_int_eq(s.error, NTS_REPLY_ERR_EXTENSION);
    ck_assert_int_eq(s.ext_error, NTP_EXT_ERR_LENGTH_PAST_END);
    s = parse(buf, NTP_HEADER_LEN, &reply);
    ck_assert_int_eq(s.error, NTS_REPLY_ERR_AUTHENTICATOR_MISSING);
}
END_TEST

START_TEST(test_error_strings_distinct)
{
    for (int a = NTS_REPLY_OK; a <= NTS_REPLY_ERR_CRYPTO; a++)
        for (int b = a + 1; b <= NTS_REPLY_ERR_CRYPTO; b++)
            ck_assert_str_ne(nts_reply_error_str(a), nts_reply_error_str(b));
}
END_TEST

static Suite *make_suite(void)
{
    Suite *suite = suite_create("nts-packet");
    TCase *tc = tcase_create("request");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_request_layout);
    tcase_add_test(tc, test_request_stays_under_size_limit);
    tcase_add_test(tc, test_request_bad_inputs);
    suite_add_tcase(suite, tc);

    tc = tcase_create("reply");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_reply_round_trip);
    tcase_add_test(tc, test_reply_wrong_uid);
    tcase_add_test(tc, test_reply_uid_missing_or_duplicate);
    tcase_add_test(tc, test_reply_without_authenticator);
    tcase_add_test(tc, test_reply_authenticator_not_last);
    tcase_add_test(tc, test_reply_nonce_empty);
    tcase_add_test(tc, test_reply_nonce_15_padded_accepted);
    tcase_add_test(tc, test_reply_nonce_15_unpadded_refused);
    tcase_add_test(tc, test_reply_short_nonce_needs_additional_padding);
    tcase_add_test(tc, test_reply_huge_nonce_length);
    tcase_add_test(tc, test_reply_ciphertext_shorter_than_tag);
    tcase_add_test(tc, test_reply_every_flipped_bit_refused);
    tcase_add_test(tc, test_reply_to_another_request);
    tcase_add_test(tc, test_reply_wrong_key);
    tcase_add_test(tc, test_nak_recognised);
    tcase_add_test(tc, test_authenticated_kiss);
    tcase_add_test(tc, test_authenticated_but_unsynchronized);
    tcase_add_test(tc, test_reply_malformed_encrypted_field);
    tcase_add_test(tc, test_reply_without_new_cookie);
    tcase_add_test(tc, test_reply_too_many_cookies);
    tcase_add_test(tc, test_reply_oversized_cookie);
    tcase_add_test(tc, test_reply_truncated);
    tcase_add_test(tc, test_error_strings_distinct);
    suite_add_tcase(suite, tc);
    return suite;
}

GNOMON_CHECK_MAIN(make_suite)
