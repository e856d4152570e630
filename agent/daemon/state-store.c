/* The state store. Every file is opened relative to the directory's descriptor, without
 * following symbolic links, and trusted only when it is a small regular file of ours that no
 * one else can read; every write goes to a fresh temporary file that is synced and renamed
 * over the old one, the directory synced after. JSON is read and written by json-glib only. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* flock, explicit_bzero, openat */
#endif

#include "state-store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json-nesting.h"
#include "nts-ke-records.h"

#define STATE_VERSION       1
#define AGENT_FILE          "agent.json"
#define LOCK_FILE           "lock"
#define SOURCE_PREFIX       "source-"
#define SOURCE_SUFFIX       ".json"
#define TEMP_PREFIX         ".tmp-" /* removed at open: only a crash leaves one behind */
#define TEMP_ATTEMPTS       16
#define MACHINE_ID_LEN      32
#define BOOT_ID_LEN         36
#define MAX_HOST_LEN        255
#define MAX_UNIX_TIME       G_GINT64_CONSTANT(253402300799) /* 9999-12-31T23:59:59Z */
#define MIN_WRITTEN_FREQ    1e-4 /* smaller ones would be written with an exponent */
#define PRIVATE_FILE_MODE   0600
#define PRIVATE_DIR_MODE    0700
#define OTHERS_ACCESS_MASK  (S_IRWXG | S_IRWXO)
#define MAX_JSON_CONTAINERS 1024 /* a file holds 2 */

G_DEFINE_QUARK(gnomon - state - store - error - quark, state_store_error)

struct state_store {
    char *directory; /* as given, for messages */
    int dir_fd;
    int lock_fd; /* holds the flock for the store's lifetime */
    char *machine_id;
    char *boot_id;
};

/* What one load is reading, for messages. */
struct reader {
    const char *path;
    JsonObject *object;
};

/* "PATH: message", or "message" when PATH is NULL. */
G_GNUC_PRINTF(4, 5)
static void set_error(GError **error, enum state_store_error code, const char *path,
                      const char *format, ...)
{
    va_list args;
    va_start(args, format);
    g_autofree char *message = g_strdup_vprintf(format, args);
    va_end(args);
    if (path == NULL) {
        g_set_error_literal(error, STATE_STORE_ERROR, code, message);
    } else {
        g_set_error(error, STATE_STORE_ERROR, code, "%s: %s", path, message);
    }
}

/* "PATH: cannot WHAT: strerror" for a failed system call; takes errno itself. */
static void set_errno_error(GError **error, const char *path, const char *what)
{
    int saved = errno;
    set_error(error, STATE_STORE_ERROR_IO, path, "cannot %s: %s", what, g_strerror(saved));
}

static void wipe(void *data, size_t len)
{
    if (data != NULL) {
        explicit_bzero(data, len);
    }
}

static void wipe_string(char *text)
{
    if (text != NULL) {
        wipe(text, strlen(text));
    }
}

/* ---- Machine ID and boot ID ---- */

static gboolean is_machine_id(const char *text)
{
    size_t i = 0;
    for (; text[i] != '\0'; i++) {
        if (i >= MACHINE_ID_LEN || !g_ascii_isxdigit(text[i])) {
            return FALSE;
        }
    }
    return i == MACHINE_ID_LEN;
}

/* 8-4-4-4-12 hexadecimal digits, as the kernel prints a boot ID. */
static gboolean is_boot_id(const char *text)
{
    size_t i = 0;
    for (; text[i] != '\0'; i++) {
        gboolean dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (i >= BOOT_ID_LEN || (dash ? text[i] != '-' : !g_ascii_isxdigit(text[i]))) {
            return FALSE;
        }
    }
    return i == BOOT_ID_LEN;
}

/* VALUE if given, else the first line of PATH; lower-case. */
static char *read_system_id(const char *value, const char *path, const char *what,
                            gboolean (*valid)(const char *), const char *expected, GError **error)
{
    g_autofree char *contents = NULL;
    g_autofree char *origin = g_strdup("given");
    if (value == NULL) {
        g_autoptr(GError) local_error = NULL;
        if (!g_file_get_contents(path, &contents, NULL, &local_error)) {
            set_error(error, STATE_STORE_ERROR_SYSTEM_ID, NULL, "cannot read the %s: %s", what,
                      local_error->message);
            return NULL;
        }
        value = g_strstrip(contents);
        g_free(origin);
        origin = g_strdup_printf("in %s", path);
    }
    if (!valid(value)) {
        /* e.g. "uninitialized" in /etc/machine-id during a first boot */
        set_error(error, STATE_STORE_ERROR_SYSTEM_ID, NULL,
                  "the %s %s is not %s, so state files cannot be tied to this system", what, origin,
                  expected);
        return NULL;
    }
    return g_ascii_strdown(value, -1);
}

/* ---- The directory ---- */

/* A crash between creating a temporary file and renaming it leaves it behind; no one else
 * writes here while we hold the lock. Best effort. */
static void remove_stale_temp_files(int dir_fd)
{
    int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return;
    }
    DIR *dir = fdopendir(fd);
    if (dir == NULL) {
        close(fd);
        return;
    }
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (g_str_has_prefix(entry->d_name, TEMP_PREFIX)) {
            (void)unlinkat(dir_fd, entry->d_name, 0);
        }
    }
    closedir(dir);
}

