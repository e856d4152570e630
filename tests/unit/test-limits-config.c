/* Tests agent/helper/limits-config.c: the [Limits] of clock-helper.conf, the shipped file,
 * exact decimals, "inf" only where allowed, and errors naming FILE:LINE and the key. */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#include "check-main.h"
#include "limits-config.h"

#define SEC NS_PER_SEC

static char *directory;
static char *path;

static void setup(void)
{
    directory = g_dir_make_tmp("gnomon-test-limits-XXXXXX", NULL);
    ck_assert_ptr_nonnull(directory);
    path = g_build_filename(directory, "clock-helper.conf", NULL);
}

static void teardown(void)
{
    g_unlink(path);
    g_rmdir(directory);
    g_free(path);
    g_free(directory);
}

static void write_conf(const char *text)
{
    ck_assert(g_file_set_contents(path, text, -1, NULL));
    ck_assert_int_eq(g_chmod(path, 0644), 0);
}

static gboolean limits_equal(const struct helper_limits *a, const struct helper_limits *b)
{
    return a->max_slew_ns == b->max_slew_ns && a->max_slew_per_hour_ns == b->max_slew_per_hour_ns &&
           a->max_frequency_ppm == b->max_frequency_ppm && a->max_step_ns == b->max_step_ns &&
           a->boot_max_step_ns == b->boot_max_step_ns &&
           a->max_steps_per_hour == b->max_steps_per_hour &&
           a->max_measurement_age_ns == b->max_measurement_age_ns &&
           a->approval_lifetime_ns == b->approval_lifetime_ns &&
           a->floor_lag_ns == b->floor_lag_ns &&
           a->max_years_after_build == b->max_years_after_build;
}

/* Loading the text fails with code, and the message contains each of the strings. */
static void assert_fails(const char *text, enum limits_config_error code, const char *part1,
                         const char *part2)
{
    write_conf(text);
    struct helper_limits limits;
    g_autoptr(GError) error = NULL;
    ck_assert(!limits_config_load(path, FALSE, &limits, &error));
    ck_assert_msg(g_error_matches(error, LIMITS_CONFIG_ERROR, (gint)code), "%s", error->message);
    ck_assert_msg(strstr(error->message, part1) != NULL, "%s lacks %s", error->message, part1);
    if (part2 != NULL) {
        ck_assert_msg(strstr(error->message, part2) != NULL, "%s lacks %s", error->message, part2);
    }
}

START_TEST(test_missing_file)
{
    struct helper_limits limits, defaults = helper_limits_default();
    ck_assert(limits_config_load(path, TRUE, &limits, NULL));
    ck_assert(limits_equal(&limits, &defaults));
    g_autoptr(GError) error = NULL;
    ck_assert(!limits_config_load(path, FALSE, &limits, &error));
    ck_assert(g_error_matches(error, LIMITS_CONFIG_ERROR, LIMITS_CONFIG_ERROR_READ));
}
END_TEST

START_TEST(test_shipped_file_is_the_defaults)
{
    struct helper_limits limits, defaults = helper_limits_default();
    g_autoptr(GError) error = NULL;
    ck_assert_msg(
        limits_config_load(GNOMON_SOURCE_ROOT "/data/clock-helper.conf", FALSE, &limits, &error),
        "%s", error ? error->message : "");
    ck_assert(limits_equal(&limits, &defaults));
}
END_TEST

START_TEST(test_every_key)
{
    write_conf("; a comment\n"
               "[Limits]\n"
               "MaxSlewSeconds = 0.125\n"
               "MaxSlewPerHourSeconds=3.000000001\n"
               "MaxFrequencyPPM=12.5\n"
               "MaxStepSeconds=inf\n"
               "BootMaxStepSeconds=86400\n"
               "MaxStepsPerHour=64\n"
               "MaxMeasurementAgeSeconds=5\n"
               "ApprovalLifetimeSeconds=60\n"
               "FloorLagSeconds=0\n"
               "MaxYearsAfterBuild=200\n");
    struct helper_limits limits;
    g_autoptr(GError) error = NULL;
    ck_assert_msg(limits_config_load(path, FALSE, &limits, &error), "%s",
                  error ? error->message : "");
    ck_assert_int_eq(limits.max_slew_ns, 125000000);
    ck_assert_int_eq(limits.max_slew_per_hour_ns, 3 * SEC + 1);
    ck_assert(limits.max_frequency_ppm == 12.5);
    ck_assert_int_eq(limits.max_step_ns, HELPER_POLICY_NO_LIMIT);
    ck_assert_int_eq(limits.boot_max_step_ns, 86400 * SEC);
    ck_assert_uint_eq(limits.max_steps_per_hour, 64);
    ck_assert_int_eq(limits.max_measurement_age_ns, 5 * SEC);
    ck_assert_int_eq(limits.approval_lifetime_ns, 60 * SEC);
    ck_assert_int_eq(limits.floor_lag_ns, 0);
    ck_assert_uint_eq(limits.max_years_after_build, 200);
}
END_TEST

