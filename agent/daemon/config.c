/* The agent's configuration loader. GKeyFile merges a repeated group or key silently and
 * reports no line numbers, so each file is first scanned line by line here (duplicates,
 * unknown names, syntax, each key's line); GKeyFile then only unescapes the values. */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "keyfile-lines.h"

#define NS_PER_SEC_F        1e9
#define MAX_FILE_SIZE       1048576 /* 1 MiB */
#define MAX_QUOTED_CHARS    80
#define SOURCE_GROUP_PREFIX "Source "
#define DROP_IN_SUFFIX      ".conf"
#define HOST_MAX_LEN        253
#define HOST_LABEL_MAX_LEN  63

G_DEFINE_QUARK(gnomon - config - error - quark, gnomon_config_error)

/* [Agent] keys; the defaults are text parsed by the same code as the files' values. */
enum agent_key {
    KEY_MIN_AGREEING_SOURCES,
    KEY_MIN_OPERATORS,
    KEY_STEP_THRESHOLD,
    KEY_STARTUP_MAX_STEP,
    KEY_MAX_STEP,
    KEY_UNTRUSTED_MIN_AGREEING_SOURCES,
    KEY_POLL_MIN,
    KEY_POLL_MAX,
    KEY_START_JITTER,
    KEY_TRUSTED_CERTIFICATES,
    KEY_STATE_DIRECTORY,
    N_AGENT_KEYS
};

static const struct {
    const char *name;
    const char *default_text;
} agent_keys[N_AGENT_KEYS] = {
    [KEY_MIN_AGREEING_SOURCES] = {"MinAgreeingSources", "3"},
    [KEY_MIN_OPERATORS] = {"MinOperators", "2"},
    [KEY_STEP_THRESHOLD] = {"StepThresholdSeconds", "0.4"},
    [KEY_STARTUP_MAX_STEP] = {"StartupMaxStepSeconds", "inf"},
    [KEY_MAX_STEP] = {"MaxStepSeconds", "1000"},
    [KEY_UNTRUSTED_MIN_AGREEING_SOURCES] = {"UntrustedClockMinAgreeingSources", "4"},
    [KEY_POLL_MIN] = {"PollMinSeconds", "32"},
    [KEY_POLL_MAX] = {"PollMaxSeconds", "2048"},
    [KEY_START_JITTER] = {"StartJitterSeconds", "1"},
    [KEY_TRUSTED_CERTIFICATES] = {"TrustedCertificates", ""},
    [KEY_STATE_DIRECTORY] = {"StateDirectory", NULL}, /* the loader's parameter */
};

static const char *const source_keys[] = {"Host", "Port", "Operator", "TrustedCertificates"};

/* Where a setting or a source was defined, for messages. */
struct origin {
    char *file;
    guint line;
    char *name; /* a source's name; NULL for [Agent] keys */
};

/* One file as the scanner saw it. */
struct scanned_key {
    char *name;
    guint line;
};

struct scanned_group {
    char *name;
    guint line;
    GPtrArray *keys; /* of struct scanned_key *, in file order */
};

struct loader {
    struct gnomon_config *config;
    const char *main_path;
    /* Heap arrays of N_AGENT_KEYS, not arrays in here: with two arrays in one struct, clang's
     * analyzer (scan-build) loses pointers stored at a computed index and reports leaks. */
    struct origin **agent_origin; /* NULL while the default holds */
    char **agent_text;            /* the value as written, for messages */
    GHashTable *source_names;     /* name -> struct origin * */
    GHashTable *host_ports;       /* "host port" (host lower-case) -> origin */
    GPtrArray *operators;         /* case-folded, distinct */
};

static void origin_free(struct origin *origin)
{
    if (origin == NULL) {
        return;
    }
    g_free(origin->file);
    g_free(origin->name);
    g_free(origin);
}

static struct origin *origin_new(const char *file, guint line, const char *name)
{
    struct origin *origin = g_new0(struct origin, 1);
    origin->file = g_strdup(file);
    origin->line = line;
    origin->name = g_strdup(name);
    return origin;
}

static void scanned_key_free(struct scanned_key *key)
{
    g_free(key->name);
    g_free(key);
}

static void scanned_group_free(struct scanned_group *group)
{
    g_free(group->name);
    g_ptr_array_unref(group->keys);
    g_free(group);
}

static void source_config_free(struct gnomon_source_config *source)
{
    g_free(source->name);
    g_free(source->host);
    g_free(source->operator_name);
    g_free(source->trusted_certificates);
    g_free(source);
}

void gnomon_config_free(struct gnomon_config *config)
{
    if (config == NULL) {
        return;
    }
    g_free(config->trusted_certificates);
    g_free(config->state_directory);
    g_ptr_array_unref(config->sources);
    g_ptr_array_unref(config->warnings);
    g_free(config);
}

/* Text from a file, fit for a one-line message: quoted, control characters (a value may
 * hold an unescaped "\n") replaced, long text cut. */
static char *quote(const char *text)
{
    GString *out = g_string_new("\"");
    glong n = 0;
    for (const char *p = text; *p != '\0' && n < MAX_QUOTED_CHARS; p = g_utf8_next_char(p), n++) {
        gunichar c = g_utf8_get_char(p);
        if (g_unichar_iscntrl(c)) {
            g_string_append_c(out, '?');
        } else {
            g_string_append_unichar(out, c);
        }
    }
    g_string_append(out, n < MAX_QUOTED_CHARS || *text == '\0' ? "\"" : "...\"");
    return g_string_free(out, FALSE);
}

