/* Tests agent/core/ntp-packet.c: the NTPv4 header codec and reply sanity checks. */
#include <check.h>
#include <string.h>

#include "check-main.h"
#include "ntp-packet.h"

static struct ntp_header good_reply(void)
{
    struct ntp_header h = {
        .leap = NTP_LEAP_NONE,
        .version = 4,
        .mode = NTP_MODE_SERVER,
        .stratum = 2,
        .poll = 6,
        .precision = -24,
        .root_delay = 0x00000a00,      /* ~39 ms */
        .root_dispersion = 0x00000500, /* ~20 ms */
        .reference_id = 0x7f000001,
        .reference_ts = UINT64_C(0xe8000000) << 32,
        .origin_ts = UINT64_C(0x0123456789abcdef),
        .receive_ts = (UINT64_C(0xe8000001) << 32) | 0x10,
        .transmit_ts = (UINT64_C(0xe8000001) << 32) | 0x20,
    };
    return h;
}

START_TEST(test_round_trip)
{
    struct ntp_header in = good_reply(), out;
    uint8_t buf[NTP_HEADER_LEN], again[NTP_HEADER_LEN];
    ntp_header_write(&in, buf);
    ck_assert_int_eq(ntp_header_parse(buf, sizeof(buf), &out), NTP_PACKET_OK);
    /* Field by field (the struct has padding), then byte for byte on the wire. */
    ck_assert_uint_eq(out.leap, in.leap);
    ck_assert_uint_eq(out.version, in.version);
    ck_assert_uint_eq(out.mode, in.mode);
    ck_assert_uint_eq(out.stratum, in.stratum);
    ck_assert_int_eq(out.poll, in.poll);
    ck_assert_int_eq(out.precision, in.precision);
    ck_assert_uint_eq(out.root_delay, in.root_delay);
    ck_assert_uint_eq(out.root_dispersion, in.root_dispersion);
    ck_assert_uint_eq(out.reference_id, in.reference_id);
    ck_assert_uint_eq(out.reference_ts, in.reference_ts);
    ck_assert_uint_eq(out.origin_ts, in.origin_ts);
    ck_assert_uint_eq(out.receive_ts, in.receive_ts);
    ck_assert_uint_eq(out.transmit_ts, in.transmit_ts);
    ntp_header_write(&out, again);
    ck_assert_mem_eq(buf, again, NTP_HEADER_LEN);
}
END_TEST

START_TEST(test_wire_layout)
{
    struct ntp_header h = good_reply();
    h.leap = NTP_LEAP_INSERT;
    uint8_t buf[NTP_HEADER_LEN];
    ntp_header_write(&h, buf);
    ck_assert_uint_eq(buf[0], (1 << 6) | (4 << 3) | 4); /* LI 1, VN 4, mode 4 */
    ck_assert_uint_eq(buf[1], 2);
    ck_assert_uint_eq(buf[3], (uint8_t)-24);
    ck_assert_uint_eq(buf[7], 0x00); /* root delay 0x00000a00, big-endian */
    ck_assert_uint_eq(buf[6], 0x0a);
    ck_assert_uint_eq(buf[24], 0x01); /* origin timestamp starts at byte 24 */
    ck_assert_uint_eq(buf[31], 0xef);
}
END_TEST

START_TEST(test_truncated_header)
{
    uint8_t buf[NTP_HEADER_LEN] = {0};
    struct ntp_header h;
    ck_assert_int_eq(ntp_header_parse(buf, NTP_HEADER_LEN - 1, &h), NTP_PACKET_ERR_TRUNCATED);
    ck_assert_int_eq(ntp_header_parse(buf, 0, &h), NTP_PACKET_ERR_TRUNCATED);
}
END_TEST

START_TEST(test_sane_reply_accepted)
{
    struct ntp_header h = good_reply();
    ck_assert_int_eq(ntp_header_check_reply(&h), NTP_PACKET_OK);
}
END_TEST

START_TEST(test_each_insane_field_rejected)
{
    struct ntp_header h = good_reply();
    h.version = 3;
    ck_assert_int_eq(ntp_header_check_reply(&h), NTP_PACKET_ERR_VERSION);
    h = good_reply();
    h.mode = NTP_MODE_CLIENT;
    ck_assert_int_eq(ntp_header_check_reply(&h), NTP_PACKET_ERR_MODE);
    h = good_reply();
    h.leap = NTP_LEAP_UNSYNCHRONIZED;
    ck_assert_int_eq(ntp_header_check_reply(&h), NTP_PACKET_ERR_UNSYNCHRONIZED);
    h = good_reply();
    h.stratum = 0;
    ck_assert_int_eq(ntp_header_check_reply(&h), NTP_PACKET_ERR_STRATUM);
    h.stratum = 16;
    ck_assert_int_eq(ntp_header_check_reply(&h), NTP_PACKET_ERR_STRATUM);
    h = good_reply();
    h.receive_ts = 0;
    ck_assert_int_eq(ntp_header_check_reply(&h), NTP_PACKET_ERR_ZERO_TIMESTAMP);
    h = good_reply();
    h.transmit_ts = 0;
    ck_assert_int_eq(ntp_header_check_reply(&h), NTP_PACKET_ERR_ZERO_TIMESTAMP);
}
END_TEST

START_TEST(test_root_distance_bound)
{
    struct ntp_header h = good_reply();
    h.root_delay = 0x00010000;      /* 1 s: contributes 0.5 s */
    h.root_dispersion = 0x00007fff; /* just under 0.5 s */
    ck_assert_int_eq(ntp_header_check_reply(&h), NTP_PACKET_OK);
    h.root_dispersion = 0x00008000; /* exactly 1 s in all */
    ck_assert_int_eq(ntp_header_check_reply(&h), NTP_PACKET_ERR_ROOT_DISTANCE);
}
END_TEST

START_TEST(test_kiss_codes)
{
    struct ntp_header h = good_reply();
    h.stratum = 0;
    h.reference_id = ('R' << 24) | ('A' << 16) | ('T' << 8) | 'E';
    ck_assert(ntp_header_is_kiss(&h, "RATE"));
    ck_assert(!ntp_header_is_kiss(&h, "NTSN"));
    h.stratum = 1;
    ck_assert(!ntp_header_is_kiss(&h, "RATE"));
}
END_TEST

START_TEST(test_error_strings_distinct)
{
    for (int a = NTP_PACKET_OK; a <= NTP_PACKET_ERR_ROOT_DISTANCE; a++)
        for (int b = a + 1; b <= NTP_PACKET_ERR_ROOT_DISTANCE; b++)
            ck_assert_str_ne(ntp_packet_error_str(a), ntp_packet_error_str(b));
}
END_TEST

static Suite *make_suite(void)
{
    Suite *suite = suite_create("ntp-packet");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_wire_layout);
    tcase_add_test(tc, test_truncated_header);
    tcase_add_test(tc, test_sane_reply_accepted);
    tcase_add_test(tc, test_each_insane_field_rejected);
    tcase_add_test(tc, test_root_distance_bound);
    tcase_add_test(tc, test_kiss_codes);
    tcase_add_test(tc, test_error_strings_distinct);
    suite_add_tcase(suite, tc);
    return suite;
}

GNOMON_CHECK_MAIN(make_suite)
