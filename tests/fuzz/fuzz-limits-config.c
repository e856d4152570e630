/* libFuzzer target: the clock helper's limits file (agent/helper/limits-config.c) on text,
 * through limits_config_parse(), which limits_config_load() calls after its file checks.
 * Limits that load must lie in the ranges clock-policy.md gives, and must load again
 * unchanged when written back the way the file writes them; a refused file must come with
 * one line of message. */
#include <glib.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-target.h"
#include "limits-config.h"

#define PATH "/etc/gnomon/clock-helper.conf"

static void check_range(gint64 ns, gint64 min, gint64 max)
{
    if (ns < min || ns > max)
        abort();
}

static void check_limits(const struct helper_limits *l)
{
    check_range(l->max_slew_ns, 0, HELPER_POLICY_KERNEL_MAX_SLEW_NS);
    check_range(l->max_slew_per_hour_ns, 0, G_MAXINT64 - 1);
    check_range(l->max_step_ns, 0, G_MAXINT64);
    check_range(l->boot_max_step_ns, 0, G_MAXINT64);
    check_range(l->max_measurement_age_ns, NS_PER_SEC, G_MAXINT64 - 1);
    check_range(l->approval_lifetime_ns, NS_PER_SEC, G_MAXINT64 - 1);
    check_range(l->floor_lag_ns, 0, G_MAXINT64 - 1);
    if (!isfinite(l->max_frequency_ppm) || l->max_frequency_ppm < 0 ||
        l->max_frequency_ppm > HELPER_POLICY_KERNEL_MAX_PPM ||
        l->max_steps_per_hour > HELPER_POLICY_MAX_STEPS || l->max_years_after_build < 1 ||
        l->max_years_after_build > 200)
        abort();
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

/* The limits as a file, every key written out. */
static char *write_back(const struct helper_limits *l)
{
    g_autofree char *slew = limits_config_format_seconds(l->max_slew_ns);
    g_autofree char *slew_hour = limits_config_format_seconds(l->max_slew_per_hour_ns);
    g_autofree char *step = limits_config_format_seconds(l->max_step_ns);
    g_autofree char *boot = limits_config_format_seconds(l->boot_max_step_ns);
    g_autofree char *age = limits_config_format_seconds(l->max_measurement_age_ns);
    g_autofree char *approval = limits_config_format_seconds(l->approval_lifetime_ns);
    g_autofree char *lag = limits_config_format_seconds(l->floor_lag_ns);
    return g_strdup_printf("[Limits]\nMaxSlewSeconds=%s\nMaxSlewPerHourSeconds=%s\n"
                           "MaxFrequencyPPM=%.9f\nMaxStepSeconds=%s\nBootMaxStepSeconds=%s\n"
                           "MaxStepsPerHour=%u\nMaxMeasurementAgeSeconds=%s\n"
                           "ApprovalLifetimeSeconds=%s\nFloorLagSeconds=%s\n"
                           "MaxYearsAfterBuild=%u\n",
                           slew, slew_hour, l->max_frequency_ppm, step, boot, l->max_steps_per_hour,
                           age, approval, lag, l->max_years_after_build);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct helper_limits limits;
    GError *error = NULL;
    if (!limits_config_parse(PATH, (const char *)data, size, &limits, &error)) {
        if (error == NULL || error->domain != LIMITS_CONFIG_ERROR ||
            strchr(error->message, '\n') != NULL)
            abort();
        g_error_free(error);
        /* A refused file leaves the defaults. */
        struct helper_limits defaults = helper_limits_default();
        if (!limits_equal(&limits, &defaults))
            abort();
        return 0;
    }
    if (error != NULL)
        abort();
    check_limits(&limits);

    g_autofree char *text = write_back(&limits);
    struct helper_limits again;
    if (!limits_config_parse(PATH, text, strlen(text), &again, &error))
        abort();
    if (!limits_equal(&limits, &again))
        abort();
    return 0;
}
