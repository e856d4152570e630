/* Tests agent/core/discipline.c: every rule of clock-policy.md's "agent's decision" table,
 * approvals, the frequency estimate and the poll interval, and a deterministic simulation
 * of a clock with a 50 ppm frequency error and packet jitter. */
#include <check.h>
#include <math.h>
#include <stdio.h>

#include "check-main.h"
#include "discipline.h"
#include "nanoseconds.h"

#define SEC  NS_PER_SEC
#define MS   NS_PER_MS
#define US   NS_PER_US
#define HOUR (3600 * SEC)
#define NOW  (INT64_C(1800000000) * SEC) /* 2027-01-15 */

static const struct discipline_limits defaults = {
    .step_threshold_ns = 400 * MS,
    .startup_max_step_ns = INT64_MAX,
    .max_step_ns = 1000 * SEC,
    .poll_min_ns = 32 * SEC,
    .poll_max_ns = 2048 * SEC,
    .max_frequency_ppm = 500,
};

static struct discipline fresh(bool boot_window)
{
    struct discipline d;
    discipline_init(&d, &defaults, boot_window, 0.0, 0);
    return d;
}

static struct discipline_decision decide(struct discipline *d, int64_t offset, int64_t boot)
{
    return discipline_decide(d, &defaults, true, offset, 5 * MS, NOW, boot);
}

START_TEST(test_no_consensus_does_nothing)
{
    struct discipline d = fresh(true);
    struct discipline_decision r = discipline_decide(&d, &defaults, false, 2 * SEC, 0, NOW, 0);
    ck_assert_int_eq(r.verdict, DISCIPLINE_NOTHING);
    ck_assert_int_eq(r.rule, DISCIPLINE_RULE_NO_CONSENSUS);
}
END_TEST

START_TEST(test_small_offset_slews)
{
    struct discipline d = fresh(true);
    struct discipline_decision r = decide(&d, 399 * MS, 0);
    ck_assert_int_eq(r.verdict, DISCIPLINE_SLEW);
    ck_assert_int_eq(r.offset_ns, 399 * MS);
    ck_assert(!r.set_frequency); /* no baseline yet */
    r = decide(&d, -399 * MS, 0);
    ck_assert_int_eq(r.verdict, DISCIPLINE_SLEW);
    /* At the threshold it is a step (timesyncd's 0.4 s). */
    r = decide(&d, 400 * MS, 0);
    ck_assert_int_eq(r.verdict, DISCIPLINE_STEP);
}
END_TEST

START_TEST(test_boot_window_forward_unlimited)
{
    struct discipline d = fresh(true);
    struct discipline_decision r = decide(&d, 3 * HOUR, 0);
    ck_assert_int_eq(r.verdict, DISCIPLINE_STEP);
    ck_assert_int_eq(r.rule, DISCIPLINE_RULE_BOOT_WINDOW);
    r = decide(&d, INT64_C(20) * 365 * 24 * HOUR, 0); /* a dead RTC: 20 years behind */
    ck_assert_int_eq(r.verdict, DISCIPLINE_STEP);
}
END_TEST

START_TEST(test_boot_window_backward_limited)
{
    struct discipline d = fresh(true);
    struct discipline_decision r = decide(&d, -1000 * SEC, 0);
    ck_assert_int_eq(r.verdict, DISCIPLINE_STEP);
    ck_assert_int_eq(r.rule, DISCIPLINE_RULE_BOOT_WINDOW);
    r = decide(&d, -1001 * SEC, 0);
    ck_assert_int_eq(r.verdict, DISCIPLINE_REFUSED);
    ck_assert_int_eq(r.rule, DISCIPLINE_RULE_OVER_MAX_STEP);
}
END_TEST

