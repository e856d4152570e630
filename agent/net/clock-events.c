#include "clock-events.h"

#include <errno.h>
#include <glib-unix.h>
#include <stdint.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "nanoseconds.h"
#include "net-error.h"

/* A gap between the two clocks larger than this is a sleep, not scheduling noise. */
#define SLEEP_THRESHOLD_NS NS_PER_SEC
/* A change this soon after our own request's answer is still that request's. */
#define OWN_SET_GRACE_NS   NS_PER_SEC
/* Writes of a file come as several events: one report per burst. */
#define FILE_SETTLE_MS     200

struct clock_events {
    int timer_fd;
    guint timer_watch;
    GDBusConnection *bus;
    guint sleep_subscription;
    gint64 last_gap_ns;      /* BOOTTIME - MONOTONIC at the last look */
    gboolean own_request;    /* a request of ours is in flight */
    gint64 own_set_until_ns; /* MONOTONIC: grace after its answer */
    GFileMonitor *file_monitor;
    guint file_settle;
    clock_events_fn fn;
    gpointer user_data;
};

static gint64 read_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (gint64)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

static gint64 clock_gap_ns(void)
{
    return read_ns(CLOCK_BOOTTIME) - read_ns(CLOCK_MONOTONIC);
}

/* Armed for the far future: it never expires, it only gets cancelled by a set. */
static gboolean arm(struct clock_events *e)
{
    struct itimerspec spec = {.it_value = {.tv_sec = INT32_MAX}};
    return timerfd_settime(e->timer_fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &spec, NULL) ==
               0 ||
           errno == ECANCELED;
}

static gboolean on_timer(gint fd, GIOCondition condition, gpointer user_data)
{
    struct clock_events *e = user_data;
    (void)condition;
    uint64_t expirations;
    ssize_t n = read(fd, &expirations, sizeof(expirations));
    if (n < 0 && errno == ECANCELED) {
        arm(e);
        if (!e->own_request && read_ns(CLOCK_MONOTONIC) > e->own_set_until_ns)
            e->fn(CLOCK_EVENT_SET, 0, e->user_data);
    } else {
        arm(e);
    }
    return G_SOURCE_CONTINUE;
}

void clock_events_check_sleep(struct clock_events *e)
{
    gint64 gap = clock_gap_ns();
    gint64 slept = gap - e->last_gap_ns;
    e->last_gap_ns = gap;
    if (slept > SLEEP_THRESHOLD_NS)
        e->fn(CLOCK_EVENT_RESUMED, slept, e->user_data);
}

static void on_prepare_for_sleep(GDBusConnection *bus, const char *sender, const char *path,
                                 const char *interface, const char *signal, GVariant *parameters,
                                 gpointer user_data)
{
    (void)bus, (void)sender, (void)path, (void)interface, (void)signal;
    gboolean going_to_sleep = TRUE;
    if (g_variant_is_of_type(parameters, G_VARIANT_TYPE("(b)")))
        g_variant_get(parameters, "(b)", &going_to_sleep);
    if (going_to_sleep)
        return;
    /* logind says the machine woke: that alone calls for fresh measurements, whatever the
     * clocks show (a short sleep may stay under the threshold). */
    struct clock_events *e = user_data;
    gint64 gap = clock_gap_ns();
    gint64 slept = gap - e->last_gap_ns;
    e->last_gap_ns = gap;
    e->fn(CLOCK_EVENT_RESUMED, slept > 0 ? slept : 0, e->user_data);
}

struct clock_events *clock_events_new(GDBusConnection *bus, clock_events_fn fn, gpointer user_data,
                                      GError **error)
{
    struct clock_events *e = g_new0(struct clock_events, 1);
    e->fn = fn;
    e->user_data = user_data;
    e->last_gap_ns = clock_gap_ns();
    e->timer_fd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
    if (e->timer_fd < 0 || !arm(e)) {
        g_set_error(error, GNOMON_NET_ERROR, GNOMON_NET_ERROR_SOCKET,
                    "cannot watch for clock changes: %s", g_strerror(errno));
        clock_events_free(e);
        return NULL;
    }
    e->timer_watch = g_unix_fd_add(e->timer_fd, G_IO_IN, on_timer, e);
    if (bus != NULL) {
        e->bus = g_object_ref(bus);
        e->sleep_subscription = g_dbus_connection_signal_subscribe(
            bus, "org.freedesktop.login1", "org.freedesktop.login1.Manager", "PrepareForSleep",
            "/org/freedesktop/login1", NULL, G_DBUS_SIGNAL_FLAGS_NONE, on_prepare_for_sleep, e,
            NULL);
    }
    return e;
}

void clock_events_free(struct clock_events *e)
{
    if (e == NULL)
        return;
    if (e->timer_watch != 0)
        g_source_remove(e->timer_watch);
    if (e->file_settle != 0)
        g_source_remove(e->file_settle);
    if (e->file_monitor != NULL) {
        g_file_monitor_cancel(e->file_monitor);
        g_object_unref(e->file_monitor);
    }
    if (e->timer_fd >= 0)
        close(e->timer_fd);
    if (e->bus != NULL) {
        g_dbus_connection_signal_unsubscribe(e->bus, e->sleep_subscription);
        g_object_unref(e->bus);
    }
    g_free(e);
}

void clock_events_expect_set(struct clock_events *e)
{
    e->own_request = TRUE;
}

void clock_events_request_done(struct clock_events *e)
{
    e->own_request = FALSE;
    e->own_set_until_ns = read_ns(CLOCK_MONOTONIC) + OWN_SET_GRACE_NS;
}

static gboolean on_file_settled(gpointer user_data)
{
    struct clock_events *e = user_data;
    e->file_settle = 0;
    if (!e->own_request && read_ns(CLOCK_MONOTONIC) > e->own_set_until_ns)
        e->fn(CLOCK_EVENT_SET, 0, e->user_data);
    return G_SOURCE_REMOVE;
}

static void on_file_changed(GFileMonitor *monitor, GFile *file, GFile *other,
                            GFileMonitorEvent event, gpointer user_data)
{
    struct clock_events *e = user_data;
    (void)monitor, (void)file, (void)other;
    if (event == G_FILE_MONITOR_EVENT_ATTRIBUTE_CHANGED || event == G_FILE_MONITOR_EVENT_DELETED)
        return;
    if (e->own_request || read_ns(CLOCK_MONOTONIC) <= e->own_set_until_ns)
        return;
    if (e->file_settle == 0)
        e->file_settle = g_timeout_add(FILE_SETTLE_MS, on_file_settled, e);
}

void clock_events_watch_file(struct clock_events *e, const char *path)
{
    g_autoptr(GFile) file = g_file_new_for_path(path);
    e->file_monitor = g_file_monitor_file(file, G_FILE_MONITOR_WATCH_MOVES, NULL, NULL);
    if (e->file_monitor != NULL)
        g_signal_connect(e->file_monitor, "changed", G_CALLBACK(on_file_changed), e);
}
