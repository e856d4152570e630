/* Messages, journal entries and record entries; see helper-audit.h. */
#include "helper-audit.h"

#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include "limits-config.h"

#define MAX_FIELDS      20
#define MAX_QUOTED_ID   80
#define PRIORITY_NOTICE 5
#define PRIORITY_WARN   4
#define PRIORITY_INFO   6

const char *helper_audit_verdict(const struct helper_answer *answer)
{
    return helper_rule_accepts(answer->decision.rule) ? "accepted" : "refused";
}

/* "+1.5", "-0.000000001" */
static char *signed_seconds(gint64 ns)
{
    g_autofree char *text = limits_config_format_seconds(ns);
    return ns > 0 ? g_strconcat("+", text, NULL) : g_steal_pointer(&text);
}

static char *unsigned_seconds(gint64 ns)
{
    return limits_config_format_seconds(ns);
}

/* "2026-11-24T23:10:44.5Z"; out of GDateTime's range: the nanoseconds. */
static char *timestamp(gint64 ns)
{
    gint64 seconds = ns / NS_PER_SEC - (ns % NS_PER_SEC < 0 ? 1 : 0);
    g_autoptr(GDateTime) date = g_date_time_new_from_unix_utc(seconds);
    if (date == NULL) {
        return g_strdup_printf("%" G_GINT64_FORMAT " ns after 1970", ns);
    }
    return g_date_time_format(date, "%Y-%m-%dT%H:%M:%SZ");
}

static char *quoted_id(const char *id)
{
    if (id == NULL) {
        return g_strdup("(none)");
    }
    g_autofree char *cut = g_strndup(id, MAX_QUOTED_ID);
    g_autofree char *escaped = g_strescape(cut, NULL);
    return g_strdup_printf("\"%s\"%s", escaped, strlen(id) > MAX_QUOTED_ID ? "..." : "");
}

