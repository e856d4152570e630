#include "helper-client.h"

#include <string.h>

#include "gnomon-dbus-generated.h"

#define HELPER_NAME            "org.gnomon.ClockHelper1"
#define HELPER_PATH            "/org/gnomon/ClockHelper1"
/* Long enough for polkit and a D-Bus activation; short enough to notice a dead helper. */
#define HELPER_CALL_TIMEOUT_MS 15000

struct helper_client {
    GDBusConnection *bus;
    GnomonClockHelper1 *proxy;
    guint approved_subscription;
    helper_client_approved_fn approved;
    gpointer approved_data;
};

struct call {
    struct helper_client *client;
    clock_control_done_fn done;
    gpointer user_data;
};

/* A helper refusal carries its rule's name; anything else means the answer is unknown. */
static GError *classify(GError *error)
{
    g_autofree char *remote = g_dbus_error_get_remote_error(error);
    g_autofree char *message = g_strdup(error->message);
    g_dbus_error_strip_remote_error(error);
    if (remote != NULL && g_str_has_prefix(remote, "org.gnomon.Error."))
        return g_error_new(GNOMON_CLOCK_CONTROL_ERROR, GNOMON_CLOCK_CONTROL_ERROR_REFUSED, "%s: %s",
                           remote + strlen("org.gnomon.Error."), error->message);
    if (remote != NULL && (g_str_equal(remote, "org.freedesktop.DBus.Error.ServiceUnknown") ||
                           g_str_equal(remote, "org.freedesktop.DBus.Error.AccessDenied")))
        return g_error_new(GNOMON_CLOCK_CONTROL_ERROR, GNOMON_CLOCK_CONTROL_ERROR_UNAVAILABLE,
                           "the clock helper is not available: %s", error->message);
    return g_error_new(GNOMON_CLOCK_CONTROL_ERROR, GNOMON_CLOCK_CONTROL_ERROR_LOST,
                       "no answer from the clock helper: %s", message);
}

static struct call *new_call(struct helper_client *client, clock_control_done_fn done,
                             gpointer user_data)
{
    struct call *c = g_new0(struct call, 1);
    c->client = client;
    c->done = done;
    c->user_data = user_data;
    return c;
}

static void end_call(struct call *c, gboolean ok, GError *error)
{
    g_autoptr(GError) mapped = ok ? NULL : classify(error);
    c->done(mapped, c->user_data);
    g_free(c);
}

static void on_slew(GObject *source, GAsyncResult *res, gpointer user_data)
{
    g_autoptr(GError) error = NULL;
    gboolean ok = gnomon_clock_helper1_call_slew_finish(GNOMON_CLOCK_HELPER1(source), res, &error);
    end_call(user_data, ok, error);
}

static void on_set_frequency(GObject *source, GAsyncResult *res, gpointer user_data)
{
    g_autoptr(GError) error = NULL;
    gboolean ok =
        gnomon_clock_helper1_call_set_frequency_finish(GNOMON_CLOCK_HELPER1(source), res, &error);
    end_call(user_data, ok, error);
}

static void on_step(GObject *source, GAsyncResult *res, gpointer user_data)
{
    g_autoptr(GError) error = NULL;
    gboolean ok = gnomon_clock_helper1_call_step_finish(GNOMON_CLOCK_HELPER1(source), res, &error);
    end_call(user_data, ok, error);
}

static void on_step_to_floor(GObject *source, GAsyncResult *res, gpointer user_data)
{
    g_autoptr(GError) error = NULL;
    gboolean ok =
        gnomon_clock_helper1_call_step_to_floor_finish(GNOMON_CLOCK_HELPER1(source), res, &error);
    end_call(user_data, ok, error);
}

static void op_slew(gpointer self, gint64 offset_ns, guint64 uncertainty_ns,
                    clock_control_done_fn done, gpointer user_data)
{
    struct helper_client *client = self;
    gnomon_clock_helper1_call_slew(client->proxy, offset_ns, uncertainty_ns, NULL, on_slew,
                                   new_call(client, done, user_data));
}

static void op_set_frequency(gpointer self, double ppm, clock_control_done_fn done,
                             gpointer user_data)
{
    struct helper_client *client = self;
    gnomon_clock_helper1_call_set_frequency(client->proxy, ppm, NULL, on_set_frequency,
                                            new_call(client, done, user_data));
}

static void op_step(gpointer self, gint64 offset_ns, guint64 uncertainty_ns,
                    guint64 measured_boottime_ns, const char *request_id,
                    clock_control_done_fn done, gpointer user_data)
{
    struct helper_client *client = self;
    gnomon_clock_helper1_call_step(client->proxy, offset_ns, uncertainty_ns, measured_boottime_ns,
                                   request_id, NULL, on_step, new_call(client, done, user_data));
}

static void op_step_to_floor(gpointer self, clock_control_done_fn done, gpointer user_data)
{
    struct helper_client *client = self;
    gnomon_clock_helper1_call_step_to_floor(client->proxy, NULL, on_step_to_floor,
                                            new_call(client, done, user_data));
}

