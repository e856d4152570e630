/* The backend interface: dispatch to the kernel or dry-run implementation. */
#include "backend.h"

#include "nanoseconds.h"

G_DEFINE_QUARK(gnomon - backend - error - quark, backend_error)

gint64 backend_clock_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (gint64)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

void backend_free(struct backend *backend)
{
    if (backend != NULL) {
        backend->ops->free(backend);
    }
}

const char *backend_name(const struct backend *backend)
{
    return backend->ops->name;
}

gboolean backend_now(struct backend *backend, gint64 *time_ns, GError **error)
{
    return backend->ops->now(backend, time_ns, error);
}

gboolean backend_slew(struct backend *backend, gint64 offset_ns, GError **error)
{
    return backend->ops->slew(backend, offset_ns, error);
}

gboolean backend_step(struct backend *backend, gint64 offset_ns, GError **error)
{
    return backend->ops->step(backend, offset_ns, error);
}

gboolean backend_set_frequency(struct backend *backend, double ppm, GError **error)
{
    return backend->ops->set_frequency(backend, ppm, error);
}

gboolean backend_set_sync_status(struct backend *backend, guint64 uncertainty_ns, GError **error)
{
    return backend->ops->set_sync_status(backend, uncertainty_ns, error);
}

gboolean backend_record(struct backend *backend, JsonObject *entry, GError **error)
{
    return backend->ops->record(backend, entry, error);
}
