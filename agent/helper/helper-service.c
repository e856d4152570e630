/* The helper's D-Bus service. Every method call goes:
 *   caller's UID (asked of the bus) -> UID 0 passes, others: polkit, asynchronously
 *   -> the rules (helper_policy_decide) -> the backend -> the per-boot record (persisted
 *   before the reply) -> journal, record line, signals, PropertiesChanged -> reply.
 * Everything runs on the main loop, so decisions are made one at a time. */
#include "helper-service.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bus-authorization.h"
#include "gnomon-dbus-resources.h"
#include "helper-audit.h"
#include "helper-call.h"
#include "limits-config.h"

#define INTERFACE_RESOURCE "/org/gnomon/dbus/org.gnomon.ClockHelper1.xml"
#define SYNCHRONIZED_FILE  "synchronized"

/* The values of the properties, to emit PropertiesChanged only on a real change. */
struct properties {
    gboolean in_boot_window;
    guint32 steps_this_boot;
    char last_id[HELPER_POLICY_REQUEST_ID_MAX + 1];
    const char *last_verdict;
    gint64 approval_offset_ns;
    guint64 approval_tolerance_ns;
    guint64 approval_expiry_us;
    gint64 floor_ns;
};

struct helper_service {
    struct helper_limits limits;
    struct helper_policy_state state;
    struct backend *backend;
    struct helper_store *store;
    char *timesync_directory;
    guint idle_timeout_s;
    guint answer_delay_ms;

    GMainLoop *loop;
    int exit_status;
    guint owner_id;
    GDBusConnection *connection;
    guint registration_id;
    GDBusNodeInfo *node_info;
    guint idle_source;
    guint expiry_source;
    guint signal_sources[2];
    unsigned in_progress;
    struct properties emitted;
};

struct call {
    struct helper_service *service;
    GDBusMethodInvocation *invocation;
    struct helper_request request;
    char *request_id;
    const char *action;
    guint32 uid;
    gboolean accepted; /* the answer, once made */
    gint error_code;
    char *message;
};

GQuark helper_error_quark(void)
{
    static gsize quark = 0;
    if (quark == 0) {
        static GDBusErrorEntry entries[HELPER_N_ERRORS - 1];
        for (int i = 1; i < HELPER_N_ERRORS; i++) {
            entries[i - 1].error_code = i;
            entries[i - 1].dbus_error_name = helper_error_dbus_name((enum helper_error)i);
        }
        g_dbus_error_register_error_domain("gnomon-helper-error-quark", &quark, entries,
                                           G_N_ELEMENTS(entries));
    }
    return (GQuark)quark;
}

static gint64 boottime_ns(void)
{
    return backend_clock_ns(CLOCK_BOOTTIME);
}

/* --- properties --- */

static void current_properties(const struct helper_service *service, struct properties *p)
{
    const struct helper_policy_state *state = &service->state;
    memset(p, 0, sizeof *p);
    p->in_boot_window = state->boot_window_open;
    p->steps_this_boot = state->steps_this_boot;
    p->last_verdict = "";
    if (state->has_last_request) {
        memcpy(p->last_id, state->last_request.id, sizeof p->last_id);
        p->last_verdict = helper_rule_accepts(state->last_request.rule) ? "accepted" : "refused";
    }
    if (helper_policy_approval_live(state, boottime_ns())) {
        p->approval_offset_ns = state->approval.offset_ns;
        p->approval_tolerance_ns = state->approval.tolerance_ns;
        gint64 expiry = state->approval.expiry_boottime_ns;
        p->approval_expiry_us = expiry > 0 ? (guint64)(expiry / NS_PER_US) : 0;
    }
    p->floor_ns = helper_policy_floor_ns(state);
}

static guint64 to_usec(gint64 ns)
{
    return ns > 0 ? (guint64)(ns / NS_PER_US) : 0;
}

