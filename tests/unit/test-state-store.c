/* Tests agent/daemon/state-store.c: round trips, that a taken cookie is gone from disk before
 * it is returned, atomic writes, the lock, and that every unusable file gets its own error
 * code and a message naming it. Runs in a fresh temporary directory per test. */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check-main.h"
#include "state-store.h"

#define MACHINE_A   "0123456789abcdef0123456789abcdef"
#define MACHINE_B   "fedcba9876543210fedcba9876543210"
#define BOOT_1      "01234567-89ab-cdef-0123-456789abcdef"
#define BOOT_2      "11111111-2222-3333-4444-555555555555"
#define SOURCE      "cloudflare"
#define SOURCE_FILE "source-cloudflare.json"
#define HOST        "nts.example.com"
#define PORT        4460
#define NOBODY_UID  65534

static const struct state_store_ids ids_a1 = {.machine_id = MACHINE_A, .boot_id = BOOT_1};
static const struct state_store_ids ids_a2 = {.machine_id = MACHINE_A, .boot_id = BOOT_2};
static const struct state_store_ids ids_b1 = {.machine_id = MACHINE_B, .boot_id = BOOT_1};

static char *directory; /* the test's own */
static char *state_dir; /* DIRECTORY/state, created by the store */
static struct state_store *store;

static struct state_store *open_ok(const struct state_store_ids *ids)
{
    g_autoptr(GError) error = NULL;
    struct state_store *s = state_store_open(state_dir, ids, &error);
    ck_assert_msg(s != NULL, "%s", error ? error->message : "");
    return s;
}

static void setup(void)
{
    directory = g_dir_make_tmp("gnomon-test-state-XXXXXX", NULL);
    ck_assert_ptr_nonnull(directory);
    state_dir = g_build_filename(directory, "state", NULL);
    store = open_ok(&ids_a1);
}

/* Does not follow symbolic links into what they name. */
/* NOLINTNEXTLINE(misc-no-recursion): only the test's own temporary directory */
static void remove_tree(const char *path)
{
    GStatBuf st;
    if (g_lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        GDir *dir = g_dir_open(path, 0, NULL);
        if (dir != NULL) {
            const char *name;
            while ((name = g_dir_read_name(dir)) != NULL) {
                g_autofree char *child = g_build_filename(path, name, NULL);
                remove_tree(child);
            }
            g_dir_close(dir);
        }
    }
    (void)g_remove(path); /* best effort: a leftover in /tmp fails no test */
}

static void teardown(void)
{
    g_clear_pointer(&store, state_store_close);
    remove_tree(directory);
    g_clear_pointer(&directory, g_free);
    g_clear_pointer(&state_dir, g_free);
}

static char *state_path(const char *name)
{
    return g_build_filename(state_dir, name, NULL);
}

static void reopen(const struct state_store_ids *ids)
{
    g_clear_pointer(&store, state_store_close);
    store = open_ok(ids);
}

/* A source with N distinct cookies of lengths 64, 68, ... */
static void make_source(struct state_source *src, size_t n)
{
    memset(src, 0, sizeof *src);
    src->host = g_strdup(HOST);
    src->port = PORT;
    for (size_t i = 0; i < STATE_STORE_KEY_LEN; i++) {
        src->c2s_key[i] = (guint8)(i + 1);
        src->s2c_key[i] = (guint8)(0xff - i);
    }
    src->ntp_server = g_strdup("ntp.example.com");
    src->ntp_port = 123;
    src->key_exchange_time_unix = G_GINT64_CONSTANT(1700000000);
    src->n_cookies = n;
    for (size_t i = 0; i < n; i++) {
        src->cookies[i].len = 64 + 4 * i;
        for (size_t j = 0; j < src->cookies[i].len; j++) {
            src->cookies[i].data[j] = (guint8)(i * 31 + j);
        }
    }
}

static void save_source_ok(const struct state_source *src)
{
    g_autoptr(GError) error = NULL;
    ck_assert_msg(state_store_save_source(store, SOURCE, src, &error), "%s",
                  error ? error->message : "");
}

/* Saves the usual source with 8 cookies. */
static void save_default_source(void)
{
    struct state_source src;
    make_source(&src, NTS_MAX_COOKIES);
    save_source_ok(&src);
    state_source_clear(&src);
}

static void load_source_ok(struct state_source *out)
{
    g_autoptr(GError) error = NULL;
    ck_assert_msg(state_store_load_source(store, SOURCE, HOST, PORT, out, &error), "%s",
                  error ? error->message : "");
}

static void assert_cookie_eq(const struct nts_cookie *a, const struct nts_cookie *b)
{
    ck_assert_uint_eq(a->len, b->len);
    ck_assert_mem_eq(a->data, b->data, a->len);
}

static void assert_sources_eq(const struct state_source *a, const struct state_source *b)
{
    ck_assert_str_eq(a->host, b->host);
    ck_assert_uint_eq(a->port, b->port);
    ck_assert_mem_eq(a->c2s_key, b->c2s_key, STATE_STORE_KEY_LEN);
    ck_assert_mem_eq(a->s2c_key, b->s2c_key, STATE_STORE_KEY_LEN);
    ck_assert_str_eq(a->ntp_server, b->ntp_server);
    ck_assert_uint_eq(a->ntp_port, b->ntp_port);
    ck_assert_int_eq(a->key_exchange_time_unix, b->key_exchange_time_unix);
    ck_assert_uint_eq(a->n_cookies, b->n_cookies);
    for (size_t i = 0; i < a->n_cookies; i++) {
        assert_cookie_eq(&a->cookies[i], &b->cookies[i]);
    }
}

/* Writes NAME in the state directory with MODE, whatever the umask. */
static void write_state_file(const char *name, const char *text, gssize len, mode_t mode)
{
    g_autofree char *path = state_path(name);
    g_autoptr(GError) error = NULL;
    ck_assert_msg(g_file_set_contents(path, text, len, &error), "%s", error ? error->message : "");
    ck_assert_int_eq(g_chmod(path, mode), 0);
}

static char *read_state_file(const char *name, gsize *len)
{
    g_autofree char *path = state_path(name);
    char *text = NULL;
    ck_assert(g_file_get_contents(path, &text, len, NULL));
    return text;
}

/* Rewrites member MEMBER of the JSON file NAME to VALUE (taken), or removes it (NULL). */
static void set_member(const char *name, const char *member, JsonNode *value)
{
    g_autofree char *path = state_path(name);
    g_autoptr(JsonParser) parser = json_parser_new();
    ck_assert(json_parser_load_from_file(parser, path, NULL));
    JsonObject *object = json_node_get_object(json_parser_get_root(parser));
    if (value == NULL) {
        json_object_remove_member(object, member);
    } else {
        json_object_set_member(object, member, value);
    }
    g_autoptr(JsonGenerator) generator = json_generator_new();
    json_generator_set_root(generator, json_parser_get_root(parser));
    g_autofree char *text = json_generator_to_data(generator, NULL);
    write_state_file(name, text, -1, 0600);
}

static JsonNode *int_node(gint64 value)
{
    JsonNode *node = json_node_new(JSON_NODE_VALUE);
    json_node_set_int(node, value);
    return node;
}

static JsonNode *string_node(const char *value)
{
    JsonNode *node = json_node_new(JSON_NODE_VALUE);
    json_node_set_string(node, value);
    return node;
}

