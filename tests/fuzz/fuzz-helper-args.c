/* libFuzzer target: the clock helper's D-Bus method arguments, from the GVariant a caller
 * sends to the decision the helper makes: helper_call_parse() (agent/helper/helper-call.c,
 * what the service runs on every call) and then the helper's rules (agent/core/
 * helper-policy.c), its messages (helper-audit.c) and the struct timex an accepted change
 * would become (backend_timex_*). No backend is created, so no clock is ever read or
 * changed: the time is simulated here, moved by the accepted steps.
 *
 * The method names and their argument signatures are read from the interface XML
 * (dbus/org.gnomon.ClockHelper1.xml, compiled in as the service has it). Input:
 *   byte 0: bits 0-1 the limits (defaults, tight, loose), bit 2 a clock behind the floor;
 *   then calls, each: a method byte (index into the XML's methods, one past them an
 *   unknown method; bit 7: arguments of another method's signature), a byte that advances
 *   CLOCK_BOOTTIME by its square in seconds, a length byte, and that many bytes of
 *   serialised GVariant arguments. The helper's state carries from call to call. */
#include <gio/gio.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "fuzz-target.h"
#include "gnomon-dbus-resources.h"
#include "helper-audit.h"
#include "helper-call.h"
#include "helper-policy.h"

#define INTERFACE_RESOURCE "/org/gnomon/dbus/org.gnomon.ClockHelper1.xml"
#define INTERFACE          "org.gnomon.ClockHelper1"
#define MAX_METHODS        16
#define MAX_CALLS          64
#define BUILD_DATE_NS      (INT64_C(1764000000) * NS_PER_SEC)
#define DAY_NS             (INT64_C(86400) * NS_PER_SEC)

struct method {
    const char *name;
    GVariantType *in_type; /* the tuple of the in-arguments */
};

static struct method methods[MAX_METHODS];
static size_t n_methods;

static void load_methods(void)
{
    GBytes *xml = g_resource_lookup_data(gnomon_dbus_get_resource(), INTERFACE_RESOURCE,
                                         G_RESOURCE_LOOKUP_FLAGS_NONE, NULL);
    GDBusNodeInfo *node =
        xml != NULL ? g_dbus_node_info_new_for_xml(g_bytes_get_data(xml, NULL), NULL) : NULL;
    GDBusInterfaceInfo *info =
        node != NULL ? g_dbus_node_info_lookup_interface(node, INTERFACE) : NULL;
    if (info == NULL)
        abort();
    for (GDBusMethodInfo **m = info->methods; *m != NULL && n_methods < MAX_METHODS; m++) {
        GString *signature = g_string_new("(");
        for (GDBusArgInfo **arg = (*m)->in_args; arg != NULL && *arg != NULL; arg++)
            g_string_append(signature, (*arg)->signature);
        g_string_append_c(signature, ')');
        methods[n_methods].name = g_strdup((*m)->name);
        methods[n_methods].in_type = g_variant_type_new(signature->str);
        g_string_free(signature, TRUE);
        n_methods++;
    }
    if (n_methods == 0)
        abort();
    g_dbus_node_info_unref(node);
    g_bytes_unref(xml);
}

static struct helper_limits pick_limits(uint8_t profile)
{
    struct helper_limits limits = helper_limits_default();
    switch (profile & 3) {
    case 1: /* as tight as the file allows */
        limits.max_slew_ns = 0;
        limits.max_slew_per_hour_ns = 0;
        limits.max_frequency_ppm = 0.0;
        limits.max_step_ns = 0;
        limits.boot_max_step_ns = 0;
        limits.max_steps_per_hour = 0;
        limits.max_measurement_age_ns = NS_PER_SEC;
        limits.approval_lifetime_ns = NS_PER_SEC;
        limits.floor_lag_ns = 0;
        limits.max_years_after_build = 1;
        break;
    case 2: /* as loose */
        limits.max_slew_per_hour_ns = INT64_C(9223372035999999999);
        limits.max_step_ns = HELPER_POLICY_NO_LIMIT;
        limits.max_steps_per_hour = HELPER_POLICY_MAX_STEPS;
        limits.max_measurement_age_ns = INT64_C(9223372035999999999);
        limits.approval_lifetime_ns = INT64_C(9223372035999999999);
        limits.max_years_after_build = 200;
        break;
    default:
        break;
    }
    return limits;
}

