/* The dry-run backend (tests): builds the struct timex the kernel backend would pass,
 * checks it as the kernel would, records it, and changes no clock. It never calls
 * clock_adjtime, not even to read. With a virtual clock file it keeps a simulated clock
 * (interfaces.md, "--virtual-clock"): simulated time = CLOCK_REALTIME + offset_ns +
 * frequency_ppm * 1e-6 * (CLOCK_BOOTTIME - since_boottime_ns). */
#include "backend.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nanoseconds.h"

#define MAX_VIRTUAL_FILE_SIZE 4096
#define KERNEL_MAX_PHASE_NS   500000000L      /* MAXPHASE: the PLL's offset limit */
#define KERNEL_MAX_FREQ       (500L * 65536L) /* MAXFREQ_SCALED */
#define STATUS_READ_ONLY                                                                           \
    (STA_PPSSIGNAL | STA_PPSJITTER | STA_PPSWANDER | STA_PPSERROR | STA_CLOCKERR | STA_NANO |      \
     STA_MODE | STA_CLK)

struct virtual_clock {
    gint64 offset_ns;
    double frequency_ppm;
    gint64 since_boottime_ns;
};

struct dry_run_backend {
    struct backend parent;
    char *record_path;
    char *virtual_path;
    int status;         /* the simulated kernel status word */
    JsonArray *pending; /* the struct timex values of the request being answered */
};

static struct dry_run_backend *dry_run(struct backend *backend)
{
    return (struct dry_run_backend *)backend;
}

static gint64 add_saturating(gint64 a, gint64 b)
{
    if (b > 0 && a > G_MAXINT64 - b) {
        return G_MAXINT64;
    }
    if (b < 0 && a < G_MININT64 - b) {
        return G_MININT64;
    }
    return a + b;
}

static gint64 drift_ns(const struct virtual_clock *clock, gint64 boottime_ns)
{
    /* The agent's reader (agent/net/local-clock.c) uses the same expression. */
    double drift = clock->frequency_ppm * 1e-6 * (double)(boottime_ns - clock->since_boottime_ns);
    return (gint64)drift;
}

static gboolean get_int(JsonObject *object, const char *name, gint64 *out, const char *path,
                        GError **error)
{
    JsonNode *node = json_object_get_member(object, name);
    if (node == NULL) {
        *out = 0;
        return TRUE;
    }
    if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_INT64) {
        g_set_error(error, BACKEND_ERROR, BACKEND_ERROR_VIRTUAL_FILE,
                    "virtual clock %s: %s is not a whole number", path, name);
        return FALSE;
    }
    *out = json_node_get_int(node);
    return TRUE;
}

/* A missing file is the clock as it is: offset 0, frequency 0. */
static gboolean load_virtual(const char *path, struct virtual_clock *clock, GError **error)
{
    memset(clock, 0, sizeof *clock);
    g_autofree char *text = NULL;
    gsize len = 0;
    g_autoptr(GError) local = NULL;
    if (!g_file_get_contents(path, &text, &len, &local)) {
        if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
            return TRUE;
        }
        g_set_error(error, BACKEND_ERROR, BACKEND_ERROR_VIRTUAL_FILE, "virtual clock: %s",
                    local->message);
        return FALSE;
    }
    g_autoptr(JsonParser) parser = json_parser_new();
    if (len > MAX_VIRTUAL_FILE_SIZE ||
        !json_parser_load_from_data(parser, text, (gssize)len, NULL)) {
        g_set_error(error, BACKEND_ERROR, BACKEND_ERROR_VIRTUAL_FILE,
                    "virtual clock %s: not a JSON object", path);
        return FALSE;
    }
    JsonNode *root = json_parser_get_root(parser);
    if (root == NULL || !JSON_NODE_HOLDS_OBJECT(root)) {
        g_set_error(error, BACKEND_ERROR, BACKEND_ERROR_VIRTUAL_FILE,
                    "virtual clock %s: not a JSON object", path);
        return FALSE;
    }
    JsonObject *object = json_node_get_object(root);
    if (!get_int(object, "offset_ns", &clock->offset_ns, path, error) ||
        !get_int(object, "since_boottime_ns", &clock->since_boottime_ns, path, error)) {
        return FALSE;
    }
    JsonNode *ppm = json_object_get_member(object, "frequency_ppm");
    if (ppm != NULL) {
        GType type = JSON_NODE_HOLDS_VALUE(ppm) ? json_node_get_value_type(ppm) : G_TYPE_NONE;
        if (type != G_TYPE_DOUBLE && type != G_TYPE_INT64) {
            g_set_error(error, BACKEND_ERROR, BACKEND_ERROR_VIRTUAL_FILE,
                        "virtual clock %s: frequency_ppm is not a number", path);
            return FALSE;
        }
        clock->frequency_ppm = json_node_get_double(ppm);
    }
    return TRUE;
}