static JsonNode *base64_node(size_t len)
{
    g_autofree guint8 *data = g_malloc0(len + 1);
    memset(data, 0x5a, len);
    g_autofree char *text = g_base64_encode(data, len);
    return string_node(text);
}

/* An array of N base64 cookies of LEN bytes each, all different. */
static JsonNode *cookies_node(size_t n, size_t len)
{
    JsonArray *array = json_array_new();
    for (size_t i = 0; i < n; i++) {
        guint8 data[NTS_COOKIE_MAX_LEN + 8] = {0};
        data[0] = (guint8)i;
        g_autofree char *text = g_base64_encode(data, len);
        json_array_add_string_element(array, text);
    }
    JsonNode *node = json_node_new(JSON_NODE_ARRAY);
    json_node_take_array(node, array);
    return node;
}

/* Loads the usual source and asserts that it fails with CODE and a message naming the file;
 * OUT is left zeroed. Returns the message. */
static char *expect_source_error_message(enum state_store_error code)
{
    g_autoptr(GError) error = NULL;
    struct state_source out;
    memset(&out, 0x77, sizeof out);
    ck_assert(!state_store_load_source(store, SOURCE, HOST, PORT, &out, &error));
    ck_assert_msg(g_error_matches(error, STATE_STORE_ERROR, code), "expected code %d, got %s", code,
                  error ? error->message : "no error");
    g_autofree char *path = state_path(SOURCE_FILE);
    ck_assert_msg(strstr(error->message, path) != NULL, "\"%s\" does not name %s", error->message,
                  path);
    ck_assert_ptr_null(out.host);
    ck_assert_ptr_null(out.ntp_server);
    ck_assert_uint_eq(out.n_cookies, 0);
    return g_strdup(error->message);
}

static void expect_source_error(enum state_store_error code)
{
    g_free(expect_source_error_message(code));
}

static void expect_agent_error(enum state_store_error code)
{
    g_autoptr(GError) error = NULL;
    struct state_agent out;
    ck_assert(!state_store_load_agent(store, &out, &error));
    ck_assert_msg(g_error_matches(error, STATE_STORE_ERROR, code), "expected code %d, got %s", code,
                  error ? error->message : "no error");
    g_autofree char *path = state_path("agent.json");
    ck_assert_msg(strstr(error->message, path) != NULL, "%s", error->message);
    ck_assert_ptr_null(out.boot_id);
}

static void save_agent_ok(double frequency, gboolean closed)
{
    struct state_agent agent = {
        .frequency_ppm = frequency,
        .time_floor_unix = G_GINT64_CONSTANT(1690000000),
        .last_sync_unix = G_GINT64_CONSTANT(1700000123),
        .boot_window_closed = closed,
    };
    g_autoptr(GError) error = NULL;
    ck_assert_msg(state_store_save_agent(store, &agent, &error), "%s", error ? error->message : "");
}

static gint compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The names in the state directory, sorted, joined by spaces. */
static char *list_state_dir(void)
{
    GDir *dir = g_dir_open(state_dir, 0, NULL);
    ck_assert_ptr_nonnull(dir);
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    const char *name;
    while ((name = g_dir_read_name(dir)) != NULL) {
        g_ptr_array_add(names, g_strdup(name));
    }
    g_dir_close(dir);
    g_ptr_array_sort(names, compare_names);
    g_ptr_array_add(names, NULL);
    return g_strjoinv(" ", (char **)names->pdata);
}

static mode_t mode_of(const char *path)
{
    GStatBuf st;
    ck_assert_int_eq(g_lstat(path, &st), 0);
    return st.st_mode & 07777;
}

/* ---- Round trips ---- */

START_TEST(test_source_round_trip)
{
    struct state_source saved, loaded;
    make_source(&saved, NTS_MAX_COOKIES);
    save_source_ok(&saved);
    load_source_ok(&loaded);
    assert_sources_eq(&saved, &loaded);
    state_source_clear(&loaded);

    /* Host names compare without case; the configured spelling is kept. */
    g_autoptr(GError) error = NULL;
    ck_assert(state_store_load_source(store, SOURCE, "NTS.Example.COM", PORT, &loaded, &error));
    ck_assert_str_eq(loaded.host, "NTS.Example.COM");
    state_source_clear(&loaded);
    state_source_clear(&saved);

    /* clear leaves nothing behind */
    ck_assert_ptr_null(saved.host);
    ck_assert_uint_eq(saved.n_cookies, 0);
    ck_assert_uint_eq(saved.c2s_key[0], 0);
}
END_TEST

START_TEST(test_agent_round_trip)
{
    save_agent_ok(-12.625, TRUE);
    struct state_agent agent;
    g_autoptr(GError) error = NULL;
    ck_assert_msg(state_store_load_agent(store, &agent, &error), "%s", error ? error->message : "");
    ck_assert(agent.frequency_ppm == -12.625);
    ck_assert_int_eq(agent.time_floor_unix, G_GINT64_CONSTANT(1690000000));
    ck_assert_int_eq(agent.last_sync_unix, G_GINT64_CONSTANT(1700000123));
    ck_assert(agent.boot_window_closed);
    ck_assert_str_eq(agent.boot_id, BOOT_1);
    state_agent_clear(&agent);

    /* a frequency that needs all 17 digits comes back exactly */
    save_agent_ok(1.0 / 3.0, FALSE);
    ck_assert(state_store_load_agent(store, &agent, &error));
    ck_assert(agent.frequency_ppm == 1.0 / 3.0);
    ck_assert(!agent.boot_window_closed);
    state_agent_clear(&agent);
    ck_assert_ptr_null(agent.boot_id);
}
END_TEST

/* A restart in the same boot keeps the boot window closed; a reboot reopens it. */
START_TEST(test_agent_boot_window_by_boot_id)
{
    save_agent_ok(3.5, TRUE);
    reopen(&ids_a1);
    struct state_agent agent;
    ck_assert(state_store_load_agent(store, &agent, NULL));
    ck_assert(agent.boot_window_closed);
    state_agent_clear(&agent);

    reopen(&ids_a2);
    ck_assert(state_store_load_agent(store, &agent, NULL));
    ck_assert(!agent.boot_window_closed);
    ck_assert_str_eq(agent.boot_id, BOOT_1);
    ck_assert(agent.frequency_ppm == 3.5);
    ck_assert_int_eq(agent.time_floor_unix, G_GINT64_CONSTANT(1690000000));
    state_agent_clear(&agent);

    /* saving writes the current boot ID, whatever the struct holds */
    struct state_agent next = {.boot_id = (char *)BOOT_1, .boot_window_closed = TRUE};
    ck_assert(state_store_save_agent(store, &next, NULL));
    ck_assert(state_store_load_agent(store, &agent, NULL));
    ck_assert_str_eq(agent.boot_id, BOOT_2);
    ck_assert(agent.boot_window_closed);
    state_agent_clear(&agent);
}
END_TEST

/* "Synced this boot" holds within the boot it was written in, and is absent from older
 * files (read as not synced). */