static int open_directory(const char *dir, GError **error)
{
    gboolean created = FALSE;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        if (g_mkdir_with_parents(dir, PRIVATE_DIR_MODE) != 0) {
            set_errno_error(error, dir, "create the state directory");
            return -1;
        }
        created = TRUE;
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    if (fd < 0) {
        if (errno == ENOTDIR) {
            set_error(error, STATE_STORE_ERROR_NOT_REGULAR, dir,
                      "the state directory is not a directory");
        } else {
            set_errno_error(error, dir, "open the state directory");
        }
        return -1;
    }
    /* The umask may have taken more than group and others' bits. */
    if (created && fchmod(fd, PRIVATE_DIR_MODE) != 0) {
        set_errno_error(error, dir, "set the mode of the state directory");
        close(fd);
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        set_errno_error(error, dir, "read the state directory's owner and mode");
        close(fd);
        return -1;
    }
    if (st.st_uid != geteuid()) {
        set_error(error, STATE_STORE_ERROR_OWNER, dir,
                  "the state directory is owned by uid %lu, not by this user (uid %lu)",
                  (unsigned long)st.st_uid, (unsigned long)geteuid());
        close(fd);
        return -1;
    }
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        set_error(error, STATE_STORE_ERROR_PERMISSIONS, dir,
                  "the state directory (mode %04o) is writable by its group or others, who "
                  "could plant keys or remove cookies; make it 0700",
                  (unsigned)(st.st_mode & 07777));
        close(fd);
        return -1;
    }
    return fd;
}

static int take_lock(const char *dir, int dir_fd, GError **error)
{
    g_autofree char *path = g_build_filename(dir, LOCK_FILE, NULL);
    int fd = openat(dir_fd, LOCK_FILE, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
                    PRIVATE_FILE_MODE);
    if (fd < 0) {
        if (errno == ELOOP) {
            set_error(error, STATE_STORE_ERROR_NOT_REGULAR, path, "is a symbolic link");
        } else {
            set_errno_error(error, path, "open the lock file");
        }
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK) {
            set_error(error, STATE_STORE_ERROR_LOCKED, NULL,
                      "state directory %s is in use by another gnomon-agent", dir);
        } else {
            set_errno_error(error, path, "lock");
        }
        close(fd);
        return -1;
    }
    return fd;
}

struct state_store *state_store_open(const char *dir, const struct state_store_ids *ids,
                                     GError **error)
{
    g_return_val_if_fail(dir != NULL, NULL);
    g_return_val_if_fail(error == NULL || *error == NULL, NULL);
    static const struct state_store_ids system_ids = {0};
    if (ids == NULL) {
        ids = &system_ids;
    }
    g_autofree char *machine_id = read_system_id(
        ids->machine_id,
        ids->machine_id_path != NULL ? ids->machine_id_path : STATE_STORE_DEFAULT_MACHINE_ID,
        "machine ID", is_machine_id, "32 hexadecimal digits", error);
    if (machine_id == NULL) {
        return NULL;
    }
    g_autofree char *boot_id = read_system_id(
        ids->boot_id, ids->boot_id_path != NULL ? ids->boot_id_path : STATE_STORE_DEFAULT_BOOT_ID,
        "boot ID", is_boot_id, "a UUID", error);
    if (boot_id == NULL) {
        return NULL;
    }
    int dir_fd = open_directory(dir, error);
    if (dir_fd < 0) {
        return NULL;
    }
    int lock_fd = take_lock(dir, dir_fd, error);
    if (lock_fd < 0) {
        close(dir_fd);
        return NULL;
    }
    remove_stale_temp_files(dir_fd);

    struct state_store *store = g_new0(struct state_store, 1);
    store->directory = g_strdup(dir);
    store->dir_fd = dir_fd;
    store->lock_fd = lock_fd;
    store->machine_id = g_steal_pointer(&machine_id);
    store->boot_id = g_steal_pointer(&boot_id);
    return store;
}

void state_store_close(struct state_store *store)
{
    if (store == NULL) {
        return;
    }
    close(store->lock_fd); /* releases the flock */
    close(store->dir_fd);
    g_free(store->directory);
    g_free(store->machine_id);
    g_free(store->boot_id);
    g_free(store);
}

const char *state_store_get_directory(const struct state_store *store)
{
    return store->directory;
}

const char *state_store_get_machine_id(const struct state_store *store)
{
    return store->machine_id;
}

const char *state_store_get_boot_id(const struct state_store *store)
{
    return store->boot_id;
}

char *state_store_source_file_name(const char *source_name, GError **error)
{
    if (source_name == NULL || *source_name == '\0') {
        set_error(error, STATE_STORE_ERROR_INVALID_ARGUMENT, NULL,
                  "a source needs a name to be stored");
        return NULL;
    }
    g_autoptr(GString) name = g_string_new(SOURCE_PREFIX);
    for (const unsigned char *p = (const unsigned char *)source_name; *p != '\0'; p++) {
        if (g_ascii_isalnum(*p) || *p == '.' || *p == '_' || *p == '-') {
            g_string_append_c(name, (char)*p);
        } else {
            g_string_append_printf(name, "%%%02X", *p);
        }
        if (name->len > strlen(SOURCE_PREFIX) + STATE_STORE_MAX_SOURCE_NAME_FILE) {
            set_error(error, STATE_STORE_ERROR_INVALID_ARGUMENT, NULL,
                      "the source name \"%.40s...\" is too long for a file name", source_name);
            return NULL;
        }
    }
    g_string_append(name, SOURCE_SUFFIX);
    return g_string_free(g_steal_pointer(&name), FALSE);
}

/* ---- Writing ---- */

static gboolean write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            if (n == 0) {
                errno = EIO;
            }
            return FALSE;
        }
        data += n;
        len -= (size_t)n;
    }
    return TRUE;
}

/* Replaces NAME with DATA: a new temporary file (0600), written, synced, renamed over NAME,
 * then the directory synced so the rename itself survives a power loss. On failure the
 * temporary file is removed and NAME is as it was. */
