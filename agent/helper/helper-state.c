/* The helper's files; see helper-state.h. */
#include "helper-state.h"

#include <errno.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/stat.h>

#include "json-nesting.h"

#define MAX_BOOT_FILE_SIZE  262144 /* 256 KiB */
#define MAX_FLOOR_FILE_SIZE 64
#define MAX_JSON_CONTAINERS 1024 /* a record holds at most 200 */

G_DEFINE_QUARK(gnomon - helper - state - error - quark, helper_state_error)

struct helper_store {
    char *boot_path;
    char *floor_path;
    char *boot_id;
};

void helper_store_free(struct helper_store *store)
{
    if (store == NULL) {
        return;
    }
    g_free(store->boot_path);
    g_free(store->floor_path);
    g_free(store->boot_id);
    g_free(store);
}

static gboolean make_directory(const char *path, GError **error)
{
    if (g_mkdir_with_parents(path, 0755) != 0) {
        int saved = errno;
        g_set_error(error, HELPER_STATE_ERROR, HELPER_STATE_ERROR_IO, "cannot create %s: %s", path,
                    g_strerror(saved));
        return FALSE;
    }
    return TRUE;
}

struct helper_store *helper_store_new(const char *runtime_dir, const char *state_dir,
                                      GError **error)
{
    if (!make_directory(runtime_dir, error) || !make_directory(state_dir, error)) {
        return NULL;
    }
    g_autofree char *boot_id = NULL;
    g_autoptr(GError) local = NULL;
    if (!g_file_get_contents(HELPER_STATE_BOOT_ID, &boot_id, NULL, &local)) {
        g_set_error(error, HELPER_STATE_ERROR, HELPER_STATE_ERROR_BOOT_ID,
                    "cannot read the boot ID: %s", local->message);
        return NULL;
    }
    g_strstrip(boot_id);
    if (*boot_id == '\0') {
        g_set_error(error, HELPER_STATE_ERROR, HELPER_STATE_ERROR_BOOT_ID, "%s is empty",
                    HELPER_STATE_BOOT_ID);
        return NULL;
    }
    struct helper_store *store = g_new0(struct helper_store, 1);
    store->boot_path = g_build_filename(runtime_dir, HELPER_STATE_BOOT_FILE, NULL);
    store->floor_path = g_build_filename(state_dir, HELPER_STATE_FLOOR_FILE, NULL);
    store->boot_id = g_steal_pointer(&boot_id);
    return store;
}

const char *helper_store_boot_id(const struct helper_store *store)
{
    return store->boot_id;
}

/* --- the floor file --- */

gboolean helper_store_parse_floor(const char *path, const char *data, gsize len, gint64 *floor_ns,
                                  GPtrArray *warnings)
{
    /* NUL-terminated, as g_file_get_contents() gives it (the text ends at a NUL byte). */
    g_autofree char *text = g_malloc(len + 1);
    if (len > 0) {
        memcpy(text, data, len);
    }
    text[len] = '\0';
    gint64 seconds = 0;
    g_strstrip(text);
    if (len > MAX_FLOOR_FILE_SIZE ||
        !g_ascii_string_to_signed(text, 10, G_MININT64 / NS_PER_SEC, G_MAXINT64 / NS_PER_SEC,
                                  &seconds, NULL)) {
        g_ptr_array_add(warnings, g_strdup_printf("ignoring the floor file %s: not one number of "
                                                  "Unix seconds; the build date is the floor",
                                                  path));
        return FALSE;
    }
    *floor_ns = seconds * NS_PER_SEC;
    return TRUE;
}

static gboolean load_floor(const char *path, gint64 *floor_ns, GPtrArray *warnings)
{
    g_autofree char *text = NULL;
    gsize len = 0;
    g_autoptr(GError) local = NULL;
    if (!g_file_get_contents(path, &text, &len, &local)) {
        if (!g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
            g_ptr_array_add(warnings, g_strdup_printf("ignoring the floor file: %s; the build "
                                                      "date is the floor",
                                                      local->message));
        }
        return FALSE;
    }
    return helper_store_parse_floor(path, text, len, floor_ns, warnings);
}

