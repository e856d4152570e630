/* The kernel backend: clock_adjtime(CLOCK_REALTIME) through a seam (nts-notes.md, "Linux
 * clock (helper side)").
 *
 * Slewing uses the kernel PLL (ADJ_OFFSET with STA_PLL), not a temporary frequency offset:
 * the kernel then takes the whole offset and slews it away by itself, at no more than its
 * 500 ppm, while the helper may exit when idle. A frequency-based slew would need the
 * helper to stay alive and undo the frequency after offset/rate seconds, and would fight
 * the agent's own SetFrequency. The PLL takes at most 0.5 s per call, which is why
 * MaxSlewSeconds may not exceed 0.5. */
#include "backend.h"

#include <errno.h>
#include <string.h>

#include "nanoseconds.h"

#define FREQUENCY_SCALE   65536.0 /* struct timex freq: ppm with a 16-bit fraction */
#define MAX_FREQUENCY_PPM 500.0   /* the kernel's MAXFREQ */

struct kernel_backend {
    struct backend parent;
    backend_adjtime_fn adjtime;
};

void backend_timex_step(struct timex *tx, gint64 offset_ns)
{
    memset(tx, 0, sizeof *tx);
    tx->modes = ADJ_SETOFFSET | ADJ_NANO;
    /* The kernel wants 0 <= tv_usec (here ns) < 1e9: -1.25 s is -2 s + 0.75 s. */
    gint64 seconds = offset_ns / NS_PER_SEC;
    gint64 nanoseconds = offset_ns % NS_PER_SEC;
    if (nanoseconds < 0) {
        nanoseconds += NS_PER_SEC;
        seconds -= 1;
    }
    tx->time.tv_sec = (time_t)seconds;
    tx->time.tv_usec = (suseconds_t)nanoseconds;
}

void backend_timex_slew(struct timex *tx, gint64 offset_ns, int status)
{
    memset(tx, 0, sizeof *tx);
    tx->modes = ADJ_OFFSET | ADJ_NANO | ADJ_STATUS;
    tx->offset = (long)offset_ns;
    tx->status = status | STA_PLL;
}

void backend_timex_frequency(struct timex *tx, double ppm)
{
    memset(tx, 0, sizeof *tx);
    tx->modes = ADJ_FREQUENCY;
    /* The rules allow at most 500 ppm; the clamp only keeps a bug from overflowing. */
    if (!(ppm >= -MAX_FREQUENCY_PPM)) {
        ppm = -MAX_FREQUENCY_PPM;
    } else if (ppm > MAX_FREQUENCY_PPM) {
        ppm = MAX_FREQUENCY_PPM;
    }
    double scaled = ppm * FREQUENCY_SCALE;
    tx->freq = (long)(scaled < 0 ? scaled - 0.5 : scaled + 0.5);
}

void backend_timex_sync_status(struct timex *tx, guint64 uncertainty_ns, int status)
{
    memset(tx, 0, sizeof *tx);
    tx->modes = ADJ_MAXERROR | ADJ_ESTERROR | ADJ_STATUS;
    guint64 us = uncertainty_ns / (guint64)NS_PER_US + (uncertainty_ns % NS_PER_US != 0);
    long error_us = us > (guint64)BACKEND_MAX_ERROR_US ? BACKEND_MAX_ERROR_US : (long)us;
    tx->maxerror = error_us;
    tx->esterror = error_us;
    tx->status = status & ~STA_UNSYNC;
}

static struct kernel_backend *kernel(struct backend *backend)
{
    return (struct kernel_backend *)backend;
}

/* clock_adjtime returns the clock state (TIME_OK ... TIME_ERROR, which only says the
 * clock is unsynchronised) or -1. */
static gboolean call(struct kernel_backend *self, struct timex *tx, const char *what,
                     GError **error)
{
    if (self->adjtime(CLOCK_REALTIME, tx) < 0) {
        int saved = errno;
        g_set_error(error, BACKEND_ERROR, BACKEND_ERROR_CLOCK, "clock_adjtime (%s): %s", what,
                    g_strerror(saved));
        return FALSE;
    }
    return TRUE;
}

static gboolean read_status(struct kernel_backend *self, int *status, GError **error)
{
    struct timex tx;
    memset(&tx, 0, sizeof tx); /* modes 0: read only */
    if (!call(self, &tx, "read status", error)) {
        return FALSE;
    }
    *status = tx.status;
    return TRUE;
}

static gboolean kernel_now(struct backend *backend, gint64 *time_ns, GError **error)
{
    *time_ns = backend_clock_ns(CLOCK_REALTIME);
    return TRUE;
}

static gboolean kernel_slew(struct backend *backend, gint64 offset_ns, GError **error)
{
    int status;
    if (!read_status(kernel(backend), &status, error)) {
        return FALSE;
    }
    struct timex tx;
    backend_timex_slew(&tx, offset_ns, status);
    return call(kernel(backend), &tx, "slew", error);
}

static gboolean kernel_step(struct backend *backend, gint64 offset_ns, GError **error)
{
    struct timex tx;
    backend_timex_step(&tx, offset_ns);
    return call(kernel(backend), &tx, "step", error);
}

static gboolean kernel_set_frequency(struct backend *backend, double ppm, GError **error)
{
    struct timex tx;
    backend_timex_frequency(&tx, ppm);
    return call(kernel(backend), &tx, "frequency", error);
}

static gboolean kernel_set_sync_status(struct backend *backend, guint64 uncertainty_ns,
                                       GError **error)
{
    int status;
    if (!read_status(kernel(backend), &status, error)) {
        return FALSE;
    }
    struct timex tx;
    backend_timex_sync_status(&tx, uncertainty_ns, status);
    return call(kernel(backend), &tx, "sync status", error);
}

static gboolean kernel_record(struct backend *backend, JsonObject *entry, GError **error)
{
    json_object_unref(entry);
    return TRUE;
}

static void kernel_free(struct backend *backend)
{
    g_free(kernel(backend));
}

static const struct backend_ops kernel_ops = {
    .name = "kernel",
    .now = kernel_now,
    .slew = kernel_slew,
    .step = kernel_step,
    .set_frequency = kernel_set_frequency,
    .set_sync_status = kernel_set_sync_status,
    .record = kernel_record,
    .free = kernel_free,
};

struct backend *backend_kernel_new(backend_adjtime_fn adjtime)
{
    struct kernel_backend *self = g_new0(struct kernel_backend, 1);
    self->parent.ops = &kernel_ops;
    self->adjtime = adjtime != NULL ? adjtime : clock_adjtime;
    return &self->parent;
}
