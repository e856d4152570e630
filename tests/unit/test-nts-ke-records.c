/* Tests agent/core/nts-ke-records.c and nts-ke-keys.c: the NTS-KE request, every rule of
 * the response parser, and the key-export context. */
#include <check.h>
#include <string.h>

#include "byte-order.h"
#include "check-main.h"
#include "nts-ke-keys.h"
#include "nts-ke-records.h"

static uint8_t buf[80000];
static size_t len;

static void add(bool critical, uint16_t type, const uint8_t *body, size_t body_len)
{
    len = nts_ke_record_append(buf, sizeof(buf), len, critical, type, body, body_len);
    ck_assert_uint_gt(len, 0);
}

static void add_u16(bool critical, uint16_t type, uint16_t value)
{
    uint8_t body[2];
    write_be16(body, value);
    add(critical, type, body, 2);
}

static void add_cookie(size_t cookie_len, uint8_t fill)
{
    uint8_t cookie[512];
    memset(cookie, fill, cookie_len);
    add(false, NTS_KE_RECORD_NEW_COOKIE, cookie, cookie_len);
}

static void add_end(void)
{
    add(true, NTS_KE_RECORD_END_OF_MESSAGE, NULL, 0);
}

/* What a normal server sends, without End of Message. */
static void add_good_body(void)
{
    add_u16(true, NTS_KE_RECORD_NEXT_PROTOCOL, NTS_KE_PROTOCOL_NTPV4);
    add_u16(true, NTS_KE_RECORD_AEAD, NTS_KE_AEAD_AES_SIV_CMAC_256);
    for (uint8_t i = 0; i < 8; i++)
        add_cookie(100, i);
}

static enum nts_ke_error parse_buf(struct nts_ke_response *r)
{
    return nts_ke_response_parse(buf, len, r);
}

static void setup(void)
{
    len = 0;
}

START_TEST(test_request_bytes)
{
    uint8_t req[64];
    size_t n = nts_ke_request_build(req, sizeof(req));
    const uint8_t expected[] = {
        0x80, 0x01, 0x00, 0x02, 0x00, 0x00, /* critical Next Protocol: [NTPv4] */
        0x80, 0x04, 0x00, 0x02, 0x00, 0x0f, /* critical AEAD: [AES-SIV-CMAC-256] */
        0x80, 0x00, 0x00, 0x00,             /* critical End of Message */
    };
    ck_assert_uint_eq(n, sizeof(expected));
    ck_assert_mem_eq(req, expected, sizeof(expected));
    ck_assert_uint_eq(nts_ke_request_build(req, 10), 0);
}
END_TEST

START_TEST(test_good_response)
{
    struct nts_ke_response r;
    add_good_body();
    add_end();
    ck_assert_int_eq(parse_buf(&r), NTS_KE_OK);
    ck_assert_uint_eq(r.protocol, 0);
    ck_assert_uint_eq(r.aead, 15);
    ck_assert_uint_eq(r.n_cookies, 8);
    ck_assert_uint_eq(r.cookies[7].len, 100);
    ck_assert_uint_eq(r.cookies[7].data[99], 7);
    ck_assert(!r.has_server);
    ck_assert(!r.has_port);
}
END_TEST

START_TEST(test_server_and_port_negotiation)
{
    struct nts_ke_response r;
    add_good_body();
    add(false, NTS_KE_RECORD_SERVER, (const uint8_t *)"ntp1.example.net", 16);
    add_u16(false, NTS_KE_RECORD_PORT, 11123);
    add_end();
    ck_assert_int_eq(parse_buf(&r), NTS_KE_OK);
    ck_assert(r.has_server);
    ck_assert_str_eq(r.server, "ntp1.example.net");
    ck_assert(r.has_port);
    ck_assert_uint_eq(r.port, 11123);
}
END_TEST

START_TEST(test_incomplete_until_end)
{
    struct nts_ke_response r;
    add_good_body();
    ck_assert_int_eq(parse_buf(&r), NTS_KE_INCOMPLETE);
    add_end();
    /* Every proper prefix is incomplete, never an error: TLS may deliver it piecewise. */
    size_t full = len;
    for (len = 0; len < full; len++)
        ck_assert_int_eq(parse_buf(&r), NTS_KE_INCOMPLETE);
    len = full;
    ck_assert_int_eq(parse_buf(&r), NTS_KE_OK);
}
END_TEST