START_TEST(test_range_boundaries)
{
    struct helper_limits limits;
    write_conf("[Limits]\nMaxSlewSeconds=0.5\nMaxFrequencyPPM=500\n");
    ck_assert(limits_config_load(path, FALSE, &limits, NULL));
    ck_assert_int_eq(limits.max_slew_ns, SEC / 2);
    assert_fails("[Limits]\nMaxSlewSeconds=0.500000001\n", LIMITS_CONFIG_ERROR_VALUE,
                 ":2:", "MaxSlewSeconds");
    assert_fails("[Limits]\n\nMaxFrequencyPPM=500.1\n", LIMITS_CONFIG_ERROR_VALUE,
                 ":3:", "MaxFrequencyPPM");
    assert_fails("[Limits]\nMaxStepsPerHour=65\n", LIMITS_CONFIG_ERROR_VALUE, "MaxStepsPerHour",
                 "64");
    assert_fails("[Limits]\nMaxYearsAfterBuild=0\n", LIMITS_CONFIG_ERROR_VALUE,
                 "MaxYearsAfterBuild", "least");
    assert_fails("[Limits]\nMaxMeasurementAgeSeconds=0\n", LIMITS_CONFIG_ERROR_VALUE,
                 "MaxMeasurementAgeSeconds", "least");
}
END_TEST

START_TEST(test_bad_values)
{
    assert_fails("[Limits]\nMaxSlewSeconds=inf\n", LIMITS_CONFIG_ERROR_VALUE, "MaxSlewSeconds",
                 "not a number");
    assert_fails("[Limits]\nMaxSlewPerHourSeconds=-1\n", LIMITS_CONFIG_ERROR_VALUE, ":2:", NULL);
    assert_fails("[Limits]\nMaxStepSeconds=1e3\n", LIMITS_CONFIG_ERROR_VALUE, "MaxStepSeconds",
                 NULL);
    assert_fails("[Limits]\nMaxStepSeconds=0x10\n", LIMITS_CONFIG_ERROR_VALUE, "MaxStepSeconds",
                 NULL);
    assert_fails("[Limits]\nMaxStepSeconds=1.0000000001\n", LIMITS_CONFIG_ERROR_VALUE, "9 decimals",
                 NULL);
    assert_fails("[Limits]\nMaxStepSeconds=1.\n", LIMITS_CONFIG_ERROR_VALUE, "MaxStepSeconds",
                 NULL);
    assert_fails("[Limits]\nMaxStepSeconds=99999999999\n", LIMITS_CONFIG_ERROR_VALUE, "too large",
                 NULL);
    assert_fails("[Limits]\nMaxStepSeconds=\n", LIMITS_CONFIG_ERROR_VALUE, "MaxStepSeconds", NULL);
    assert_fails("[Limits]\nMaxStepsPerHour=four\n", LIMITS_CONFIG_ERROR_VALUE, "whole number",
                 NULL);
    assert_fails("[Limits]\nMaxFrequencyPPM=nan\n", LIMITS_CONFIG_ERROR_VALUE, "MaxFrequencyPPM",
                 NULL);
}
END_TEST

START_TEST(test_structure_errors)
{
    assert_fails("[Limits]\nMaxSlewSecond=0.1\n", LIMITS_CONFIG_ERROR_UNKNOWN,
                 ":2:", "\"MaxSlewSecond\"");
    assert_fails("[Limits]\nMaxStepSeconds=1\nMaxStepSeconds=2\n", LIMITS_CONFIG_ERROR_DUPLICATE,
                 ":3:", "first at line 2");
    assert_fails("[Limits]\n[Limits]\n", LIMITS_CONFIG_ERROR_DUPLICATE, ":2:", "[Limits]");
    assert_fails("[Agent]\n", LIMITS_CONFIG_ERROR_UNKNOWN, ":1:", "Agent");
    assert_fails("MaxStepSeconds=1\n", LIMITS_CONFIG_ERROR_SYNTAX, ":1:", "before");
    assert_fails("[Limits]\njust words\n", LIMITS_CONFIG_ERROR_SYNTAX, ":2:", NULL);
    assert_fails("[Limits]\nMaxStepSeconds[de]=1\n", LIMITS_CONFIG_ERROR_UNKNOWN, ":2:", NULL);
    assert_fails("[Limits]\nMaxStepSeconds=\xff\n", LIMITS_CONFIG_ERROR_SYNTAX, "UTF-8", NULL);
}
END_TEST