START_TEST(test_agent_synced_this_boot_by_boot_id)
{
    struct state_agent synced = {.frequency_ppm = 1.0, .synced_this_boot = TRUE};
    ck_assert(state_store_save_agent(store, &synced, NULL));
    struct state_agent agent;
    ck_assert(state_store_load_agent(store, &agent, NULL));
    ck_assert(agent.synced_this_boot);
    state_agent_clear(&agent);
    reopen(&ids_a2);
    ck_assert(state_store_load_agent(store, &agent, NULL));
    ck_assert(!agent.synced_this_boot);
    state_agent_clear(&agent);

    static const char older[] =
        "{\"version\":1,\"machine_id\":\"" MACHINE_A "\",\"boot_id\":\"" BOOT_2
        "\",\"frequency_ppm\":0,\"time_floor_unix\":0,"
        "\"last_sync_unix\":0,\"boot_window_closed\":false}";
    g_autoptr(GError) error = NULL;
    ck_assert_msg(state_store_parse_agent("agent.json", older, strlen(older), MACHINE_A, BOOT_2,
                                          &agent, &error),
                  "%s", error ? error->message : "");
    ck_assert(!agent.synced_this_boot);
    state_agent_clear(&agent);
    g_clear_error(&error);
    static const char wrong[] =
        "{\"version\":1,\"machine_id\":\"" MACHINE_A "\",\"boot_id\":\"" BOOT_2
        "\",\"frequency_ppm\":0,\"time_floor_unix\":0,"
        "\"last_sync_unix\":0,\"boot_window_closed\":false,"
        "\"synced_this_boot\":\"yes\"}";
    ck_assert(!state_store_parse_agent("agent.json", wrong, strlen(wrong), MACHINE_A, BOOT_2,
                                       &agent, &error));
    ck_assert(g_error_matches(error, STATE_STORE_ERROR, STATE_STORE_ERROR_TYPE));
    ck_assert_ptr_nonnull(strstr(error->message, "synced_this_boot"));
}
END_TEST

/* json-glib 1.6 writes 3e-05 as "3.0000000000000001e-05.0", which it cannot read back. */
START_TEST(test_agent_tiny_frequency)
{
    const double values[] = {3e-5, -9.9e-5, 1e-300, 1e-4, -2.5e-4, 499.999, -500.0};
    for (size_t i = 0; i < G_N_ELEMENTS(values); i++) {
        save_agent_ok(values[i], FALSE);
        struct state_agent agent;
        g_autoptr(GError) error = NULL;
        ck_assert_msg(state_store_load_agent(store, &agent, &error), "%g: %s", values[i],
                      error ? error->message : "");
        double expected = fabs(values[i]) < 1e-4 ? 0.0 : values[i];
        ck_assert_msg(agent.frequency_ppm == expected, "%g came back as %g", values[i],
                      agent.frequency_ppm);
        state_agent_clear(&agent);
    }
}
END_TEST

/* ---- Cookies ---- */

START_TEST(test_take_cookie_rewrites_file_first)
{
    struct state_source src, original, on_disk;
    make_source(&original, NTS_MAX_COOKIES);
    save_source_ok(&original);
    load_source_ok(&src);

    struct nts_cookie cookie;
    g_autoptr(GError) error = NULL;
    ck_assert_msg(state_store_take_cookie(store, SOURCE, &src, &cookie, &error), "%s",
                  error ? error->message : "");
    assert_cookie_eq(&cookie, &original.cookies[0]);
    ck_assert_uint_eq(src.n_cookies, NTS_MAX_COOKIES - 1);
    ck_assert_uint_eq(src.cookies[NTS_MAX_COOKIES - 1].len, 0); /* the freed slot is wiped */

    /* the file already lacks it */
    load_source_ok(&on_disk);
    ck_assert_uint_eq(on_disk.n_cookies, NTS_MAX_COOKIES - 1);
    assert_sources_eq(&src, &on_disk);
    for (size_t i = 0; i < on_disk.n_cookies; i++) {
        assert_cookie_eq(&on_disk.cookies[i], &original.cookies[i + 1]);
    }
    state_source_clear(&on_disk);
    state_source_clear(&src);
    state_source_clear(&original);
}
END_TEST

START_TEST(test_take_cookie_until_empty)
{
    struct state_source src, original, on_disk;
    make_source(&original, NTS_MAX_COOKIES);
    save_source_ok(&original);
    load_source_ok(&src);
    for (size_t i = 0; i < NTS_MAX_COOKIES; i++) {
        struct nts_cookie cookie;
        ck_assert(state_store_take_cookie(store, SOURCE, &src, &cookie, NULL));
        assert_cookie_eq(&cookie, &original.cookies[i]);
        load_source_ok(&on_disk);
        ck_assert_uint_eq(on_disk.n_cookies, NTS_MAX_COOKIES - 1 - i);
        state_source_clear(&on_disk);
    }
    /* the 8th take left a valid file with keys and no cookie */
    load_source_ok(&on_disk);
    ck_assert_uint_eq(on_disk.n_cookies, 0);
    ck_assert_mem_eq(on_disk.c2s_key, original.c2s_key, STATE_STORE_KEY_LEN);
    state_source_clear(&on_disk);

    struct nts_cookie cookie = {.len = 99};
    g_autoptr(GError) error = NULL;
    ck_assert(!state_store_take_cookie(store, SOURCE, &src, &cookie, &error));
    ck_assert(g_error_matches(error, STATE_STORE_ERROR, STATE_STORE_ERROR_NOT_FOUND));
    ck_assert_ptr_nonnull(strstr(error->message, SOURCE));
    ck_assert_uint_eq(cookie.len, 99);
    state_source_clear(&src);
    state_source_clear(&original);
}
END_TEST

/* Across restarts every cookie comes out exactly once. */
START_TEST(test_cookies_never_repeat_across_reload)
{
    struct state_source original, src;
    make_source(&original, NTS_MAX_COOKIES);
    save_source_ok(&original);
    struct nts_cookie taken[NTS_MAX_COOKIES];
    size_t n_taken = 0;
    for (int round = 0; round < 3; round++) {
        reopen(&ids_a1);
        if (!state_store_load_source(store, SOURCE, HOST, PORT, &src, NULL)) {
            break;
        }
        /* three per run, then a "crash": src is dropped without saving */
        for (int i = 0; i < 3 && src.n_cookies > 0; i++) {
            ck_assert(state_store_take_cookie(store, SOURCE, &src, &taken[n_taken++], NULL));
        }
        state_source_clear(&src);
    }
    ck_assert_uint_eq(n_taken, NTS_MAX_COOKIES);
    for (size_t i = 0; i < n_taken; i++) {
        assert_cookie_eq(&taken[i], &original.cookies[i]);
        for (size_t j = 0; j < i; j++) {
            ck_assert(taken[i].len != taken[j].len ||
                      memcmp(taken[i].data, taken[j].data, taken[i].len) != 0);
        }
    }
    state_source_clear(&original);
}
END_TEST

START_TEST(test_forget_source)
{
    save_default_source();
    g_autoptr(GError) error = NULL;
    ck_assert(state_store_forget_source(store, SOURCE, &error));
    expect_source_error(STATE_STORE_ERROR_NOT_FOUND);
    ck_assert(state_store_forget_source(store, SOURCE, &error)); /* already gone: fine */
    ck_assert_ptr_null(error);
}
END_TEST

/* ---- Atomic writes ---- */