static gboolean write_atomically(const char *path, const char *text, GError **error)
{
    g_autoptr(GError) local = NULL;
    if (!g_file_set_contents_full(path, text, -1,
                                  G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                  0644, &local)) {
        g_set_error(error, HELPER_STATE_ERROR, HELPER_STATE_ERROR_IO, "%s", local->message);
        return FALSE;
    }
    return TRUE;
}

gboolean helper_store_save_floor(struct helper_store *store, gint64 floor_ns, GError **error)
{
    /* Whole seconds, rounded down: the floor never moves later than the policy said. */
    gint64 seconds = floor_ns / NS_PER_SEC - (floor_ns % NS_PER_SEC < 0 ? 1 : 0);
    g_autofree char *text = g_strdup_printf("%" G_GINT64_FORMAT "\n", seconds);
    return write_atomically(store->floor_path, text, error);
}

/* --- the boot record --- */

static void add_int(JsonBuilder *builder, const char *name, gint64 value)
{
    json_builder_set_member_name(builder, name);
    json_builder_add_int_value(builder, value);
}

static void add_events(JsonBuilder *builder, const char *name, const struct helper_event *events,
                       size_t n)
{
    json_builder_set_member_name(builder, name);
    json_builder_begin_array(builder);
    for (size_t i = 0; i < n; i++) {
        json_builder_begin_object(builder);
        add_int(builder, "boottime_ns", events[i].boottime_ns);
        add_int(builder, "amount_ns", events[i].amount_ns);
        json_builder_end_object(builder);
    }
    json_builder_end_array(builder);
}

static void add_memo(JsonBuilder *builder, const struct helper_request_memo *memo)
{
    json_builder_begin_object(builder);
    json_builder_set_member_name(builder, "id");
    json_builder_add_string_value(builder, memo->id);
    json_builder_set_member_name(builder, "rule");
    json_builder_add_string_value(builder, helper_rule_id(memo->rule));
    add_int(builder, "limit", memo->limit);
    add_int(builder, "value", memo->value);
    json_builder_end_object(builder);
}

gboolean helper_store_save_boot(struct helper_store *store, const struct helper_policy_state *state,
                                GError **error)
{
    g_autoptr(JsonBuilder) builder = json_builder_new();
    json_builder_begin_object(builder);
    json_builder_set_member_name(builder, "boot_id");
    json_builder_add_string_value(builder, store->boot_id);
    json_builder_set_member_name(builder, "boot_window_open");
    json_builder_add_boolean_value(builder, state->boot_window_open);
    add_int(builder, "steps_this_boot", state->steps_this_boot);
    add_events(builder, "steps", state->steps, state->n_steps);
    add_events(builder, "slews", state->slews, state->n_slews);
    /* Oldest first, so that loading them in order rebuilds the ring. */
    json_builder_set_member_name(builder, "requests");
    json_builder_begin_array(builder);
    size_t n = state->n_requests;
    for (size_t i = 0; i < n; i++) {
        size_t index =
            (state->next_request + HELPER_POLICY_MAX_REQUESTS - n + i) % HELPER_POLICY_MAX_REQUESTS;
        add_memo(builder, &state->requests[index]);
    }
    json_builder_end_array(builder);
    json_builder_set_member_name(builder, "last_request");
    if (state->has_last_request) {
        add_memo(builder, &state->last_request);
    } else {
        json_builder_add_null_value(builder);
    }
    json_builder_set_member_name(builder, "approval");
    if (state->approval.active) {
        json_builder_begin_object(builder);
        add_int(builder, "offset_ns", state->approval.offset_ns);
        add_int(builder, "tolerance_ns", (gint64)state->approval.tolerance_ns);
        add_int(builder, "expiry_boottime_ns", state->approval.expiry_boottime_ns);
        json_builder_end_object(builder);
    } else {
        json_builder_add_null_value(builder);
    }
    json_builder_set_member_name(builder, "floor_written_boottime_ns");
    if (state->floor_written) {
        json_builder_add_int_value(builder, state->floor_written_boottime_ns);
    } else {
        json_builder_add_null_value(builder);
    }
    json_builder_end_object(builder);

    g_autoptr(JsonNode) root = json_builder_get_root(builder);
    g_autoptr(JsonGenerator) generator = json_generator_new();
    json_generator_set_root(generator, root);
    g_autofree char *text = json_generator_to_data(generator, NULL);
    g_autofree char *line = g_strconcat(text, "\n", NULL);
    return write_atomically(store->boot_path, line, error);
}

