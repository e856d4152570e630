/* Tests agent/helper/helper-state.c's parse halves: this boot's record is taken only when it
 * is of this boot and intact; anything else is reported, and a damaged one closes the boot
 * window (the safe side). */
#include <check.h>
#include <string.h>

#include "check-main.h"
#include "helper-state.h"

#define BOOT  "01234567-89ab-cdef-0123-456789abcdef"
#define OTHER "11111111-2222-3333-4444-555555555555"

/* A record as the helper writes it, with the slews and steps given. */
static char *record(const char *boot_id, const char *steps, const char *slews)
{
    return g_strdup_printf("{\"boot_id\":\"%s\",\"boot_window_open\":true,\"steps_this_boot\":1,"
                           "\"steps\":%s,\"slews\":%s,\"requests\":[],\"last_request\":null,"
                           "\"approval\":null,\"floor_written_boottime_ns\":null}",
                           boot_id, steps, slews);
}

/* Parses text over a fresh boot's state; returns the number of warnings. */
static guint parse(const char *text, struct helper_policy_state *state)
{
    memset(state, 0, sizeof(*state));
    state->boot_window_open = TRUE;
    g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func(g_free);
    helper_store_parse_boot("boot.json", BOOT, text, strlen(text), state, warnings);
    return warnings->len;
}

START_TEST(test_intact_record_of_this_boot_taken)
{
    g_autofree char *text = record(BOOT, "[{\"boottime_ns\":5000000000,\"amount_ns\":-2000000000}]",
                                   "[{\"boottime_ns\":6000000000,\"amount_ns\":300000000}]");
    struct helper_policy_state state;
    ck_assert_uint_eq(parse(text, &state), 0);
    ck_assert_uint_eq(state.n_steps, 1);
    ck_assert_int_eq(state.steps[0].amount_ns, -2000000000); /* a step may go back */
    ck_assert_uint_eq(state.n_slews, 1);
    ck_assert_int_eq(state.slews[0].amount_ns, 300000000);
    ck_assert_uint_eq(state.steps_this_boot, 1);
}
END_TEST

START_TEST(test_other_boot_discarded_window_kept)
{
    g_autofree char *text = record(OTHER, "[]", "[]");
    struct helper_policy_state state;
    ck_assert_uint_eq(parse(text, &state), 1);
    ck_assert(state.boot_window_open);
    ck_assert_uint_eq(state.steps_this_boot, 0);
}
END_TEST

START_TEST(test_negative_slew_amount_is_damage)
{
    /* A slew's amount is a sum of sizes: negative would give budget back. */
    g_autofree char *text =
        record(BOOT, "[]", "[{\"boottime_ns\":6000000000,\"amount_ns\":-300000000}]");
    struct helper_policy_state state;
    ck_assert_uint_eq(parse(text, &state), 1);
    ck_assert(!state.boot_window_open);
    ck_assert_uint_eq(state.n_slews, 0);
}
END_TEST

START_TEST(test_event_before_boot_is_damage)
{
    g_autofree char *text = record(BOOT, "[{\"boottime_ns\":-1,\"amount_ns\":1000000000}]", "[]");
    struct helper_policy_state state;
    ck_assert_uint_eq(parse(text, &state), 1);
    ck_assert(!state.boot_window_open);
    ck_assert_uint_eq(state.n_steps, 0);
}
END_TEST

START_TEST(test_not_json_is_damage)
{
    struct helper_policy_state state;
    ck_assert_uint_eq(parse("{\"boot_id\":", &state), 1);
    ck_assert(!state.boot_window_open);
}
END_TEST

START_TEST(test_floor_file)
{
    g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func(g_free);
    gint64 floor_ns = 0;
    const char *good = " 1700000000\n";
    ck_assert(helper_store_parse_floor("floor", good, strlen(good), &floor_ns, warnings));
    ck_assert_int_eq(floor_ns, G_GINT64_CONSTANT(1700000000) * 1000000000);
    ck_assert_uint_eq(warnings->len, 0);
    const char *bad[] = {"not a time", "", "17e8", "1700000000 1"};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        ck_assert(!helper_store_parse_floor("floor", bad[i], strlen(bad[i]), &floor_ns, warnings));
        ck_assert_uint_eq(warnings->len, i + 1);
        ck_assert_ptr_nonnull(strstr(warnings->pdata[i], "floor"));
    }
    /* Too many seconds to hold in nanoseconds. */
    const char *huge = "9300000000000";
    ck_assert(!helper_store_parse_floor("floor", huge, strlen(huge), &floor_ns, warnings));
}
END_TEST

static Suite *make_suite(void)
{
    Suite *suite = suite_create("helper-state");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_intact_record_of_this_boot_taken);
    tcase_add_test(tc, test_other_boot_discarded_window_kept);
    tcase_add_test(tc, test_negative_slew_amount_is_damage);
    tcase_add_test(tc, test_event_before_boot_is_damage);
    tcase_add_test(tc, test_not_json_is_damage);
    tcase_add_test(tc, test_floor_file);
    suite_add_tcase(suite, tc);
    return suite;
}

GNOMON_CHECK_MAIN(make_suite)
