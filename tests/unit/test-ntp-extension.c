/* Tests agent/core/ntp-extension.c: RFC 7822 extension field reader and writer. */
#include <check.h>
#include <string.h>

#include "check-main.h"
#include "ntp-extension.h"
#include "ntp-packet.h"

static void put_field_header(uint8_t *p, uint16_t type, uint16_t len)
{
    p[0] = (uint8_t)(type >> 8);
    p[1] = (uint8_t)type;
    p[2] = (uint8_t)(len >> 8);
    p[3] = (uint8_t)len;
}

START_TEST(test_round_trip_padding)
{
    uint8_t buf[256];
    struct ntp_ext_writer w;
    ntp_ext_writer_init(&w, buf, sizeof(buf), NTP_HEADER_LEN);
    const uint8_t body[5] = {1, 2, 3, 4, 5};
    ck_assert(ntp_ext_append(&w, 0x0104, body, sizeof(body), NTP_EXT_MIN_LEN_CLEAR));
    ck_assert(ntp_ext_append(&w, 0x0204, body, 4, 0));
    /* 5 bytes -> padded to 16 (the minimum), 4 bytes with no minimum -> 8. */
    ck_assert_uint_eq(w.len, NTP_HEADER_LEN + 16 + 8);

    struct ntp_ext_reader r;
    struct ntp_ext_field f;
    ntp_ext_reader_init(&r, buf, w.len, NTP_HEADER_LEN, NTP_EXT_MIN_LEN_ENCRYPTED);
    ck_assert_int_eq(ntp_ext_next(&r, &f), NTP_EXT_OK);
    ck_assert_uint_eq(f.type, 0x0104);
    ck_assert_uint_eq(f.body_len, 12);
    ck_assert_uint_eq(f.start, NTP_HEADER_LEN);
    ck_assert_mem_eq(f.body, body, 5);
    for (size_t i = 5; i < 12; i++)
        ck_assert_uint_eq(f.body[i], 0);
    ck_assert_int_eq(ntp_ext_next(&r, &f), NTP_EXT_OK);
    ck_assert_uint_eq(f.type, 0x0204);
    ck_assert_uint_eq(f.body_len, 4);
    ck_assert_int_eq(ntp_ext_next(&r, &f), NTP_EXT_END);
}
END_TEST

START_TEST(test_truncated_field_header)
{
    uint8_t buf[3] = {0x01, 0x04, 0x00};
    struct ntp_ext_reader r;
    struct ntp_ext_field f;
    ntp_ext_reader_init(&r, buf, sizeof(buf), 0, NTP_EXT_MIN_LEN_CLEAR);
    ck_assert_int_eq(ntp_ext_next(&r, &f), NTP_EXT_ERR_TRUNCATED_HEADER);
}
END_TEST

START_TEST(test_length_past_end)
{
    uint8_t buf[32] = {0};
    put_field_header(buf, 0x0104, 36);
    struct ntp_ext_reader r;
    struct ntp_ext_field f;
    ntp_ext_reader_init(&r, buf, sizeof(buf), 0, NTP_EXT_MIN_LEN_CLEAR);
    ck_assert_int_eq(ntp_ext_next(&r, &f), NTP_EXT_ERR_LENGTH_PAST_END);
}
END_TEST

START_TEST(test_length_not_word_multiple)
{
    uint8_t buf[32] = {0};
    put_field_header(buf, 0x0104, 18);
    struct ntp_ext_reader r;
    struct ntp_ext_field f;
    ntp_ext_reader_init(&r, buf, sizeof(buf), 0, NTP_EXT_MIN_LEN_CLEAR);
    ck_assert_int_eq(ntp_ext_next(&r, &f), NTP_EXT_ERR_LENGTH_NOT_WORD);
}
END_TEST

START_TEST(test_zero_length_field)
{
    /* A zero length would never advance: it is an error, not an endless loop. */
    uint8_t buf[32] = {0};
    put_field_header(buf, 0x0104, 0);
    struct ntp_ext_reader r;
    struct ntp_ext_field f;
    ntp_ext_reader_init(&r, buf, sizeof(buf), 0, NTP_EXT_MIN_LEN_ENCRYPTED);
    ck_assert_int_eq(ntp_ext_next(&r, &f), NTP_EXT_ERR_LENGTH_TOO_SHORT);
}
END_TEST

START_TEST(test_short_field_in_clear)
{
    uint8_t buf[32] = {0};
    put_field_header(buf, 0x0104, 12);
    struct ntp_ext_reader r;
    struct ntp_ext_field f;
    ntp_ext_reader_init(&r, buf, sizeof(buf), 0, NTP_EXT_MIN_LEN_CLEAR);
    ck_assert_int_eq(ntp_ext_next(&r, &f), NTP_EXT_ERR_LENGTH_TOO_SHORT);
    /* The same 12-byte field is fine inside the encrypted part. */
    ntp_ext_reader_init(&r, buf, 12, 0, NTP_EXT_MIN_LEN_ENCRYPTED);
    ck_assert_int_eq(ntp_ext_next(&r, &f), NTP_EXT_OK);
    ck_assert_uint_eq(f.body_len, 8);
}
END_TEST

START_TEST(test_writer_refuses_overflow)
{
    uint8_t buf[64];
    struct ntp_ext_writer w;
    ntp_ext_writer_init(&w, buf, sizeof(buf), 48);
    uint8_t body[16] = {0};
    ck_assert(!ntp_ext_append(&w, 0x0104, body, sizeof(body), 0)); /* needs 20, has 16 */
    ck_assert_uint_eq(w.len, 48);
    ck_assert(ntp_ext_append(&w, 0x0104, body, 12, 0));
    ck_assert_uint_eq(w.len, 64);
}
END_TEST

START_TEST(test_writer_refuses_oversized_field)
{
    static uint8_t buf[70000];
    static uint8_t body[65533];
    struct ntp_ext_writer w;
    ntp_ext_writer_init(&w, buf, sizeof(buf), 0);
    ck_assert(!ntp_ext_append(&w, 0x0104, body, sizeof(body), 0)); /* > 16-bit length */
    ck_assert_uint_eq(w.len, 0);
}
END_TEST

START_TEST(test_reader_stays_put_after_error)
{
    uint8_t buf[48] = {0};
    put_field_header(buf, 0x0104, 16);
    put_field_header(buf + 16, 0x0204, 22);
    struct ntp_ext_reader r;
    struct ntp_ext_field f;
    ntp_ext_reader_init(&r, buf, 32, 0, NTP_EXT_MIN_LEN_CLEAR);
    ck_assert_int_eq(ntp_ext_next(&r, &f), NTP_EXT_OK);
    ck_assert_int_eq(ntp_ext_next(&r, &f), NTP_EXT_ERR_LENGTH_NOT_WORD);
    ck_assert_int_eq(ntp_ext_next(&r, &f), NTP_EXT_ERR_LENGTH_NOT_WORD);
    ck_assert_uint_eq(r.pos, 16);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *suite = suite_create("ntp-extension");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_round_trip_padding);
    tcase_add_test(tc, test_truncated_field_header);
    tcase_add_test(tc, test_length_past_end);
    tcase_add_test(tc, test_length_not_word_multiple);
    tcase_add_test(tc, test_zero_length_field);
    tcase_add_test(tc, test_short_field_in_clear);
    tcase_add_test(tc, test_writer_refuses_overflow);
    tcase_add_test(tc, test_writer_refuses_oversized_field);
    tcase_add_test(tc, test_reader_stays_put_after_error);
    suite_add_tcase(suite, tc);
    return suite;
}

GNOMON_CHECK_MAIN(make_suite)