static char *rule_message(const struct helper_limits *limits, const struct helper_answer *answer)
{
    const struct helper_request *r = answer->request;
    const struct helper_decision *d = &answer->decision;
    g_autofree char *value_s = NULL, *limit_s = NULL;
    switch (d->rule) {
    case HELPER_RULE_SLEW_WITHIN_LIMITS:
        value_s = signed_seconds(r->offset_ns);
        return g_strdup_printf("slew of %s s accepted", value_s);
    case HELPER_RULE_FREQUENCY_WITHIN_LIMITS:
        return g_strdup_printf("frequency set to %.3f ppm", r->ppm);
    case HELPER_RULE_STEP_WITHIN_LIMITS:
        value_s = signed_seconds(r->offset_ns);
        limit_s = unsigned_seconds(d->limit);
        return g_strdup_printf("step of %s s accepted (MaxStepSeconds=%s)", value_s, limit_s);
    case HELPER_RULE_STEP_BOOT_WINDOW:
        value_s = signed_seconds(r->offset_ns);
        limit_s = unsigned_seconds(d->limit);
        return g_strdup_printf("step of %s s accepted as the first forward step of the boot "
                               "window (BootMaxStepSeconds=%s)",
                               value_s, limit_s);
    case HELPER_RULE_STEP_APPROVED:
        value_s = signed_seconds(r->offset_ns);
        limit_s = signed_seconds(d->limit);
        return g_strdup_printf("step of %s s accepted: it matches an administrator's approval "
                               "of %s s, now used up",
                               value_s, limit_s);
    case HELPER_RULE_STEP_TO_FLOOR:
        value_s = signed_seconds(d->value);
        limit_s = timestamp(d->limit);
        return g_strdup_printf("clock stepped forward by %s s to the floor %s", value_s, limit_s);
    case HELPER_RULE_APPROVAL_RECORDED: {
        value_s = signed_seconds(r->offset_ns);
        limit_s = unsigned_seconds(d->limit);
        g_autofree char *lifetime = unsigned_seconds(limits->approval_lifetime_ns);
        return g_strdup_printf("approved one step of %s s +- %s s for %s s", value_s, limit_s,
                               lifetime);
    }
    case HELPER_RULE_NOT_AUTHORIZED:
        return g_strdup(answer->detail != NULL ? answer->detail : "not authorized");
    case HELPER_RULE_INVALID_REQUEST_ID: {
        g_autofree char *id = quoted_id(r->request_id);
        return g_strdup_printf("request ID %s is not 1 to %d characters of A-Z a-z 0-9 . _ : -", id,
                               HELPER_POLICY_REQUEST_ID_MAX);
    }
    case HELPER_RULE_INVALID_OFFSET:
        if (r->offset_ns == 0) {
            return g_strdup("offset_ns 0: a step of nothing is not a request");
        }
        return g_strdup_printf("offset_ns %" G_GINT64_FORMAT " is out of range", r->offset_ns);
    case HELPER_RULE_INVALID_UNCERTAINTY:
        return g_strdup_printf("uncertainty_ns %" G_GUINT64_FORMAT " is out of range (the most "
                               "is %" G_GINT64_FORMAT ")",
                               r->uncertainty_ns, G_MAXINT64);
    case HELPER_RULE_INVALID_FREQUENCY:
        return g_strdup("ppm is not a finite number");
    case HELPER_RULE_INVALID_TOLERANCE:
        value_s = unsigned_seconds(d->value);
        limit_s = unsigned_seconds(d->limit);
        return g_strdup_printf("tolerance of %s s must be smaller than the offset's %s s", value_s,
                               limit_s);
    case HELPER_RULE_MEASURED_IN_FUTURE:
        return g_strdup_printf("measured_boottime_ns %" G_GUINT64_FORMAT " is later than "
                               "CLOCK_BOOTTIME now (%" G_GINT64_FORMAT ")",
                               r->measured_boottime_ns, d->limit);
    case HELPER_RULE_SLEW_TOO_LARGE:
        value_s = unsigned_seconds(d->value);
        limit_s = unsigned_seconds(d->limit);
        return g_strdup_printf("slew of %s s is larger than MaxSlewSeconds=%s", value_s, limit_s);
    case HELPER_RULE_SLEW_HOURLY_BUDGET:
        value_s = unsigned_seconds(d->value);
        limit_s = unsigned_seconds(d->limit);
        return g_strdup_printf("slews in the last hour would add up to %s s, more than "
                               "MaxSlewPerHourSeconds=%s",
                               value_s, limit_s);
    case HELPER_RULE_FREQUENCY_TOO_LARGE:
        return g_strdup_printf("frequency of %.3f ppm is larger than MaxFrequencyPPM=%g", r->ppm,
                               limits->max_frequency_ppm);
    case HELPER_RULE_STALE_MEASUREMENT:
        value_s = unsigned_seconds(d->value);
        limit_s = unsigned_seconds(d->limit);
        return g_strdup_printf("the measurement is %s s old, older than "
                               "MaxMeasurementAgeSeconds=%s",
                               value_s, limit_s);
    case HELPER_RULE_MEASURED_BEFORE_CHANGE:
        return g_strdup_printf("the measurement was taken before the clock's last accepted "
                               "change, so it no longer describes the clock; measure again");
    case HELPER_RULE_BEFORE_FLOOR:
        value_s = timestamp(d->value);
        limit_s = timestamp(d->limit);
        return g_strdup_printf("the clock would read %s, before the helper's time floor %s",
                               value_s, limit_s);
    case HELPER_RULE_AFTER_CEILING:
        value_s = timestamp(d->value);
        limit_s = timestamp(d->limit);
        return g_strdup_printf("the clock would read %s, after the build date plus "
                               "MaxYearsAfterBuild=%u (%s)",
                               value_s, limits->max_years_after_build, limit_s);
    case HELPER_RULE_STEPS_PER_HOUR:
        return g_strdup_printf("%" G_GINT64_FORMAT " steps were accepted in the last hour "
                               "(MaxStepsPerHour=%" G_GINT64_FORMAT ")",
                               d->value, d->limit);
    case HELPER_RULE_STEP_TOO_LARGE:
        value_s = signed_seconds(r->offset_ns);
        limit_s = unsigned_seconds(d->limit);
        return g_strdup_printf("step of %s s is larger than MaxStepSeconds=%s; it is not the "
                               "first forward step of the boot window, and no administrator "
                               "approved it (ApproveStep)",
                               value_s, limit_s);
    case HELPER_RULE_NOT_BEHIND_FLOOR:
        value_s = timestamp(d->value);
        limit_s = timestamp(d->limit);
        return g_strdup_printf("the clock reads %s, not earlier than the floor %s", value_s,
                               limit_s);
    case HELPER_RULE_BACKEND_FAILED:
        return g_strdup_printf("the clock could not be changed: %s",
                               answer->detail != NULL ? answer->detail
                                                      : "an earlier attempt failed");
    case HELPER_N_RULES:
        break;
    }
    return g_strdup(helper_rule_text(d->rule));
}

