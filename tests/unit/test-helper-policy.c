/* Unit tests for agent/core/helper-policy.c: every rule of clock-policy.md "The helper's
 * own rules" and "Boot with a bad clock" step 1, each on both sides of its boundary. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "check-main.h"
#include "helper-policy.h"

#define SEC   NS_PER_SEC
#define HOUR  HELPER_POLICY_HOUR_NS
#define BUILD (INT64_C(1700000000) * SEC)
/* "Now": 100 days after the build, 10000 s after boot. */
#define NOW   (BUILD + INT64_C(8640000) * SEC)
#define BOOT  (INT64_C(10000) * SEC)

static struct helper_limits limits;
static struct helper_policy_state state;

static void setup(void)
{
    limits = helper_limits_default();
    helper_policy_state_init(&state, BUILD, INT64_MIN);
}

/* The time d ns after "now", on both clocks. */
static struct helper_now later(int64_t d)
{
    return (struct helper_now){.time_ns = NOW + d, .boottime_ns = BOOT + d};
}

static struct helper_decision run(const struct helper_request *request, struct helper_now now)
{
    struct helper_decision d = helper_policy_decide(&limits, &state, request, &now);
    helper_policy_commit(&state, &limits, request, &d, &now);
    return d;
}

static struct helper_decision slew(int64_t offset, struct helper_now now)
{
    struct helper_request r = {.method = HELPER_METHOD_SLEW, .offset_ns = offset};
    return run(&r, now);
}

/* A step measured just now, with a fresh ID. */
static struct helper_decision step_id(int64_t offset, const char *id, struct helper_now now)
{
    struct helper_request r = {
        .method = HELPER_METHOD_STEP,
        .offset_ns = offset,
        .uncertainty_ns = 1000,
        .measured_boottime_ns = (uint64_t)now.boottime_ns,
        .request_id = id,
    };
    return run(&r, now);
}

static unsigned id_counter;

static struct helper_decision step(int64_t offset, struct helper_now now)
{
    char id[32];
    unsigned n = ++id_counter;
    memcpy(id, "req-", 4);
    int len = 4;
    char digits[16];
    int nd = 0;
    do {
        digits[nd++] = (char)('0' + n % 10);
        n /= 10;
    } while (n > 0);
    while (nd > 0) {
        id[len++] = digits[--nd];
    }
    id[len] = '\0';
    return step_id(offset, id, now);
}

static struct helper_decision approve(int64_t offset, uint64_t tolerance, struct helper_now now)
{
    struct helper_request r = {
        .method = HELPER_METHOD_APPROVE_STEP,
        .offset_ns = offset,
        .tolerance_ns = tolerance,
    };
    return run(&r, now);
}

static struct helper_decision frequency(double ppm)
{
    struct helper_request r = {.method = HELPER_METHOD_SET_FREQUENCY, .ppm = ppm};
    return run(&r, later(0));
}

static struct helper_decision step_to_floor(struct helper_now now)
{
    struct helper_request r = {.method = HELPER_METHOD_STEP_TO_FLOOR};
    return run(&r, now);
}

/* Closes the boot window with a small accepted step, then moves an hour on so the
 * hourly step count is back to zero. Returns the time after that. */
static struct helper_now close_boot_window(void)
{
    ck_assert_int_eq(step(SEC, later(0)).rule, HELPER_RULE_STEP_WITHIN_LIMITS);
    ck_assert(!state.boot_window_open);
    return later(HOUR);
}

START_TEST(test_slew_at_limit_accepted_just_over_refused)
{
    struct helper_decision d = slew(SEC / 2, later(0));
    ck_assert_int_eq(d.rule, HELPER_RULE_SLEW_WITHIN_LIMITS);
    ck_assert(helper_rule_accepts(d.rule));
    ck_assert_int_eq(d.change_ns, SEC / 2);
    d = slew(-SEC / 2, later(1));
    ck_assert_int_eq(d.rule, HELPER_RULE_SLEW_WITHIN_LIMITS);
    d = slew(SEC / 2 + 1, later(2));
    ck_assert_int_eq(d.rule, HELPER_RULE_SLEW_TOO_LARGE);
    ck_assert_int_eq(helper_rule_error(d.rule), HELPER_ERROR_LIMIT_EXCEEDED);
    ck_assert_int_eq(d.limit, SEC / 2);
    ck_assert_int_eq(d.value, SEC / 2 + 1);
    d = slew(-SEC / 2 - 1, later(3));
    ck_assert_int_eq(d.rule, HELPER_RULE_SLEW_TOO_LARGE);
    ck_assert_uint_eq(state.n_slews, 2);
}
END_TEST