START_TEST(test_startup_limit_when_set)
{
    struct discipline_limits limits = defaults;
    limits.startup_max_step_ns = HOUR;
    struct discipline d;
    discipline_init(&d, &limits, true, 0, 0);
    struct discipline_decision r = discipline_decide(&d, &limits, true, HOUR + SEC, 0, NOW, 0);
    ck_assert_int_eq(r.verdict, DISCIPLINE_REFUSED);
    ck_assert_int_eq(r.rule, DISCIPLINE_RULE_OVER_STARTUP_LIMIT);
}
END_TEST

START_TEST(test_after_boot_window_max_step)
{
    struct discipline d = fresh(false);
    struct discipline_decision r = decide(&d, 1000 * SEC, 0);
    ck_assert_int_eq(r.verdict, DISCIPLINE_STEP);
    ck_assert_int_eq(r.rule, DISCIPLINE_RULE_WITHIN_MAX_STEP);
    r = decide(&d, -1000 * SEC, 0);
    ck_assert_int_eq(r.verdict, DISCIPLINE_STEP);
    r = decide(&d, 2 * HOUR, 0);
    ck_assert_int_eq(r.verdict, DISCIPLINE_REFUSED);
    ck_assert_int_eq(r.rule, DISCIPLINE_RULE_OVER_MAX_STEP);
    ck_assert(d.pending);
    ck_assert_int_eq(d.pending_offset_ns, 2 * HOUR);
}
END_TEST

START_TEST(test_step_closes_boot_window)
{
    struct discipline d = fresh(true);
    struct discipline_decision r = decide(&d, 2 * SEC, 0);
    discipline_applied(&d, &r, false, 0);
    ck_assert(d.boot_window_open); /* refused by the helper: still open */
    discipline_applied(&d, &r, true, 0);
    ck_assert(!d.boot_window_open);
    r = decide(&d, 2 * HOUR, 0);
    ck_assert_int_eq(r.verdict, DISCIPLINE_REFUSED);
}
END_TEST

START_TEST(test_refused_step_reported_once_then_waits)
{
    struct discipline d = fresh(false);
    ck_assert_int_eq(decide(&d, 2 * HOUR, 0).verdict, DISCIPLINE_REFUSED);
    struct discipline_decision r = decide(&d, 2 * HOUR + SEC, 0);
    ck_assert_int_eq(r.verdict, DISCIPLINE_NOTHING);
    ck_assert_int_eq(r.rule, DISCIPLINE_RULE_PENDING);
    ck_assert_int_eq(d.pending_offset_ns, 2 * HOUR + SEC);
    /* The sources come back to agree with the clock: the pending step is void. */
    ck_assert_int_eq(decide(&d, 1 * MS, 0).verdict, DISCIPLINE_SLEW);
    ck_assert(!d.pending);
}
END_TEST

START_TEST(test_approval_matching_offset)
{
    struct discipline d = fresh(false);
    ck_assert_int_eq(decide(&d, 2 * HOUR, 0).verdict, DISCIPLINE_REFUSED);
    discipline_approve(&d, 2 * HOUR, SEC);
    struct discipline_decision r = decide(&d, 2 * HOUR + 300 * MS, 0);
    ck_assert_int_eq(r.verdict, DISCIPLINE_STEP);
    ck_assert_int_eq(r.rule, DISCIPLINE_RULE_APPROVED);
    discipline_applied(&d, &r, true, 0);
    ck_assert(!d.approval_live);
    ck_assert(!d.pending);
}
END_TEST

START_TEST(test_approval_for_other_offset)
{
    struct discipline d = fresh(false);
    ck_assert_int_eq(decide(&d, 2 * HOUR, 0).verdict, DISCIPLINE_REFUSED);
    discipline_approve(&d, 3 * HOUR, SEC);
    struct discipline_decision r = decide(&d, 2 * HOUR, 0);
    ck_assert_int_eq(r.verdict, DISCIPLINE_NOTHING);
    discipline_approval_lapsed(&d);
    ck_assert(!d.approval_live);
}
END_TEST