static gboolean write_atomically(struct state_store *store, const char *name, const char *data,
                                 size_t len, GError **error)
{
    g_autofree char *path = g_build_filename(store->directory, name, NULL);
    g_autofree char *temp = NULL;
    int fd = -1;
    for (int attempt = 0; attempt < TEMP_ATTEMPTS && fd < 0; attempt++) {
        g_free(temp);
        temp = g_strdup_printf(TEMP_PREFIX "%s.%08x", name, g_random_int());
        fd = openat(store->dir_fd, temp,
                    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
                    PRIVATE_FILE_MODE);
        if (fd < 0 && errno != EEXIST) {
            break;
        }
    }
    if (fd < 0) {
        set_errno_error(error, path, "create a temporary file to replace it");
        return FALSE;
    }
    const char *step = NULL;
    if (fchmod(fd, PRIVATE_FILE_MODE) != 0) {
        step = "set the mode of its temporary file";
    } else if (!write_all(fd, data, len)) {
        step = "write its temporary file";
    } else if (fsync(fd) != 0) {
        step = "sync its temporary file";
    }
    if (step == NULL) {
        int result = close(fd);
        fd = -1;
        if (result != 0) {
            step = "close its temporary file";
        } else if (renameat(store->dir_fd, temp, store->dir_fd, name) != 0) {
            step = "rename its temporary file over it";
        } else if (fsync(store->dir_fd) != 0) {
            set_errno_error(error, path, "sync the state directory after replacing it");
            return FALSE;
        } else {
            return TRUE;
        }
    }
    set_errno_error(error, path, step);
    if (fd >= 0) {
        close(fd);
    }
    (void)unlinkat(store->dir_fd, temp, 0);
    return FALSE;
}

static void add_int(JsonBuilder *builder, const char *member, gint64 value)
{
    json_builder_set_member_name(builder, member);
    json_builder_add_int_value(builder, value);
}

static void add_string(JsonBuilder *builder, const char *member, const char *value)
{
    json_builder_set_member_name(builder, member);
    json_builder_add_string_value(builder, value);
}

/* json-glib keeps its own copy of the text, which it frees without wiping: key material
 * lives on in freed memory of this process only, as it does in the TLS library's. */
static void add_base64_value(JsonBuilder *builder, const guint8 *data, size_t len)
{
    char *text = g_base64_encode(data, len);
    json_builder_add_string_value(builder, text);
    wipe_string(text);
    g_free(text);
}

static void begin_file(const struct state_store *store, JsonBuilder *builder)
{
    json_builder_begin_object(builder);
    add_int(builder, "version", STATE_VERSION);
    add_string(builder, "machine_id", store->machine_id);
}

static gboolean write_json(struct state_store *store, const char *name, JsonBuilder *builder,
                           GError **error)
{
    json_builder_end_object(builder);
    g_autoptr(JsonNode) root = json_builder_get_root(builder);
    g_autoptr(JsonGenerator) generator = json_generator_new();
    json_generator_set_pretty(generator, TRUE);
    json_generator_set_root(generator, root);
    gsize len = 0;
    char *text = json_generator_to_data(generator, &len);
    gboolean ok = write_atomically(store, name, text, len, error);
    wipe(text, len);
    g_free(text);
    return ok;
}

/* ---- Checks shared by loading and saving ---- */

static gboolean cookie_length_ok(size_t len)
{
    return len >= 1 && len <= NTS_COOKIE_MAX_LEN && len % 4 == 0;
}

/* The index of a cookie that repeats an earlier one, or -1. */
static gssize repeated_cookie(const struct nts_cookie *cookies, size_t n, size_t *earlier)
{
    for (size_t i = 1; i < n; i++) {
        for (size_t j = 0; j < i; j++) {
            if (cookies[i].len == cookies[j].len &&
                memcmp(cookies[i].data, cookies[j].data, cookies[i].len) == 0) {
                *earlier = j;
                return (gssize)i;
            }
        }
    }
    return -1;
}

static gboolean text_ok(const char *text)
{
    return text != NULL && *text != '\0' && strlen(text) <= MAX_HOST_LEN &&
           g_utf8_validate(text, -1, NULL);
}

/* What save writes must load back: a mistake shows at the save, not at the next start. */
static gboolean check_source(const char *source_name, const struct state_source *src,
                             GError **error)
{
    const char *problem = NULL;
    size_t earlier = 0;
    if (!text_ok(src->host)) {
        problem = "no valid host";
    } else if (src->port == 0) {
        problem = "port 0";
    } else if (!text_ok(src->ntp_server)) {
        problem = "no valid NTP server";
    } else if (src->ntp_port == 0) {
        problem = "NTP port 0";
    } else if (src->key_exchange_time_unix < 0 || src->key_exchange_time_unix > MAX_UNIX_TIME) {
        problem = "a key exchange time out of range";
    } else if (src->n_cookies > NTS_MAX_COOKIES) {
        problem = "too many cookies";
    } else {
        for (size_t i = 0; i < src->n_cookies && problem == NULL; i++) {
            if (!cookie_length_ok(src->cookies[i].len)) {
                problem = "a cookie of a wrong length";
            }
        }
        if (problem == NULL && repeated_cookie(src->cookies, src->n_cookies, &earlier) >= 0) {
            problem = "the same cookie twice";
        }
    }
    if (problem != NULL) {
        set_error(error, STATE_STORE_ERROR_INVALID_ARGUMENT, NULL,
                  "cannot save source \"%s\": it has %s", source_name, problem);
        return FALSE;
    }
    return TRUE;
}

static gboolean check_agent(const struct state_agent *agent, GError **error)
{
    const char *problem = NULL;
    if (!isfinite(agent->frequency_ppm) ||
        fabs(agent->frequency_ppm) > STATE_STORE_MAX_FREQUENCY_PPM) {
        problem = "a frequency out of range";
    } else if (agent->time_floor_unix < 0 || agent->time_floor_unix > MAX_UNIX_TIME) {
        problem = "a time floor out of range";
    } else if (agent->last_sync_unix < 0 || agent->last_sync_unix > MAX_UNIX_TIME) {
        problem = "a last sync time out of range";
    }
    if (problem != NULL) {
        set_error(error, STATE_STORE_ERROR_INVALID_ARGUMENT, NULL,
                  "cannot save the agent's state: it has %s", problem);
        return FALSE;
    }
    return TRUE;
}