START_TEST(test_no_temp_files_after_writes)
{
    struct state_source src;
    make_source(&src, 4);
    save_source_ok(&src);
    save_agent_ok(1.0, FALSE);
    struct nts_cookie cookie;
    ck_assert(state_store_take_cookie(store, SOURCE, &src, &cookie, NULL));
    save_source_ok(&src);
    save_agent_ok(2.0, TRUE);
    g_autofree char *names = list_state_dir();
    ck_assert_str_eq(names, "agent.json lock " SOURCE_FILE);
    state_source_clear(&src);
}
END_TEST

/* A rename that fails (the target is a directory) leaves no temporary file, and a take
 * that cannot rewrite the file takes nothing. */
START_TEST(test_failed_write_leaves_nothing)
{
    g_autofree char *path = state_path(SOURCE_FILE);
    ck_assert_int_eq(g_mkdir(path, 0700), 0);
    struct state_source src;
    make_source(&src, 3);
    g_autoptr(GError) error = NULL;
    ck_assert(!state_store_save_source(store, SOURCE, &src, &error));
    ck_assert(g_error_matches(error, STATE_STORE_ERROR, STATE_STORE_ERROR_IO));
    ck_assert_ptr_nonnull(strstr(error->message, path));
    g_clear_error(&error);

    struct nts_cookie cookie = {.len = 7};
    ck_assert(!state_store_take_cookie(store, SOURCE, &src, &cookie, &error));
    ck_assert(g_error_matches(error, STATE_STORE_ERROR, STATE_STORE_ERROR_IO));
    ck_assert_uint_eq(src.n_cookies, 3);
    ck_assert_uint_eq(src.cookies[0].len, 64);
    ck_assert_uint_eq(cookie.len, 7);

    g_autofree char *names = list_state_dir();
    ck_assert_str_eq(names, "lock " SOURCE_FILE);
    state_source_clear(&src);
}
END_TEST

START_TEST(test_stale_temp_files_removed_at_open)
{
    write_state_file(".tmp-" SOURCE_FILE ".0badf00d", "{\"version\":", -1, 0600);
    save_default_source();
    reopen(&ids_a1);
    g_autofree char *names = list_state_dir();
    ck_assert_str_eq(names, "lock " SOURCE_FILE);
}
END_TEST

/* Whatever was there, a save replaces it with a file that loads. */
START_TEST(test_bad_file_replaced_by_save)
{
    write_state_file(SOURCE_FILE, "garbage", -1, 0644);
    expect_source_error(STATE_STORE_ERROR_PERMISSIONS);
    save_default_source();
    struct state_source src;
    load_source_ok(&src);
    ck_assert_uint_eq(src.n_cookies, NTS_MAX_COOKIES);
    state_source_clear(&src);
}
END_TEST

/* ---- Lock ---- */

START_TEST(test_lock_second_open)
{
    g_autoptr(GError) error = NULL;
    struct state_store *second = state_store_open(state_dir, &ids_a1, &error);
    ck_assert_ptr_null(second);
    ck_assert(g_error_matches(error, STATE_STORE_ERROR, STATE_STORE_ERROR_LOCKED));
    g_autofree char *expected =
        g_strdup_printf("state directory %s is in use by another gnomon-agent", state_dir);
    ck_assert_str_eq(error->message, expected);
    g_clear_error(&error);

    g_clear_pointer(&store, state_store_close);
    store = open_ok(&ids_a1);
}
END_TEST