START_TEST(test_slew_hourly_budget)
{
    /* 4 x 0.5 s = MaxSlewPerHourSeconds (2 s) exactly; then 1 ns more is refused. */
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(slew(i % 2 ? -SEC / 2 : SEC / 2, later(i * SEC)).rule,
                         HELPER_RULE_SLEW_WITHIN_LIMITS);
    }
    struct helper_decision d = slew(1, later(10 * SEC));
    ck_assert_int_eq(d.rule, HELPER_RULE_SLEW_HOURLY_BUDGET);
    ck_assert_int_eq(helper_rule_error(d.rule), HELPER_ERROR_RATE_LIMITED);
    ck_assert_int_eq(d.value, 2 * SEC + 1);
    ck_assert_int_eq(d.limit, 2 * SEC);
    /* A zero slew still fits. */
    ck_assert_int_eq(slew(0, later(11 * SEC)).rule, HELPER_RULE_SLEW_WITHIN_LIMITS);
    /* One hour after the first slew it no longer counts: exactly 0.5 s is free again,
     * 1 ns before that it is not. */
    ck_assert_int_eq(slew(SEC / 2, later(HOUR - 1)).rule, HELPER_RULE_SLEW_HOURLY_BUDGET);
    ck_assert_int_eq(slew(SEC / 2, later(HOUR)).rule, HELPER_RULE_SLEW_WITHIN_LIMITS);
}
END_TEST

START_TEST(test_slew_many_small_ones_never_undercounted)
{
    /* 200 slews of 5 ms (1 s) in 200 s: more than the list holds, so old ones merge. */
    for (int i = 0; i < 200; i++) {
        ck_assert_int_eq(slew(5 * NS_PER_MS, later(i * SEC)).rule, HELPER_RULE_SLEW_WITHIN_LIMITS);
    }
    ck_assert_uint_le(state.n_slews, HELPER_POLICY_MAX_SLEWS);
    ck_assert_int_eq(slew(SEC / 2, later(201 * SEC)).rule, HELPER_RULE_SLEW_WITHIN_LIMITS);
    ck_assert_int_eq(slew(SEC / 2, later(202 * SEC)).rule, HELPER_RULE_SLEW_WITHIN_LIMITS);
    struct helper_decision d = slew(1, later(203 * SEC));
    ck_assert_int_eq(d.rule, HELPER_RULE_SLEW_HOURLY_BUDGET);
    ck_assert_int_eq(d.value, 2 * SEC + 1);
}
END_TEST

START_TEST(test_slew_invalid_arguments)
{
    ck_assert_int_eq(slew(INT64_MIN, later(0)).rule, HELPER_RULE_INVALID_OFFSET);
    struct helper_request r = {
        .method = HELPER_METHOD_SLEW, .offset_ns = 1, .uncertainty_ns = (uint64_t)INT64_MAX + 1};
    struct helper_decision d = run(&r, later(0));
    ck_assert_int_eq(d.rule, HELPER_RULE_INVALID_UNCERTAINTY);
    ck_assert_int_eq(helper_rule_error(d.rule), HELPER_ERROR_INVALID_ARGUMENT);
    r.uncertainty_ns = (uint64_t)INT64_MAX;
    ck_assert_int_eq(run(&r, later(0)).rule, HELPER_RULE_SLEW_WITHIN_LIMITS);
    ck_assert_uint_eq(state.n_slews, 1);
}
END_TEST

START_TEST(test_frequency_limit)
{
    ck_assert_int_eq(frequency(500.0).rule, HELPER_RULE_FREQUENCY_WITHIN_LIMITS);
    ck_assert_int_eq(frequency(-500.0).rule, HELPER_RULE_FREQUENCY_WITHIN_LIMITS);
    ck_assert_int_eq(frequency(0.0).rule, HELPER_RULE_FREQUENCY_WITHIN_LIMITS);
    struct helper_decision d = frequency(500.001);
    ck_assert_int_eq(d.rule, HELPER_RULE_FREQUENCY_TOO_LARGE);
    ck_assert_int_eq(helper_rule_error(d.rule), HELPER_ERROR_LIMIT_EXCEEDED);
    ck_assert_int_eq(d.value, 500001);
    ck_assert_int_eq(d.limit, 500000);
    ck_assert_int_eq(frequency(-500.001).rule, HELPER_RULE_FREQUENCY_TOO_LARGE);
    ck_assert_int_eq(frequency(1e300).rule, HELPER_RULE_FREQUENCY_TOO_LARGE);
    limits.max_frequency_ppm = 50.0;
    ck_assert_int_eq(frequency(50.0).rule, HELPER_RULE_FREQUENCY_WITHIN_LIMITS);
    ck_assert_int_eq(frequency(50.0000001).rule, HELPER_RULE_FREQUENCY_TOO_LARGE);
}
END_TEST

START_TEST(test_frequency_not_finite)
{
    ck_assert_int_eq(frequency(NAN).rule, HELPER_RULE_INVALID_FREQUENCY);
    ck_assert_int_eq(frequency(INFINITY).rule, HELPER_RULE_INVALID_FREQUENCY);
    ck_assert_int_eq(frequency(-INFINITY).rule, HELPER_RULE_INVALID_FREQUENCY);
    ck_assert_int_eq(helper_rule_error(HELPER_RULE_INVALID_FREQUENCY),
                     HELPER_ERROR_INVALID_ARGUMENT);
}
END_TEST