/* ---- Reading ---- */

/* Whether text that failed to parse stops inside a string, object or array (or holds
 * nothing): what a write that was cut short leaves. */
static gboolean looks_truncated(const char *text, size_t len)
{
    gboolean in_string = FALSE, escaped = FALSE, anything = FALSE;
    long depth = 0;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (in_string) {
            if (escaped) {
                escaped = FALSE;
            } else if (c == '\\') {
                escaped = TRUE;
            } else if (c == '"') {
                in_string = FALSE;
            }
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            continue;
        }
        anything = TRUE;
        if (c == '"') {
            in_string = TRUE;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return !anything || in_string || depth > 0;
}

static gboolean read_small_file(int fd, const char *path, char **contents, size_t *len,
                                GError **error)
{
    /* One byte more than allowed tells a file that grew since fstat(). */
    size_t capacity = STATE_STORE_MAX_FILE_SIZE + 1, total = 0;
    char *buffer = g_malloc(capacity);
    while (total < capacity) {
        ssize_t n = read(fd, buffer + total, capacity - total);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            set_errno_error(error, path, "read");
            wipe(buffer, total);
            g_free(buffer);
            return FALSE;
        }
        if (n == 0) {
            break;
        }
        total += (size_t)n;
    }
    if (total > STATE_STORE_MAX_FILE_SIZE) {
        set_error(error, STATE_STORE_ERROR_TOO_LARGE, path, "larger than %d bytes",
                  STATE_STORE_MAX_FILE_SIZE);
        wipe(buffer, total);
        g_free(buffer);
        return FALSE;
    }
    *contents = buffer;
    *len = total;
    return TRUE;
}

/* json-glib's messages quote the offending token, which may be a piece of a key: report only
 * where the error is. */
static void set_syntax_error(GError **error, const char *path, const GError *parse_error)
{
    /* "<data>:LINE:COLUMN: ..."; strtoull, unlike sscanf, says where the number ended. */
    const char *text = parse_error->message;
    char *end = NULL;
    guint64 line = 0;
    gboolean found = g_str_has_prefix(text, "<data>:") && g_ascii_isdigit(text[strlen("<data>:")]);
    if (found) {
        line = g_ascii_strtoull(text + strlen("<data>:"), &end, 10);
        found = end[0] == ':' && g_ascii_isdigit(end[1]);
    }
    if (found) {
        guint64 column = g_ascii_strtoull(end + 1, NULL, 10);
        set_error(error, STATE_STORE_ERROR_SYNTAX, path,
                  "not JSON (error at line %" G_GUINT64_FORMAT ", column %" G_GUINT64_FORMAT ")",
                  line, column);
    } else {
        set_error(error, STATE_STORE_ERROR_SYNTAX, path, "not JSON in UTF-8");
    }
}

/* Parses a state file's text; returns the parser, which owns *OBJECT. */
static JsonParser *parse_json(const char *path, const char *contents, size_t len,
                              JsonObject **object, GError **error)
{
    if (len > STATE_STORE_MAX_FILE_SIZE) {
        set_error(error, STATE_STORE_ERROR_TOO_LARGE, path, "larger than %d bytes",
                  STATE_STORE_MAX_FILE_SIZE);
        return NULL;
    }
    if (json_nesting_too_deep(contents, len, MAX_JSON_CONTAINERS)) {
        set_error(error, STATE_STORE_ERROR_SYNTAX, path, "more than %d arrays and objects",
                  MAX_JSON_CONTAINERS);
        return NULL;
    }
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(GError) parse_error = NULL;
    gboolean ok = json_parser_load_from_data(parser, contents, (gssize)len, &parse_error);
    gboolean truncated = !ok && looks_truncated(contents, len);
    if (!ok) {
        if (truncated) {
            set_error(error, STATE_STORE_ERROR_TRUNCATED, path,
                      "ends inside a JSON value (truncated)");
        } else {
            set_syntax_error(error, path, parse_error);
        }
        return NULL;
    }
    JsonNode *root = json_parser_get_root(parser);
    if (root == NULL) {
        set_error(error, STATE_STORE_ERROR_TRUNCATED, path, "is empty");
        return NULL;
    }
    if (!JSON_NODE_HOLDS_OBJECT(root)) {
        set_error(error, STATE_STORE_ERROR_TYPE, path, "is not a JSON object");
        return NULL;
    }
    *object = json_node_get_object(root);
    return g_steal_pointer(&parser);
}

/* Opens NAME only if it is a regular file (not a symbolic link: O_NOFOLLOW; a FIFO cannot
 * block us: O_NONBLOCK) of ours, private, and small; parses it. Returns the parser, which
 * owns *OBJECT. */