/* "FILE:LINE: message", "FILE: message" (line 0) or "message" (file NULL). */
G_GNUC_PRINTF(5, 6)
static void set_error(GError **error, enum gnomon_config_error code, const char *file, guint line,
                      const char *format, ...)
{
    va_list args;
    va_start(args, format);
    g_autofree char *message = g_strdup_vprintf(format, args);
    va_end(args);
    if (file == NULL) {
        g_set_error_literal(error, GNOMON_CONFIG_ERROR, code, message);
    } else if (line == 0) {
        g_set_error(error, GNOMON_CONFIG_ERROR, code, "%s: %s", file, message);
    } else {
        g_set_error(error, GNOMON_CONFIG_ERROR, code, "%s:%u: %s", file, line, message);
    }
}

static void check_permissions(GPtrArray *warnings, const char *path, const struct stat *st,
                              gboolean is_directory)
{
    /* Whole sentences for the directory (drop-ins add sources) and for a file. */
    if (st->st_mode & S_IWOTH) {
        g_ptr_array_add(
            warnings,
            is_directory
                ? g_strdup_printf(_("%s is writable by others: anyone could add time sources"),
                                  path)
                : g_strdup_printf(_("%s is writable by others: anyone could redirect time sources"),
                                  path));
    } else if (st->st_mode & S_IWGRP) {
        unsigned long gid = (unsigned long)st->st_gid;
        g_ptr_array_add(
            warnings,
            is_directory
                ? g_strdup_printf(_("%s is writable by its group (gid %lu): its members could "
                                    "add time sources"),
                                  path, gid)
                : g_strdup_printf(_("%s is writable by its group (gid %lu): its members could "
                                    "redirect time sources"),
                                  path, gid));
    }
    uid_t self = geteuid();
    if (st->st_uid != 0 && st->st_uid != self) {
        unsigned long owner = (unsigned long)st->st_uid;
        g_ptr_array_add(
            warnings, is_directory
                          ? g_strdup_printf(_("%s is owned by uid %lu, neither root nor this user "
                                              "(uid %lu): that user could add time sources"),
                                            path, owner, (unsigned long)self)
                          : g_strdup_printf(_("%s is owned by uid %lu, neither root nor this user "
                                              "(uid %lu): that user could redirect time sources"),
                                            path, owner, (unsigned long)self));
    }
}

static gboolean read_config_file(const char *path, GPtrArray *warnings, GByteArray **contents,
                                 GError **error)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int saved = errno;
        set_error(error, GNOMON_CONFIG_ERROR_READ, NULL, 0, _("cannot read %s: %s"), path,
                  g_strerror(saved));
        return FALSE;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int saved = errno;
        close(fd);
        set_error(error, GNOMON_CONFIG_ERROR_READ, NULL, 0, _("cannot read %s: %s"), path,
                  g_strerror(saved));
        return FALSE;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        set_error(error, GNOMON_CONFIG_ERROR_READ, NULL, 0, _("cannot read %s: not a regular file"),
                  path);
        return FALSE;
    }
    g_autoptr(GByteArray) bytes = g_byte_array_new();
    guint8 buffer[4096];
    for (;;) {
        ssize_t n = read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            int saved = errno;
            close(fd);
            set_error(error, GNOMON_CONFIG_ERROR_READ, NULL, 0, _("cannot read %s: %s"), path,
                      g_strerror(saved));
            return FALSE;
        }
        if (n == 0) {
            break;
        }
        if (bytes->len + (gsize)n > MAX_FILE_SIZE) {
            close(fd);
            set_error(error, GNOMON_CONFIG_ERROR_READ, NULL, 0,
                      _("cannot read %s: larger than %d bytes"), path, MAX_FILE_SIZE);
            return FALSE;
        }
        g_byte_array_append(bytes, buffer, (guint)n);
    }
    close(fd);
    check_permissions(warnings, path, &st, FALSE);
    *contents = g_steal_pointer(&bytes);
    return TRUE;
}

static gint compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The drop-ins of PATH.d, sorted; an empty array when the directory does not exist. */
static GPtrArray *list_drop_ins(const char *directory, GPtrArray *warnings, GError **error)
{
    g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func(g_free);
    DIR *dir = opendir(directory);
    if (dir == NULL) {
        int saved = errno;
        if (saved == ENOENT) {
            return g_steal_pointer(&files);
        }
        set_error(error, GNOMON_CONFIG_ERROR_READ, NULL, 0, _("cannot read %s: %s"), directory,
                  g_strerror(saved));
        return NULL;
    }
    struct stat st;
    if (fstat(dirfd(dir), &st) == 0) {
        check_permissions(warnings, directory, &st, TRUE);
    }
    for (;;) {
        errno = 0;
        struct dirent *entry = readdir(dir);
        if (entry == NULL) {
            int saved = errno;
            if (saved != 0) {
                closedir(dir);
                set_error(error, GNOMON_CONFIG_ERROR_READ, NULL, 0, _("cannot read %s: %s"),
                          directory, g_strerror(saved));
                return NULL;
            }
            break;
        }
        /* Names starting with "." are editors' lock and backup files, and "." and "..". */
        if (entry->d_name[0] != '.' && g_str_has_suffix(entry->d_name, DROP_IN_SUFFIX)) {
            g_ptr_array_add(files, g_strdup(entry->d_name));
        }
    }
    closedir(dir);
    g_ptr_array_sort(files, compare_names);
    for (guint i = 0; i < files->len; i++) {
        char *name = files->pdata[i];
        files->pdata[i] = g_build_filename(directory, name, NULL);
        g_free(name);
    }
    return g_steal_pointer(&files);
}