START_TEST(test_step_max_after_boot_window)
{
    struct helper_now t = close_boot_window();
    struct helper_decision d = step(1000 * SEC, t);
    ck_assert_int_eq(d.rule, HELPER_RULE_STEP_WITHIN_LIMITS);
    ck_assert_int_eq(d.change_ns, 1000 * SEC);
    d = step(-1000 * SEC, later(HOUR + 1));
    ck_assert_int_eq(d.rule, HELPER_RULE_STEP_WITHIN_LIMITS);
    d = step(1000 * SEC + 1, later(HOUR + 2));
    ck_assert_int_eq(d.rule, HELPER_RULE_STEP_TOO_LARGE);
    ck_assert_int_eq(helper_rule_error(d.rule), HELPER_ERROR_LIMIT_EXCEEDED);
    ck_assert_int_eq(d.value, 1000 * SEC + 1);
    ck_assert_int_eq(d.limit, 1000 * SEC);
    ck_assert_int_eq(step(-1000 * SEC - 1, later(HOUR + 3)).rule, HELPER_RULE_STEP_TOO_LARGE);
    ck_assert_uint_eq(state.steps_this_boot, 3);
}
END_TEST

START_TEST(test_boot_window_forward_unlimited_backward_limited)
{
    ck_assert(state.boot_window_open);
    /* Backward: only MaxStepSeconds, even in the boot window. */
    ck_assert_int_eq(step(-1000 * SEC - 1, later(0)).rule, HELPER_RULE_STEP_TOO_LARGE);
    ck_assert(state.boot_window_open); /* a refusal does not close it */
    /* Forward: ten years (BootMaxStepSeconds=inf), the first step of the boot. */
    int64_t ten_years = 10 * HELPER_POLICY_YEAR_NS;
    struct helper_decision d = step(ten_years, later(1));
    ck_assert_int_eq(d.rule, HELPER_RULE_STEP_BOOT_WINDOW);
    ck_assert_int_eq(d.change_ns, ten_years);
    ck_assert(!state.boot_window_open);
    ck_assert_uint_eq(state.steps_this_boot, 1);
    /* The second large forward step is no longer the boot window's. */
    struct helper_now t = {.time_ns = NOW + ten_years + 2, .boottime_ns = BOOT + 2};
    ck_assert_int_eq(step(1001 * SEC, t).rule, HELPER_RULE_STEP_TOO_LARGE);
}
END_TEST

START_TEST(test_boot_window_finite_boot_max)
{
    limits.boot_max_step_ns = 2000 * SEC;
    ck_assert_int_eq(step(2000 * SEC + 1, later(0)).rule, HELPER_RULE_STEP_TOO_LARGE);
    struct helper_decision d = step(2000 * SEC, later(1));
    ck_assert_int_eq(d.rule, HELPER_RULE_STEP_BOOT_WINDOW);
    ck_assert_int_eq(d.limit, 2000 * SEC);
}
END_TEST

START_TEST(test_boot_window_closed_by_small_first_step)
{
    ck_assert_int_eq(step(-5 * SEC, later(0)).rule, HELPER_RULE_STEP_WITHIN_LIMITS);
    ck_assert(!state.boot_window_open);
    ck_assert_int_eq(step(2000 * SEC, later(1)).rule, HELPER_RULE_STEP_TOO_LARGE);
}
END_TEST

START_TEST(test_steps_per_hour)
{
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(step(SEC, later(i * SEC)).rule, HELPER_RULE_STEP_WITHIN_LIMITS);
    }
    struct helper_decision d = step(SEC, later(10 * SEC));
    ck_assert_int_eq(d.rule, HELPER_RULE_STEPS_PER_HOUR);
    ck_assert_int_eq(helper_rule_error(d.rule), HELPER_ERROR_RATE_LIMITED);
    ck_assert_int_eq(d.value, 4);
    ck_assert_int_eq(d.limit, 4);
    /* The first step leaves the hour at exactly +1 h. */
    ck_assert_int_eq(step(SEC, later(HOUR - 1)).rule, HELPER_RULE_STEPS_PER_HOUR);
    ck_assert_int_eq(step(SEC, later(HOUR)).rule, HELPER_RULE_STEP_WITHIN_LIMITS);
    ck_assert_uint_eq(state.steps_this_boot, 5);
}
END_TEST

START_TEST(test_measurement_age)
{
    struct helper_request r = {
        .method = HELPER_METHOD_STEP,
        .offset_ns = SEC,
        .measured_boottime_ns = (uint64_t)BOOT,
        .request_id = "age-ok",
    };
    struct helper_decision d = run(&r, later(30 * SEC));
    ck_assert_int_eq(d.rule, HELPER_RULE_STEP_WITHIN_LIMITS);
    r.request_id = "age-stale";
    d = run(&r, later(30 * SEC + 1));
    ck_assert_int_eq(d.rule, HELPER_RULE_STALE_MEASUREMENT);
    ck_assert_int_eq(helper_rule_error(d.rule), HELPER_ERROR_STALE);
    ck_assert_int_eq(d.value, 30 * SEC + 1);
    ck_assert_int_eq(d.limit, 30 * SEC);
    /* From the future (the clocks are the same kernel clock): invalid. */
    r.request_id = "age-future";
    d = run(&r, later(-1));
    ck_assert_int_eq(d.rule, HELPER_RULE_MEASURED_IN_FUTURE);
    ck_assert_int_eq(helper_rule_error(d.rule), HELPER_ERROR_INVALID_ARGUMENT);
    r.request_id = "age-huge";
    r.measured_boottime_ns = UINT64_MAX;
    ck_assert_int_eq(run(&r, later(0)).rule, HELPER_RULE_MEASURED_IN_FUTURE);
}
END_TEST