static JsonParser *read_json_file(struct state_store *store, const char *name, const char *path,
                                  JsonObject **object, GError **error)
{
    int fd = openat(store->dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        if (errno == ENOENT) {
            set_error(error, STATE_STORE_ERROR_NOT_FOUND, path, "does not exist");
        } else if (errno == ELOOP) {
            set_error(error, STATE_STORE_ERROR_NOT_REGULAR, path,
                      "is a symbolic link, which a state file never is");
        } else {
            set_errno_error(error, path, "open");
        }
        return NULL;
    }
    struct stat st;
    char *contents = NULL;
    size_t len = 0;
    gboolean ok = FALSE;
    if (fstat(fd, &st) != 0) {
        set_errno_error(error, path, "read its owner and mode");
    } else if (!S_ISREG(st.st_mode)) {
        set_error(error, STATE_STORE_ERROR_NOT_REGULAR, path, "is not a regular file");
    } else if (st.st_uid != geteuid()) {
        set_error(error, STATE_STORE_ERROR_OWNER, path,
                  "owned by uid %lu, not by this user (uid %lu): not trusted",
                  (unsigned long)st.st_uid, (unsigned long)geteuid());
    } else if (st.st_mode & OTHERS_ACCESS_MASK) {
        set_error(error, STATE_STORE_ERROR_PERMISSIONS, path,
                  "mode %04o lets its group or others access its keys; not used (state files "
                  "are 0600)",
                  (unsigned)(st.st_mode & 07777));
    } else if (st.st_size > STATE_STORE_MAX_FILE_SIZE) {
        set_error(error, STATE_STORE_ERROR_TOO_LARGE, path, "larger than %d bytes",
                  STATE_STORE_MAX_FILE_SIZE);
    } else {
        ok = read_small_file(fd, path, &contents, &len, error);
    }
    close(fd);
    if (!ok) {
        return NULL;
    }
    JsonParser *parser = parse_json(path, contents, len, object, error);
    wipe(contents, len);
    g_free(contents);
    return parser;
}

static JsonNode *get_member(const struct reader *r, const char *member, GError **error)
{
    JsonNode *node = json_object_get_member(r->object, member);
    if (node == NULL) {
        set_error(error, STATE_STORE_ERROR_TYPE, r->path, "\"%s\" is missing", member);
    }
    return node;
}

static gboolean holds(JsonNode *node, GType type)
{
    return JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == type;
}

static gboolean get_int(const struct reader *r, const char *member, gint64 min, gint64 max,
                        gint64 *out, GError **error)
{
    JsonNode *node = get_member(r, member, error);
    if (node == NULL) {
        return FALSE;
    }
    if (!holds(node, G_TYPE_INT64)) {
        set_error(error, STATE_STORE_ERROR_TYPE, r->path, "\"%s\" is not an integer", member);
        return FALSE;
    }
    gint64 value = json_node_get_int(node);
    if (value < min || value > max) {
        set_error(error, STATE_STORE_ERROR_VALUE, r->path,
                  "\"%s\" is %" G_GINT64_FORMAT ", outside %" G_GINT64_FORMAT "..%" G_GINT64_FORMAT,
                  member, value, min, max);
        return FALSE;
    }
    *out = value;
    return TRUE;
}

static gboolean get_port(const struct reader *r, const char *member, guint16 *out, GError **error)
{
    gint64 value = 0;
    if (!get_int(r, member, 1, G_MAXUINT16, &value, error)) {
        return FALSE;
    }
    *out = (guint16)value;
    return TRUE;
}

static gboolean get_time(const struct reader *r, const char *member, gint64 *out, GError **error)
{
    return get_int(r, member, 0, MAX_UNIX_TIME, out, error);
}

static gboolean get_double(const struct reader *r, const char *member, double limit, double *out,
                           GError **error)
{
    JsonNode *node = get_member(r, member, error);
    if (node == NULL) {
        return FALSE;
    }
    double value;
    if (holds(node, G_TYPE_DOUBLE)) {
        value = json_node_get_double(node);
    } else if (holds(node, G_TYPE_INT64)) {
        value = (double)json_node_get_int(node);
    } else {
        set_error(error, STATE_STORE_ERROR_TYPE, r->path, "\"%s\" is not a number", member);
        return FALSE;
    }
    if (!isfinite(value) || fabs(value) > limit) {
        set_error(error, STATE_STORE_ERROR_VALUE, r->path, "\"%s\" is %g, outside -%g..%g", member,
                  value, limit, limit);
        return FALSE;
    }
    *out = value;
    return TRUE;
}

static gboolean get_bool(const struct reader *r, const char *member, gboolean *out, GError **error)
{
    JsonNode *node = get_member(r, member, error);
    if (node == NULL) {
        return FALSE;
    }
    if (!holds(node, G_TYPE_BOOLEAN)) {
        set_error(error, STATE_STORE_ERROR_TYPE, r->path, "\"%s\" is not true or false", member);
        return FALSE;
    }
    *out = json_node_get_boolean(node);
    return TRUE;
}

/* A non-empty string of at most MAX_HOST_LEN bytes (JSON strings are UTF-8 already). */
static const char *get_string(const struct reader *r, const char *member, GError **error)
{
    JsonNode *node = get_member(r, member, error);
    if (node == NULL) {
        return NULL;
    }
    if (!holds(node, G_TYPE_STRING)) {
        set_error(error, STATE_STORE_ERROR_TYPE, r->path, "\"%s\" is not a string", member);
        return NULL;
    }
    const char *value = json_node_get_string(node);
    if (*value == '\0' || strlen(value) > MAX_HOST_LEN) {
        set_error(error, STATE_STORE_ERROR_VALUE, r->path, "\"%s\" is empty or longer than %d",
                  member, MAX_HOST_LEN);
        return NULL;
    }
    return value;
}

static int base64_value(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+') {
        return 62;
    }
    if (c == '/') {
        return 63;
    }
    return -1;
}

/* The decoded length of TEXT, or -1 unless it is canonical padded base64 (RFC 4648 §4, §3.5).
 * g_base64_decode() skips what it does not know instead of failing, so it is not used. */
static gssize base64_length(const char *text)
{
    size_t len = strlen(text);
    if (len % 4 != 0) {
        return -1;
    }
    size_t pad = 0;
    if (len >= 4 && text[len - 1] == '=') {
        pad = text[len - 2] == '=' ? 2 : 1;
    }
    for (size_t i = 0; i < len - pad; i++) {
        if (base64_value(text[i]) < 0) {
            return -1;
        }
    }
    /* The bits the padding leaves over must be zero. */
    if ((pad == 1 && (base64_value(text[len - 2]) & 0x03) != 0) ||
        (pad == 2 && (base64_value(text[len - 3]) & 0x0f) != 0)) {
        return -1;
    }
    return (gssize)(len / 4 * 3 - pad);
}