/* flock() belongs to an open file description: another one on the same file conflicts. */
START_TEST(test_lock_held_elsewhere)
{
    g_clear_pointer(&store, state_store_close);
    g_autofree char *lock = state_path("lock");
    int fd = open(lock, O_RDWR | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(flock(fd, LOCK_EX | LOCK_NB), 0);
    g_autoptr(GError) error = NULL;
    ck_assert_ptr_null(state_store_open(state_dir, &ids_a1, &error));
    ck_assert(g_error_matches(error, STATE_STORE_ERROR, STATE_STORE_ERROR_LOCKED));
    close(fd);
    store = open_ok(&ids_a1);
}
END_TEST

/* ---- Unusable files ---- */

START_TEST(test_missing_files)
{
    expect_source_error(STATE_STORE_ERROR_NOT_FOUND);
    expect_agent_error(STATE_STORE_ERROR_NOT_FOUND);
}
END_TEST

START_TEST(test_truncated)
{
    save_default_source();
    gsize len = 0;
    g_autofree char *text = read_state_file(SOURCE_FILE, &len);
    const gsize cuts[] = {len / 2, len - 2, 1, 20};
    for (size_t i = 0; i < G_N_ELEMENTS(cuts); i++) {
        write_state_file(SOURCE_FILE, text, (gssize)cuts[i], 0600);
        expect_source_error(STATE_STORE_ERROR_TRUNCATED);
    }
    write_state_file(SOURCE_FILE, "", 0, 0600);
    expect_source_error(STATE_STORE_ERROR_TRUNCATED);
    write_state_file(SOURCE_FILE, " \n", -1, 0600);
    expect_source_error(STATE_STORE_ERROR_TRUNCATED);
}
END_TEST

/* A file within the size limit but nested some 65000 deep is refused before json-glib
 * parses it by recursion (the helper's larger boot record overflowed the stack that way). */
START_TEST(test_deep_nesting)
{
    gsize len = STATE_STORE_MAX_FILE_SIZE - 16;
    g_autofree char *text = g_strnfill(len, '[');
    write_state_file("agent.json", text, (gssize)len, 0600);
    expect_agent_error(STATE_STORE_ERROR_SYNTAX);
    memset(text, '{', len);
    write_state_file(SOURCE_FILE, text, (gssize)len, 0600);
    expect_source_error(STATE_STORE_ERROR_SYNTAX);
}
END_TEST

START_TEST(test_not_json)
{
    const char *const texts[] = {"hello", "{\"version\": 1} trailing", "{\"version\": 1,}",
                                 "\xff\xfe{}", "{\"version\" 1}"};
    for (size_t i = 0; i < G_N_ELEMENTS(texts); i++) {
        write_state_file(SOURCE_FILE, texts[i], -1, 0600);
        expect_source_error(STATE_STORE_ERROR_SYNTAX);
    }
    write_state_file("agent.json", "nope", -1, 0600);
    expect_agent_error(STATE_STORE_ERROR_SYNTAX);
    /* the message says where, but repeats nothing from the file (it may be key material) */
    write_state_file(SOURCE_FILE, "{\"c2s_key\": SECRETKEYMATERIAL}", -1, 0600);
    g_autofree char *message = expect_source_error_message(STATE_STORE_ERROR_SYNTAX);
    ck_assert_msg(strstr(message, "SECRET") == NULL, "%s", message);
    ck_assert_msg(strstr(message, "line 1, column") != NULL, "%s", message);
    write_state_file(SOURCE_FILE, "{\n\n  \"version\": 1,\n  \"c2s_key\": SECRET}", -1, 0600);
    g_autofree char *later = expect_source_error_message(STATE_STORE_ERROR_SYNTAX);
    ck_assert_msg(strstr(later, "line 4, column ") != NULL, "%s", later);
}
END_TEST

START_TEST(test_wrong_type)
{
    write_state_file(SOURCE_FILE, "[1, 2]", -1, 0600);
    expect_source_error(STATE_STORE_ERROR_TYPE);
    write_state_file(SOURCE_FILE, "\"text\"", -1, 0600);
    expect_source_error(STATE_STORE_ERROR_TYPE);

    const char *const members[] = {"version",
                                   "machine_id",
                                   "host",
                                   "port",
                                   "c2s_key",
                                   "s2c_key",
                                   "aead",
                                   "ntp_server",
                                   "ntp_port",
                                   "cookies",
                                   "key_exchange_time_unix"};
    /* each member removed */
    for (size_t i = 0; i < G_N_ELEMENTS(members); i++) {
        save_default_source();
        set_member(SOURCE_FILE, members[i], NULL);
        expect_source_error(STATE_STORE_ERROR_TYPE);
    }
    /* each member of the wrong type */
    save_default_source();
    set_member(SOURCE_FILE, "port", string_node("4460"));
    expect_source_error(STATE_STORE_ERROR_TYPE);
    save_default_source();
    set_member(SOURCE_FILE, "c2s_key", int_node(5));
    expect_source_error(STATE_STORE_ERROR_TYPE);
    save_default_source();
    set_member(SOURCE_FILE, "version", string_node("1"));
    expect_source_error(STATE_STORE_ERROR_TYPE);
    save_default_source();
    set_member(SOURCE_FILE, "cookies", string_node("AAAA"));
    expect_source_error(STATE_STORE_ERROR_TYPE);
    save_default_source();
    JsonArray *array = json_array_new();
    json_array_add_int_element(array, 4);
    JsonNode *node = json_node_new(JSON_NODE_ARRAY);
    json_node_take_array(node, array);
    set_member(SOURCE_FILE, "cookies", node);
    expect_source_error(STATE_STORE_ERROR_TYPE);
    save_default_source();
    JsonNode *null_node = json_node_new(JSON_NODE_NULL);
    set_member(SOURCE_FILE, "key_exchange_time_unix", null_node);
    expect_source_error(STATE_STORE_ERROR_TYPE);

    save_agent_ok(1.0, TRUE);
    set_member("agent.json", "frequency_ppm", string_node("1.0"));
    expect_agent_error(STATE_STORE_ERROR_TYPE);
    save_agent_ok(1.0, TRUE);
    set_member("agent.json", "boot_window_closed", int_node(1));
    expect_agent_error(STATE_STORE_ERROR_TYPE);
    save_agent_ok(1.0, TRUE);
    set_member("agent.json", "time_floor_unix", NULL);
    expect_agent_error(STATE_STORE_ERROR_TYPE);
}
END_TEST

START_TEST(test_wrong_version)
{
    const gint64 versions[] = {0, 2, -1};
    for (size_t i = 0; i < G_N_ELEMENTS(versions); i++) {
        save_default_source();
        set_member(SOURCE_FILE, "version", int_node(versions[i]));
        expect_source_error(STATE_STORE_ERROR_VERSION);
    }
    save_agent_ok(0, FALSE);
    set_member("agent.json", "version", int_node(2));
    expect_agent_error(STATE_STORE_ERROR_VERSION);
}
END_TEST

START_TEST(test_bad_base64)
{
    /* 44 characters each, as a 32-byte key would be */
    const char *const keys[] = {
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA!=", /* a character outside the alphabet */
        "AAAAAAAAAAAAAAAAAAAA AAAAAAAAAAAAAAAAAAAAAA=", /* a space */
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",  /* missing padding */
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=", /* non-zero bits under the padding */
        "AAAAAAAAAAAAAAAAAAAA=AAAAAAAAAAAAAAAAAAAAAA=", /* padding inside */
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA-_=", /* base64url */
    };
    for (size_t i = 0; i < G_N_ELEMENTS(keys); i++) {
        save_default_source();
        set_member(SOURCE_FILE, "s2c_key", string_node(keys[i]));
        expect_source_error(STATE_STORE_ERROR_BASE64);
    }
    save_default_source();
    JsonArray *array = json_array_new();
    json_array_add_string_element(array, "AAAAAA==");
    json_array_add_string_element(array, "AAA*AA==");
    JsonNode *node = json_node_new(JSON_NODE_ARRAY);
    json_node_take_array(node, array);
    set_member(SOURCE_FILE, "cookies", node);
    expect_source_error(STATE_STORE_ERROR_BASE64);
}
END_TEST

START_TEST(test_key_length)
{
    const size_t lengths[] = {0, 16, 31, 33, 64};
    for (size_t i = 0; i < G_N_ELEMENTS(lengths); i++) {
        save_default_source();
        set_member(SOURCE_FILE, i % 2 ? "c2s_key" : "s2c_key", base64_node(lengths[i]));
        expect_source_error(STATE_STORE_ERROR_KEY_LENGTH);
    }
}
END_TEST

START_TEST(test_too_many_cookies)
{
    save_default_source();
    set_member(SOURCE_FILE, "cookies", cookies_node(NTS_MAX_COOKIES + 1, 64));
    expect_source_error(STATE_STORE_ERROR_TOO_MANY_COOKIES);
    /* eight is fine, none too */
    set_member(SOURCE_FILE, "cookies", cookies_node(NTS_MAX_COOKIES, 64));
    struct state_source src;
    load_source_ok(&src);
    ck_assert_uint_eq(src.n_cookies, NTS_MAX_COOKIES);
    state_source_clear(&src);
    set_member(SOURCE_FILE, "cookies", cookies_node(0, 64));
    load_source_ok(&src);
    ck_assert_uint_eq(src.n_cookies, 0);
    state_source_clear(&src);
}
END_TEST

START_TEST(test_cookie_length)
{
    const size_t lengths[] = {0, 2, 6, NTS_COOKIE_MAX_LEN + 4};
    for (size_t i = 0; i < G_N_ELEMENTS(lengths); i++) {
        save_default_source();
        set_member(SOURCE_FILE, "cookies", cookies_node(2, lengths[i]));
        expect_source_error(STATE_STORE_ERROR_COOKIE_LENGTH);
    }
    /* the bounds themselves are fine */
    const size_t good[] = {4, NTS_COOKIE_MAX_LEN};
    for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
        set_member(SOURCE_FILE, "cookies", cookies_node(2, good[i]));
        struct state_source src;
        load_source_ok(&src);
        ck_assert_uint_eq(src.cookies[1].len, good[i]);
        ck_assert_uint_eq(src.cookies[1].data[0], 1);
        state_source_clear(&src);
    }
}
END_TEST

START_TEST(test_oversize)
{
    save_default_source();
    gsize len = 0;
    g_autofree char *text = read_state_file(SOURCE_FILE, &len);
    /* trailing white space up to exactly the limit still loads */
    g_autofree char *padded = g_strnfill(STATE_STORE_MAX_FILE_SIZE + 1, ' ');
    memcpy(padded, text, len);
    write_state_file(SOURCE_FILE, padded, STATE_STORE_MAX_FILE_SIZE, 0600);
    struct state_source src;
    load_source_ok(&src);
    state_source_clear(&src);
    write_state_file(SOURCE_FILE, padded, STATE_STORE_MAX_FILE_SIZE + 1, 0600);
    expect_source_error(STATE_STORE_ERROR_TOO_LARGE);
}
END_TEST