static GVariant *seconds_variant(gint64 ns)
{
    return g_variant_new_double(ns == HELPER_POLICY_NO_LIMIT ? INFINITY
                                                             : (double)ns / (double)NS_PER_SEC);
}

static GVariant *limits_variant(const struct helper_service *service, const struct properties *p)
{
    const struct helper_limits *l = &service->limits;
    GVariantBuilder builder;
    g_variant_builder_init(&builder, G_VARIANT_TYPE("a{sv}"));
    g_variant_builder_add(&builder, "{sv}", "MaxSlewSeconds", seconds_variant(l->max_slew_ns));
    g_variant_builder_add(&builder, "{sv}", "MaxSlewPerHourSeconds",
                          seconds_variant(l->max_slew_per_hour_ns));
    g_variant_builder_add(&builder, "{sv}", "MaxFrequencyPPM",
                          g_variant_new_double(l->max_frequency_ppm));
    g_variant_builder_add(&builder, "{sv}", "MaxStepSeconds", seconds_variant(l->max_step_ns));
    g_variant_builder_add(&builder, "{sv}", "BootMaxStepSeconds",
                          seconds_variant(l->boot_max_step_ns));
    g_variant_builder_add(&builder, "{sv}", "MaxStepsPerHour",
                          g_variant_new_uint32(l->max_steps_per_hour));
    g_variant_builder_add(&builder, "{sv}", "MaxMeasurementAgeSeconds",
                          seconds_variant(l->max_measurement_age_ns));
    g_variant_builder_add(&builder, "{sv}", "ApprovalLifetimeSeconds",
                          seconds_variant(l->approval_lifetime_ns));
    g_variant_builder_add(&builder, "{sv}", "FloorLagSeconds", seconds_variant(l->floor_lag_ns));
    g_variant_builder_add(&builder, "{sv}", "MaxYearsAfterBuild",
                          g_variant_new_uint32(l->max_years_after_build));
    g_variant_builder_add(&builder, "{sv}", "BuildDateUSec",
                          g_variant_new_uint64(to_usec(service->state.build_date_ns)));
    g_variant_builder_add(&builder, "{sv}", "FloorUSec",
                          g_variant_new_uint64(to_usec(p->floor_ns)));
    g_variant_builder_add(
        &builder, "{sv}", "CeilingUSec",
        g_variant_new_uint64(to_usec(helper_policy_ceiling_ns(&service->state, l))));
    return g_variant_builder_end(&builder);
}

static GVariant *property_value(const struct helper_service *service, const struct properties *p,
                                const char *name)
{
    if (strcmp(name, "Backend") == 0) {
        return g_variant_new_string(backend_name(service->backend));
    }
    if (strcmp(name, "Limits") == 0) {
        return limits_variant(service, p);
    }
    if (strcmp(name, "InBootWindow") == 0) {
        return g_variant_new_boolean(p->in_boot_window);
    }
    if (strcmp(name, "StepsThisBoot") == 0) {
        return g_variant_new_uint32(p->steps_this_boot);
    }
    if (strcmp(name, "LastRequest") == 0) {
        return g_variant_new("(ss)", p->last_id, p->last_verdict);
    }
    if (strcmp(name, "Approval") == 0) {
        return g_variant_new("(xtt)", p->approval_offset_ns, p->approval_tolerance_ns,
                             p->approval_expiry_us);
    }
    return NULL;
}