char *helper_audit_message(const struct helper_limits *limits, const struct helper_answer *answer)
{
    g_autofree char *message = rule_message(limits, answer);
    if (answer->decision.repeated) {
        g_autofree char *id = quoted_id(answer->request->request_id);
        return g_strdup_printf("request ID %s was answered before (nothing changed now): %s", id,
                               message);
    }
    return g_steal_pointer(&message);
}

/* The offset a journal entry reports: the change made or asked for. */
static gint64 reported_offset(const struct helper_answer *answer)
{
    if (answer->request->method == HELPER_METHOD_STEP_TO_FLOOR) {
        return answer->decision.change_ns;
    }
    return answer->request->offset_ns;
}

static const char *message_id(const struct helper_answer *answer)
{
    if (answer->decision.repeated) {
        return HELPER_MESSAGE_REQUEST_REPEATED;
    }
    if (!helper_rule_accepts(answer->decision.rule)) {
        return HELPER_MESSAGE_REQUEST_REFUSED;
    }
    return answer->request->method == HELPER_METHOD_APPROVE_STEP ? HELPER_MESSAGE_STEP_APPROVED
                                                                 : HELPER_MESSAGE_CLOCK_CHANGED;
}

void helper_audit_journal(const struct helper_answer *answer, const char *message,
                          const char *backend_name)
{
    const struct helper_request *r = answer->request;
    gboolean accepted = helper_rule_accepts(answer->decision.rule);
    const char *error_name = helper_error_dbus_name(helper_rule_error(answer->decision.rule));
    g_autoptr(GPtrArray) fields = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(fields, g_strdup_printf("MESSAGE=%s %s: %s", helper_method_name(r->method),
                                            helper_audit_verdict(answer), message));
    g_ptr_array_add(fields, g_strdup_printf("MESSAGE_ID=%s", message_id(answer)));
    g_ptr_array_add(fields,
                    g_strdup_printf("PRIORITY=%d", accepted ? PRIORITY_NOTICE : PRIORITY_WARN));
    g_ptr_array_add(fields, g_strdup("SYSLOG_IDENTIFIER=gnomon-clock-helper"));
    g_ptr_array_add(fields, g_strdup_printf("METHOD=%s", helper_method_name(r->method)));
    if (answer->caller_uid != HELPER_UID_UNKNOWN) {
        g_ptr_array_add(fields, g_strdup_printf("CALLER_UID=%u", answer->caller_uid));
    }
    g_ptr_array_add(fields,
                    g_strdup_printf("OFFSET_NS=%" G_GINT64_FORMAT, reported_offset(answer)));
    if (r->method == HELPER_METHOD_SLEW || r->method == HELPER_METHOD_STEP) {
        g_ptr_array_add(fields,
                        g_strdup_printf("UNCERTAINTY_NS=%" G_GUINT64_FORMAT, r->uncertainty_ns));
    }
    if (r->method == HELPER_METHOD_STEP) {
        g_ptr_array_add(fields, g_strdup_printf("MEASURED_BOOTTIME_NS=%" G_GUINT64_FORMAT,
                                                r->measured_boottime_ns));
    }
    if (r->method == HELPER_METHOD_SET_FREQUENCY) {
        g_ptr_array_add(fields, g_strdup_printf("PPM=%.9g", r->ppm));
    }
    if (r->method == HELPER_METHOD_APPROVE_STEP) {
        g_ptr_array_add(fields,
                        g_strdup_printf("TOLERANCE_NS=%" G_GUINT64_FORMAT, r->tolerance_ns));
    }
    g_ptr_array_add(fields, g_strdup_printf("VERDICT=%s", helper_audit_verdict(answer)));
    g_ptr_array_add(fields, g_strdup_printf("RULE=%s", helper_rule_id(answer->decision.rule)));
    if (error_name != NULL) {
        g_ptr_array_add(fields, g_strdup_printf("ERROR=%s", error_name));
    }
    if (r->method == HELPER_METHOD_STEP) {
        /* Only valid IDs are echoed in full; others are shown quoted in MESSAGE. */
        g_ptr_array_add(fields,
                        g_strdup_printf("REQUEST_ID=%s", helper_request_id_is_valid(r->request_id)
                                                             ? r->request_id
                                                             : ""));
    }
    g_ptr_array_add(fields, g_strdup_printf("REPEATED=%d", answer->decision.repeated ? 1 : 0));
    g_ptr_array_add(fields, g_strdup_printf("BACKEND=%s", backend_name));

    struct iovec iov[MAX_FIELDS];
    guint n = fields->len;
    if (n > MAX_FIELDS)
        n = MAX_FIELDS; /* not MIN(): cppcheck 2.10 takes n for 0 after it */
    for (guint i = 0; i < n; i++) {
        iov[i].iov_base = fields->pdata[i];
        iov[i].iov_len = strlen(fields->pdata[i]);
    }
    int sent = sd_journal_sendv(iov, (int)n);
    /* sd_journal_sendv() succeeds silently when there is no journal. Under systemd stderr
     * is the journal too (JOURNAL_STREAM): the line would be there twice. */
    if (sent < 0 || g_getenv("JOURNAL_STREAM") == NULL) {
        fprintf(stderr, "gnomon-clock-helper: %s\n", (const char *)fields->pdata[0] + 8);
    }
}