static gboolean save_virtual(const char *path, const struct virtual_clock *clock, GError **error)
{
    g_autoptr(JsonBuilder) builder = json_builder_new();
    json_builder_begin_object(builder);
    json_builder_set_member_name(builder, "offset_ns");
    json_builder_add_int_value(builder, clock->offset_ns);
    json_builder_set_member_name(builder, "frequency_ppm");
    json_builder_add_double_value(builder, clock->frequency_ppm);
    json_builder_set_member_name(builder, "since_boottime_ns");
    json_builder_add_int_value(builder, clock->since_boottime_ns);
    json_builder_end_object(builder);
    g_autoptr(JsonNode) root = json_builder_get_root(builder);
    g_autoptr(JsonGenerator) generator = json_generator_new();
    json_generator_set_root(generator, root);
    g_autofree char *text = json_generator_to_data(generator, NULL);
    g_autofree char *line = g_strconcat(text, "\n", NULL);
    g_autoptr(GError) local = NULL;
    /* Written to a temporary file, synced and renamed: a reader never sees half of it. */
    if (!g_file_set_contents_full(path, line, -1,
                                  G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                  0644, &local)) {
        g_set_error(error, BACKEND_ERROR, BACKEND_ERROR_VIRTUAL_FILE, "virtual clock: %s",
                    local->message);
        return FALSE;
    }
    return TRUE;
}

static const struct {
    unsigned mode;
    const char *name;
} mode_names[] = {
    {ADJ_OFFSET, "ADJ_OFFSET"},       {ADJ_FREQUENCY, "ADJ_FREQUENCY"},
    {ADJ_MAXERROR, "ADJ_MAXERROR"},   {ADJ_ESTERROR, "ADJ_ESTERROR"},
    {ADJ_STATUS, "ADJ_STATUS"},       {ADJ_TIMECONST, "ADJ_TIMECONST"},
    {ADJ_SETOFFSET, "ADJ_SETOFFSET"}, {ADJ_NANO, "ADJ_NANO"},
};

/* What the kernel checks (timekeeping_validate_timex) and what it would silently clamp:
 * the dry-run refuses both, so a test sees any value the kernel would not take as is. */
static gboolean check_timex(const struct timex *tx, GError **error)
{
    const char *problem = NULL;
    if ((tx->modes & ADJ_SETOFFSET) &&
        (tx->time.tv_usec < 0 ||
         tx->time.tv_usec >= ((tx->modes & ADJ_NANO) ? 1000000000 : 1000000))) {
        problem = "ADJ_SETOFFSET with time.tv_usec out of range";
    } else if ((tx->modes & ADJ_OFFSET) &&
               (tx->offset > KERNEL_MAX_PHASE_NS || tx->offset < -KERNEL_MAX_PHASE_NS)) {
        problem = "ADJ_OFFSET beyond the PLL's 0.5 s (the kernel would clamp it)";
    } else if ((tx->modes & ADJ_FREQUENCY) &&
               (tx->freq > KERNEL_MAX_FREQ || tx->freq < -KERNEL_MAX_FREQ)) {
        problem = "ADJ_FREQUENCY beyond 500 ppm (the kernel would clamp it)";
    } else if ((tx->modes & (ADJ_MAXERROR | ADJ_ESTERROR)) &&
               (tx->maxerror < 0 || tx->esterror < 0)) {
        problem = "negative maxerror or esterror";
    }
    if (problem != NULL) {
        g_set_error(error, BACKEND_ERROR, BACKEND_ERROR_CLOCK, "clock_adjtime: %s (EINVAL)",
                    problem);
        return FALSE;
    }
    return TRUE;
}