START_TEST(test_duplicate_end)
{
    struct nts_ke_response r;
    add_good_body();
    add_end();
    add_end();
    ck_assert_int_eq(parse_buf(&r), NTS_KE_ERR_DATA_AFTER_END);
}
END_TEST

START_TEST(test_end_not_critical_or_not_empty)
{
    struct nts_ke_response r;
    add_good_body();
    add(false, NTS_KE_RECORD_END_OF_MESSAGE, NULL, 0);
    ck_assert_int_eq(parse_buf(&r), NTS_KE_ERR_END_NOT_CRITICAL);
    len = 0;
    add_good_body();
    add_u16(true, NTS_KE_RECORD_END_OF_MESSAGE, 0);
    ck_assert_int_eq(parse_buf(&r), NTS_KE_ERR_END_NOT_EMPTY);
}
END_TEST

START_TEST(test_unknown_critical_record)
{
    struct nts_ke_response r;
    add_good_body();
    add_u16(true, 0x4321, 7);
    add_end();
    ck_assert_int_eq(parse_buf(&r), NTS_KE_ERR_UNKNOWN_CRITICAL);
    ck_assert_uint_eq(r.record_type, 0x4321);
}
END_TEST

START_TEST(test_unknown_noncritical_ignored)
{
    struct nts_ke_response r;
    add_u16(false, 0x4321, 7);
    add_good_body();
    add_u16(false, 0x1234, 7);
    add_end();
    ck_assert_int_eq(parse_buf(&r), NTS_KE_OK);
    ck_assert_uint_eq(r.n_cookies, 8);
}
END_TEST

START_TEST(test_error_record)
{
    struct nts_ke_response r;
    add_u16(true, NTS_KE_RECORD_ERROR, NTS_KE_ERROR_BAD_REQUEST);
    add_end();
    ck_assert_int_eq(parse_buf(&r), NTS_KE_ERR_SERVER_ERROR);
    ck_assert_uint_eq(r.error_code, NTS_KE_ERROR_BAD_REQUEST);
    ck_assert(!nts_ke_error_is_transient(NTS_KE_ERR_SERVER_ERROR, &r));
    len = 0;
    add_u16(true, NTS_KE_RECORD_ERROR, NTS_KE_ERROR_INTERNAL_SERVER);
    add_end();
    ck_assert_int_eq(parse_buf(&r), NTS_KE_ERR_SERVER_ERROR);
    ck_assert(nts_ke_error_is_transient(NTS_KE_ERR_SERVER_ERROR, &r));
}
END_TEST

START_TEST(test_warning_record_fatal)
{
    struct nts_ke_response r;
    add_good_body();
    add_u16(true, NTS_KE_RECORD_WARNING, 3);
    add_end();
    ck_assert_int_eq(parse_buf(&r), NTS_KE_ERR_SERVER_WARNING);
    ck_assert_uint_eq(r.warning_code, 3);
}
END_TEST

START_TEST(test_protocol_rules)
{
    struct nts_ke_response r;
    /* missing */
    add_u16(true, NTS_KE_RECORD_AEAD, NTS_KE_AEAD_AES_SIV_CMAC_256);
    add_cookie(100, 1);
    add_end();
    ck_assert_int_eq(parse_buf(&r), NTS_KE_ERR_PROTOCOL_MISSING);
    /* not offered */
    len = 0;
    add_u16(true, NTS_KE_RECORD_NEXT_PROTOCOL, 0x8000);
    ck_assert_int_eq(parse_buf(&r), NTS_KE_ERR_PROTOCOL_NOT_OFFERED);
    /* two protocols in one record */
    len = 0;
    uint8_t two[4] = {0, 0, 0, 1};
    add(true, NTS_KE_RECORD_NEXT_PROTOCOL, two, 4);
    ck_assert_int_eq(parse_buf(&r), NTS_KE_ERR_PROTOCOL_NOT_OFFERED);
    /* empty list */
    len = 0;
    add(true, NTS_KE_RECORD_NEXT_PROTOCOL, NULL, 0);
    ck_assert_int_eq(parse_buf(&r), NTS_KE_ERR_PROTOCOL_NOT_OFFERED);
    /* duplicate */
    len = 0;
    add_u16(true, NTS_KE_RECORD_NEXT_PROTOCOL, 0);
    add_u16(true, NTS_KE_RECORD_NEXT_PROTOCOL, 0);
    ck_assert_int_eq(parse_buf(&r), NTS_KE_ERR_PROTOCOL_DUPLICATE);
    /* odd length */
    len = 0;
    add(true, NTS_KE_RECORD_NEXT_PROTOCOL, two, 3);
    ck_assert_int_eq(parse_buf(&r), NTS_KE_ERR_BAD_RECORD_LENGTH);
}
END_TEST