static gboolean agent_key_index(const char *name, enum agent_key *index)
{
    for (int i = 0; i < N_AGENT_KEYS; i++) {
        if (strcmp(agent_keys[i].name, name) == 0) {
            *index = (enum agent_key)i;
            return TRUE;
        }
    }
    return FALSE;
}

static gboolean is_source_key(const char *name)
{
    for (gsize i = 0; i < G_N_ELEMENTS(source_keys); i++) {
        if (strcmp(source_keys[i], name) == 0) {
            return TRUE;
        }
    }
    return FALSE;
}

static gboolean is_source_group(const char *group)
{
    return g_str_has_prefix(group, SOURCE_GROUP_PREFIX);
}

/* Checks a group's name when its header is read, so a typo stops at its own line. */
static gboolean check_group_name(const char *file, guint line, const char *name, GError **error)
{
    if (strcmp(name, "Agent") == 0) {
        return TRUE;
    }
    if (strcmp(name, "Source") == 0) {
        set_error(error, GNOMON_CONFIG_ERROR_UNKNOWN, file, line,
                  /* TRANSLATORS: keep [Source] and [Source NAME] as they are. */
                  _("group [Source] needs a name: [Source NAME]"));
        return FALSE;
    }
    if (!is_source_group(name)) {
        set_error(error, GNOMON_CONFIG_ERROR_UNKNOWN, file, line,
                  _("unknown group [%s] (known: [Agent] and [Source NAME])"), name);
        return FALSE;
    }
    const char *source = name + strlen(SOURCE_GROUP_PREFIX);
    gsize len = strlen(source);
    if (len == 0 || g_ascii_isspace(source[0]) || g_ascii_isspace(source[len - 1])) {
        g_autofree char *quoted = quote(source);
        set_error(error, GNOMON_CONFIG_ERROR_VALUE, file, line,
                  _("source name %s is empty or starts or ends with a space"), quoted);
        return FALSE;
    }
    return TRUE;
}

static gboolean check_key_name(const char *file, guint line, const char *group, const char *key,
                               GError **error)
{
    enum agent_key index;
    if (strcmp(group, "Agent") == 0 ? agent_key_index(key, &index) : is_source_key(key)) {
        return TRUE;
    }
    g_autofree char *quoted = quote(key);
    set_error(error, GNOMON_CONFIG_ERROR_UNKNOWN, file, line, _("unknown key %s in [%s]"), quoted,
              group);
    return FALSE;
}

static void set_line_error(GError **error, const char *file, guint line,
                           enum keyfile_line_error bad, const char *text)
{
    g_autofree char *quoted = quote(text);
    switch (bad) {
    case KEYFILE_LINE_NUL:
        set_error(error, GNOMON_CONFIG_ERROR_SYNTAX, file, line, _("contains a NUL byte"));
        return;
    case KEYFILE_LINE_TOO_LONG:
        set_error(error, GNOMON_CONFIG_ERROR_SYNTAX, file, line, _("longer than %d bytes"),
                  KEYFILE_LINE_MAX);
        return;
    case KEYFILE_LINE_BAD_GROUP:
        set_error(error, GNOMON_CONFIG_ERROR_SYNTAX, file, line,
                  _("%s is not a group header: expected [NAME] alone on the line"), quoted);
        return;
    case KEYFILE_LINE_OK:
    case KEYFILE_LINE_NOT_KEY_VALUE:
        break;
    }
    set_error(error, GNOMON_CONFIG_ERROR_SYNTAX, file, line,
              _("%s is not a [group], a key=value line or a comment"), quoted);
}

/* The line by line pass (core/keyfile-lines.c, which also rewrites ";" comments to "#"
 * in text for GKeyFile): groups and keys known, none twice, each with its line. */