/* "Passes" tx: checks it, applies its status bits to the simulated status word and
 * remembers it for the record. */
static gboolean pass(struct dry_run_backend *self, const struct timex *tx, GError **error)
{
    if (!check_timex(tx, error)) {
        return FALSE;
    }
    if (tx->modes & ADJ_STATUS) {
        self->status = (self->status & STATUS_READ_ONLY) | (tx->status & ~STATUS_READ_ONLY);
    }
    if (tx->modes & ADJ_NANO) {
        self->status |= STA_NANO;
    }
    JsonObject *object = json_object_new();
    GString *modes = g_string_new(NULL);
    for (gsize i = 0; i < G_N_ELEMENTS(mode_names); i++) {
        if (tx->modes & mode_names[i].mode) {
            g_string_append_printf(modes, "%s%s", modes->len ? "|" : "", mode_names[i].name);
        }
    }
    json_object_set_int_member(object, "modes", tx->modes);
    json_object_set_string_member(object, "modes_text", modes->str);
    g_string_free(modes, TRUE);
    json_object_set_int_member(object, "offset", tx->offset);
    json_object_set_int_member(object, "freq", tx->freq);
    json_object_set_int_member(object, "status", tx->status);
    json_object_set_int_member(object, "maxerror", tx->maxerror);
    json_object_set_int_member(object, "esterror", tx->esterror);
    json_object_set_int_member(object, "time_sec", tx->time.tv_sec);
    json_object_set_int_member(object, "time_usec", tx->time.tv_usec);
    json_array_add_object_element(self->pending, object);
    return TRUE;
}

static gboolean dry_run_now(struct backend *backend, gint64 *time_ns, GError **error)
{
    struct dry_run_backend *self = dry_run(backend);
    gint64 realtime = backend_clock_ns(CLOCK_REALTIME);
    if (self->virtual_path == NULL) {
        *time_ns = realtime;
        return TRUE;
    }
    struct virtual_clock clock;
    if (!load_virtual(self->virtual_path, &clock, error)) {
        return FALSE;
    }
    gint64 boottime = backend_clock_ns(CLOCK_BOOTTIME);
    *time_ns =
        add_saturating(add_saturating(realtime, clock.offset_ns), drift_ns(&clock, boottime));
    return TRUE;
}

/* A step and a slew both add their whole offset to the simulated clock at once. */
static gboolean move_virtual(struct dry_run_backend *self, gint64 offset_ns, GError **error)
{
    if (self->virtual_path == NULL) {
        return TRUE;
    }
    struct virtual_clock clock;
    if (!load_virtual(self->virtual_path, &clock, error)) {
        return FALSE;
    }
    clock.offset_ns = add_saturating(clock.offset_ns, offset_ns);
    return save_virtual(self->virtual_path, &clock, error);
}

static gboolean dry_run_slew(struct backend *backend, gint64 offset_ns, GError **error)
{
    struct dry_run_backend *self = dry_run(backend);
    struct timex tx;
    backend_timex_slew(&tx, offset_ns, self->status);
    return pass(self, &tx, error) && move_virtual(self, offset_ns, error);
}

static gboolean dry_run_step(struct backend *backend, gint64 offset_ns, GError **error)
{
    struct dry_run_backend *self = dry_run(backend);
    struct timex tx;
    backend_timex_step(&tx, offset_ns);
    return pass(self, &tx, error) && move_virtual(self, offset_ns, error);
}

/* SetFrequency re-bases: the drift so far becomes part of offset_ns, then the new
 * frequency runs from now. */