START_TEST(test_floor)
{
    struct discipline d;
    discipline_init(&d, &defaults, false, 0, NOW - 500 * SEC);
    struct discipline_decision r = decide(&d, -600 * SEC, 0);
    ck_assert_int_eq(r.verdict, DISCIPLINE_REFUSED);
    ck_assert_int_eq(r.rule, DISCIPLINE_RULE_BELOW_FLOOR);
    /* Even an approval cannot take the clock below the floor. */
    discipline_approve(&d, -600 * SEC, SEC);
    ck_assert_int_ne(decide(&d, -600 * SEC, 0).verdict, DISCIPLINE_STEP);
    struct discipline d2;
    discipline_init(&d2, &defaults, false, 0, NOW - 500 * SEC);
    ck_assert_int_eq(decide(&d2, -400 * SEC, 0).verdict, DISCIPLINE_STEP);
}
END_TEST

START_TEST(test_frequency_estimate)
{
    struct discipline d = fresh(false);
    struct discipline_decision r = decide(&d, 10 * MS, 0);
    discipline_applied(&d, &r, true, 0);
    /* 1.6 ms gained in 32 s: 50 ppm slow; half of it is taken. */
    r = decide(&d, 1600 * US, 32 * SEC);
    ck_assert(r.set_frequency);
    ck_assert(fabs(r.frequency_ppm - 25.0) < 1e-9);
    discipline_applied(&d, &r, true, 32 * SEC);
    ck_assert(fabs(d.frequency_ppm - 25.0) < 1e-9);
    /* Too short a span for an estimate. */
    r = decide(&d, 1600 * US, 40 * SEC);
    ck_assert(!r.set_frequency);
}
END_TEST

START_TEST(test_frequency_clamped)
{
    struct discipline d = fresh(false);
    struct discipline_decision r = decide(&d, 0, 0);
    discipline_applied(&d, &r, true, 0);
    r = decide(&d, 300 * MS, 32 * SEC); /* ~9400 ppm */
    ck_assert(r.set_frequency);
    ck_assert(r.frequency_ppm == 500.0);
    r = decide(&d, -300 * MS, 32 * SEC);
    ck_assert(r.frequency_ppm == -500.0);
}
END_TEST

START_TEST(test_no_frequency_across_step)
{
    struct discipline d = fresh(false);
    struct discipline_decision r = decide(&d, 0, 0);
    discipline_applied(&d, &r, true, 0);
    r = decide(&d, 5 * SEC, 32 * SEC);
    ck_assert_int_eq(r.verdict, DISCIPLINE_STEP);
    discipline_applied(&d, &r, true, 32 * SEC);
    r = decide(&d, 1 * MS, 64 * SEC);
    ck_assert(!r.set_frequency);
}
END_TEST

START_TEST(test_poll_interval_adapts)
{
    struct discipline d = fresh(false);
    ck_assert_int_eq(d.poll_ns, 32 * SEC);
    decide(&d, 100 * US, 0);
    ck_assert_int_eq(d.poll_ns, 32 * SEC);
    decide(&d, 100 * US, 0);
    ck_assert_int_eq(d.poll_ns, 64 * SEC);
    for (int i = 0; i < 40; i++)
        decide(&d, 10 * US, 0);
    ck_assert_int_eq(d.poll_ns, 2048 * SEC);
    decide(&d, 3 * MS, 0);
    ck_assert_int_eq(d.poll_ns, 1024 * SEC);
    for (int i = 0; i < 40; i++)
        decide(&d, 3 * MS, 0);
    ck_assert_int_eq(d.poll_ns, 32 * SEC);
}
END_TEST

/* A deterministic clock: it loses 50 ppm until corrected, every measurement carries up to
 * +-100 us of jitter, slews apply at once (as the dry-run helper's virtual clock does). */
struct sim_result {
    int64_t settled_after_ns; /* first poll from which |offset| < 1 ms stayed true */
    int64_t worst_after_ns;   /* largest |offset| after settling */
    int64_t final_poll_ns;
    double final_ppm;
};

