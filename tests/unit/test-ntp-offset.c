/* Tests agent/core/ntp-offset.c: offset and delay from four timestamps. */
#include <check.h>

#include "check-main.h"
#include "nanoseconds.h"
#include "ntp-offset.h"

START_TEST(test_symmetric_paths)
{
    /* Local clock 5 ms behind; 10 ms each way; server holds the packet 1 ms.
     * T1 = 1000 ms (local), T2 = 1000 + 5 + 10 = 1015, T3 = 1016, T4 = 1000 + 21 = 1021. */
    struct ntp_offset r =
        ntp_offset_compute(1000 * NS_PER_MS, 1015 * NS_PER_MS, 1016 * NS_PER_MS, 1021 * NS_PER_MS);
    ck_assert_int_eq(r.offset_ns, 5 * NS_PER_MS);
    ck_assert_int_eq(r.delay_ns, 20 * NS_PER_MS);
}
END_TEST

START_TEST(test_local_ahead)
{
    /* Local 2 s ahead: T1 = 10 s, T2 = 8.001 s, T3 = 8.002 s, T4 = 10.003 s. */
    struct ntp_offset r =
        ntp_offset_compute(10 * NS_PER_SEC, 8 * NS_PER_SEC + NS_PER_MS,
                           8 * NS_PER_SEC + 2 * NS_PER_MS, 10 * NS_PER_SEC + 3 * NS_PER_MS);
    ck_assert_int_eq(r.offset_ns, -2 * NS_PER_SEC);
    ck_assert_int_eq(r.delay_ns, 2 * NS_PER_MS);
}
END_TEST

START_TEST(test_odd_nanoseconds_round_toward_zero)
{
    /* (1 + 0) / 2 = 0 and (-1 + 0) / 2 = 0 as C rounds; (3 + 2)/2 = 2. */
    ck_assert_int_eq(ntp_offset_compute(0, 1, 1, 1).offset_ns, 0);
    ck_assert_int_eq(ntp_offset_compute(1, 0, 0, 0).offset_ns, 0);
    ck_assert_int_eq(ntp_offset_compute(0, 3, 5, 3).offset_ns, 2);
}
END_TEST

START_TEST(test_large_offsets_do_not_overflow)
{
    /* 130 years apart each way: (T2 - T1) + (T3 - T4) would overflow int64 if summed. */
    int64_t years_130 = INT64_C(130) * 365 * 86400 * NS_PER_SEC;
    int64_t t1 = -years_130;
    int64_t t4 = -years_130 + 10 * NS_PER_MS;
    int64_t t2 = years_130;
    int64_t t3 = years_130 + NS_PER_MS;
    struct ntp_offset r = ntp_offset_compute(t1, t2, t3, t4);
    ck_assert_int_eq(r.offset_ns, 2 * years_130 - 4500000);
    ck_assert_int_eq(r.delay_ns, 9 * NS_PER_MS);
}
END_TEST

START_TEST(test_negative_delay_reported)
{
    /* Server claims it spent longer than the round trip: the caller must see it. */
    struct ntp_offset r = ntp_offset_compute(0, 0, 50 * NS_PER_MS, 10 * NS_PER_MS);
    ck_assert_int_eq(r.delay_ns, -40 * NS_PER_MS);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *suite = suite_create("ntp-offset");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_symmetric_paths);
    tcase_add_test(tc, test_local_ahead);
    tcase_add_test(tc, test_odd_nanoseconds_round_toward_zero);
    tcase_add_test(tc, test_large_offsets_do_not_overflow);
    tcase_add_test(tc, test_negative_delay_reported);
    suite_add_tcase(suite, tc);
    return suite;
}

GNOMON_CHECK_MAIN(make_suite)
