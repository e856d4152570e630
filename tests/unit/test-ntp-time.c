/* Tests agent/core/ntp-time.c: NTP timestamps, eras and the short format. */
#include <check.h>
#include <stdint.h>

#include "check-main.h"
#include "nanoseconds.h"
#include "ntp-time.h"

/* 2036-02-07 06:28:16 UTC: the first second of NTP era 1. */
#define ERA1_START_UNIX_S (INT64_C(4294967296) - NTP_UNIX_EPOCH_DELTA_S)

START_TEST(test_unix_epoch)
{
    uint64_t ntp = ntp_time_from_unix_ns(0);
    ck_assert_uint_eq(ntp >> 32, 2208988800u);
    ck_assert_uint_eq(ntp & 0xffffffffu, 0);
    ck_assert_int_eq(ntp_time_to_unix_ns(ntp, 0), 0);
}
END_TEST

START_TEST(test_ntp_epoch_1900)
{
    int64_t unix_1900 = -NTP_UNIX_EPOCH_DELTA_S * NS_PER_SEC;
    uint64_t ntp = ntp_time_from_unix_ns(unix_1900);
    ck_assert_uint_eq(ntp, 0);
    /* Pivot in 1901: era 0 is nearest. */
    ck_assert_int_eq(ntp_time_to_unix_ns(ntp, unix_1900 + 365 * (86400 * NS_PER_SEC)), unix_1900);
}
END_TEST

START_TEST(test_half_second_fraction)
{
    uint64_t ntp = ntp_time_from_unix_ns(NS_PER_SEC / 2);
    ck_assert_uint_eq(ntp & 0xffffffffu, 0x80000000u);
}
END_TEST

START_TEST(test_rollover_2036)
{
    int64_t before = (ERA1_START_UNIX_S - 1) * NS_PER_SEC + 999999999;
    int64_t after = ERA1_START_UNIX_S * NS_PER_SEC + 1;
    uint64_t ntp_before = ntp_time_from_unix_ns(before);
    uint64_t ntp_after = ntp_time_from_unix_ns(after);
    ck_assert_uint_eq(ntp_before >> 32, 0xffffffffu);
    ck_assert_uint_eq(ntp_after >> 32, 0);
    /* With a pivot on either side of the rollover both come back exactly. */
    ck_assert_int_eq(ntp_time_to_unix_ns(ntp_before, after), before);
    ck_assert_int_eq(ntp_time_to_unix_ns(ntp_after, before), after);
    ck_assert_int_eq(ntp_time_to_unix_ns(ntp_after, after), after);
}
END_TEST

START_TEST(test_year_2100)
{
    /* 2100-01-01 00:00:00 UTC */
    int64_t t = INT64_C(4102444800) * NS_PER_SEC + 123456789;
    uint64_t ntp = ntp_time_from_unix_ns(t);
    ck_assert_uint_eq(ntp >> 32, (uint64_t)(4102444800 + NTP_UNIX_EPOCH_DELTA_S - 4294967296));
    ck_assert_int_eq(ntp_time_to_unix_ns(ntp, t - 30 * (365 * (86400 * NS_PER_SEC))), t);
}
END_TEST

START_TEST(test_era_chosen_by_pivot)
{
    /* The same NTP seconds mean 1970 near a 1970 pivot and 2106 near a 2100 pivot. */
    uint64_t ntp = ntp_time_from_unix_ns(0);
    int64_t pivot_2100 = INT64_C(4102444800) * NS_PER_SEC;
    ck_assert_int_eq(ntp_time_to_unix_ns(ntp, pivot_2100), INT64_C(4294967296) * NS_PER_SEC);
    ck_assert_int_eq(ntp_time_to_unix_ns(ntp, 0), 0);
}
END_TEST

START_TEST(test_round_trip_every_ns_pattern)
{
    /* Rounding both ways makes ns -> NTP -> ns exact, across sub-second values. */
    const int64_t base = INT64_C(1700000000) * NS_PER_SEC;
    for (int64_t ns = 0; ns < NS_PER_SEC; ns += 7919) {
        uint64_t ntp = ntp_time_from_unix_ns(base + ns);
        ck_assert_int_eq(ntp_time_to_unix_ns(ntp, base), base + ns);
    }
}
END_TEST

START_TEST(test_before_1970)
{
    int64_t t = -INT64_C(86400) * NS_PER_SEC - 250000000; /* 1969-12-30 23:59:59.75 */
    uint64_t ntp = ntp_time_from_unix_ns(t);
    ck_assert_uint_eq(ntp & 0xffffffffu, 0xc0000000u);
    ck_assert_int_eq(ntp_time_to_unix_ns(ntp, 0), t);
}
END_TEST

START_TEST(test_pivot_near_int64_limit)
{
    /* A pivot in 2261: the nearer era would overflow int64 ns, so the representable one
     * is returned instead of wrapping around. */
    int64_t pivot = INT64_C(9200000000) * NS_PER_SEC;
    int64_t result = ntp_time_to_unix_ns(UINT64_C(0xffffffff) << 32, pivot);
    ck_assert_int_gt(result, 0);
    ck_assert_int_le(result, INT64_MAX);
}
END_TEST

START_TEST(test_short_format)
{
    ck_assert_int_eq(ntp_short_to_ns(0x00010000), NS_PER_SEC);
    ck_assert_int_eq(ntp_short_to_ns(0x00008000), NS_PER_SEC / 2);
    ck_assert_int_eq(ntp_short_to_ns(0x00000001), 15259); /* 2^-16 s = 15258.79 ns */
    ck_assert_uint_eq(ntp_short_from_ns(NS_PER_SEC / 4), 0x00004000);
    ck_assert_uint_eq(ntp_short_from_ns(-5), 0);
    ck_assert_uint_eq(ntp_short_from_ns(INT64_C(100000) * NS_PER_SEC), UINT32_MAX);
    ck_assert_uint_eq(ntp_short_from_ns(ntp_short_to_ns(0x12345678)), 0x12345678);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *suite = suite_create("ntp-time");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_unix_epoch);
    tcase_add_test(tc, test_ntp_epoch_1900);
    tcase_add_test(tc, test_half_second_fraction);
    tcase_add_test(tc, test_rollover_2036);
    tcase_add_test(tc, test_year_2100);
    tcase_add_test(tc, test_era_chosen_by_pivot);
    tcase_add_test(tc, test_round_trip_every_ns_pattern);
    tcase_add_test(tc, test_before_1970);
    tcase_add_test(tc, test_pivot_near_int64_limit);
    tcase_add_test(tc, test_short_format);
    suite_add_tcase(suite, tc);
    return suite;
}

GNOMON_CHECK_MAIN(make_suite)