/* A cloned image: the same files under another machine ID are not used. */
START_TEST(test_foreign_machine)
{
    save_default_source();
    save_agent_ok(1.0, TRUE);
    reopen(&ids_b1);
    expect_source_error(STATE_STORE_ERROR_FOREIGN_MACHINE);
    expect_agent_error(STATE_STORE_ERROR_FOREIGN_MACHINE);
    g_autoptr(GError) error = NULL;
    struct state_source src;
    ck_assert(!state_store_load_source(store, SOURCE, HOST, PORT, &src, &error));
    ck_assert_ptr_nonnull(strstr(error->message, MACHINE_A));
    ck_assert_ptr_nonnull(strstr(error->message, MACHINE_B));

    /* a malformed ID is not this machine's either */
    reopen(&ids_a1);
    save_default_source();
    set_member(SOURCE_FILE, "machine_id", string_node("x"));
    expect_source_error(STATE_STORE_ERROR_FOREIGN_MACHINE);
}
END_TEST

START_TEST(test_file_readable_by_others)
{
    const mode_t modes[] = {0644, 0640, 0604, 0620, 0602, 0601, 0610, 0666};
    for (size_t i = 0; i < G_N_ELEMENTS(modes); i++) {
        save_default_source();
        g_autofree char *path = state_path(SOURCE_FILE);
        ck_assert_int_eq(g_chmod(path, modes[i]), 0);
        expect_source_error(STATE_STORE_ERROR_PERMISSIONS);
    }
    save_agent_ok(1.0, FALSE);
    g_autofree char *agent = state_path("agent.json");
    ck_assert_int_eq(g_chmod(agent, 0644), 0);
    expect_agent_error(STATE_STORE_ERROR_PERMISSIONS);
    /* read-only for the owner is fine */
    ck_assert_int_eq(g_chmod(agent, 0400), 0);
    struct state_agent a;
    ck_assert(state_store_load_agent(store, &a, NULL));
    state_agent_clear(&a);
}
END_TEST

START_TEST(test_not_regular_file)
{
    save_default_source();
    g_autofree char *path = state_path(SOURCE_FILE);
    g_autofree char *real = state_path("elsewhere.json");
    ck_assert_int_eq(g_rename(path, real), 0);
    ck_assert_int_eq(symlink("elsewhere.json", path), 0);
    expect_source_error(STATE_STORE_ERROR_NOT_REGULAR);
    /* a save replaces the link itself, not what it names */
    save_default_source();
    ck_assert_int_eq(mode_of(path) & 0777, 0600);
    GStatBuf st;
    ck_assert_int_eq(g_lstat(path, &st), 0);
    ck_assert(S_ISREG(st.st_mode));

    /* a FIFO neither blocks nor loads */
    ck_assert_int_eq(g_unlink(path), 0);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    expect_source_error(STATE_STORE_ERROR_NOT_REGULAR);
    ck_assert_int_eq(g_unlink(path), 0);
    ck_assert_int_eq(g_mkdir(path, 0700), 0);
    expect_source_error(STATE_STORE_ERROR_NOT_REGULAR);
}
END_TEST

START_TEST(test_host_changed)
{
    save_default_source();
    struct state_source src;
    g_autoptr(GError) error = NULL;
    ck_assert(!state_store_load_source(store, SOURCE, "other.example.com", PORT, &src, &error));
    ck_assert(g_error_matches(error, STATE_STORE_ERROR, STATE_STORE_ERROR_HOST_CHANGED));
    ck_assert_ptr_nonnull(strstr(error->message, HOST));
    ck_assert_ptr_nonnull(strstr(error->message, "other.example.com"));
    g_clear_error(&error);
    ck_assert(!state_store_load_source(store, SOURCE, HOST, PORT + 1, &src, &error));
    ck_assert(g_error_matches(error, STATE_STORE_ERROR, STATE_STORE_ERROR_HOST_CHANGED));
    ck_assert_ptr_null(src.host);
}
END_TEST

START_TEST(test_values_out_of_range)
{
    struct {
        const char *member;
        gint64 value;
    } cases[] = {
        {"port", 0},     {"port", 65536},      {"ntp_port", -1},
        {"aead", 16},    {"aead", 30},         {"key_exchange_time_unix", -1},
        {"ntp_port", 0}, {"port", G_MAXINT64},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        save_default_source();
        set_member(SOURCE_FILE, cases[i].member, int_node(cases[i].value));
        expect_source_error(STATE_STORE_ERROR_VALUE);
    }
    save_default_source();
    set_member(SOURCE_FILE, "host", string_node(""));
    expect_source_error(STATE_STORE_ERROR_VALUE);
    /* the same cookie twice would be sent twice */
    save_default_source();
    JsonArray *array = json_array_new();
    json_array_add_string_element(array, "AAAAAA==");
    json_array_add_string_element(array, "AAAAAQ==");
    json_array_add_string_element(array, "AAAAAA==");
    JsonNode *node = json_node_new(JSON_NODE_ARRAY);
    json_node_take_array(node, array);
    set_member(SOURCE_FILE, "cookies", node);
    expect_source_error(STATE_STORE_ERROR_VALUE);

    save_agent_ok(1.0, TRUE);
    JsonNode *frequency = json_node_new(JSON_NODE_VALUE);
    json_node_set_double(frequency, 600.5);
    set_member("agent.json", "frequency_ppm", frequency);
    expect_agent_error(STATE_STORE_ERROR_VALUE);
    save_agent_ok(1.0, TRUE);
    set_member("agent.json", "boot_id", string_node("not-a-boot-id"));
    expect_agent_error(STATE_STORE_ERROR_VALUE);
    save_agent_ok(1.0, TRUE);
    set_member("agent.json", "last_sync_unix", int_node(-5));
    expect_agent_error(STATE_STORE_ERROR_VALUE);
    /* an integer frequency is read as one */
    save_agent_ok(1.0, TRUE);
    set_member("agent.json", "frequency_ppm", int_node(-7));
    struct state_agent agent;
    ck_assert(state_store_load_agent(store, &agent, NULL));
    ck_assert(agent.frequency_ppm == -7.0);
    state_agent_clear(&agent);
}
END_TEST

/* Another user's files are not trusted; needs root to make one (CI runs as root). */
START_TEST(test_foreign_owner)
{
    save_default_source();
    g_autofree char *path = state_path(SOURCE_FILE);
    if (geteuid() != 0) {
        /* still: our own file is trusted, and a chown to another user is refused to us */
        struct state_source src;
        load_source_ok(&src);
        state_source_clear(&src);
        ck_assert_int_ne(lchown(path, NOBODY_UID, (gid_t)-1), 0);
        return;
    }
    ck_assert_int_eq(lchown(path, NOBODY_UID, (gid_t)-1), 0);
    expect_source_error(STATE_STORE_ERROR_OWNER);
    save_agent_ok(1.0, TRUE);
    g_autofree char *agent = state_path("agent.json");
    ck_assert_int_eq(lchown(agent, NOBODY_UID, (gid_t)-1), 0);
    expect_agent_error(STATE_STORE_ERROR_OWNER);

    /* and another user's directory is refused as a whole */
    g_clear_pointer(&store, state_store_close);
    ck_assert_int_eq(lchown(state_dir, NOBODY_UID, (gid_t)-1), 0);
    g_autoptr(GError) error = NULL;
    ck_assert_ptr_null(state_store_open(state_dir, &ids_a1, &error));
    ck_assert(g_error_matches(error, STATE_STORE_ERROR, STATE_STORE_ERROR_OWNER));
    ck_assert_ptr_nonnull(strstr(error->message, state_dir));
    ck_assert_int_eq(lchown(state_dir, 0, (gid_t)-1), 0);
    store = open_ok(&ids_a1);
}
END_TEST