START_TEST(test_aead_rules)
{
    struct nts_ke_response r;
    add_u16(true, NTS_KE_RECORD_NEXT_PROTOCOL, 0);
    add_cookie(100, 1);
    add_end();
    ck_assert_int_eq(parse_buf(&r), NTS_KE_ERR_AEAD_MISSING);
    len = 0;
    add_u16(true, NTS_KE_RECORD_AEAD, 30); /* AES-128-GCM-SIV: not offered */
    ck_assert_int_eq(parse_buf(&r), NTS_KE_ERR_AEAD_NOT_OFFERED);
    len = 0;
    add_u16(true, NTS_KE_RECORD_AEAD, 15);
    add_u16(true, NTS_KE_RECORD_AEAD, 15);
    ck_assert_int_eq(parse_buf(&r), NTS_KE_ERR_AEAD_DUPLICATE);
}
END_TEST

START_TEST(test_no_cookies)
{
    struct nts_ke_response r;
    add_u16(true, NTS_KE_RECORD_NEXT_PROTOCOL, 0);
    add_u16(true, NTS_KE_RECORD_AEAD, 15);
    add_end();
    ck_assert_int_eq(parse_buf(&r), NTS_KE_ERR_NO_COOKIES);
}
END_TEST

START_TEST(test_more_than_eight_cookies)
{
    struct nts_ke_response r;
    add_good_body();
    add_cookie(100, 9);
    add_end();
    ck_assert_int_eq(parse_buf(&r), NTS_KE_ERR_TOO_MANY_COOKIES);
}
END_TEST

START_TEST(test_cookie_lengths)
{
    struct nts_ke_response r;
    const size_t bad[] = {0, 6, NTS_COOKIE_MAX_LEN + 4};
    for (size_t i = 0; i < 3; i++) {
        len = 0;
        add_u16(true, NTS_KE_RECORD_NEXT_PROTOCOL, 0);
        add_cookie(bad[i], 1);
        ck_assert_int_eq(parse_buf(&r), NTS_KE_ERR_COOKIE_LENGTH);
    }
    len = 0;
    add_u16(true, NTS_KE_RECORD_NEXT_PROTOCOL, 0);
    add_u16(true, NTS_KE_RECORD_AEAD, 15);
    add_cookie(NTS_COOKIE_MAX_LEN, 1);
    add_cookie(4, 2);
    add_end();
    ck_assert_int_eq(parse_buf(&r), NTS_KE_OK);
}
END_TEST

START_TEST(test_64k_response)
{
    /* A server streaming 64 KiB of records: refused as soon as the bound is passed. */
    struct nts_ke_response r;
    add_u16(true, NTS_KE_RECORD_NEXT_PROTOCOL, 0);
    while (len < 65536)
        add_u16(false, 0x1234, 0);
    ck_assert_int_eq(parse_buf(&r), NTS_KE_ERR_TOO_LONG);
    /* One huge record: incomplete below the bound, too long above it. */
    len = 0;
    uint8_t big[65535] = {0};
    add(false, 0x1234, big, sizeof(big));
    size_t full = len;
    len = NTS_KE_MAX_RESPONSE_LEN;
    ck_assert_int_eq(parse_buf(&r), NTS_KE_INCOMPLETE);
    len = full;
    ck_assert_int_eq(parse_buf(&r), NTS_KE_ERR_TOO_LONG);
}
END_TEST