/* The one place PropertiesChanged is emitted: whatever differs from what was emitted. */
static void emit_property_changes(struct helper_service *service)
{
    struct properties now;
    current_properties(service, &now);
    const struct properties *old = &service->emitted;
    GVariantBuilder changed;
    g_variant_builder_init(&changed, G_VARIANT_TYPE("a{sv}"));
    gboolean any = FALSE;
#define CHANGED(name)                                                                              \
    do {                                                                                           \
        g_variant_builder_add(&changed, "{sv}", name, property_value(service, &now, name));        \
        any = TRUE;                                                                                \
    } while (0)
    if (now.in_boot_window != old->in_boot_window) {
        CHANGED("InBootWindow");
    }
    if (now.steps_this_boot != old->steps_this_boot) {
        CHANGED("StepsThisBoot");
    }
    if (strcmp(now.last_id, old->last_id) != 0 ||
        strcmp(now.last_verdict, old->last_verdict) != 0) {
        CHANGED("LastRequest");
    }
    if (now.approval_offset_ns != old->approval_offset_ns ||
        now.approval_tolerance_ns != old->approval_tolerance_ns ||
        now.approval_expiry_us != old->approval_expiry_us) {
        CHANGED("Approval");
    }
    if (now.floor_ns != old->floor_ns) {
        CHANGED("Limits");
    }
#undef CHANGED
    service->emitted = now;
    GVariant *changes = g_variant_builder_end(&changed);
    if (!any || service->connection == NULL) {
        g_variant_unref(g_variant_ref_sink(changes));
        return;
    }
    g_autoptr(GError) error = NULL;
    if (!g_dbus_connection_emit_signal(
            service->connection, NULL, HELPER_OBJECT_PATH, "org.freedesktop.DBus.Properties",
            "PropertiesChanged", g_variant_new("(s@a{sv}as)", HELPER_INTERFACE, changes, NULL),
            &error)) {
        g_printerr("gnomon-clock-helper: cannot emit PropertiesChanged: %s\n", error->message);
    }
}

static void emit_signal(struct helper_service *service, const char *name, GVariant *parameters)
{
    g_autoptr(GError) error = NULL;
    if (!g_dbus_connection_emit_signal(service->connection, NULL, HELPER_OBJECT_PATH,
                                       HELPER_INTERFACE, name, parameters, &error)) {
        g_printerr("gnomon-clock-helper: cannot emit %s: %s\n", name, error->message);
    }
}

/* --- idle exit and approval expiry --- */

static gboolean on_idle(gpointer data)
{
    struct helper_service *service = data;
    service->idle_source = 0;
    if (service->in_progress == 0) {
        g_printerr("gnomon-clock-helper: idle for %u s, exiting\n", service->idle_timeout_s);
        g_main_loop_quit(service->loop);
    }
    return G_SOURCE_REMOVE;
}

static void restart_idle(struct helper_service *service)
{
    g_clear_handle_id(&service->idle_source, g_source_remove);
    if (service->idle_timeout_s > 0 && service->in_progress == 0) {
        service->idle_source = g_timeout_add_seconds(service->idle_timeout_s, on_idle, service);
    }
}

static void schedule_expiry(struct helper_service *service);

static gboolean on_expiry(gpointer data)
{
    struct helper_service *service = data;
    service->expiry_source = 0;
    if (helper_policy_expire(&service->state, boottime_ns())) {
        g_autoptr(GError) error = NULL;
        if (!helper_store_save_boot(service->store, &service->state, &error)) {
            g_printerr("gnomon-clock-helper: cannot save this boot's record: %s\n", error->message);
        }
    }
    emit_property_changes(service);
    schedule_expiry(service);
    return G_SOURCE_REMOVE;
}

/* A timer for the live approval's end (rechecked on CLOCK_BOOTTIME when it fires). */
static void schedule_expiry(struct helper_service *service)
{
    g_clear_handle_id(&service->expiry_source, g_source_remove);
    if (!service->state.approval.active) {
        return;
    }
    gint64 left = service->state.approval.expiry_boottime_ns - boottime_ns();
    guint ms = left <= 0 ? 0 : (guint)MIN(left / NS_PER_MS + 1, (gint64)G_MAXINT32);
    service->expiry_source = g_timeout_add(ms, on_expiry, service);
}

/* --- answering --- */

static void call_free(struct call *call)
{
    g_clear_object(&call->invocation);
    g_free(call->request_id);
    g_free(call->message);
    g_free(call);
}