START_TEST(test_measured_before_last_change_refused)
{
    /* One lost answer must never become two steps: a step decided on a measurement from
     * before the clock's last change is refused, whoever asks. */
    ck_assert_int_eq(step(2 * SEC, later(0)).rule, HELPER_RULE_STEP_WITHIN_LIMITS);
    struct helper_request r = {
        .method = HELPER_METHOD_STEP,
        .offset_ns = 2 * SEC,
        .uncertainty_ns = 1000,
        .measured_boottime_ns = (uint64_t)(BOOT - SEC),
        .request_id = "measured-earlier",
    };
    struct helper_decision d = run(&r, later(SEC));
    ck_assert_int_eq(d.rule, HELPER_RULE_MEASURED_BEFORE_CHANGE);
    ck_assert_int_eq(helper_rule_error(d.rule), HELPER_ERROR_STALE);
    /* Measured after the change: fine. */
    r.measured_boottime_ns = (uint64_t)(BOOT + SEC / 2);
    r.request_id = "measured-later";
    ck_assert_int_eq(run(&r, later(SEC)).rule, HELPER_RULE_STEP_WITHIN_LIMITS);
    /* A slew is a change too. */
    ck_assert(helper_rule_accepts(slew(100 * NS_PER_MS, later(2 * SEC)).rule));
    r.measured_boottime_ns = (uint64_t)(BOOT + SEC + SEC / 2);
    r.request_id = "before-the-slew";
    ck_assert_int_eq(run(&r, later(3 * SEC)).rule, HELPER_RULE_MEASURED_BEFORE_CHANGE);
}
END_TEST

START_TEST(test_repeated_request_id_same_answer_one_change)
{
    struct helper_decision first = step_id(3 * SEC, "abc-1", later(0));
    ck_assert_int_eq(first.rule, HELPER_RULE_STEP_WITHIN_LIMITS);
    ck_assert(!first.repeated);
    /* Same ID, even other numbers and later: the earlier answer, nothing changes. */
    struct helper_decision again = step_id(7 * SEC, "abc-1", later(SEC));
    ck_assert(again.repeated);
    ck_assert_int_eq(again.rule, first.rule);
    ck_assert_int_eq(again.value, first.value);
    ck_assert_int_eq(again.change_ns, 0);
    ck_assert_uint_eq(state.steps_this_boot, 1);
    ck_assert_uint_eq(state.n_steps, 1);
    /* A refusal is repeated as a refusal. */
    struct helper_decision refused = step_id(-5000 * SEC, "abc-2", later(2 * SEC));
    ck_assert_int_eq(refused.rule, HELPER_RULE_STEP_TOO_LARGE);
    struct helper_decision refused_again = step_id(SEC, "abc-2", later(3 * SEC));
    ck_assert(refused_again.repeated);
    ck_assert_int_eq(refused_again.rule, HELPER_RULE_STEP_TOO_LARGE);
    ck_assert_int_eq(refused_again.value, 5000 * SEC);
    ck_assert_uint_eq(state.steps_this_boot, 1);
    /* LastRequest follows Step calls. */
    ck_assert(state.has_last_request);
    ck_assert_str_eq(state.last_request.id, "abc-2");
}
END_TEST

START_TEST(test_request_id_validity)
{
    char id[HELPER_POLICY_REQUEST_ID_MAX + 2];
    memset(id, 'a', sizeof id);
    id[HELPER_POLICY_REQUEST_ID_MAX] = '\0';
    ck_assert(helper_request_id_is_valid(id));
    ck_assert(helper_request_id_is_valid("0123-abcd_EF.gh:ij"));
    id[HELPER_POLICY_REQUEST_ID_MAX] = 'a';
    id[HELPER_POLICY_REQUEST_ID_MAX + 1] = '\0';
    ck_assert(!helper_request_id_is_valid(id));
    ck_assert(!helper_request_id_is_valid(""));
    ck_assert(!helper_request_id_is_valid(NULL));
    ck_assert(!helper_request_id_is_valid("a b"));
    ck_assert(!helper_request_id_is_valid("a/b"));
    ck_assert(!helper_request_id_is_valid("\xc3\xa9"));
    struct helper_decision d = step_id(SEC, "bad id", later(0));
    ck_assert_int_eq(d.rule, HELPER_RULE_INVALID_REQUEST_ID);
    ck_assert_int_eq(helper_rule_error(d.rule), HELPER_ERROR_INVALID_ARGUMENT);
    ck_assert(!state.has_last_request);
    ck_assert_uint_eq(state.n_requests, 0);
}
END_TEST