/* Decodes TEXT, checked by base64_length(), into OUT. */
static void base64_decode(const char *text, guint8 *out)
{
    size_t j = 0;
    for (size_t i = 0; text[i] != '\0'; i += 4) {
        unsigned v[4];
        for (int k = 0; k < 4; k++) {
            int value = base64_value(text[i + k]);
            v[k] = value < 0 ? 0 : (unsigned)value;
        }
        out[j++] = (guint8)(v[0] << 2 | v[1] >> 4);
        if (text[i + 2] != '=') {
            out[j++] = (guint8)(v[1] << 4 | v[2] >> 2);
        }
        if (text[i + 3] != '=') {
            out[j++] = (guint8)(v[2] << 6 | v[3]);
        }
    }
}

static gboolean get_key(const struct reader *r, const char *member, guint8 out[STATE_STORE_KEY_LEN],
                        GError **error)
{
    JsonNode *node = get_member(r, member, error);
    if (node == NULL) {
        return FALSE;
    }
    if (!holds(node, G_TYPE_STRING)) {
        set_error(error, STATE_STORE_ERROR_TYPE, r->path, "\"%s\" is not a string", member);
        return FALSE;
    }
    const char *text = json_node_get_string(node);
    gssize len = base64_length(text);
    if (len < 0) {
        set_error(error, STATE_STORE_ERROR_BASE64, r->path, "\"%s\" is not base64", member);
        return FALSE;
    }
    if (len != STATE_STORE_KEY_LEN) {
        set_error(error, STATE_STORE_ERROR_KEY_LENGTH, r->path,
                  "\"%s\" is %" G_GSSIZE_FORMAT " bytes long, not %d", member, len,
                  STATE_STORE_KEY_LEN);
        return FALSE;
    }
    base64_decode(text, out);
    return TRUE;
}

static gboolean get_cookies(const struct reader *r, struct state_source *out, GError **error)
{
    JsonNode *node = get_member(r, "cookies", error);
    if (node == NULL) {
        return FALSE;
    }
    if (!JSON_NODE_HOLDS_ARRAY(node)) {
        set_error(error, STATE_STORE_ERROR_TYPE, r->path, "\"cookies\" is not an array");
        return FALSE;
    }
    JsonArray *array = json_node_get_array(node);
    guint n = json_array_get_length(array);
    if (n > NTS_MAX_COOKIES) {
        set_error(error, STATE_STORE_ERROR_TOO_MANY_COOKIES, r->path,
                  "holds %u cookies, more than %d", n, NTS_MAX_COOKIES);
        return FALSE;
    }
    for (guint i = 0; i < n; i++) {
        JsonNode *element = json_array_get_element(array, i);
        if (!holds(element, G_TYPE_STRING)) {
            set_error(error, STATE_STORE_ERROR_TYPE, r->path, "cookie %u is not a string", i + 1);
            return FALSE;
        }
        const char *text = json_node_get_string(element);
        gssize len = base64_length(text);
        if (len < 0) {
            set_error(error, STATE_STORE_ERROR_BASE64, r->path, "cookie %u is not base64", i + 1);
            return FALSE;
        }
        if (!cookie_length_ok((size_t)len)) {
            set_error(error, STATE_STORE_ERROR_COOKIE_LENGTH, r->path,
                      "cookie %u is %" G_GSSIZE_FORMAT " bytes long, not 1..%d and a multiple "
                      "of 4",
                      i + 1, len, NTS_COOKIE_MAX_LEN);
            return FALSE;
        }
        base64_decode(text, out->cookies[i].data);
        out->cookies[i].len = (size_t)len;
        out->n_cookies = i + 1;
    }
    size_t earlier = 0;
    gssize repeat = repeated_cookie(out->cookies, out->n_cookies, &earlier);
    if (repeat >= 0) {
        set_error(error, STATE_STORE_ERROR_VALUE, r->path,
                  "cookie %" G_GSSIZE_FORMAT " repeats cookie %zu, and no cookie may be sent twice",
                  repeat + 1, earlier + 1);
        return FALSE;
    }
    return TRUE;
}

/* The version, then whether this machine wrote the file: a cloned image must not reuse
 * another machine's keys and cookies (security.md "Files"). */
static gboolean check_header(const char *this_machine_id, const struct reader *r, GError **error)
{
    gint64 version = 0;
    if (!get_int(r, "version", G_MININT64, G_MAXINT64, &version, error)) {
        return FALSE;
    }
    if (version != STATE_VERSION) {
        set_error(error, STATE_STORE_ERROR_VERSION, r->path,
                  "version %" G_GINT64_FORMAT ", but this gnomon reads version %d", version,
                  STATE_VERSION);
        return FALSE;
    }
    JsonNode *node = get_member(r, "machine_id", error);
    if (node == NULL) {
        return FALSE;
    }
    if (!holds(node, G_TYPE_STRING)) {
        set_error(error, STATE_STORE_ERROR_TYPE, r->path, "\"machine_id\" is not a string");
        return FALSE;
    }
    const char *machine_id = json_node_get_string(node);
    if (g_ascii_strcasecmp(machine_id, this_machine_id) != 0) {
        if (is_machine_id(machine_id)) {
            set_error(error, STATE_STORE_ERROR_FOREIGN_MACHINE, r->path,
                      "written on another machine (machine ID %s, this is %s): a copied system "
                      "must not reuse its keys and cookies",
                      machine_id, this_machine_id);
        } else {
            set_error(error, STATE_STORE_ERROR_FOREIGN_MACHINE, r->path,
                      "its machine ID is malformed, so it may belong to another machine");
        }
        return FALSE;
    }
    return TRUE;
}