static void touch_synchronized(struct helper_service *service)
{
    if (service->timesync_directory == NULL) {
        return;
    }
    g_autofree char *path = g_build_filename(service->timesync_directory, SYNCHRONIZED_FILE, NULL);
    int fd = -1;
    if (g_mkdir_with_parents(service->timesync_directory, 0755) == 0) {
        fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW, 0644);
    }
    if (fd < 0 || futimens(fd, NULL) != 0) {
        int saved = errno;
        g_printerr("gnomon-clock-helper: cannot create %s: %s\n", path, g_strerror(saved));
    }
    if (fd >= 0) {
        close(fd);
    }
}

static void answer_call(struct call *call)
{
    struct helper_service *service = call->service;
    if (call->accepted) {
        g_dbus_method_invocation_return_value(g_steal_pointer(&call->invocation), NULL);
    } else {
        g_dbus_method_invocation_return_error_literal(
            g_steal_pointer(&call->invocation), HELPER_ERROR, call->error_code, call->message);
    }
    service->in_progress--;
    restart_idle(service);
    call_free(call);
}

static gboolean on_answer_delay(gpointer data)
{
    answer_call(data);
    return G_SOURCE_REMOVE;
}

/* Logs, records and replies; ends the call. */
static void finish(struct call *call, const struct helper_answer *answer)
{
    struct helper_service *service = call->service;
    g_autofree char *message = helper_audit_message(&service->limits, answer);
    helper_audit_journal(answer, message, backend_name(service->backend));
    g_autoptr(GError) error = NULL;
    if (!backend_record(service->backend, helper_audit_record(answer, message), &error)) {
        g_printerr("gnomon-clock-helper: %s\n", error->message);
    }
    call->accepted = helper_rule_accepts(answer->decision.rule);
    call->error_code = (gint)helper_rule_error(answer->decision.rule);
    call->message = g_steal_pointer(&message);
    if (service->answer_delay_ms > 0) {
        /* The change is made and recorded; only the answer waits (tests: a lost answer). */
        g_timeout_add(service->answer_delay_ms, on_answer_delay, call);
        return;
    }
    answer_call(call);
}

static void refuse(struct call *call, enum helper_rule rule, const char *detail)
{
    struct helper_answer answer = {
        .request = &call->request,
        .decision = {.rule = rule},
        .caller_uid = call->uid,
        .boottime_ns = boottime_ns(),
        .detail = detail,
    };
    finish(call, &answer);
}

static gboolean apply(struct helper_service *service, const struct helper_request *request,
                      const struct helper_decision *decision, GError **error)
{
    struct backend *backend = service->backend;
    gboolean ok = FALSE;
    switch (request->method) {
    case HELPER_METHOD_SLEW:
        ok = backend_slew(backend, decision->change_ns, error);
        break;
    case HELPER_METHOD_STEP:
    case HELPER_METHOD_STEP_TO_FLOOR:
        ok = backend_step(backend, decision->change_ns, error);
        break;
    case HELPER_METHOD_SET_FREQUENCY:
        ok = backend_set_frequency(backend, request->ppm, error);
        break;
    case HELPER_METHOD_APPROVE_STEP:
        return TRUE;
    }
    if (!ok) {
        return FALSE;
    }
    /* After a change measured against sources: the kernel's sync status (timedated's
     * NTPSynchronized), and the file systemd-time-wait-sync waits for. StepToFloor is no
     * synchronisation and SetFrequency carries no uncertainty. */
    if (request->method == HELPER_METHOD_SLEW || request->method == HELPER_METHOD_STEP) {
        g_autoptr(GError) local = NULL;
        if (!backend_set_sync_status(backend, request->uncertainty_ns, &local)) {
            g_printerr("gnomon-clock-helper: the clock was changed, but its sync status was "
                       "not set: %s\n",
                       local->message);
        }
    }
    if (request->method != HELPER_METHOD_STEP_TO_FLOOR) {
        touch_synchronized(service);
    }
    return TRUE;
}

