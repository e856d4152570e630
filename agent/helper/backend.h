/* What the helper does to a clock once its rules allowed a change: the kernel backend
 * calls clock_adjtime(CLOCK_REALTIME) through a seam that tests replace with a recorder;
 * the dry-run backend builds the very same struct timex values, records them and changes
 * no clock (optionally a simulated one in a file, interfaces.md "--virtual-clock"). */
#ifndef GNOMON_HELPER_BACKEND_H
#define GNOMON_HELPER_BACKEND_H

#include <glib.h>
#include <json-glib/json-glib.h>
#include <sys/timex.h>
#include <time.h>

#define BACKEND_ERROR (backend_error_quark())
GQuark backend_error_quark(void);

enum backend_error {
    BACKEND_ERROR_CLOCK,        /* clock_adjtime failed */
    BACKEND_ERROR_VIRTUAL_FILE, /* the simulated clock's file could not be read or written */
    BACKEND_ERROR_RECORD,       /* the record file could not be opened */
};

/* The seam: clock_adjtime itself, or a test's recorder. */
typedef int (*backend_adjtime_fn)(clockid_t clock, struct timex *tx);

/* The kernel's maxerror ceiling (NTP_PHASE_LIMIT, 16 s): beyond it the kernel sets
 * STA_UNSYNC itself, and timedated reports "not synchronized". */
#define BACKEND_MAX_ERROR_US 16000000L

/* The struct timex of each change, exactly as the kernel backend passes it (everything not
 * named is zero). status is the kernel's current status word (read with modes 0).
 * - step: ADJ_SETOFFSET | ADJ_NANO; time.tv_sec and time.tv_usec (nanoseconds with
 *   ADJ_NANO) hold the offset, tv_usec in [0, 1e9) also for negative offsets.
 * - slew: ADJ_OFFSET | ADJ_NANO | ADJ_STATUS, offset in ns, status | STA_PLL: the kernel
 *   PLL takes the whole offset and slews it away by itself (at most 500 ppm).
 * - frequency: ADJ_FREQUENCY, freq = ppm * 2^16 rounded to the nearest.
 * - sync status: ADJ_MAXERROR | ADJ_ESTERROR | ADJ_STATUS, both errors = the uncertainty
 *   in microseconds rounded up (at most BACKEND_MAX_ERROR_US), status without STA_UNSYNC. */
void backend_timex_step(struct timex *tx, gint64 offset_ns);
void backend_timex_slew(struct timex *tx, gint64 offset_ns, int status);
void backend_timex_frequency(struct timex *tx, double ppm);
void backend_timex_sync_status(struct timex *tx, guint64 uncertainty_ns, int status);

struct backend;

/* adjtime NULL: clock_adjtime. */
struct backend *backend_kernel_new(backend_adjtime_fn adjtime);
/* record_path: append one JSON line per request (backend_record); virtual_clock_path:
 * the simulated clock. Either may be NULL. */
struct backend *backend_dry_run_new(const char *record_path, const char *virtual_clock_path,
                                    GError **error);
void backend_free(struct backend *backend);

/* "kernel" or "dry-run". */
const char *backend_name(const struct backend *backend);

/* The time the rules judge: CLOCK_REALTIME, or the simulated clock. Unix ns. */
gboolean backend_now(struct backend *backend, gint64 *time_ns, GError **error);
gboolean backend_slew(struct backend *backend, gint64 offset_ns, GError **error);
gboolean backend_step(struct backend *backend, gint64 offset_ns, GError **error);
gboolean backend_set_frequency(struct backend *backend, double ppm, GError **error);
gboolean backend_set_sync_status(struct backend *backend, guint64 uncertainty_ns, GError **error);

/* Records one answered request (dry-run: with a "timex" array of what it would have passed
 * to the kernel since the last record, appended to the record file as one line; kernel:
 * nothing, the journal has it). Takes entry. */
gboolean backend_record(struct backend *backend, JsonObject *entry, GError **error);

typedef struct backend GnomonBackend;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GnomonBackend, backend_free)

/* For the implementations. */
struct backend_ops {
    const char *name;
    gboolean (*now)(struct backend *backend, gint64 *time_ns, GError **error);
    gboolean (*slew)(struct backend *backend, gint64 offset_ns, GError **error);
    gboolean (*step)(struct backend *backend, gint64 offset_ns, GError **error);
    gboolean (*set_frequency)(struct backend *backend, double ppm, GError **error);
    gboolean (*set_sync_status)(struct backend *backend, guint64 uncertainty_ns, GError **error);
    gboolean (*record)(struct backend *backend, JsonObject *entry, GError **error);
    void (*free)(struct backend *backend);
};

struct backend {
    const struct backend_ops *ops;
};

gint64 backend_clock_ns(clockid_t clock);

#endif