static const char *expected_action(enum helper_method method)
{
    switch (method) {
    case HELPER_METHOD_SLEW:
    case HELPER_METHOD_SET_FREQUENCY:
        return HELPER_ACTION_ADJUST;
    case HELPER_METHOD_STEP:
    case HELPER_METHOD_STEP_TO_FLOOR:
        return HELPER_ACTION_STEP;
    case HELPER_METHOD_APPROVE_STEP:
        return HELPER_ACTION_APPROVE_STEP;
    }
    abort();
}

static int64_t add_saturating(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b)
        return INT64_MIN;
    return a + b;
}

/* What an accepted change must respect, and the struct timex it would become. */
static void check_accepted(const struct helper_limits *limits,
                           const struct helper_policy_state *before,
                           const struct helper_request *request, const struct helper_decision *d,
                           const struct helper_now *now)
{
    struct timex tx;
    int64_t result = add_saturating(now->time_ns, d->change_ns);
    switch (request->method) {
    case HELPER_METHOD_SLEW:
        if (d->change_ns != request->offset_ns || d->change_ns < -limits->max_slew_ns ||
            d->change_ns > limits->max_slew_ns)
            abort();
        backend_timex_slew(&tx, d->change_ns, 0);
        backend_timex_sync_status(&tx, request->uncertainty_ns, 0);
        if (tx.maxerror < 0 || tx.maxerror > BACKEND_MAX_ERROR_US)
            abort();
        break;
    case HELPER_METHOD_STEP:
        if (d->change_ns != request->offset_ns || result < helper_policy_floor_ns(before) ||
            result > helper_policy_ceiling_ns(before, limits))
            abort();
        backend_timex_step(&tx, d->change_ns);
        if (tx.time.tv_usec < 0 || tx.time.tv_usec >= NS_PER_SEC)
            abort();
        backend_timex_sync_status(&tx, request->uncertainty_ns, 0);
        break;
    case HELPER_METHOD_STEP_TO_FLOOR:
        if (d->change_ns <= 0 || result != helper_policy_floor_ns(before))
            abort();
        backend_timex_step(&tx, d->change_ns);
        break;
    case HELPER_METHOD_SET_FREQUENCY:
        if (!(request->ppm >= -limits->max_frequency_ppm &&
              request->ppm <= limits->max_frequency_ppm))
            abort();
        backend_timex_frequency(&tx, request->ppm);
        break;
    case HELPER_METHOD_APPROVE_STEP:
        /* No change now: the offset it approves must lie within the bounds. */
        result = add_saturating(now->time_ns, request->offset_ns);
        if (d->change_ns != 0 || result < helper_policy_floor_ns(before) ||
            result > helper_policy_ceiling_ns(before, limits))
            abort();
        break;
    }
}

/* The helper's answer as it would log and record it. */
static void check_answer(const struct helper_limits *limits, const struct helper_request *request,
                         const struct helper_decision *d, const struct helper_now *now)
{
    struct helper_answer answer = {
        .request = request,
        .decision = *d,
        .caller_uid = 1000,
        .time_ns = now->time_ns,
        .boottime_ns = now->boottime_ns,
    };
    char *message = helper_audit_message(limits, &answer);
    if (message == NULL || *message == '\0' || strchr(message, '\n') != NULL)
        abort();
    json_object_unref(helper_audit_record(&answer, message));
    (void)helper_audit_verdict(&answer);
    g_free(message);
    if (helper_rule_error(d->rule) >= HELPER_N_ERRORS ||
        (helper_rule_accepts(d->rule) != (helper_rule_error(d->rule) == HELPER_ERROR_NONE)))
        abort();
}