/* Reading: every member is checked; any surprise makes the whole record "damaged". */
static gboolean get_int(JsonObject *object, const char *name, gint64 *out)
{
    JsonNode *node = json_object_get_member(object, name);
    if (node == NULL || !JSON_NODE_HOLDS_VALUE(node) ||
        json_node_get_value_type(node) != G_TYPE_INT64) {
        return FALSE;
    }
    *out = json_node_get_int(node);
    return TRUE;
}

static JsonObject *get_object_or_null(JsonObject *object, const char *name, gboolean *ok)
{
    JsonNode *node = json_object_get_member(object, name);
    if (node == NULL) {
        *ok = FALSE;
        return NULL;
    }
    if (JSON_NODE_HOLDS_NULL(node)) {
        return NULL;
    }
    if (!JSON_NODE_HOLDS_OBJECT(node)) {
        *ok = FALSE;
        return NULL;
    }
    return json_node_get_object(node);
}

/* Events happened on this boot's CLOCK_BOOTTIME, so never before 0. A slew's amount is a
 * sum of sizes (sizes_only): a negative one would loosen the hourly slew budget. */
static gboolean read_events(JsonObject *object, const char *name, struct helper_event *events,
                            size_t capacity, gboolean sizes_only, size_t *n)
{
    JsonNode *node = json_object_get_member(object, name);
    if (node == NULL || !JSON_NODE_HOLDS_ARRAY(node)) {
        return FALSE;
    }
    JsonArray *array = json_node_get_array(node);
    guint length = json_array_get_length(array);
    if (length > capacity) {
        return FALSE;
    }
    for (guint i = 0; i < length; i++) {
        JsonNode *element = json_array_get_element(array, i);
        if (!JSON_NODE_HOLDS_OBJECT(element)) {
            return FALSE;
        }
        JsonObject *event = json_node_get_object(element);
        if (!get_int(event, "boottime_ns", &events[i].boottime_ns) ||
            !get_int(event, "amount_ns", &events[i].amount_ns) || events[i].boottime_ns < 0 ||
            (sizes_only && events[i].amount_ns < 0)) {
            return FALSE;
        }
    }
    *n = length;
    return TRUE;
}

static gboolean read_memo(JsonObject *object, struct helper_request_memo *memo)
{
    const char *id = json_object_get_string_member_with_default(object, "id", NULL);
    const char *rule = json_object_get_string_member_with_default(object, "rule", NULL);
    if (!helper_request_id_is_valid(id) || !helper_rule_from_id(rule, &memo->rule) ||
        !get_int(object, "limit", &memo->limit) || !get_int(object, "value", &memo->value)) {
        return FALSE;
    }
    memcpy(memo->id, id, strlen(id) + 1);
    return TRUE;
}

/* Returns FALSE when the record is damaged; *other_boot when it belongs to another boot. */
static gboolean read_boot(const char *boot_id_now, JsonObject *root,
                          struct helper_policy_state *state, gboolean *other_boot)
{
    const char *boot_id = json_object_get_string_member_with_default(root, "boot_id", NULL);
    if (boot_id == NULL) {
        return FALSE;
    }
    if (strcmp(boot_id, boot_id_now) != 0) {
        *other_boot = TRUE;
        return TRUE;
    }
    JsonNode *window = json_object_get_member(root, "boot_window_open");
    gint64 steps_this_boot;
    if (window == NULL || !JSON_NODE_HOLDS_VALUE(window) ||
        json_node_get_value_type(window) != G_TYPE_BOOLEAN ||
        !get_int(root, "steps_this_boot", &steps_this_boot) || steps_this_boot < 0 ||
        steps_this_boot > G_MAXUINT32) {
        return FALSE;
    }
    state->boot_window_open = json_node_get_boolean(window);
    state->steps_this_boot = (unsigned)steps_this_boot;
    if (!read_events(root, "steps", state->steps, HELPER_POLICY_MAX_STEPS, FALSE,
                     &state->n_steps) ||
        !read_events(root, "slews", state->slews, HELPER_POLICY_MAX_SLEWS, TRUE, &state->n_slews)) {
        return FALSE;
    }
    JsonNode *requests = json_object_get_member(root, "requests");
    if (requests == NULL || !JSON_NODE_HOLDS_ARRAY(requests)) {
        return FALSE;
    }
    JsonArray *array = json_node_get_array(requests);
    guint length = json_array_get_length(array);
    if (length > HELPER_POLICY_MAX_REQUESTS) {
        return FALSE;
    }
    for (guint i = 0; i < length; i++) {
        JsonNode *element = json_array_get_element(array, i);
        if (!JSON_NODE_HOLDS_OBJECT(element) ||
            !read_memo(json_node_get_object(element), &state->requests[i])) {
            return FALSE;
        }
    }
    state->n_requests = length;
    state->next_request = length % HELPER_POLICY_MAX_REQUESTS;