struct last_request_call {
    clock_control_last_request_fn done;
    gpointer user_data;
};

static void on_last_request(GObject *source, GAsyncResult *res, gpointer user_data)
{
    struct last_request_call *c = user_data;
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) reply =
        g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, &error);
    if (reply == NULL) {
        c->done(NULL, NULL, error, c->user_data);
    } else {
        g_autoptr(GVariant) value = NULL;
        g_variant_get(reply, "(v)", &value);
        const char *id = NULL, *verdict = NULL;
        if (g_variant_is_of_type(value, G_VARIANT_TYPE("(ss)")))
            g_variant_get(value, "(&s&s)", &id, &verdict);
        c->done(id, verdict, NULL, c->user_data);
    }
    g_free(c);
}

/* Read fresh from the helper (starting it again if it died), never from a proxy cache. */
static void op_last_request(gpointer self, clock_control_last_request_fn done, gpointer user_data)
{
    struct helper_client *client = self;
    struct last_request_call *c = g_new0(struct last_request_call, 1);
    c->done = done;
    c->user_data = user_data;
    g_dbus_connection_call(client->bus, HELPER_NAME, HELPER_PATH, "org.freedesktop.DBus.Properties",
                           "Get", g_variant_new("(ss)", HELPER_NAME, "LastRequest"),
                           G_VARIANT_TYPE("(v)"), G_DBUS_CALL_FLAGS_NONE, HELPER_CALL_TIMEOUT_MS,
                           NULL, on_last_request, c);
}

static const struct clock_control_ops helper_ops = {
    .slew = op_slew,
    .set_frequency = op_set_frequency,
    .step = op_step,
    .step_to_floor = op_step_to_floor,
    .last_request = op_last_request,
};

static void on_step_approved(GDBusConnection *bus, const char *sender, const char *path,
                             const char *interface, const char *signal, GVariant *parameters,
                             gpointer user_data)
{
    struct helper_client *client = user_data;
    (void)bus, (void)sender, (void)path, (void)interface, (void)signal;
    if (!g_variant_is_of_type(parameters, G_VARIANT_TYPE("(xt)")))
        return;
    gint64 offset_ns;
    guint64 tolerance_ns;
    g_variant_get(parameters, "(xt)", &offset_ns, &tolerance_ns);
    if (client->approved != NULL)
        client->approved(offset_ns, tolerance_ns, client->approved_data);
}

struct helper_client *helper_client_new(GDBusConnection *bus, GError **error)
{
    /* No property cache (it would go stale across the helper's idle exits), no autostart
     * here: calls start the helper when they need it. (DO_NOT_AUTO_START would make every
     * call fail while the D-Bus-activated helper is not running: found in the VM test.) */
    GnomonClockHelper1 *proxy = gnomon_clock_helper1_proxy_new_sync(
        bus,
        G_DBUS_PROXY_FLAGS_DO_NOT_LOAD_PROPERTIES |
            G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START_AT_CONSTRUCTION,
        HELPER_NAME, HELPER_PATH, NULL, error);
    if (proxy == NULL)
        return NULL;
    struct helper_client *client = g_new0(struct helper_client, 1);
    client->bus = g_object_ref(bus);
    client->proxy = proxy;
    g_dbus_proxy_set_default_timeout(G_DBUS_PROXY(proxy), HELPER_CALL_TIMEOUT_MS);
    /* Subscribed on the connection, by the helper's well-known name: the bus resolves it to
     * whichever process owns it now, across the helper's idle exits and re-activations. */
    client->approved_subscription = g_dbus_connection_signal_subscribe(
        bus, HELPER_NAME, HELPER_NAME, "StepApproved", HELPER_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
        on_step_approved, client, NULL);
    return client;
}

void helper_client_free(struct helper_client *client)
{
    if (client == NULL)
        return;
    g_dbus_connection_signal_unsubscribe(client->bus, client->approved_subscription);
    g_object_unref(client->proxy);
    g_object_unref(client->bus);
    g_free(client);
}

struct clock_control helper_client_clock_control(struct helper_client *client)
{
    return (struct clock_control){.ops = &helper_ops, .self = client};
}

void helper_client_on_step_approved(struct helper_client *client, helper_client_approved_fn fn,
                                    gpointer user_data)
{
    client->approved = fn;
    client->approved_data = user_data;
}

char *helper_client_get_backend(struct helper_client *client, GError **error)
{
    g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
        client->bus, HELPER_NAME, HELPER_PATH, "org.freedesktop.DBus.Properties", "Get",
        g_variant_new("(ss)", HELPER_NAME, "Backend"), G_VARIANT_TYPE("(v)"),
        G_DBUS_CALL_FLAGS_NONE, HELPER_CALL_TIMEOUT_MS, NULL, error);
    if (reply == NULL)
        return NULL;
    g_autoptr(GVariant) value = NULL;
    g_variant_get(reply, "(v)", &value);
    if (!g_variant_is_of_type(value, G_VARIANT_TYPE_STRING)) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                    "the clock helper's Backend is not a string");
        return NULL;
    }
    return g_variant_dup_string(value, NULL);
}