static GPtrArray *scan(const char *file, char *text, gsize len, GError **error)
{
    g_autoptr(GPtrArray) groups =
        g_ptr_array_new_with_free_func((GDestroyNotify)scanned_group_free);
    g_autoptr(GHashTable) group_lines = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(GHashTable) key_lines = NULL; /* of the current group */
    struct scanned_group *group = NULL;

    struct keyfile_lines reader;
    keyfile_lines_init(&reader, text, len);
    g_autofree struct keyfile_line *l = g_new(struct keyfile_line, 1);
    enum keyfile_line_error bad;
    for (;;) {
        gboolean more = keyfile_lines_next(&reader, l, &bad);
        guint line = l->number;
        if (!more && bad == KEYFILE_LINE_OK) {
            break;
        }
        if (bad != KEYFILE_LINE_NUL && !g_utf8_validate(l->raw, (gssize)l->raw_len, NULL)) {
            set_error(error, GNOMON_CONFIG_ERROR_SYNTAX, file, line, _("not valid UTF-8"));
            return NULL;
        }
        if (!more) {
            set_line_error(error, file, line, bad, l->trimmed);
            return NULL;
        }
        if (l->kind == KEYFILE_LINE_BLANK) {
            continue;
        }
        if (l->kind == KEYFILE_LINE_GROUP) {
            const char *name = l->name;
            gboolean valid = *name != '\0';
            for (const char *c = name; *c != '\0'; c++) {
                valid = valid && *c != '[' && !g_ascii_iscntrl(*c);
            }
            if (!valid) {
                g_autofree char *quoted = quote(name);
                set_error(error, GNOMON_CONFIG_ERROR_SYNTAX, file, line, _("invalid group name %s"),
                          quoted);
                return NULL;
            }
            gpointer first = g_hash_table_lookup(group_lines, name);
            if (first != NULL) {
                set_error(error, GNOMON_CONFIG_ERROR_DUPLICATE, file, line,
                          _("duplicate group [%s] (first at line %u)"), name,
                          GPOINTER_TO_UINT(first));
                return NULL;
            }
            if (!check_group_name(file, line, name, error)) {
                return NULL;
            }
            group = g_new0(struct scanned_group, 1);
            group->name = g_strdup(name);
            group->line = line;
            group->keys = g_ptr_array_new_with_free_func((GDestroyNotify)scanned_key_free);
            g_ptr_array_add(groups, group);
            g_hash_table_insert(group_lines, group->name, GUINT_TO_POINTER(line));
            g_clear_pointer(&key_lines, g_hash_table_unref);
            key_lines = g_hash_table_new(g_str_hash, g_str_equal);
            continue;
        }
        char *p = l->name;
        if (group == NULL) {
            g_autofree char *quoted = quote(p);
            set_error(error, GNOMON_CONFIG_ERROR_SYNTAX, file, line,
                      _("key %s comes before the first [group]"), quoted);
            return NULL;
        }
        gpointer first = g_hash_table_lookup(key_lines, p);
        if (first != NULL) {
            g_autofree char *quoted = quote(p);
            set_error(error, GNOMON_CONFIG_ERROR_DUPLICATE, file, line,
                      _("duplicate key %s in [%s] (first at line %u)"), quoted, group->name,
                      GPOINTER_TO_UINT(first));
            return NULL;
        }
        if (!check_key_name(file, line, group->name, p, error)) {
            return NULL;
        }
        struct scanned_key *key = g_new0(struct scanned_key, 1);
        key->name = g_strdup(p);
        key->line = line;
        g_ptr_array_add(group->keys, key);
        g_hash_table_insert(key_lines, key->name, GUINT_TO_POINTER(line));
    }
    return g_steal_pointer(&groups);
}

/* A whole number in [min, max]; a message for the problem otherwise. */
static char *parse_whole_number(const char *text, guint64 min, guint64 max, guint64 *out)
{
    gint64 value;
    g_autoptr(GError) error = NULL;
    if (!g_ascii_string_to_signed(text, 10, G_MININT64, G_MAXINT64, &value, &error)) {
        g_autofree char *quoted = quote(text);
        if (g_error_matches(error, G_NUMBER_PARSER_ERROR, G_NUMBER_PARSER_ERROR_OUT_OF_BOUNDS)) {
            if (text[0] == '-') {
                return g_strdup_printf(_("%s is too small: the least is %llu"), quoted,
                                       (unsigned long long)min);
            }
            return g_strdup_printf(_("%s is too large: the most is %llu"), quoted,
                                   (unsigned long long)max);
        }
        return g_strdup_printf(_("%s is not a whole number"), quoted);
    }
    if (value < 0 || (guint64)value < min) {
        return g_strdup_printf(_("%s is too small: the least is %llu"), text,
                               (unsigned long long)min);
    }
    if ((guint64)value > max) {
        return g_strdup_printf(_("%s is too large: the most is %llu"), text,
                               (unsigned long long)max);
    }
    *out = (guint64)value;
    return NULL;
}

/* Decimal seconds to nanoseconds (G_MAXINT64 for "inf" where allowed); a message for the
 * problem otherwise. */
static char *parse_seconds(const char *text, gboolean allow_inf, gboolean allow_zero, gint64 *ns)
{
    g_autofree char *quoted = quote(text);
    char *end = NULL;
    double seconds = g_ascii_strtod(text, &end);
    /* strtod also reads hexadecimal, which no one means here. */
    if (*text == '\0' || end == text || *end != '\0' || strpbrk(text, "xX") != NULL) {
        return g_strdup_printf(_("%s is not a number of seconds"), quoted);
    }
    if (isnan(seconds)) {
        return g_strdup_printf(_("%s is not a number"), quoted);
    }
    if (seconds < 0) {
        return g_strdup_printf(_("%s is negative"), quoted);
    }
    if (isinf(seconds)) {
        if (!allow_inf) {
            /* TRANSLATORS: the second and third %s are key names. */
            return g_strdup_printf(_("%s is not allowed here: only %s and %s may be \"inf\""),
                                   quoted, agent_keys[KEY_STARTUP_MAX_STEP].name,
                                   agent_keys[KEY_MAX_STEP].name);
        }
        *ns = G_MAXINT64;
        return NULL;
    }
    double ns_float = seconds * NS_PER_SEC_F;
    /* 2^63; the doubles below it are multiples of 1024, so no finite value becomes
     * G_MAXINT64, which means "inf". */
    if (ns_float >= 9223372036854775808.0) {
        return allow_inf
                   ? g_strdup_printf(_("%s is too large: the most is 9223372036 seconds (or inf)"),
                                     quoted)
                   : g_strdup_printf(_("%s is too large: the most is 9223372036 seconds"), quoted);
    }
    gint64 value = (gint64)(ns_float + 0.5);
    if (value == 0 && !allow_zero) {
        return g_strdup_printf(_("%s must be more than 0"), quoted);
    }
    *ns = value;
    return NULL;
}

