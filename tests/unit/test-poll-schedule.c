/* Tests agent/core/poll-schedule.c: RFC 8915 §4.1.1 back-off, RATE, and when keys are made
 * anew (clock-policy.md, "politeness"). */
#include <check.h>

#include "check-main.h"
#include "poll-schedule.h"

#define SEC NS_PER_SEC

START_TEST(test_backoff_grows_by_half_from_ten_seconds)
{
    ck_assert_int_eq(poll_schedule_backoff_ns(1), 10 * SEC);
    ck_assert_int_eq(poll_schedule_backoff_ns(2), 15 * SEC);
    ck_assert_int_eq(poll_schedule_backoff_ns(3), 22500 * NS_PER_MS);
    ck_assert_int_eq(poll_schedule_backoff_ns(4), 33750 * NS_PER_MS);
    for (unsigned n = 2; n < 40; n++)
        ck_assert_int_ge(poll_schedule_backoff_ns(n), poll_schedule_backoff_ns(n - 1));
}
END_TEST

START_TEST(test_backoff_capped_at_five_days)
{
    ck_assert_int_eq(poll_schedule_backoff_ns(30), POLL_SCHEDULE_BACKOFF_MAX_NS);
    ck_assert_int_eq(poll_schedule_backoff_ns(UINT32_MAX), POLL_SCHEDULE_BACKOFF_MAX_NS);
    ck_assert_int_eq(POLL_SCHEDULE_BACKOFF_MAX_NS, INT64_C(5) * 86400 * SEC);
}
END_TEST

START_TEST(test_failures_back_off_and_success_clears)
{
    struct poll_schedule s;
    poll_schedule_init(&s);
    ck_assert(poll_schedule_may_poll(&s, 0));
    poll_schedule_failure(&s, 100 * SEC);
    ck_assert(!poll_schedule_may_poll(&s, 109 * SEC));
    ck_assert(poll_schedule_may_poll(&s, 110 * SEC));
    poll_schedule_failure(&s, 110 * SEC);
    ck_assert(!poll_schedule_may_poll(&s, 124 * SEC));
    ck_assert(poll_schedule_may_poll(&s, 125 * SEC));
    poll_schedule_success(&s, 64 * SEC, 125 * SEC);
    ck_assert_uint_eq(s.failures, 0);
    ck_assert(poll_schedule_may_poll(&s, 125 * SEC));
}
END_TEST

START_TEST(test_failure_count_saturates)
{
    struct poll_schedule s;
    poll_schedule_init(&s);
    for (unsigned i = 0; i < POLL_SCHEDULE_MAX_FAILURES + 10; i++)
        poll_schedule_failure(&s, 0);
    ck_assert_uint_eq(s.failures, POLL_SCHEDULE_MAX_FAILURES);
    ck_assert_int_eq(s.next_allowed_ns, POLL_SCHEDULE_BACKOFF_MAX_NS);
}
END_TEST

START_TEST(test_rate_doubles_the_interval_up_to_64_times)
{
    struct poll_schedule s;
    poll_schedule_init(&s);
    int64_t poll = 64 * SEC;
    ck_assert_int_eq(poll_schedule_rate(&s, poll, 0), 128 * SEC);
    /* The next round comes after one poll; the source sits it out until its own. */
    ck_assert(!poll_schedule_may_poll(&s, 64 * SEC - 1));
    ck_assert(poll_schedule_may_poll(&s, 64 * SEC));
    ck_assert_int_eq(poll_schedule_rate(&s, poll, 0), 256 * SEC);
    ck_assert(!poll_schedule_may_poll(&s, 191 * SEC));
    ck_assert(poll_schedule_may_poll(&s, 192 * SEC));
    for (int i = 0; i < 10; i++)
        poll_schedule_rate(&s, poll, 0);
    ck_assert_uint_eq(s.rate_shift, POLL_SCHEDULE_MAX_RATE_SHIFT);
    /* A success keeps the slower pace: RATE is not forgotten. */
    poll_schedule_success(&s, poll, 1000 * SEC);
    ck_assert(!poll_schedule_may_poll(&s, 1000 * SEC + 63 * poll - 1));
    ck_assert(poll_schedule_may_poll(&s, 1000 * SEC + 63 * poll));
}
END_TEST

START_TEST(test_forget_failures_when_back_online)
{
    struct poll_schedule s;
    poll_schedule_init(&s);
    for (int i = 0; i < 5; i++)
        poll_schedule_failure(&s, 0);
    ck_assert(!poll_schedule_may_poll(&s, 50 * SEC)); /* 10 * 1.5^4 = 50.6 s */
    poll_schedule_forget_failures(&s);
    ck_assert(poll_schedule_may_poll(&s, 0));
    ck_assert_uint_eq(s.failures, 0);
}
END_TEST

START_TEST(test_key_exchange_when_needed_only)
{
    const int64_t made = 1700000000;
    ck_assert(poll_schedule_needs_key_exchange(false, 8, made, made));
    ck_assert(poll_schedule_needs_key_exchange(true, 0, made, made));
    ck_assert(!poll_schedule_needs_key_exchange(true, 1, made, made));
    ck_assert(
        !poll_schedule_needs_key_exchange(true, 8, made, made + POLL_SCHEDULE_KEY_LIFETIME_S));
    ck_assert(
        poll_schedule_needs_key_exchange(true, 8, made, made + POLL_SCHEDULE_KEY_LIFETIME_S + 1));
    /* Unknown age (older state files): the cookies decide. */
    ck_assert(!poll_schedule_needs_key_exchange(true, 8, 0, made));
    /* A clock set back: keys "from the future" are not renewed for that alone. */
    ck_assert(!poll_schedule_needs_key_exchange(true, 8, made, made - 86400));
}
END_TEST

static Suite *make_suite(void)
{
    Suite *suite = suite_create("poll-schedule");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_backoff_grows_by_half_from_ten_seconds);
    tcase_add_test(tc, test_backoff_capped_at_five_days);
    tcase_add_test(tc, test_failures_back_off_and_success_clears);
    tcase_add_test(tc, test_failure_count_saturates);
    tcase_add_test(tc, test_rate_doubles_the_interval_up_to_64_times);
    tcase_add_test(tc, test_forget_failures_when_back_online);
    tcase_add_test(tc, test_key_exchange_when_needed_only);
    suite_add_tcase(suite, tc);
    return suite;
}

GNOMON_CHECK_MAIN(make_suite)