static gboolean read_source(const char *machine_id, const struct reader *r, const char *host,
                            guint16 port, struct state_source *out, GError **error)
{
    if (!check_header(machine_id, r, error)) {
        return FALSE;
    }
    const char *file_host = get_string(r, "host", error);
    guint16 file_port = 0;
    gint64 aead = 0;
    if (file_host == NULL || !get_port(r, "port", &file_port, error) ||
        !get_key(r, "c2s_key", out->c2s_key, error) ||
        !get_key(r, "s2c_key", out->s2c_key, error) ||
        !get_int(r, "aead", 0, G_MAXUINT16, &aead, error)) {
        return FALSE;
    }
    if (aead != NTS_KE_AEAD_AES_SIV_CMAC_256) {
        set_error(error, STATE_STORE_ERROR_VALUE, r->path,
                  "AEAD algorithm %" G_GINT64_FORMAT " is not supported (only %d, "
                  "AEAD_AES_SIV_CMAC_256)",
                  aead, NTS_KE_AEAD_AES_SIV_CMAC_256);
        return FALSE;
    }
    const char *ntp_server = get_string(r, "ntp_server", error);
    if (ntp_server == NULL || !get_port(r, "ntp_port", &out->ntp_port, error) ||
        !get_time(r, "key_exchange_time_unix", &out->key_exchange_time_unix, error) ||
        !get_cookies(r, out, error)) {
        return FALSE;
    }
    if (g_ascii_strcasecmp(file_host, host) != 0 || file_port != port) {
        g_autofree char *quoted = g_strescape(file_host, NULL);
        set_error(error, STATE_STORE_ERROR_HOST_CHANGED, r->path,
                  "holds keys for \"%s\" port %u, but the source is now %s port %u; not used",
                  quoted, file_port, host, port);
        return FALSE;
    }
    out->host = g_strdup(host);
    out->port = port;
    out->ntp_server = g_strdup(ntp_server);
    return TRUE;
}

gboolean state_store_load_source(struct state_store *store, const char *source_name,
                                 const char *host, guint16 port, struct state_source *out,
                                 GError **error)
{
    g_return_val_if_fail(store != NULL && host != NULL && out != NULL, FALSE);
    memset(out, 0, sizeof *out);
    g_autofree char *name = state_store_source_file_name(source_name, error);
    if (name == NULL) {
        return FALSE;
    }
    g_autofree char *path = g_build_filename(store->directory, name, NULL);
    struct reader r = {.path = path};
    g_autoptr(JsonParser) parser = read_json_file(store, name, path, &r.object, error);
    if (parser == NULL || !read_source(store->machine_id, &r, host, port, out, error)) {
        state_source_clear(out);
        return FALSE;
    }
    return TRUE;
}

gboolean state_store_parse_source(const char *path, const char *data, size_t len,
                                  const char *machine_id, const char *host, guint16 port,
                                  struct state_source *out, GError **error)
{
    g_return_val_if_fail(path != NULL && (data != NULL || len == 0), FALSE);
    g_return_val_if_fail(machine_id != NULL && host != NULL && out != NULL, FALSE);
    memset(out, 0, sizeof *out);
    struct reader r = {.path = path};
    g_autoptr(JsonParser) parser = parse_json(path, data, len, &r.object, error);
    if (parser == NULL || !read_source(machine_id, &r, host, port, out, error)) {
        state_source_clear(out);
        return FALSE;
    }
    return TRUE;
}

/* Writes SRC without its first SKIP cookies. */
static gboolean write_source(struct state_store *store, const char *name,
                             const struct state_source *src, size_t skip, GError **error)
{
    g_autoptr(JsonBuilder) builder = json_builder_new();
    begin_file(store, builder);
    add_string(builder, "host", src->host);
    add_int(builder, "port", src->port);
    json_builder_set_member_name(builder, "c2s_key");
    add_base64_value(builder, src->c2s_key, sizeof src->c2s_key);
    json_builder_set_member_name(builder, "s2c_key");
    add_base64_value(builder, src->s2c_key, sizeof src->s2c_key);
    add_int(builder, "aead", NTS_KE_AEAD_AES_SIV_CMAC_256);
    add_string(builder, "ntp_server", src->ntp_server);
    add_int(builder, "ntp_port", src->ntp_port);
    add_int(builder, "key_exchange_time_unix", src->key_exchange_time_unix);
    json_builder_set_member_name(builder, "cookies");
    json_builder_begin_array(builder);
    for (size_t i = skip; i < src->n_cookies; i++) {
        add_base64_value(builder, src->cookies[i].data, src->cookies[i].len);
    }
    json_builder_end_array(builder);
    return write_json(store, name, builder, error);
}

gboolean state_store_save_source(struct state_store *store, const char *source_name,
                                 const struct state_source *src, GError **error)
{
    g_return_val_if_fail(store != NULL && src != NULL, FALSE);
    g_autofree char *name = state_store_source_file_name(source_name, error);
    if (name == NULL || !check_source(source_name, src, error)) {
        return FALSE;
    }
    return write_source(store, name, src, 0, error);
}

gboolean state_store_take_cookie(struct state_store *store, const char *source_name,
                                 struct state_source *src, struct nts_cookie *out, GError **error)
{
    g_return_val_if_fail(store != NULL && src != NULL && out != NULL, FALSE);
    g_autofree char *name = state_store_source_file_name(source_name, error);
    if (name == NULL || !check_source(source_name, src, error)) {
        return FALSE;
    }
    if (src->n_cookies == 0) {
        set_error(error, STATE_STORE_ERROR_NOT_FOUND, NULL,
                  "source \"%s\" has no unused cookie left", source_name);
        return FALSE;
    }
    g_autoptr(GError) write_error = NULL;
    if (!write_source(store, name, src, 1, &write_error)) {
        /* The file still holds the cookie: remove it rather than risk sending it twice. */
        if (unlinkat(store->dir_fd, name, 0) == 0 && fsync(store->dir_fd) == 0) {
            g_set_error(error, STATE_STORE_ERROR, write_error->code,
                        "%s; removed the file so its cookies cannot be used again",
                        write_error->message);
        } else {
            g_propagate_error(error, g_steal_pointer(&write_error));
        }
        return FALSE;
    }
    *out = src->cookies[0];
    src->n_cookies--;
    memmove(&src->cookies[0], &src->cookies[1], src->n_cookies * sizeof src->cookies[0]);
    wipe(&src->cookies[src->n_cookies], sizeof src->cookies[0]);
    return TRUE;
}