/* A DNS name (letters, digits, "-" in dot-separated labels) or an IP address literal. */
static gboolean host_is_valid(const char *host)
{
    if (g_hostname_is_ip_address(host)) {
        return TRUE;
    }
    gsize len = strlen(host);
    if (len == 0 || len > HOST_MAX_LEN) {
        return FALSE;
    }
    gsize label = 0;
    for (gsize i = 0; i <= len; i++) {
        char c = host[i];
        if (c == '.' || c == '\0') {
            if (label == 0 || host[i - 1] == '-') {
                return FALSE;
            }
            label = 0;
        } else if (g_ascii_isalnum(c) || (c == '-' && label > 0)) {
            if (++label > HOST_LABEL_MAX_LEN) {
                return FALSE;
            }
        } else {
            return FALSE;
        }
    }
    return TRUE;
}

/* A path value: empty means NULL (the default), otherwise it must be absolute. */
static char *parse_path(const char *text, char **out)
{
    if (*text == '\0') {
        *out = NULL;
        return NULL;
    }
    if (!g_path_is_absolute(text)) {
        g_autofree char *quoted = quote(text);
        return g_strdup_printf(_("%s is not an absolute path"), quoted);
    }
    *out = g_strdup(text);
    return NULL;
}

/* Parses one [Agent] value into config; a message for the problem otherwise. */
static char *set_agent_value(struct gnomon_config *config, enum agent_key key, const char *text,
                             const char *default_state_directory)
{
    guint64 count = 0;
    char *problem = NULL;
    char *path = NULL;
    switch (key) {
    case KEY_MIN_AGREEING_SOURCES:
    case KEY_MIN_OPERATORS:
    case KEY_UNTRUSTED_MIN_AGREEING_SOURCES:
        problem = parse_whole_number(text, 1, G_MAXUINT, &count);
        if (problem == NULL) {
            if (key == KEY_MIN_AGREEING_SOURCES) {
                config->min_agreeing_sources = (guint)count;
            } else if (key == KEY_MIN_OPERATORS) {
                config->min_operators = (guint)count;
            } else {
                config->untrusted_clock_min_agreeing_sources = (guint)count;
            }
        }
        return problem;
    case KEY_STEP_THRESHOLD:
        return parse_seconds(text, FALSE, TRUE, &config->step_threshold_ns);
    case KEY_STARTUP_MAX_STEP:
        return parse_seconds(text, TRUE, TRUE, &config->startup_max_step_ns);
    case KEY_MAX_STEP:
        return parse_seconds(text, TRUE, TRUE, &config->max_step_ns);
    case KEY_POLL_MIN:
        return parse_seconds(text, FALSE, FALSE, &config->poll_min_ns);
    case KEY_POLL_MAX:
        return parse_seconds(text, FALSE, FALSE, &config->poll_max_ns);
    case KEY_START_JITTER:
        return parse_seconds(text, FALSE, TRUE, &config->start_jitter_ns);
    case KEY_TRUSTED_CERTIFICATES:
        problem = parse_path(text, &path);
        if (problem == NULL) {
            g_free(config->trusted_certificates);
            config->trusted_certificates = path;
        }
        return problem;
    case KEY_STATE_DIRECTORY:
        problem = parse_path(text, &path);
        if (problem == NULL) {
            g_free(config->state_directory);
            config->state_directory = path != NULL ? path : g_strdup(default_state_directory);
        }
        return problem;
    case N_AGENT_KEYS:
        break;
    }
    g_assert_not_reached();
    return NULL;
}

/* A value, unescaped by GKeyFile, without the blanks around it. */
static char *get_value(GKeyFile *key_file, const char *file, const struct scanned_group *group,
                       const struct scanned_key *key, GError **error)
{
    g_autoptr(GError) local = NULL;
    char *value = g_key_file_get_string(key_file, group->name, key->name, &local);
    if (value == NULL) {
        set_error(error, GNOMON_CONFIG_ERROR_VALUE, file, key->line, "[%s] %s: %s", group->name,
                  key->name, local->message);
        return NULL;
    }
    return g_strstrip(value);
}

static gboolean load_agent_group(struct loader *loader, GKeyFile *key_file, const char *file,
                                 const struct scanned_group *group,
                                 const char *default_state_directory, GError **error)
{
    for (guint i = 0; i < group->keys->len; i++) {
        const struct scanned_key *key = group->keys->pdata[i];
        enum agent_key index;
        if (!agent_key_index(key->name, &index)) {
            g_assert_not_reached(); /* the scanner let only known keys through */
        }
        g_autofree char *value = get_value(key_file, file, group, key, error);
        if (value == NULL) {
            return FALSE;
        }
        g_autofree char *problem =
            set_agent_value(loader->config, index, value, default_state_directory);
        if (problem != NULL) {
            set_error(error, GNOMON_CONFIG_ERROR_VALUE, file, key->line, "[Agent] %s: %s",
                      key->name, problem);
            return FALSE;
        }
        origin_free(loader->agent_origin[index]);
        loader->agent_origin[index] = origin_new(file, key->line, NULL);
        g_free(loader->agent_text[index]);
        loader->agent_text[index] = g_steal_pointer(&value);
    }
    return TRUE;
}