    gboolean ok = TRUE;
    JsonObject *last = get_object_or_null(root, "last_request", &ok);
    if (last != NULL) {
        ok = ok && read_memo(last, &state->last_request);
        state->has_last_request = ok;
    }
    JsonObject *approval = get_object_or_null(root, "approval", &ok);
    if (approval != NULL) {
        gint64 tolerance = 0;
        ok = ok && get_int(approval, "offset_ns", &state->approval.offset_ns) &&
             get_int(approval, "tolerance_ns", &tolerance) && tolerance >= 0 &&
             get_int(approval, "expiry_boottime_ns", &state->approval.expiry_boottime_ns);
        state->approval.tolerance_ns = (guint64)tolerance;
        state->approval.active = ok;
    }
    JsonNode *floor_written = json_object_get_member(root, "floor_written_boottime_ns");
    if (floor_written == NULL) {
        return FALSE;
    }
    if (!JSON_NODE_HOLDS_NULL(floor_written)) {
        ok = ok && get_int(root, "floor_written_boottime_ns", &state->floor_written_boottime_ns);
        state->floor_written = ok;
    }
    return ok;
}

void helper_store_parse_boot(const char *path, const char *boot_id, const char *text, gsize len,
                             struct helper_policy_state *state, GPtrArray *warnings)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    gboolean damaged = len > MAX_BOOT_FILE_SIZE ||
                       json_nesting_too_deep(text, len, MAX_JSON_CONTAINERS) ||
                       !json_parser_load_from_data(parser, text, (gssize)len, NULL) ||
                       json_parser_get_root(parser) == NULL ||
                       !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser));
    gboolean other_boot = FALSE;
    struct helper_policy_state loaded = *state;
    if (!damaged) {
        damaged = !read_boot(boot_id, json_node_get_object(json_parser_get_root(parser)), &loaded,
                             &other_boot);
    }
    if (damaged) {
        g_ptr_array_add(warnings, g_strdup_printf("%s is damaged: discarded, and the boot window "
                                                  "is taken as closed",
                                                  path));
        state->boot_window_open = FALSE;
        return;
    }
    if (other_boot) {
        g_ptr_array_add(warnings, g_strdup_printf("%s is from another boot: discarded", path));
        return;
    }
    *state = loaded;
}

void helper_store_load(struct helper_store *store, struct helper_policy_state *state,
                       gint64 build_date_ns, GPtrArray *warnings)
{
    gint64 own_floor = G_MININT64;
    if (!load_floor(store->floor_path, &own_floor, warnings)) {
        own_floor = G_MININT64;
    }
    helper_policy_state_init(state, build_date_ns, own_floor);

    g_autofree char *text = NULL;
    gsize len = 0;
    g_autoptr(GError) local = NULL;
    if (!g_file_get_contents(store->boot_path, &text, &len, &local)) {
        if (!g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
            g_ptr_array_add(warnings, g_strdup_printf("cannot read this boot's record (%s): "
                                                      "taking the boot window as closed",
                                                      local->message));
            state->boot_window_open = FALSE;
        }
        return;
    }
    helper_store_parse_boot(store->boot_path, store->boot_id, text, len, state, warnings);
}