static void check_state(const struct helper_policy_state *state)
{
    if (state->n_steps > HELPER_POLICY_MAX_STEPS || state->n_slews > HELPER_POLICY_MAX_SLEWS ||
        state->n_requests > HELPER_POLICY_MAX_REQUESTS ||
        state->next_request >= HELPER_POLICY_MAX_REQUESTS)
        abort();
    for (size_t i = 0; i < state->n_slews; i++) {
        if (state->slews[i].amount_ns < 0)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (n_methods == 0)
        load_methods();
    if (size < 1)
        return 0;
    const struct helper_limits limits = pick_limits(data[0]);
    struct helper_policy_state state;
    helper_policy_state_init(&state, BUILD_DATE_NS, INT64_MIN);
    struct helper_now now = {
        .time_ns = (data[0] & 4) ? 0 : BUILD_DATE_NS + 100 * DAY_NS,
        .boottime_ns = 10 * NS_PER_SEC,
    };
    size_t pos = 1;
    for (int calls = 0; calls < MAX_CALLS && pos + 3 <= size; calls++) {
        uint8_t selector = data[pos];
        int64_t advance = (int64_t)data[pos + 1] * data[pos + 1] * NS_PER_SEC;
        size_t len = data[pos + 2];
        pos += 3;
        if (len > size - pos)
            len = size - pos;
        size_t index = (selector & 0x7f) % (n_methods + 1);
        gboolean known = index < n_methods;
        const char *name = known ? methods[index].name : "SetTime";
        size_t typed = (selector & 0x80) ? (index + 1) % n_methods : index % n_methods;
        const GVariantType *type = methods[typed].in_type;
        gboolean own_type = known && g_variant_type_equal(type, methods[index].in_type);

        /* Untrusted bytes, as GVariant takes them from outside: checked as they are read. */
        GBytes *bytes = g_bytes_new(data + pos, len);
        GVariant *parameters = g_variant_ref_sink(g_variant_new_from_bytes(type, bytes, FALSE));
        g_bytes_unref(bytes);
        pos += len;
        now.boottime_ns += advance;
        now.time_ns = add_saturating(now.time_ns, advance);

        struct helper_request request;
        char *request_id = NULL;
        const char *action = NULL;
        gboolean parsed = helper_call_parse(name, parameters, &request, &request_id, &action);
        g_variant_unref(parameters);
        /* Every method of the interface with its own signature, and nothing else, parses. */
        if (parsed != own_type)
            abort();
        if (!parsed) {
            if (request_id != NULL || action != NULL)
                abort();
            continue;
        }
        if (strcmp(action, expected_action(request.method)) != 0 ||
            strcmp(helper_method_name(request.method), name) != 0 ||
            (request.method == HELPER_METHOD_STEP) != (request_id != NULL))
            abort();

        helper_policy_expire(&state, now.boottime_ns);
        struct helper_decision d = helper_policy_decide(&limits, &state, &request, &now);
        if ((unsigned)d.rule >= HELPER_N_RULES || d.rule == HELPER_RULE_NOT_AUTHORIZED ||
            d.rule == HELPER_RULE_BACKEND_FAILED)
            abort();
        if (!helper_rule_accepts(d.rule) && d.change_ns != 0)
            abort();
        check_answer(&limits, &request, &d, &now);
        if (helper_rule_accepts(d.rule) && !d.repeated)
            check_accepted(&limits, &state, &request, &d, &now);
        helper_policy_commit(&state, &limits, &request, &d, &now);
        check_state(&state);
        /* The simulated clock takes the accepted steps. */
        if (helper_rule_accepts(d.rule) && !d.repeated &&
            (request.method == HELPER_METHOD_STEP || request.method == HELPER_METHOD_STEP_TO_FLOOR))
            now.time_ns = add_saturating(now.time_ns, d.change_ns);
        g_free(request_id);
    }
    return 0;
}