/* ---- The directory ---- */

START_TEST(test_directory_permissions)
{
    g_clear_pointer(&store, state_store_close);
    const mode_t refused[] = {0770, 0730, 0703, 0777, 0720};
    for (size_t i = 0; i < G_N_ELEMENTS(refused); i++) {
        ck_assert_int_eq(g_chmod(state_dir, refused[i]), 0);
        g_autoptr(GError) error = NULL;
        ck_assert_ptr_null(state_store_open(state_dir, &ids_a1, &error));
        ck_assert(g_error_matches(error, STATE_STORE_ERROR, STATE_STORE_ERROR_PERMISSIONS));
        ck_assert_ptr_nonnull(strstr(error->message, state_dir));
    }
    /* readable by others is the administrator's choice; the files stay 0600 */
    ck_assert_int_eq(g_chmod(state_dir, 0755), 0);
    store = open_ok(&ids_a1);
    g_clear_pointer(&store, state_store_close);

    /* a file where the directory should be */
    g_autofree char *file = g_build_filename(directory, "file", NULL);
    ck_assert(g_file_set_contents(file, "x", -1, NULL));
    g_autoptr(GError) error = NULL;
    ck_assert_ptr_null(state_store_open(file, &ids_a1, &error));
    ck_assert(g_error_matches(error, STATE_STORE_ERROR, STATE_STORE_ERROR_NOT_REGULAR));
    store = open_ok(&ids_a1);
}
END_TEST

START_TEST(test_created_modes)
{
    /* even under a umask of 0 */
    mode_t old = umask(0);
    g_autofree char *nested = g_build_filename(directory, "a", "b", NULL);
    g_autoptr(GError) error = NULL;
    struct state_store *other = state_store_open(nested, &ids_a1, &error);
    umask(old);
    ck_assert_msg(other != NULL, "%s", error ? error->message : "");
    ck_assert_int_eq(mode_of(nested), 0700);
    state_store_close(other);

    umask(0);
    save_default_source();
    save_agent_ok(0.5, FALSE);
    umask(old);
    ck_assert_int_eq(mode_of(state_dir), 0700);
    const char *const names[] = {SOURCE_FILE, "agent.json", "lock"};
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        g_autofree char *path = state_path(names[i]);
        ck_assert_msg(mode_of(path) == 0600, "%s is %04o", names[i], (unsigned)mode_of(path));
    }
}
END_TEST

START_TEST(test_source_names_stay_inside)
{
    struct {
        const char *name, *file;
    } cases[] = {
        {"../agent", "source-..%2Fagent.json"},
        {"a/b", "source-a%2Fb.json"},
        {"..", "source-...json"},
        {"x%41", "source-x%2541.json"},
        {"xA", "source-xA.json"},
        {"caf\xc3\xa9 1", "source-caf%C3%A9%201.json"},
        {"Ok_name-1.2", "source-Ok_name-1.2.json"},
    };
    save_agent_ok(1.0, TRUE);
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *file = state_store_source_file_name(cases[i].name, NULL);
        ck_assert_str_eq(file, cases[i].file);
        struct state_source src, loaded;
        make_source(&src, i + 1);
        ck_assert(state_store_save_source(store, cases[i].name, &src, NULL));
        ck_assert(state_store_load_source(store, cases[i].name, HOST, PORT, &loaded, NULL));
        ck_assert_uint_eq(loaded.n_cookies, i + 1);
        g_autofree char *path = state_path(file);
        ck_assert(g_file_test(path, G_FILE_TEST_IS_REGULAR));
        state_source_clear(&src);
        state_source_clear(&loaded);
    }
    /* nothing was written next to the state directory, agent.json is intact */
    g_autofree char *outside = g_build_filename(directory, "agent.json", NULL);
    ck_assert(!g_file_test(outside, G_FILE_TEST_EXISTS));
    struct state_agent agent;
    ck_assert(state_store_load_agent(store, &agent, NULL));
    state_agent_clear(&agent);
}
END_TEST

START_TEST(test_invalid_arguments)
{
    g_autoptr(GError) error = NULL;
    ck_assert_ptr_null(state_store_source_file_name("", &error));
    ck_assert(g_error_matches(error, STATE_STORE_ERROR, STATE_STORE_ERROR_INVALID_ARGUMENT));
    g_clear_error(&error);
    g_autofree char *long_name = g_strnfill(STATE_STORE_MAX_SOURCE_NAME_FILE + 1, 'a');
    ck_assert_ptr_null(state_store_source_file_name(long_name, &error));
    ck_assert(g_error_matches(error, STATE_STORE_ERROR, STATE_STORE_ERROR_INVALID_ARGUMENT));
    g_clear_error(&error);
    g_autofree char *fits = g_strnfill(STATE_STORE_MAX_SOURCE_NAME_FILE, 'a');
    g_autofree char *file = state_store_source_file_name(fits, NULL);
    ck_assert_ptr_nonnull(file);

    /* what could not load back is not saved */
    struct state_source src;
    make_source(&src, 3);
    src.cookies[1].len = 6;
    ck_assert(!state_store_save_source(store, SOURCE, &src, &error));
    ck_assert(g_error_matches(error, STATE_STORE_ERROR, STATE_STORE_ERROR_INVALID_ARGUMENT));
    g_clear_error(&error);
    src.cookies[1] = src.cookies[0];
    ck_assert(!state_store_save_source(store, SOURCE, &src, &error));
    ck_assert(g_error_matches(error, STATE_STORE_ERROR, STATE_STORE_ERROR_INVALID_ARGUMENT));
    g_clear_error(&error);
    struct nts_cookie cookie;
    ck_assert(!state_store_take_cookie(store, SOURCE, &src, &cookie, &error));
    ck_assert(g_error_matches(error, STATE_STORE_ERROR, STATE_STORE_ERROR_INVALID_ARGUMENT));
    g_clear_error(&error);
    state_source_clear(&src);
    make_source(&src, 1);
    src.port = 0;
    ck_assert(!state_store_save_source(store, SOURCE, &src, &error));
    g_clear_error(&error);
    state_source_clear(&src);

    const double frequencies[] = {NAN, INFINITY, 500.5, -1e9};
    for (size_t i = 0; i < G_N_ELEMENTS(frequencies); i++) {
        struct state_agent agent = {.frequency_ppm = frequencies[i]};
        ck_assert(!state_store_save_agent(store, &agent, &error));
        ck_assert(g_error_matches(error, STATE_STORE_ERROR, STATE_STORE_ERROR_INVALID_ARGUMENT));
        g_clear_error(&error);
    }
    struct state_agent agent = {.time_floor_unix = -1};
    ck_assert(!state_store_save_agent(store, &agent, &error));
    g_clear_error(&error);

    g_autofree char *names = list_state_dir();
    ck_assert_str_eq(names, "lock");
}
END_TEST