static void save_boot(struct helper_service *service, const struct helper_policy_state *state)
{
    g_autoptr(GError) error = NULL;
    if (!helper_store_save_boot(service->store, state, &error)) {
        g_printerr("gnomon-clock-helper: cannot save this boot's record: %s\n", error->message);
    }
}

/* The caller is authorized: decide, change, remember, tell. */
static void execute(struct call *call)
{
    struct helper_service *service = call->service;
    const struct helper_request *request = &call->request;
    struct helper_now now = {.boottime_ns = boottime_ns()};
    g_autoptr(GError) error = NULL;
    if (!backend_now(service->backend, &now.time_ns, &error)) {
        refuse(call, HELPER_RULE_BACKEND_FAILED, error->message);
        return;
    }
    helper_policy_expire(&service->state, now.boottime_ns);
    struct helper_answer answer = {
        .request = request,
        .decision = helper_policy_decide(&service->limits, &service->state, request, &now),
        .caller_uid = call->uid,
        .time_ns = now.time_ns,
        .boottime_ns = now.boottime_ns,
    };
    struct helper_decision *decision = &answer.decision;
    gboolean changes_clock = helper_rule_accepts(decision->rule) && !decision->repeated &&
                             request->method != HELPER_METHOD_APPROVE_STEP;
    g_autofree char *failure = NULL;
    if (changes_clock && request->method == HELPER_METHOD_STEP) {
        /* At most once: the request ID is on disk as accepted before the clock moves, so
         * a crash in between can never let a repeat of it step again. */
        struct helper_policy_state provisional = service->state;
        helper_policy_commit(&provisional, &service->limits, request, decision, &now);
        if (!helper_store_save_boot(service->store, &provisional, &error)) {
            failure = g_strdup_printf("cannot record the request first: %s", error->message);
            g_clear_error(&error);
        }
    }
    if (changes_clock && failure == NULL && !apply(service, request, decision, &error)) {
        failure = g_strdup(error->message);
    }
    if (failure != NULL) {
        decision->rule = HELPER_RULE_BACKEND_FAILED;
        decision->change_ns = 0;
        answer.detail = failure;
    }
    if (helper_policy_commit(&service->state, &service->limits, request, decision, &now)) {
        g_autoptr(GError) floor_error = NULL;
        if (!helper_store_save_floor(service->store, service->state.own_floor_ns, &floor_error)) {
            g_printerr("gnomon-clock-helper: cannot save the floor: %s\n", floor_error->message);
        }
    }
    if (!decision->repeated) {
        save_boot(service, &service->state);
    }
    if (helper_rule_accepts(decision->rule) && !decision->repeated) {
        switch (request->method) {
        case HELPER_METHOD_SLEW:
            emit_signal(service, "ClockChanged",
                        g_variant_new("(sx)", "slew", decision->change_ns));
            break;
        case HELPER_METHOD_STEP:
            emit_signal(service, "ClockChanged",
                        g_variant_new("(sx)", "step", decision->change_ns));
            break;
        case HELPER_METHOD_STEP_TO_FLOOR:
            emit_signal(service, "ClockChanged",
                        g_variant_new("(sx)", "step-to-floor", decision->change_ns));
            break;
        case HELPER_METHOD_SET_FREQUENCY:
            emit_signal(service, "ClockChanged", g_variant_new("(sx)", "frequency", (gint64)0));
            break;
        case HELPER_METHOD_APPROVE_STEP:
            emit_signal(service, "StepApproved",
                        g_variant_new("(xt)", request->offset_ns, request->tolerance_ns));
            break;
        }
    }
    schedule_expiry(service);
    emit_property_changes(service);
    finish(call, &answer);
}

/* --- authorization --- */