static void add_operator(struct loader *loader, const char *operator_name)
{
    g_autofree char *folded = g_utf8_casefold(operator_name, -1);
    for (guint i = 0; i < loader->operators->len; i++) {
        if (strcmp(loader->operators->pdata[i], folded) == 0) {
            return;
        }
    }
    g_ptr_array_add(loader->operators, g_steal_pointer(&folded));
}

static gboolean load_source_group(struct loader *loader, GKeyFile *key_file, const char *file,
                                  const struct scanned_group *group, GError **error)
{
    const char *name = group->name + strlen(SOURCE_GROUP_PREFIX);
    g_autofree char *quoted_name = quote(name);
    const struct origin *earlier = g_hash_table_lookup(loader->source_names, name);
    if (earlier != NULL) {
        if (g_strcmp0(earlier->file, file) == 0) {
            set_error(error, GNOMON_CONFIG_ERROR_DUPLICATE, file, group->line,
                      _("source %s is already defined (line %u)"), quoted_name, earlier->line);
        } else {
            set_error(error, GNOMON_CONFIG_ERROR_DUPLICATE, file, group->line,
                      _("source %s is already defined (%s:%u)"), quoted_name, earlier->file,
                      earlier->line);
        }
        return FALSE;
    }

    struct gnomon_source_config *source = g_new0(struct gnomon_source_config, 1);
    g_autoptr(GPtrArray) holder =
        g_ptr_array_new_with_free_func((GDestroyNotify)source_config_free);
    g_ptr_array_add(holder, source);
    source->name = g_strdup(name);
    source->port = GNOMON_CONFIG_DEFAULT_NTS_KE_PORT;

    for (guint i = 0; i < group->keys->len; i++) {
        const struct scanned_key *key = group->keys->pdata[i];
        g_autofree char *value = get_value(key_file, file, group, key, error);
        if (value == NULL) {
            return FALSE;
        }
        g_autofree char *quoted = quote(value);
        g_autofree char *problem = NULL;
        if (strcmp(key->name, "Host") == 0) {
            if (*value == '\0') {
                problem = g_strdup(_("empty"));
            } else if (!host_is_valid(value)) {
                problem = g_strdup_printf(_("%s is not a host name (letters, digits, \"-\" and "
                                            "\".\") or an IP address"),
                                          quoted);
            } else {
                source->host = g_steal_pointer(&value);
            }
        } else if (strcmp(key->name, "Port") == 0) {
            guint64 port = 0;
            problem = parse_whole_number(value, 1, G_MAXUINT16, &port);
            source->port = (guint16)port;
        } else if (strcmp(key->name, "Operator") == 0) {
            if (*value == '\0') {
                problem = g_strdup(_("empty"));
            } else {
                source->operator_name = g_steal_pointer(&value);
            }
        } else {
            problem = parse_path(value, &source->trusted_certificates);
        }
        if (problem != NULL) {
            set_error(error, GNOMON_CONFIG_ERROR_VALUE, file, key->line, "[%s] %s: %s", group->name,
                      key->name, problem);
            return FALSE;
        }
    }

    if (source->host == NULL) {
        /* TRANSLATORS: Host is a key name. */
        set_error(error, GNOMON_CONFIG_ERROR_MISSING, file, group->line, _("[%s] has no Host"),
                  group->name);
        return FALSE;
    }
    if (source->operator_name == NULL) {
        set_error(error, GNOMON_CONFIG_ERROR_MISSING, file, group->line,
                  /* TRANSLATORS: Operator and MinOperators are key names. */
                  _("[%s] has no Operator: every source must name the organisation running it, "
                    "so that no single operator can set the clock alone (MinOperators)"),
                  group->name);
        return FALSE;
    }
    g_autofree char *lower = g_ascii_strdown(source->host, -1);
    g_autofree char *host_port = g_strdup_printf("%s %u", lower, source->port);
    earlier = g_hash_table_lookup(loader->host_ports, host_port);
    if (earlier != NULL) {
        g_autofree char *quoted_earlier = quote(earlier->name);
        if (g_strcmp0(earlier->file, file) == 0) {
            set_error(error, GNOMON_CONFIG_ERROR_DUPLICATE, file, group->line,
                      _("source %s has the same host and port as source %s (line %u)"), quoted_name,
                      quoted_earlier, earlier->line);
        } else {
            set_error(error, GNOMON_CONFIG_ERROR_DUPLICATE, file, group->line,
                      _("source %s has the same host and port as source %s (%s:%u)"), quoted_name,
                      quoted_earlier, earlier->file, earlier->line);
        }
        return FALSE;
    }

    g_hash_table_insert(loader->source_names, g_strdup(name), origin_new(file, group->line, name));
    g_hash_table_insert(loader->host_ports, g_steal_pointer(&host_port),
                        origin_new(file, group->line, name));
    add_operator(loader, source->operator_name);
    g_ptr_array_add(loader->config->sources, g_ptr_array_steal_index(holder, 0));
    return TRUE;
}