START_TEST(test_server_name_rules)
{
    struct nts_ke_response r;
    const char *bad_names[] = {"ntp\0.example", "ntp example", "ntp.ex\xc3\xa4mple", "\x7f", ""};
    const size_t bad_lens[] = {12, 11, 13, 1, 0};
    for (size_t i = 0; i < 5; i++) {
        len = 0;
        add(false, NTS_KE_RECORD_SERVER, (const uint8_t *)bad_names[i], bad_lens[i]);
        ck_assert_int_eq(parse_buf(&r), NTS_KE_ERR_SERVER_NAME);
    }
    char long_name[300];
    memset(long_name, 'a', sizeof(long_name));
    len = 0;
    add(false, NTS_KE_RECORD_SERVER, (const uint8_t *)long_name, 256);
    ck_assert_int_eq(parse_buf(&r), NTS_KE_ERR_SERVER_NAME);
    len = 0;
    add_good_body();
    add(false, NTS_KE_RECORD_SERVER, (const uint8_t *)long_name, 255);
    add_end();
    ck_assert_int_eq(parse_buf(&r), NTS_KE_OK);
    ck_assert_uint_eq(strlen(r.server), 255);
    len = 0;
    add(false, NTS_KE_RECORD_SERVER, (const uint8_t *)"a", 1);
    add(false, NTS_KE_RECORD_SERVER, (const uint8_t *)"b", 1);
    ck_assert_int_eq(parse_buf(&r), NTS_KE_ERR_SERVER_DUPLICATE);
}
END_TEST

START_TEST(test_port_rules)
{
    struct nts_ke_response r;
    add_u16(false, NTS_KE_RECORD_PORT, 0);
    ck_assert_int_eq(parse_buf(&r), NTS_KE_ERR_PORT_ZERO);
    len = 0;
    add_u16(false, NTS_KE_RECORD_PORT, 123);
    add_u16(false, NTS_KE_RECORD_PORT, 124);
    ck_assert_int_eq(parse_buf(&r), NTS_KE_ERR_PORT_DUPLICATE);
    len = 0;
    uint8_t three[3] = {0};
    add(false, NTS_KE_RECORD_PORT, three, 3);
    ck_assert_int_eq(parse_buf(&r), NTS_KE_ERR_BAD_RECORD_LENGTH);
}
END_TEST

START_TEST(test_key_context)
{
    uint8_t ctx[NTS_KE_KEY_CONTEXT_LEN];
    nts_ke_key_context(NTS_KE_PROTOCOL_NTPV4, NTS_KE_AEAD_AES_SIV_CMAC_256, NTS_KEY_C2S, ctx);
    const uint8_t c2s[] = {0x00, 0x00, 0x00, 0x0f, 0x00};
    ck_assert_mem_eq(ctx, c2s, sizeof(c2s));
    nts_ke_key_context(NTS_KE_PROTOCOL_NTPV4, NTS_KE_AEAD_AES_SIV_CMAC_256, NTS_KEY_S2C, ctx);
    const uint8_t s2c[] = {0x00, 0x00, 0x00, 0x0f, 0x01};
    ck_assert_mem_eq(ctx, s2c, sizeof(s2c));
    ck_assert_str_eq(NTS_KE_EXPORTER_LABEL, "EXPORTER-network-time-security");
}
END_TEST

START_TEST(test_error_strings_distinct)
{
    for (int a = NTS_KE_OK; a <= NTS_KE_ERR_PORT_ZERO; a++)
        for (int b = a + 1; b <= NTS_KE_ERR_PORT_ZERO; b++)
            ck_assert_str_ne(nts_ke_error_str(a), nts_ke_error_str(b));
}
END_TEST

static Suite *make_suite(void)
{
    Suite *suite = suite_create("nts-ke-records");
    TCase *tc = tcase_create("records");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_request_bytes);
    tcase_add_test(tc, test_good_response);
    tcase_add_test(tc, test_server_and_port_negotiation);
    tcase_add_test(tc, test_incomplete_until_end);
    tcase_add_test(tc, test_duplicate_end);
    tcase_add_test(tc, test_end_not_critical_or_not_empty);
    tcase_add_test(tc, test_unknown_critical_record);
    tcase_add_test(tc, test_unknown_noncritical_ignored);
    tcase_add_test(tc, test_error_record);
    tcase_add_test(tc, test_warning_record_fatal);
    tcase_add_test(tc, test_protocol_rules);
    tcase_add_test(tc, test_aead_rules);
    tcase_add_test(tc, test_no_cookies);
    tcase_add_test(tc, test_more_than_eight_cookies);
    tcase_add_test(tc, test_cookie_lengths);
    tcase_add_test(tc, test_64k_response);
    tcase_add_test(tc, test_server_name_rules);
    tcase_add_test(tc, test_port_rules);
    tcase_add_test(tc, test_key_context);
    tcase_add_test(tc, test_error_strings_distinct);
    suite_add_tcase(suite, tc);
    return suite;
}

GNOMON_CHECK_MAIN(make_suite)