START_TEST(test_request_ids_bounded)
{
    limits.max_steps_per_hour = HELPER_POLICY_MAX_STEPS;
    ck_assert_int_eq(step_id(SEC, "first", later(0)).rule, HELPER_RULE_STEP_WITHIN_LIMITS);
    ck_assert(step_id(SEC, "first", later(1)).repeated);
    /* 64 more refused requests (stale, no change) push "first" out. */
    for (int i = 0; i < HELPER_POLICY_MAX_REQUESTS; i++) {
        char id[8] = {'x', (char)('A' + i / 26), (char)('a' + i % 26), '\0'};
        struct helper_request r = {.method = HELPER_METHOD_STEP,
                                   .offset_ns = SEC,
                                   .measured_boottime_ns = 0,
                                   .request_id = id};
        ck_assert_int_eq(run(&r, later(SEC)).rule, HELPER_RULE_STALE_MEASUREMENT);
    }
    ck_assert_uint_eq(state.n_requests, HELPER_POLICY_MAX_REQUESTS);
    ck_assert_ptr_null(helper_policy_find_request(&state, "first"));
    ck_assert_ptr_nonnull(helper_policy_find_request(&state, "xAa"));
    struct helper_decision d = step_id(SEC, "first", later(2 * SEC));
    ck_assert(!d.repeated);
    ck_assert_int_eq(d.rule, HELPER_RULE_STEP_WITHIN_LIMITS);
}
END_TEST

START_TEST(test_step_before_floor)
{
    state.own_floor_ns = NOW - 100 * SEC;
    struct helper_now t = close_boot_window();
    /* t is one hour after NOW, so this step lands exactly on the floor. */
    int64_t to_floor = -(HOUR + 100 * SEC);
    limits.max_step_ns = HELPER_POLICY_NO_LIMIT;
    struct helper_decision d = step(to_floor - 1, t);
    ck_assert_int_eq(d.rule, HELPER_RULE_BEFORE_FLOOR);
    ck_assert_int_eq(helper_rule_error(d.rule), HELPER_ERROR_BEFORE_FLOOR);
    ck_assert_int_eq(d.limit, NOW - 100 * SEC);
    ck_assert_int_eq(d.value, NOW - 100 * SEC - 1);
    d = step(to_floor, t);
    ck_assert_int_eq(d.rule, HELPER_RULE_STEP_WITHIN_LIMITS);
}
END_TEST

START_TEST(test_build_date_is_a_floor)
{
    ck_assert_int_eq(helper_policy_floor_ns(&state), BUILD);
    limits.max_step_ns = HELPER_POLICY_NO_LIMIT;
    struct helper_now t = {.time_ns = BUILD + 10 * SEC, .boottime_ns = BOOT};
    ck_assert_int_eq(step(-10 * SEC - 1, t).rule, HELPER_RULE_BEFORE_FLOOR);
    ck_assert_int_eq(step(-10 * SEC, t).rule, HELPER_RULE_STEP_WITHIN_LIMITS);
    /* An own floor earlier than the build date does not lower it. */
    state.own_floor_ns = BUILD - 1000 * SEC;
    ck_assert_int_eq(helper_policy_floor_ns(&state), BUILD);
}
END_TEST

START_TEST(test_step_after_ceiling)
{
    int64_t ceiling = BUILD + 30 * HELPER_POLICY_YEAR_NS;
    ck_assert_int_eq(helper_policy_ceiling_ns(&state, &limits), ceiling);
    struct helper_decision d = step(ceiling - NOW + 1, later(0));
    ck_assert_int_eq(d.rule, HELPER_RULE_AFTER_CEILING);
    ck_assert_int_eq(helper_rule_error(d.rule), HELPER_ERROR_AFTER_CEILING);
    ck_assert_int_eq(d.limit, ceiling);
    ck_assert(state.boot_window_open);
    d = step(ceiling - NOW, later(0));
    ck_assert_int_eq(d.rule, HELPER_RULE_STEP_BOOT_WINDOW);
}
END_TEST

START_TEST(test_extreme_offsets_saturate)
{
    limits.max_step_ns = HELPER_POLICY_NO_LIMIT;
    ck_assert_int_eq(step(INT64_MAX, later(0)).rule, HELPER_RULE_AFTER_CEILING);
    ck_assert_int_eq(step(INT64_MIN + 1, later(0)).rule, HELPER_RULE_BEFORE_FLOOR);
    ck_assert_int_eq(step(INT64_MIN, later(0)).rule, HELPER_RULE_INVALID_OFFSET);
    ck_assert_int_eq(step(0, later(0)).rule, HELPER_RULE_INVALID_OFFSET);
    limits.max_years_after_build = UINT32_MAX;
    ck_assert_int_eq(helper_policy_ceiling_ns(&state, &limits), INT64_MAX);
    ck_assert(state.boot_window_open);
    ck_assert_uint_eq(state.steps_this_boot, 0);
}
END_TEST

