#include "local-clock.h"

#include <json-glib/json-glib.h>
#include <sys/stat.h>
#include <time.h>

#include "nanoseconds.h"
#include "net-error.h"

struct local_clock {
    char *virtual_file;
    /* The file as last read, reread when its modification time or size changes. */
    struct timespec mtime;
    off_t size;
    gboolean loaded;
    gint64 offset_ns;
    double frequency_ppm;
    gint64 since_boottime_ns;
};

static gint64 read_clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (gint64)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

gint64 local_clock_boottime_ns(void)
{
    return read_clock_ns(CLOCK_BOOTTIME);
}

static gboolean read_virtual_file(struct local_clock *clock, GError **error)
{
    struct stat st;
    if (stat(clock->virtual_file, &st) != 0) {
        clock->loaded = FALSE;
        clock->offset_ns = 0;
        clock->frequency_ppm = 0;
        return TRUE;
    }
    if (clock->loaded && st.st_mtim.tv_sec == clock->mtime.tv_sec &&
        st.st_mtim.tv_nsec == clock->mtime.tv_nsec && st.st_size == clock->size)
        return TRUE;

    g_autoptr(JsonParser) parser = json_parser_new();
    if (!json_parser_load_from_file(parser, clock->virtual_file, error))
        return FALSE;
    JsonNode *root = json_parser_get_root(parser);
    if (root == NULL || !JSON_NODE_HOLDS_OBJECT(root)) {
        g_set_error(error, GNOMON_NET_ERROR, GNOMON_NET_ERROR_SOCKET,
                    "virtual clock %s: not a JSON object", clock->virtual_file);
        return FALSE;
    }
    JsonObject *object = json_node_get_object(root);
    clock->offset_ns = json_object_get_int_member_with_default(object, "offset_ns", 0);
    clock->frequency_ppm = json_object_get_double_member_with_default(object, "frequency_ppm", 0);
    clock->since_boottime_ns =
        json_object_get_int_member_with_default(object, "since_boottime_ns", 0);
    clock->mtime = st.st_mtim;
    clock->size = st.st_size;
    clock->loaded = TRUE;
    return TRUE;
}

struct local_clock *local_clock_new(const char *virtual_file, GError **error)
{
    struct local_clock *clock = g_new0(struct local_clock, 1);
    if (virtual_file != NULL) {
        clock->virtual_file = g_strdup(virtual_file);
        if (!read_virtual_file(clock, error)) {
            local_clock_free(clock);
            return NULL;
        }
    }
    return clock;
}

void local_clock_free(struct local_clock *clock)
{
    if (clock == NULL)
        return;
    g_free(clock->virtual_file);
    g_free(clock);
}

gboolean local_clock_is_virtual(const struct local_clock *clock)
{
    return clock->virtual_file != NULL;
}

gint64 local_clock_from_realtime_ns(struct local_clock *clock, gint64 realtime_ns)
{
    if (clock->virtual_file == NULL)
        return realtime_ns;
    g_autoptr(GError) error = NULL;
    if (!read_virtual_file(clock, &error))
        g_warning("%s; keeping the last simulated offset", error->message);
    /* interfaces.md: realtime + offset + ppm * 1e-6 * (boottime - since). */
    double drift_ns = clock->frequency_ppm * 1e-6 *
                      (double)(local_clock_boottime_ns() - clock->since_boottime_ns);
    return realtime_ns + clock->offset_ns + (gint64)drift_ns;
}

gint64 local_clock_now_ns(struct local_clock *clock)
{
    return local_clock_from_realtime_ns(clock, read_clock_ns(CLOCK_REALTIME));
}