JsonObject *helper_audit_record(const struct helper_answer *answer, const char *message)
{
    const struct helper_request *r = answer->request;
    JsonObject *entry = json_object_new();
    json_object_set_int_member(entry, "boottime_ns", answer->boottime_ns);
    json_object_set_int_member(entry, "time_ns", answer->time_ns);
    json_object_set_string_member(entry, "method", helper_method_name(r->method));
    json_object_set_string_member(
        entry, "request_id",
        r->request_id != NULL && g_utf8_validate(r->request_id, -1, NULL) ? r->request_id : "");
    switch (r->method) {
    case HELPER_METHOD_SLEW:
    case HELPER_METHOD_STEP:
        json_object_set_int_member(entry, "offset_ns", r->offset_ns);
        /* JSON integers here are int64: a larger uncertainty is refused anyway. */
        json_object_set_int_member(entry, "uncertainty_ns",
                                   (gint64)MIN(r->uncertainty_ns, (guint64)G_MAXINT64));
        if (r->method == HELPER_METHOD_STEP) {
            json_object_set_int_member(entry, "measured_boottime_ns",
                                       (gint64)MIN(r->measured_boottime_ns, (guint64)G_MAXINT64));
        }
        break;
    case HELPER_METHOD_SET_FREQUENCY:
        if (r->ppm - r->ppm == 0.0) {
            json_object_set_double_member(entry, "ppm", r->ppm);
        } else {
            json_object_set_null_member(entry, "ppm");
        }
        break;
    case HELPER_METHOD_APPROVE_STEP:
        json_object_set_int_member(entry, "offset_ns", r->offset_ns);
        json_object_set_int_member(entry, "tolerance_ns",
                                   (gint64)MIN(r->tolerance_ns, (guint64)G_MAXINT64));
        break;
    case HELPER_METHOD_STEP_TO_FLOOR:
        break;
    }
    json_object_set_int_member(entry, "change_ns", answer->decision.change_ns);
    json_object_set_string_member(entry, "verdict", helper_audit_verdict(answer));
    json_object_set_string_member(entry, "rule", helper_rule_id(answer->decision.rule));
    const char *error_name = helper_error_dbus_name(helper_rule_error(answer->decision.rule));
    if (error_name != NULL) {
        json_object_set_string_member(entry, "error", error_name);
    } else {
        json_object_set_null_member(entry, "error");
    }
    json_object_set_string_member(entry, "message", message);
    if (answer->caller_uid != HELPER_UID_UNKNOWN) {
        json_object_set_int_member(entry, "caller_uid", answer->caller_uid);
    } else {
        json_object_set_null_member(entry, "caller_uid");
    }
    json_object_set_boolean_member(entry, "repeated", answer->decision.repeated);
    return entry;
}