static gboolean dry_run_set_frequency(struct backend *backend, double ppm, GError **error)
{
    struct dry_run_backend *self = dry_run(backend);
    struct timex tx;
    backend_timex_frequency(&tx, ppm);
    if (!pass(self, &tx, error)) {
        return FALSE;
    }
    if (self->virtual_path == NULL) {
        return TRUE;
    }
    struct virtual_clock clock;
    if (!load_virtual(self->virtual_path, &clock, error)) {
        return FALSE;
    }
    gint64 boottime = backend_clock_ns(CLOCK_BOOTTIME);
    clock.offset_ns = add_saturating(clock.offset_ns, drift_ns(&clock, boottime));
    clock.since_boottime_ns = boottime;
    clock.frequency_ppm = ppm;
    return save_virtual(self->virtual_path, &clock, error);
}

static gboolean dry_run_set_sync_status(struct backend *backend, guint64 uncertainty_ns,
                                        GError **error)
{
    struct dry_run_backend *self = dry_run(backend);
    struct timex tx;
    backend_timex_sync_status(&tx, uncertainty_ns, self->status);
    return pass(self, &tx, error);
}

static gboolean write_all(int fd, const char *data, gsize len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return FALSE;
        }
        data += n;
        len -= (gsize)n;
    }
    return TRUE;
}

static gboolean dry_run_record(struct backend *backend, JsonObject *entry, GError **error)
{
    struct dry_run_backend *self = dry_run(backend);
    JsonArray *pending = g_steal_pointer(&self->pending);
    self->pending = json_array_new();
    json_object_set_array_member(entry, "timex", pending);
    if (self->record_path == NULL) {
        json_object_unref(entry);
        return TRUE;
    }
    g_autoptr(JsonNode) root = json_node_new(JSON_NODE_OBJECT);
    json_node_take_object(root, entry);
    g_autoptr(JsonGenerator) generator = json_generator_new();
    json_generator_set_root(generator, root);
    g_autofree char *text = json_generator_to_data(generator, NULL);
    g_autofree char *line = g_strconcat(text, "\n", NULL);
    int fd = open(self->record_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        int saved = errno;
        g_set_error(error, BACKEND_ERROR, BACKEND_ERROR_RECORD, "cannot open record %s: %s",
                    self->record_path, g_strerror(saved));
        return FALSE;
    }
    gboolean ok = write_all(fd, line, strlen(line));
    int saved = errno;
    close(fd);
    if (!ok) {
        g_set_error(error, BACKEND_ERROR, BACKEND_ERROR_RECORD, "cannot write record %s: %s",
                    self->record_path, g_strerror(saved));
    }
    return ok;
}

static void dry_run_free(struct backend *backend)
{
    struct dry_run_backend *self = dry_run(backend);
    g_free(self->record_path);
    g_free(self->virtual_path);
    json_array_unref(self->pending);
    g_free(self);
}

static const struct backend_ops dry_run_ops = {
    .name = "dry-run",
    .now = dry_run_now,
    .slew = dry_run_slew,
    .step = dry_run_step,
    .set_frequency = dry_run_set_frequency,
    .set_sync_status = dry_run_set_sync_status,
    .record = dry_run_record,
    .free = dry_run_free,
};

struct backend *backend_dry_run_new(const char *record_path, const char *virtual_clock_path,
                                    GError **error)
{
    struct dry_run_backend *self = g_new0(struct dry_run_backend, 1);
    self->parent.ops = &dry_run_ops;
    self->record_path = g_strdup(record_path);
    self->virtual_path = g_strdup(virtual_clock_path);
    /* As after boot: unsynchronised, PLL off. */
    self->status = STA_UNSYNC;
    self->pending = json_array_new();
    if (virtual_clock_path != NULL) {
        /* Fail early on a file that cannot be read. */
        struct virtual_clock clock;
        if (!load_virtual(virtual_clock_path, &clock, error)) {
            dry_run_free(&self->parent);
            return NULL;
        }
    }
    return &self->parent;
}