START_TEST(test_approval_inside_tolerance_used_once)
{
    struct helper_now t = close_boot_window();
    int64_t offset = 7200 * SEC;
    struct helper_decision d = approve(offset, 2 * SEC, t);
    ck_assert_int_eq(d.rule, HELPER_RULE_APPROVAL_RECORDED);
    ck_assert(state.approval.active);
    ck_assert_int_eq(state.approval.expiry_boottime_ns, t.boottime_ns + 900 * SEC);
    /* Within tolerance (2 s off): accepted, and the approval is gone. */
    d = step(offset + 2 * SEC, later(HOUR + 10 * SEC));
    ck_assert_int_eq(d.rule, HELPER_RULE_STEP_APPROVED);
    ck_assert_int_eq(d.change_ns, offset + 2 * SEC);
    ck_assert(!state.approval.active);
    d = step(offset, later(HOUR + 20 * SEC));
    ck_assert_int_eq(d.rule, HELPER_RULE_STEP_TOO_LARGE);
}
END_TEST

START_TEST(test_approval_outside_tolerance_refused)
{
    struct helper_now t = close_boot_window();
    int64_t offset = -7200 * SEC;
    ck_assert_int_eq(approve(offset, 2 * SEC, t).rule, HELPER_RULE_APPROVAL_RECORDED);
    struct helper_decision d = step(offset - 2 * SEC - 1, later(HOUR + SEC));
    ck_assert_int_eq(d.rule, HELPER_RULE_STEP_TOO_LARGE);
    ck_assert(state.approval.active); /* still there for the right offset */
    d = step(offset - 2 * SEC, later(HOUR + 2 * SEC));
    ck_assert_int_eq(d.rule, HELPER_RULE_STEP_APPROVED);
}
END_TEST

START_TEST(test_approval_expires)
{
    struct helper_now t = close_boot_window();
    int64_t offset = 5000 * SEC;
    ck_assert_int_eq(approve(offset, SEC, t).rule, HELPER_RULE_APPROVAL_RECORDED);
    int64_t expiry = state.approval.expiry_boottime_ns;
    ck_assert(helper_policy_approval_live(&state, expiry - 1));
    ck_assert(!helper_policy_approval_live(&state, expiry));
    struct helper_decision d = step(offset, later(HOUR + 900 * SEC));
    ck_assert_int_eq(d.rule, HELPER_RULE_STEP_TOO_LARGE);
    d = step(offset, later(HOUR + 900 * SEC - 1));
    ck_assert_int_eq(d.rule, HELPER_RULE_STEP_APPROVED);
    /* expire() drops a lapsed approval (and reports it). */
    ck_assert_int_eq(approve(offset, SEC, later(HOUR + 1000 * SEC)).rule,
                     HELPER_RULE_APPROVAL_RECORDED);
    ck_assert(!helper_policy_expire(&state, BOOT + HOUR + 1000 * SEC + 899 * SEC));
    ck_assert(state.approval.active);
    ck_assert(helper_policy_expire(&state, BOOT + HOUR + 1000 * SEC + 900 * SEC));
    ck_assert(!state.approval.active);
}
END_TEST

START_TEST(test_approval_never_crosses_floor_or_ceiling)
{
    state.own_floor_ns = NOW - 3000 * SEC;
    struct helper_decision d = approve(-3000 * SEC - 1, SEC, later(0));
    ck_assert_int_eq(d.rule, HELPER_RULE_BEFORE_FLOOR);
    ck_assert(!state.approval.active);
    int64_t ceiling = helper_policy_ceiling_ns(&state, &limits);
    d = approve(ceiling - NOW + 1, SEC, later(0));
    ck_assert_int_eq(d.rule, HELPER_RULE_AFTER_CEILING);
    /* An approved offset whose tolerance reaches past the floor: the step is still
     * checked against the floor. */
    struct helper_now t = close_boot_window();
    ck_assert_int_eq(approve(-(HOUR + 2990 * SEC), 20 * SEC, t).rule,
                     HELPER_RULE_APPROVAL_RECORDED);
    d = step(-(HOUR + 3005 * SEC), t);
    ck_assert_int_eq(d.rule, HELPER_RULE_BEFORE_FLOOR);
    ck_assert(state.approval.active);
}
END_TEST