START_TEST(test_system_ids_from_files)
{
    g_clear_pointer(&store, state_store_close);
    g_autofree char *machine = g_build_filename(directory, "machine-id", NULL);
    g_autofree char *boot = g_build_filename(directory, "boot_id", NULL);
    ck_assert(g_file_set_contents(machine, MACHINE_B "\n", -1, NULL));
    ck_assert(g_file_set_contents(boot, "01234567-89AB-CDEF-0123-456789ABCDEF\n", -1, NULL));
    struct state_store_ids ids = {.machine_id_path = machine, .boot_id_path = boot};
    store = open_ok(&ids);
    ck_assert_str_eq(state_store_get_machine_id(store), MACHINE_B);
    ck_assert_str_eq(state_store_get_boot_id(store), BOOT_1);
    ck_assert_str_eq(state_store_get_directory(store), state_dir);
    g_clear_pointer(&store, state_store_close);

    /* a value wins over a path */
    ids.machine_id = MACHINE_A;
    store = open_ok(&ids);
    ck_assert_str_eq(state_store_get_machine_id(store), MACHINE_A);
    g_clear_pointer(&store, state_store_close);
    ids.machine_id = NULL;

    /* systemd's first-boot placeholder, a missing file, malformed values */
    ck_assert(g_file_set_contents(machine, "uninitialized\n", -1, NULL));
    g_autoptr(GError) error = NULL;
    ck_assert_ptr_null(state_store_open(state_dir, &ids, &error));
    ck_assert(g_error_matches(error, STATE_STORE_ERROR, STATE_STORE_ERROR_SYSTEM_ID));
    ck_assert_ptr_nonnull(strstr(error->message, machine));
    g_clear_error(&error);
    ids.machine_id_path = "/nonexistent/machine-id";
    ck_assert_ptr_null(state_store_open(state_dir, &ids, &error));
    ck_assert(g_error_matches(error, STATE_STORE_ERROR, STATE_STORE_ERROR_SYSTEM_ID));
    g_clear_error(&error);
    struct state_store_ids bad = {.machine_id = MACHINE_A, .boot_id = "0123"};
    ck_assert_ptr_null(state_store_open(state_dir, &bad, &error));
    ck_assert(g_error_matches(error, STATE_STORE_ERROR, STATE_STORE_ERROR_SYSTEM_ID));
    g_clear_error(&error);
    bad.machine_id = MACHINE_A "0";
    bad.boot_id = BOOT_1;
    ck_assert_ptr_null(state_store_open(state_dir, &bad, &error));
    ck_assert(g_error_matches(error, STATE_STORE_ERROR, STATE_STORE_ERROR_SYSTEM_ID));

    /* the kernel's boot ID reads */
    struct state_store_ids kernel = {.machine_id = MACHINE_A};
    store = open_ok(&kernel);
    ck_assert_uint_eq(strlen(state_store_get_boot_id(store)), 36);
}
END_TEST

/* The parse halves read the bytes of a saved file as the loads do, with the machine and
 * boot IDs given instead of the store's, and the same errors. */
START_TEST(test_parse_from_bytes)
{
    struct state_source saved, parsed;
    make_source(&saved, 3);
    save_source_ok(&saved);
    gsize len = 0;
    g_autofree char *text = read_state_file(SOURCE_FILE, &len);
    g_autoptr(GError) error = NULL;
    ck_assert_msg(
        state_store_parse_source("copy.json", text, len, MACHINE_A, HOST, PORT, &parsed, &error),
        "%s", error ? error->message : "");
    assert_sources_eq(&saved, &parsed);
    state_source_clear(&parsed);
    ck_assert(
        !state_store_parse_source("copy.json", text, len, MACHINE_B, HOST, PORT, &parsed, &error));
    ck_assert(g_error_matches(error, STATE_STORE_ERROR, STATE_STORE_ERROR_FOREIGN_MACHINE));
    ck_assert(g_str_has_prefix(error->message, "copy.json: "));
    ck_assert_ptr_null(parsed.host);
    g_clear_error(&error);
    ck_assert(!state_store_parse_source("copy.json", text, len / 2, MACHINE_A, HOST, PORT, &parsed,
                                        &error));
    ck_assert(g_error_matches(error, STATE_STORE_ERROR, STATE_STORE_ERROR_TRUNCATED));
    g_clear_error(&error);
    state_source_clear(&saved);

    save_agent_ok(3.5, TRUE);
    g_autofree char *agent_text = read_state_file("agent.json", &len);
    struct state_agent agent;
    ck_assert(
        state_store_parse_agent("a.json", agent_text, len, MACHINE_A, BOOT_1, &agent, &error));
    ck_assert(agent.frequency_ppm == 3.5);
    ck_assert(agent.boot_window_closed);
    state_agent_clear(&agent);
    /* Another boot: the window opens again, as on a load after a reboot. */
    ck_assert(
        state_store_parse_agent("a.json", agent_text, len, MACHINE_A, BOOT_2, &agent, &error));
    ck_assert(!agent.boot_window_closed);
    ck_assert_str_eq(agent.boot_id, BOOT_1);
    state_agent_clear(&agent);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *suite = suite_create("state-store");
    TCase *tc = tcase_create("state-store");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_source_round_trip);
    tcase_add_test(tc, test_parse_from_bytes);
    tcase_add_test(tc, test_agent_round_trip);
    tcase_add_test(tc, test_agent_boot_window_by_boot_id);
    tcase_add_test(tc, test_agent_synced_this_boot_by_boot_id);
    tcase_add_test(tc, test_agent_tiny_frequency);
    tcase_add_test(tc, test_take_cookie_rewrites_file_first);
    tcase_add_test(tc, test_take_cookie_until_empty);
    tcase_add_test(tc, test_cookies_never_repeat_across_reload);
    tcase_add_test(tc, test_forget_source);
    tcase_add_test(tc, test_no_temp_files_after_writes);
    tcase_add_test(tc, test_failed_write_leaves_nothing);
    tcase_add_test(tc, test_stale_temp_files_removed_at_open);
    tcase_add_test(tc, test_bad_file_replaced_by_save);
    tcase_add_test(tc, test_lock_second_open);
    tcase_add_test(tc, test_lock_held_elsewhere);
    tcase_add_test(tc, test_missing_files);
    tcase_add_test(tc, test_truncated);
    tcase_add_test(tc, test_not_json);
    tcase_add_test(tc, test_deep_nesting);
    tcase_add_test(tc, test_wrong_type);
    tcase_add_test(tc, test_wrong_version);
    tcase_add_test(tc, test_bad_base64);
    tcase_add_test(tc, test_key_length);
    tcase_add_test(tc, test_too_many_cookies);
    tcase_add_test(tc, test_cookie_length);
    tcase_add_test(tc, test_oversize);
    tcase_add_test(tc, test_foreign_machine);
    tcase_add_test(tc, test_file_readable_by_others);
    tcase_add_test(tc, test_not_regular_file);
    tcase_add_test(tc, test_host_changed);
    tcase_add_test(tc, test_values_out_of_range);
    tcase_add_test(tc, test_foreign_owner);
    tcase_add_test(tc, test_directory_permissions);
    tcase_add_test(tc, test_created_modes);
    tcase_add_test(tc, test_source_names_stay_inside);
    tcase_add_test(tc, test_invalid_arguments);
    tcase_add_test(tc, test_system_ids_from_files);
    suite_add_tcase(suite, tc);
    return suite;
}

GNOMON_CHECK_MAIN(make_suite)