static struct sim_result simulate(int64_t initial_offset, double drift_ppm, int64_t duration)
{
    struct discipline d = fresh(false);
    uint64_t lcg = 12345;
    int64_t t = 0;
    double offset = (double)initial_offset; /* true - local, ns */
    struct sim_result res = {.settled_after_ns = -1};
    while (t < duration) {
        lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
        int64_t jitter = (int64_t)((lcg >> 33) % (200 * US)) - 100 * US;
        int64_t measured = (int64_t)offset + jitter;
        if (llabs((int64_t)offset) < MS) {
            if (res.settled_after_ns < 0)
                res.settled_after_ns = t;
            if (llabs((int64_t)offset) > res.worst_after_ns)
                res.worst_after_ns = llabs((int64_t)offset);
        } else {
            res.settled_after_ns = -1;
            res.worst_after_ns = 0;
        }
        struct discipline_decision r =
            discipline_decide(&d, &defaults, true, measured, 10 * MS, NOW + t, t);
        ck_assert_int_eq(r.verdict, DISCIPLINE_SLEW);
        offset -= (double)r.offset_ns;
        discipline_applied(&d, &r, true, t);
        /* Until the next poll the clock gains (drift - correction) per second. */
        int64_t poll = d.poll_ns;
        offset += (drift_ppm - d.frequency_ppm) * 1e-6 * (double)poll;
        t += poll;
    }
    res.final_poll_ns = d.poll_ns;
    res.final_ppm = d.frequency_ppm;
    return res;
}

START_TEST(test_simulation_50ppm_settles_within_1ms)
{
    struct sim_result r = simulate(100 * MS, 50.0, 48 * HOUR);
    fprintf(stderr,
            "# 50 ppm, 100 ms start: within 1 ms after %.0f s and stayed (worst %.0f us), "
            "poll %lld s, frequency %.3f ppm\n",
            (double)r.settled_after_ns / SEC, (double)r.worst_after_ns / US,
            (long long)(r.final_poll_ns / SEC), r.final_ppm);
    ck_assert_int_ge(r.settled_after_ns, 0);
    ck_assert_int_le(r.settled_after_ns, 15 * (60 * SEC));
    ck_assert_int_lt(r.worst_after_ns, MS);
    ck_assert_int_eq(r.final_poll_ns, 2048 * SEC);
    ck_assert(fabs(r.final_ppm - 50.0) < 0.5);
}
END_TEST

START_TEST(test_simulation_negative_drift)
{
    struct sim_result r = simulate(-100 * MS, -50.0, 48 * HOUR);
    ck_assert_int_ge(r.settled_after_ns, 0);
    ck_assert_int_le(r.settled_after_ns, 15 * (60 * SEC));
    ck_assert(fabs(r.final_ppm + 50.0) < 0.5);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *suite = suite_create("discipline");
    TCase *tc = tcase_create("rules");
    tcase_add_test(tc, test_no_consensus_does_nothing);
    tcase_add_test(tc, test_small_offset_slews);
    tcase_add_test(tc, test_boot_window_forward_unlimited);
    tcase_add_test(tc, test_boot_window_backward_limited);
    tcase_add_test(tc, test_startup_limit_when_set);
    tcase_add_test(tc, test_after_boot_window_max_step);
    tcase_add_test(tc, test_step_closes_boot_window);
    tcase_add_test(tc, test_refused_step_reported_once_then_waits);
    tcase_add_test(tc, test_approval_matching_offset);
    tcase_add_test(tc, test_approval_for_other_offset);
    tcase_add_test(tc, test_floor);
    tcase_add_test(tc, test_frequency_estimate);
    tcase_add_test(tc, test_frequency_clamped);
    tcase_add_test(tc, test_no_frequency_across_step);
    tcase_add_test(tc, test_poll_interval_adapts);
    suite_add_tcase(suite, tc);
    tc = tcase_create("simulation");
    tcase_add_test(tc, test_simulation_50ppm_settles_within_1ms);
    tcase_add_test(tc, test_simulation_negative_drift);
    suite_add_tcase(suite, tc);
    return suite;
}

GNOMON_CHECK_MAIN(make_suite)