static void on_authorized(GDBusMethodInvocation *invocation, gboolean allowed, const char *reason,
                          guint uid, gpointer data)
{
    struct call *call = data;
    (void)invocation;
    call->uid = uid == G_MAXUINT ? HELPER_UID_UNKNOWN : uid;
    if (allowed)
        execute(call);
    else
        refuse(call, HELPER_RULE_NOT_AUTHORIZED, reason);
}

/* The caller's UID, then polkit (net/bus-authorization). UID 0 passes (interfaces.md: root
 * could set the clock anyway); the limits still apply to it. The offset is a detail a
 * rules.d file may look at (action.lookup("offset_ns")). */
static void check_authorization(struct call *call)
{
    g_autofree char *offset = NULL;
    const char *details[3] = {NULL, NULL, NULL};
    if (call->request.method != HELPER_METHOD_SET_FREQUENCY &&
        call->request.method != HELPER_METHOD_STEP_TO_FLOOR) {
        offset = g_strdup_printf("%" G_GINT64_FORMAT, call->request.offset_ns);
        details[0] = "offset_ns";
        details[1] = offset;
    }
    bus_authorization_check(call->invocation, call->action, details, TRUE, on_authorized, call);
}

/* --- the D-Bus object --- */

static void handle_method_call(GDBusConnection *connection, const char *sender,
                               const char *object_path, const char *interface_name,
                               const char *method_name, GVariant *parameters,
                               GDBusMethodInvocation *invocation, gpointer data)
{
    struct helper_service *service = data;
    struct call *call = g_new0(struct call, 1);
    call->service = service;
    call->uid = HELPER_UID_UNKNOWN;
    if (!helper_call_parse(method_name, parameters, &call->request, &call->request_id,
                           &call->action) ||
        sender == NULL) {
        g_dbus_method_invocation_return_error(invocation, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD,
                                              "no method %s", method_name);
        call_free(call);
        return;
    }
    call->invocation = invocation; /* ours to answer: finish() returns it */
    service->in_progress++;
    g_clear_handle_id(&service->idle_source, g_source_remove);
    check_authorization(call);
}

static GVariant *handle_get_property(GDBusConnection *connection, const char *sender,
                                     const char *object_path, const char *interface_name,
                                     const char *property_name, GError **error, gpointer data)
{
    struct helper_service *service = data;
    restart_idle(service);
    struct properties p;
    current_properties(service, &p);
    GVariant *value = property_value(service, &p, property_name);
    if (value == NULL) {
        g_set_error(error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_PROPERTY, "no property %s",
                    property_name);
    }
    return value;
}

static const GDBusInterfaceVTable vtable = {
    .method_call = handle_method_call,
    .get_property = handle_get_property,
    .set_property = NULL,
};

static void on_bus_acquired(GDBusConnection *connection, const char *name, gpointer data)
{
    struct helper_service *service = data;
    service->connection = g_object_ref(connection);
    GDBusInterfaceInfo *info =
        g_dbus_node_info_lookup_interface(service->node_info, HELPER_INTERFACE);
    g_autoptr(GError) error = NULL;
    service->registration_id = g_dbus_connection_register_object(
        connection, HELPER_OBJECT_PATH, info, &vtable, service, NULL, &error);
    if (service->registration_id == 0) {
        g_printerr("gnomon-clock-helper: cannot export %s: %s\n", HELPER_OBJECT_PATH,
                   error->message);
        service->exit_status = EXIT_FAILURE;
        g_main_loop_quit(service->loop);
    }
}

static void on_name_acquired(GDBusConnection *connection, const char *name, gpointer data)
{
    struct helper_service *service = data;
    restart_idle(service);
}