START_TEST(test_approval_invalid_arguments)
{
    ck_assert_int_eq(approve(0, 0, later(0)).rule, HELPER_RULE_INVALID_OFFSET);
    ck_assert_int_eq(approve(INT64_MIN, 0, later(0)).rule, HELPER_RULE_INVALID_OFFSET);
    struct helper_decision d = approve(5000 * SEC, 5000 * SEC, later(0));
    ck_assert_int_eq(d.rule, HELPER_RULE_INVALID_TOLERANCE);
    ck_assert_int_eq(helper_rule_error(d.rule), HELPER_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(approve(-5000 * SEC, UINT64_MAX, later(0)).rule,
                     HELPER_RULE_INVALID_TOLERANCE);
    ck_assert(!state.approval.active);
    ck_assert_int_eq(approve(-5000 * SEC, 5000 * SEC - 1, later(0)).rule,
                     HELPER_RULE_APPROVAL_RECORDED);
    /* A new approval replaces the old one. */
    ck_assert_int_eq(approve(6000 * SEC, SEC, later(1)).rule, HELPER_RULE_APPROVAL_RECORDED);
    ck_assert_int_eq(state.approval.offset_ns, 6000 * SEC);
}
END_TEST

START_TEST(test_step_to_floor_forward_when_behind)
{
    /* The clock reads 2001 (a dead RTC): forward to the build date. */
    int64_t y2001 = INT64_C(978307200) * SEC;
    struct helper_now t = {.time_ns = y2001, .boottime_ns = BOOT};
    struct helper_decision d = step_to_floor(t);
    ck_assert_int_eq(d.rule, HELPER_RULE_STEP_TO_FLOOR);
    ck_assert_int_eq(d.change_ns, BUILD - y2001);
    ck_assert_int_eq(d.limit, BUILD);
    /* Outside the step limits, and not the boot window's first step. */
    ck_assert(state.boot_window_open);
    ck_assert_uint_eq(state.steps_this_boot, 0);
    ck_assert_uint_eq(state.n_steps, 0);
    /* One ns behind still moves; at the floor it does not. */
    t.time_ns = BUILD - 1;
    ck_assert_int_eq(step_to_floor(t).change_ns, 1);
    t.time_ns = BUILD;
    d = step_to_floor(t);
    ck_assert_int_eq(d.rule, HELPER_RULE_NOT_BEHIND_FLOOR);
    ck_assert_int_eq(helper_rule_error(d.rule), HELPER_ERROR_NOT_BEHIND);
    ck_assert_int_eq(d.change_ns, 0);
    ck_assert_int_eq(step_to_floor(later(0)).rule, HELPER_RULE_NOT_BEHIND_FLOOR);
}
END_TEST

START_TEST(test_step_to_floor_uses_later_of_own_floor_and_build_date)
{
    state.own_floor_ns = BUILD + 500 * SEC;
    struct helper_now t = {.time_ns = BUILD + 100 * SEC, .boottime_ns = BOOT};
    struct helper_decision d = step_to_floor(t);
    ck_assert_int_eq(d.rule, HELPER_RULE_STEP_TO_FLOOR);
    ck_assert_int_eq(d.change_ns, 400 * SEC);
    state.own_floor_ns = BUILD - 500 * SEC;
    t.time_ns = BUILD - 100 * SEC;
    ck_assert_int_eq(step_to_floor(t).change_ns, 100 * SEC);
    /* Even from far before 1970. */
    t.time_ns = INT64_MIN + 1;
    d = step_to_floor(t);
    ck_assert_int_eq(d.rule, HELPER_RULE_STEP_TO_FLOOR);
    ck_assert_int_eq(d.change_ns, INT64_MAX);
}
END_TEST

START_TEST(test_floor_follows_changes_once_a_minute)
{
    struct helper_request r = {.method = HELPER_METHOD_SLEW, .offset_ns = SEC / 4};
    struct helper_now t = later(0);
    struct helper_decision d = helper_policy_decide(&limits, &state, &r, &t);
    ck_assert(helper_policy_commit(&state, &limits, &r, &d, &t));
    ck_assert_int_eq(state.own_floor_ns, NOW + SEC / 4 - 86400 * SEC);
    /* 59 s later: not written again. */
    t = later(59 * SEC);
    d = helper_policy_decide(&limits, &state, &r, &t);
    ck_assert(!helper_policy_commit(&state, &limits, &r, &d, &t));
    ck_assert_int_eq(state.own_floor_ns, NOW + SEC / 4 - 86400 * SEC);
    /* 60 s after the write: written. A step moves it by the step. */
    struct helper_request s = {.method = HELPER_METHOD_STEP,
                               .offset_ns = 100 * SEC,
                               .measured_boottime_ns = (uint64_t)(BOOT + 60 * SEC),
                               .request_id = "floor-step"};
    t = later(60 * SEC);
    d = helper_policy_decide(&limits, &state, &s, &t);
    ck_assert_int_eq(d.rule, HELPER_RULE_STEP_WITHIN_LIMITS);
    ck_assert(helper_policy_commit(&state, &limits, &s, &d, &t));
    ck_assert_int_eq(state.own_floor_ns, NOW + 160 * SEC - 86400 * SEC);
}
END_TEST

START_TEST(test_floor_never_moves_back)
{
    state.own_floor_ns = NOW;
    struct helper_request r = {.method = HELPER_METHOD_SLEW, .offset_ns = SEC / 4};
    struct helper_now t = later(0);
    struct helper_decision d = helper_policy_decide(&limits, &state, &r, &t);
    ck_assert_int_eq(d.rule, HELPER_RULE_SLEW_WITHIN_LIMITS);
    ck_assert(!helper_policy_commit(&state, &limits, &r, &d, &t));
    ck_assert_int_eq(state.own_floor_ns, NOW);
    /* StepToFloor never moves it (it is not a synchronisation). */
    state.own_floor_ns = INT64_MIN;
    t.time_ns = BUILD - SEC;
    ck_assert_int_eq(step_to_floor(t).rule, HELPER_RULE_STEP_TO_FLOOR);
    ck_assert_int_eq(state.own_floor_ns, INT64_MIN);
}
END_TEST

START_TEST(test_unauthorized_and_failed_commits)
{
    struct helper_request r = {.method = HELPER_METHOD_STEP,
                               .offset_ns = SEC,
                               .measured_boottime_ns = (uint64_t)BOOT,
                               .request_id = "who"};
    struct helper_now t = later(0);
    struct helper_decision d = {.rule = HELPER_RULE_NOT_AUTHORIZED};
    ck_assert(!helper_policy_commit(&state, &limits, &r, &d, &t));
    ck_assert_uint_eq(state.n_requests, 0);
    ck_assert(!state.has_last_request);
    /* The backend failed: the ID keeps that answer, nothing counts as a step. */
    d = (struct helper_decision){.rule = HELPER_RULE_BACKEND_FAILED};
    helper_policy_commit(&state, &limits, &r, &d, &t);
    ck_assert(state.boot_window_open);
    ck_assert_uint_eq(state.steps_this_boot, 0);
    d = helper_policy_decide(&limits, &state, &r, &t);
    ck_assert(d.repeated);
    ck_assert_int_eq(d.rule, HELPER_RULE_BACKEND_FAILED);
    ck_assert_int_eq(helper_rule_error(d.rule), HELPER_ERROR_FAILED);
}
END_TEST

START_TEST(test_rule_tables)
{
    for (int i = 0; i < HELPER_N_RULES; i++) {
        enum helper_rule rule = (enum helper_rule)i;
        enum helper_rule back;
        ck_assert(helper_rule_from_id(helper_rule_id(rule), &back));
        ck_assert_int_eq(back, rule);
        ck_assert_uint_gt(strlen(helper_rule_text(rule)), 5);
        enum helper_error error = helper_rule_error(rule);
        ck_assert_int_eq(helper_rule_accepts(rule), error == HELPER_ERROR_NONE);
        if (error != HELPER_ERROR_NONE) {
            ck_assert_ptr_nonnull(helper_error_dbus_name(error));
        }
    }
    enum helper_rule unused;
    ck_assert(!helper_rule_from_id("no-such-rule", &unused));
    ck_assert(!helper_rule_from_id(NULL, &unused));
    ck_assert_ptr_null(helper_error_dbus_name(HELPER_ERROR_NONE));
    ck_assert_str_eq(helper_error_dbus_name(HELPER_ERROR_LIMIT_EXCEEDED),
                     "org.gnomon.Error.LimitExceeded");
    ck_assert_str_eq(helper_error_dbus_name(HELPER_ERROR_NOT_AUTHORIZED),
                     "org.gnomon.Error.NotAuthorized");
    ck_assert_str_eq(helper_method_name(HELPER_METHOD_STEP_TO_FLOOR), "StepToFloor");
}
END_TEST

START_TEST(test_zero_steps_per_hour_blocks_steps)
{
    limits.max_steps_per_hour = 0;
    ck_assert_int_eq(step(SEC, later(0)).rule, HELPER_RULE_STEPS_PER_HOUR);
    ck_assert(state.boot_window_open);
}
END_TEST

static Suite *helper_policy_suite(void)
{
    Suite *s = suite_create("helper-policy");
    TCase *tc = tcase_create("rules");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_slew_at_limit_accepted_just_over_refused);
    tcase_add_test(tc, test_slew_hourly_budget);
    tcase_add_test(tc, test_slew_many_small_ones_never_undercounted);
    tcase_add_test(tc, test_slew_invalid_arguments);
    tcase_add_test(tc, test_frequency_limit);
    tcase_add_test(tc, test_frequency_not_finite);
    tcase_add_test(tc, test_step_max_after_boot_window);
    tcase_add_test(tc, test_boot_window_forward_unlimited_backward_limited);
    tcase_add_test(tc, test_boot_window_finite_boot_max);
    tcase_add_test(tc, test_boot_window_closed_by_small_first_step);
    tcase_add_test(tc, test_steps_per_hour);
    tcase_add_test(tc, test_measurement_age);
    tcase_add_test(tc, test_measured_before_last_change_refused);
    tcase_add_test(tc, test_repeated_request_id_same_answer_one_change);
    tcase_add_test(tc, test_request_id_validity);
    tcase_add_test(tc, test_request_ids_bounded);
    tcase_add_test(tc, test_step_before_floor);
    tcase_add_test(tc, test_build_date_is_a_floor);
    tcase_add_test(tc, test_step_after_ceiling);
    tcase_add_test(tc, test_extreme_offsets_saturate);
    tcase_add_test(tc, test_approval_inside_tolerance_used_once);
    tcase_add_test(tc, test_approval_outside_tolerance_refused);
    tcase_add_test(tc, test_approval_expires);
    tcase_add_test(tc, test_approval_never_crosses_floor_or_ceiling);
    tcase_add_test(tc, test_approval_invalid_arguments);
    tcase_add_test(tc, test_step_to_floor_forward_when_behind);
    tcase_add_test(tc, test_step_to_floor_uses_later_of_own_floor_and_build_date);
    tcase_add_test(tc, test_floor_follows_changes_once_a_minute);
    tcase_add_test(tc, test_floor_never_moves_back);
    tcase_add_test(tc, test_unauthorized_and_failed_commits);
    tcase_add_test(tc, test_rule_tables);
    tcase_add_test(tc, test_zero_steps_per_hour_blocks_steps);
    suite_add_tcase(s, tc);
    return s;
}

GNOMON_CHECK_MAIN(helper_policy_suite)