gboolean state_store_forget_source(struct state_store *store, const char *source_name,
                                   GError **error)
{
    g_return_val_if_fail(store != NULL, FALSE);
    g_autofree char *name = state_store_source_file_name(source_name, error);
    if (name == NULL) {
        return FALSE;
    }
    g_autofree char *path = g_build_filename(store->directory, name, NULL);
    if (unlinkat(store->dir_fd, name, 0) != 0) {
        if (errno == ENOENT) {
            return TRUE;
        }
        set_errno_error(error, path, "remove");
        return FALSE;
    }
    if (fsync(store->dir_fd) != 0) {
        set_errno_error(error, path, "sync the state directory after removing it");
        return FALSE;
    }
    return TRUE;
}

static gboolean read_agent(const char *machine_id, const char *boot_id_now, const struct reader *r,
                           struct state_agent *out, GError **error)
{
    if (!check_header(machine_id, r, error)) {
        return FALSE;
    }
    JsonNode *node = get_member(r, "boot_id", error);
    if (node == NULL) {
        return FALSE;
    }
    if (!holds(node, G_TYPE_STRING)) {
        set_error(error, STATE_STORE_ERROR_TYPE, r->path, "\"boot_id\" is not a string");
        return FALSE;
    }
    const char *boot_id = json_node_get_string(node);
    if (!is_boot_id(boot_id)) {
        set_error(error, STATE_STORE_ERROR_VALUE, r->path, "\"boot_id\" is not a UUID");
        return FALSE;
    }
    gboolean closed = FALSE;
    if (!get_double(r, "frequency_ppm", STATE_STORE_MAX_FREQUENCY_PPM, &out->frequency_ppm,
                    error) ||
        !get_time(r, "time_floor_unix", &out->time_floor_unix, error) ||
        !get_time(r, "last_sync_unix", &out->last_sync_unix, error) ||
        !get_bool(r, "boot_window_closed", &closed, error)) {
        return FALSE;
    }
    /* Optional: files from before it existed count as "not synced". */
    gboolean synced = FALSE;
    if (json_object_has_member(r->object, "synced_this_boot") &&
        !get_bool(r, "synced_this_boot", &synced, error)) {
        return FALSE;
    }
    out->boot_id = g_ascii_strdown(boot_id, -1);
    gboolean this_boot = strcmp(out->boot_id, boot_id_now) == 0;
    out->boot_window_closed = closed && this_boot;
    out->synced_this_boot = synced && this_boot;
    return TRUE;
}

gboolean state_store_load_agent(struct state_store *store, struct state_agent *out, GError **error)
{
    g_return_val_if_fail(store != NULL && out != NULL, FALSE);
    memset(out, 0, sizeof *out);
    g_autofree char *path = g_build_filename(store->directory, AGENT_FILE, NULL);
    struct reader r = {.path = path};
    g_autoptr(JsonParser) parser = read_json_file(store, AGENT_FILE, path, &r.object, error);
    if (parser == NULL || !read_agent(store->machine_id, store->boot_id, &r, out, error)) {
        state_agent_clear(out);
        return FALSE;
    }
    return TRUE;
}

gboolean state_store_parse_agent(const char *path, const char *data, size_t len,
                                 const char *machine_id, const char *boot_id,
                                 struct state_agent *out, GError **error)
{
    g_return_val_if_fail(path != NULL && (data != NULL || len == 0), FALSE);
    g_return_val_if_fail(machine_id != NULL && boot_id != NULL && out != NULL, FALSE);
    memset(out, 0, sizeof *out);
    struct reader r = {.path = path};
    g_autoptr(JsonParser) parser = parse_json(path, data, len, &r.object, error);
    if (parser == NULL || !read_agent(machine_id, boot_id, &r, out, error)) {
        state_agent_clear(out);
        return FALSE;
    }
    return TRUE;
}

gboolean state_store_save_agent(struct state_store *store, const struct state_agent *agent,
                                GError **error)
{
    g_return_val_if_fail(store != NULL && agent != NULL, FALSE);
    if (!check_agent(agent, error)) {
        return FALSE;
    }
    double frequency = fabs(agent->frequency_ppm) < MIN_WRITTEN_FREQ ? 0.0 : agent->frequency_ppm;
    g_autoptr(JsonBuilder) builder = json_builder_new();
    begin_file(store, builder);
    add_string(builder, "boot_id", store->boot_id);
    json_builder_set_member_name(builder, "frequency_ppm");
    json_builder_add_double_value(builder, frequency);
    add_int(builder, "time_floor_unix", agent->time_floor_unix);
    add_int(builder, "last_sync_unix", agent->last_sync_unix);
    json_builder_set_member_name(builder, "boot_window_closed");
    json_builder_add_boolean_value(builder, agent->boot_window_closed);
    json_builder_set_member_name(builder, "synced_this_boot");
    json_builder_add_boolean_value(builder, agent->synced_this_boot);
    return write_json(store, AGENT_FILE, builder, error);
}

void state_source_clear(struct state_source *source)
{
    if (source == NULL) {
        return;
    }
    g_free(source->host);
    g_free(source->ntp_server);
    wipe(source, sizeof *source);
}

void state_agent_clear(struct state_agent *agent)
{
    if (agent == NULL) {
        return;
    }
    g_free(agent->boot_id);
    wipe(agent, sizeof *agent);
}