/* cppcheck-suppress constParameter ; GBusNameLostCallback's signature, not ours to change */
static void on_name_lost(GDBusConnection *connection, const char *name, gpointer data)
{
    struct helper_service *service = data;
    if (connection == NULL) {
        g_printerr("gnomon-clock-helper: cannot connect to the system bus\n");
    } else {
        g_printerr("gnomon-clock-helper: cannot own (or lost) the name %s: another helper runs, "
                   "or the bus policy does not let this user own it\n",
                   name);
    }
    service->exit_status = EXIT_FAILURE;
    g_main_loop_quit(service->loop);
}

static gboolean on_signal(gpointer data)
{
    struct helper_service *service = data;
    g_main_loop_quit(service->loop);
    return G_SOURCE_CONTINUE;
}

struct helper_service *helper_service_new(const struct helper_limits *limits,
                                          const struct helper_policy_state *state,
                                          struct backend *backend, struct helper_store *store,
                                          const struct helper_service_options *options,
                                          GError **error)
{
    g_autoptr(GBytes) xml = g_resource_lookup_data(gnomon_dbus_get_resource(), INTERFACE_RESOURCE,
                                                   G_RESOURCE_LOOKUP_FLAGS_NONE, error);
    if (xml == NULL) {
        backend_free(backend);
        helper_store_free(store);
        return NULL;
    }
    GDBusNodeInfo *node_info = g_dbus_node_info_new_for_xml(g_bytes_get_data(xml, NULL), error);
    if (node_info == NULL) {
        backend_free(backend);
        helper_store_free(store);
        return NULL;
    }
    struct helper_service *service = g_new0(struct helper_service, 1);
    service->limits = *limits;
    service->state = *state;
    service->backend = backend;
    service->store = store;
    service->timesync_directory = g_strdup(options->timesync_directory);
    service->idle_timeout_s = options->idle_timeout_s;
    service->answer_delay_ms = options->answer_delay_ms;
    service->node_info = node_info;
    service->loop = g_main_loop_new(NULL, FALSE);
    service->exit_status = EXIT_SUCCESS;
    (void)helper_error_quark(); /* register the error names before any reply */
    return service;
}

void helper_service_free(struct helper_service *service)
{
    if (service == NULL) {
        return;
    }
    g_clear_handle_id(&service->idle_source, g_source_remove);
    g_clear_handle_id(&service->expiry_source, g_source_remove);
    for (gsize i = 0; i < G_N_ELEMENTS(service->signal_sources); i++) {
        g_clear_handle_id(&service->signal_sources[i], g_source_remove);
    }
    if (service->registration_id != 0) {
        g_dbus_connection_unregister_object(service->connection, service->registration_id);
    }
    if (service->owner_id != 0) {
        g_bus_unown_name(service->owner_id);
    }
    if (service->connection != NULL) {
        g_dbus_connection_flush_sync(service->connection, NULL, NULL);
    }
    g_clear_object(&service->connection);
    g_dbus_node_info_unref(service->node_info);
    g_main_loop_unref(service->loop);
    backend_free(service->backend);
    helper_store_free(service->store);
    g_free(service->timesync_directory);
    g_free(service);
}

int helper_service_run(struct helper_service *service)
{
    current_properties(service, &service->emitted);
    service->signal_sources[0] = g_unix_signal_add(SIGTERM, on_signal, service);
    service->signal_sources[1] = g_unix_signal_add(SIGINT, on_signal, service);
    schedule_expiry(service);
    service->owner_id =
        g_bus_own_name(G_BUS_TYPE_SYSTEM, HELPER_BUS_NAME, G_BUS_NAME_OWNER_FLAGS_NONE,
                       on_bus_acquired, on_name_acquired, on_name_lost, service, NULL);
    g_main_loop_run(service->loop);
    /* Give up the name at once, so the bus activates a new helper for the next call. */
    if (service->registration_id != 0) {
        g_dbus_connection_unregister_object(service->connection, service->registration_id);
        service->registration_id = 0;
    }
    g_clear_handle_id(&service->owner_id, g_bus_unown_name);
    return service->exit_status;
}