/* One file's text; the scan rewrites TEXT in place. */
static gboolean load_text(struct loader *loader, const char *file, char *text, gsize len,
                          const char *default_state_directory, GError **error)
{
    g_autoptr(GPtrArray) groups = scan(file, text, len, error);
    if (groups == NULL) {
        return FALSE;
    }
    g_autoptr(GKeyFile) key_file = g_key_file_new();
    g_autoptr(GError) local = NULL;
    if (!g_key_file_load_from_data(key_file, text, len, G_KEY_FILE_NONE, &local)) {
        set_error(error, GNOMON_CONFIG_ERROR_SYNTAX, file, 0, "%s", local->message);
        return FALSE;
    }
    for (guint i = 0; i < groups->len; i++) {
        const struct scanned_group *group = groups->pdata[i];
        gboolean ok =
            is_source_group(group->name)
                ? load_source_group(loader, key_file, file, group, error)
                : load_agent_group(loader, key_file, file, group, default_state_directory, error);
        if (!ok) {
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean load_file(struct loader *loader, const char *file,
                          const char *default_state_directory, GError **error)
{
    g_autoptr(GByteArray) contents = NULL;
    if (!read_config_file(file, loader->config->warnings, &contents, error)) {
        return FALSE;
    }
    return load_text(loader, file, (char *)contents->data, contents->len, default_state_directory,
                     error);
}

/* Where an [Agent] setting came from, or the main file when the default holds. */
static void agent_where(const struct loader *loader, enum agent_key key, const char **file,
                        guint *line)
{
    const struct origin *origin = loader->agent_origin[key];
    *file = origin != NULL ? origin->file : loader->main_path;
    *line = origin != NULL ? origin->line : 0;
}

/* "MinAgreeingSources=3" or "MinAgreeingSources=3 (the default)". */
static char *setting(const struct loader *loader, enum agent_key key)
{
    if (loader->agent_origin[key] == NULL) {
        /* TRANSLATORS: a setting at its default, as in "MinAgreeingSources=3 (the default)". */
        return g_strdup_printf(_("%s=%s (the default)"), agent_keys[key].name,
                               agent_keys[key].default_text);
    }
    /* Bare: the value was parsed, so it is a plain number. */
    return g_strdup_printf("%s=%s", agent_keys[key].name, loader->agent_text[key]);
}

static gboolean check_consistency(const struct loader *loader, GError **error)
{
    const struct gnomon_config *config = loader->config;
    const char *file;
    guint line;
    guint n_sources = config->sources->len;

    if (n_sources == 0) {
        set_error(error, GNOMON_CONFIG_ERROR_MISSING, loader->main_path, 0,
                  /* TRANSLATORS: keep [Source NAME], Host and Operator as they are. */
                  _("no sources configured: add [Source NAME] groups with Host and Operator"));
        return FALSE;
    }
    if (config->min_agreeing_sources > n_sources) {
        g_autofree char *what = setting(loader, KEY_MIN_AGREEING_SOURCES);
        agent_where(loader, KEY_MIN_AGREEING_SOURCES, &file, &line);
        set_error(error, GNOMON_CONFIG_ERROR_CONSISTENCY, file, line,
                  ngettext("[Agent] %s but only %u source is configured",
                           "[Agent] %s but only %u sources are configured", n_sources),
                  what, n_sources);
        return FALSE;
    }
    if (config->min_operators > config->min_agreeing_sources) {
        g_autofree char *what = setting(loader, KEY_MIN_OPERATORS);
        g_autofree char *than = setting(loader, KEY_MIN_AGREEING_SOURCES);
        agent_where(loader,
                    loader->agent_origin[KEY_MIN_OPERATORS] != NULL ? KEY_MIN_OPERATORS
                                                                    : KEY_MIN_AGREEING_SOURCES,
                    &file, &line);
        set_error(error, GNOMON_CONFIG_ERROR_CONSISTENCY, file, line,
                  _("[Agent] %s is more than %s: agreeing sources cannot come from more "
                    "operators than there are sources"),
                  what, than);
        return FALSE;
    }
    if (config->min_operators > loader->operators->len) {
        g_autofree char *what = setting(loader, KEY_MIN_OPERATORS);
        agent_where(loader, KEY_MIN_OPERATORS, &file, &line);
        set_error(error, GNOMON_CONFIG_ERROR_CONSISTENCY, file, line,
                  ngettext("[Agent] %s but the sources name only %u distinct operator",
                           "[Agent] %s but the sources name only %u distinct operators",
                           loader->operators->len),
                  what, loader->operators->len);
        return FALSE;
    }
    if (config->untrusted_clock_min_agreeing_sources < config->min_agreeing_sources) {
        g_autofree char *what = setting(loader, KEY_UNTRUSTED_MIN_AGREEING_SOURCES);
        g_autofree char *than = setting(loader, KEY_MIN_AGREEING_SOURCES);
        agent_where(loader,
                    loader->agent_origin[KEY_UNTRUSTED_MIN_AGREEING_SOURCES] != NULL
                        ? KEY_UNTRUSTED_MIN_AGREEING_SOURCES
                        : KEY_MIN_AGREEING_SOURCES,
                    &file, &line);
        set_error(error, GNOMON_CONFIG_ERROR_CONSISTENCY, file, line,
                  _("[Agent] %s is less than %s: sources checked without certificate validity "
                    "must need at least as many agreeing"),
                  what, than);
        return FALSE;
    }
    if (config->poll_min_ns > config->poll_max_ns) {
        g_autofree char *what = setting(loader, KEY_POLL_MIN);
        g_autofree char *than = setting(loader, KEY_POLL_MAX);
        agent_where(loader,
                    loader->agent_origin[KEY_POLL_MIN] != NULL ? KEY_POLL_MIN : KEY_POLL_MAX, &file,
                    &line);
        set_error(error, GNOMON_CONFIG_ERROR_CONSISTENCY, file, line,
                  _("[Agent] %s is more than %s"), what, than);
        return FALSE;
    }
    return TRUE;
}

static void add_warnings(const struct loader *loader)
{
    const struct gnomon_config *config = loader->config;
    guint n_sources = config->sources->len;
    if (config->untrusted_clock_min_agreeing_sources > n_sources) {
        g_autofree char *what = setting(loader, KEY_UNTRUSTED_MIN_AGREEING_SOURCES);
        g_ptr_array_add(config->warnings,
                        g_strdup_printf(ngettext("%s: [Agent] %s but only %u source is configured: "
                                                 "a clock too wrong for certificate checks "
                                                 "cannot be corrected without an administrator",
                                                 "%s: [Agent] %s but only %u sources are "
                                                 "configured: a clock too wrong for certificate "
                                                 "checks cannot be corrected without an "
                                                 "administrator",
                                                 n_sources),
                                        loader->main_path, what, n_sources));
    }
}

static void loader_clear(struct loader *loader)
{
    gnomon_config_free(loader->config);
    for (int i = 0; i < N_AGENT_KEYS; i++) {
        origin_free(loader->agent_origin[i]);
        g_free(loader->agent_text[i]);
    }
    g_free(loader->agent_origin);
    g_free(loader->agent_text);
    g_clear_pointer(&loader->source_names, g_hash_table_unref);
    g_clear_pointer(&loader->host_ports, g_hash_table_unref);
    g_clear_pointer(&loader->operators, g_ptr_array_unref);
}

/* The defaults, before any file. */
static void loader_init(struct loader *loader, const char *main_path,
                        const char *default_state_directory)
{
    memset(loader, 0, sizeof *loader);
    loader->agent_origin = g_new0(struct origin *, N_AGENT_KEYS);
    loader->agent_text = g_new0(char *, N_AGENT_KEYS);
    loader->main_path = main_path;
    loader->config = g_new0(struct gnomon_config, 1);
    loader->config->sources = g_ptr_array_new_with_free_func((GDestroyNotify)source_config_free);
    loader->config->warnings = g_ptr_array_new_with_free_func(g_free);
    loader->source_names =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)origin_free);
    loader->host_ports =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)origin_free);
    loader->operators = g_ptr_array_new_with_free_func(g_free);
    for (int i = 0; i < N_AGENT_KEYS; i++) {
        const char *text = i == KEY_STATE_DIRECTORY ? "" : agent_keys[i].default_text;
        g_autofree char *problem =
            set_agent_value(loader->config, (enum agent_key)i, text, default_state_directory);
        g_assert(problem == NULL);
    }
}