START_TEST(test_writable_by_others_refused)
{
    write_conf("[Limits]\n");
    ck_assert_int_eq(g_chmod(path, 0666), 0);
    struct helper_limits limits;
    g_autoptr(GError) error = NULL;
    ck_assert(!limits_config_load(path, FALSE, &limits, &error));
    ck_assert(g_error_matches(error, LIMITS_CONFIG_ERROR, LIMITS_CONFIG_ERROR_PERMISSIONS));
    ck_assert_ptr_nonnull(strstr(error->message, "others"));
    g_clear_error(&error);
    ck_assert_int_eq(g_chmod(path, 0664), 0);
    ck_assert(!limits_config_load(path, FALSE, &limits, &error));
    ck_assert_ptr_nonnull(strstr(error->message, "group"));
}
END_TEST

/* Text already read: the same result as the file, read only up to the length given, and a
 * refused text leaves the defaults. */
START_TEST(test_parse_text)
{
    static const char text[] = "; comment\n[Limits]\nMaxStepsPerHour=7\nMaxSlewSeconds=0.25\n"
                               "MaxFrequencyPPM=oops";
    write_conf(text);
    struct helper_limits from_file, from_text;
    g_autoptr(GError) error = NULL;
    ck_assert(!limits_config_load(path, FALSE, &from_file, &error));
    g_clear_error(&error);
    ck_assert(!limits_config_parse("x.conf", text, strlen(text), &from_text, &error));
    ck_assert_msg(g_str_has_prefix(error->message, "x.conf:5: [Limits] MaxFrequencyPPM"), "%s",
                  error->message);
    struct helper_limits defaults = helper_limits_default();
    ck_assert(limits_equal(&from_text, &defaults));
    g_clear_error(&error);

    gsize len = strlen(text) - strlen("MaxFrequencyPPM=oops");
    ck_assert(limits_config_parse("x.conf", text, len, &from_text, &error));
    ck_assert_int_eq(from_text.max_steps_per_hour, 7);
    ck_assert_int_eq(from_text.max_slew_ns, SEC / 4);
    ck_assert_int_eq(text[0], ';');
    g_autofree char *head = g_strndup(text, len);
    write_conf(head);
    ck_assert(limits_config_load(path, FALSE, &from_file, &error));
    ck_assert(limits_equal(&from_file, &from_text));
}
END_TEST

START_TEST(test_format_seconds)
{
    g_autofree char *a = limits_config_format_seconds(SEC / 2);
    g_autofree char *b = limits_config_format_seconds(1000 * SEC);
    g_autofree char *c = limits_config_format_seconds(HELPER_POLICY_NO_LIMIT);
    g_autofree char *d = limits_config_format_seconds(-1);
    g_autofree char *e = limits_config_format_seconds(G_MININT64);
    ck_assert_str_eq(a, "0.5");
    ck_assert_str_eq(b, "1000");
    ck_assert_str_eq(c, "inf");
    ck_assert_str_eq(d, "-0.000000001");
    ck_assert_str_eq(e, "-9223372036.854775808");
}
END_TEST

static Suite *limits_config_suite(void)
{
    Suite *s = suite_create("limits-config");
    TCase *tc = tcase_create("load");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_missing_file);
    tcase_add_test(tc, test_shipped_file_is_the_defaults);
    tcase_add_test(tc, test_every_key);
    tcase_add_test(tc, test_range_boundaries);
    tcase_add_test(tc, test_bad_values);
    tcase_add_test(tc, test_structure_errors);
    tcase_add_test(tc, test_writable_by_others_refused);
    tcase_add_test(tc, test_format_seconds);
    tcase_add_test(tc, test_parse_text);
    suite_add_tcase(s, tc);
    return s;
}

GNOMON_CHECK_MAIN(limits_config_suite)