/* The checks across files once all are loaded; the config, or NULL. Clears the loader. */
static struct gnomon_config *loader_finish(struct loader *loader, gboolean ok, GError **error)
{
    ok = ok && check_consistency(loader, error);
    if (ok) {
        add_warnings(loader);
    }
    struct gnomon_config *config = ok ? g_steal_pointer(&loader->config) : NULL;
    loader_clear(loader);
    return config;
}

struct gnomon_config *gnomon_config_load(const char *path, const char *default_state_directory,
                                         GError **error)
{
    g_return_val_if_fail(path != NULL, NULL);
    g_return_val_if_fail(default_state_directory != NULL, NULL);
    g_return_val_if_fail(error == NULL || *error == NULL, NULL);

    struct loader loader;
    loader_init(&loader, path, default_state_directory);
    g_autofree char *directory = g_strconcat(path, ".d", NULL);
    gboolean ok = load_file(&loader, path, default_state_directory, error);
    g_autoptr(GPtrArray) drop_ins = NULL;
    if (ok) {
        drop_ins = list_drop_ins(directory, loader.config->warnings, error);
        ok = drop_ins != NULL;
    }
    for (guint i = 0; ok && i < drop_ins->len; i++) {
        ok = load_file(&loader, drop_ins->pdata[i], default_state_directory, error);
    }
    return loader_finish(&loader, ok, error);
}

struct gnomon_config *gnomon_config_parse(const struct gnomon_config_text *texts, gsize n_texts,
                                          const char *default_state_directory, GError **error)
{
    g_return_val_if_fail(texts != NULL && n_texts > 0, NULL);
    g_return_val_if_fail(default_state_directory != NULL, NULL);
    g_return_val_if_fail(error == NULL || *error == NULL, NULL);
    for (gsize i = 0; i < n_texts; i++) {
        g_return_val_if_fail(texts[i].name != NULL && (texts[i].data != NULL || texts[i].len == 0),
                             NULL);
    }

    struct loader loader;
    loader_init(&loader, texts[0].name, default_state_directory);
    gboolean ok = TRUE;
    for (gsize i = 0; ok && i < n_texts; i++) {
        const struct gnomon_config_text *text = &texts[i];
        if (text->len > MAX_FILE_SIZE) {
            set_error(error, GNOMON_CONFIG_ERROR_READ, NULL, 0,
                      _("cannot read %s: larger than %d bytes"), text->name, MAX_FILE_SIZE);
            ok = FALSE;
            break;
        }
        /* A private copy, as the scan rewrites ";" comment lines. */
        g_autofree char *copy = g_malloc(text->len + 1);
        if (text->len > 0) {
            memcpy(copy, text->data, text->len);
        }
        copy[text->len] = '\0';
        ok = load_text(&loader, text->name, copy, text->len, default_state_directory, error);
    }
    return loader_finish(&loader, ok, error);
}
