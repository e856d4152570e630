/* clock-helper.conf. Like the agent's loader (agent/daemon/config.c) it scans each line
 * itself, because GKeyFile merges a repeated group or key silently and reports no line
 * numbers; GKeyFile then only unescapes the values. Numbers of seconds are parsed as exact
 * decimals (no binary floating point), so "0.5" is exactly 500000000 ns. */
#include "limits-config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "keyfile-lines.h"

#define MAX_FILE_SIZE    65536 /* 64 KiB */
#define MAX_QUOTED_CHARS 60
#define GROUP            "Limits"            /* the messages spell it out: "[Limits]" */
#define MAX_WHOLE_SECS   INT64_C(9223372035) /* so that seconds * 1e9 + fraction fits */

G_DEFINE_QUARK(gnomon - limits - config - error - quark, limits_config_error)

enum limit_key {
    KEY_MAX_SLEW,
    KEY_MAX_SLEW_PER_HOUR,
    KEY_MAX_FREQUENCY,
    KEY_MAX_STEP,
    KEY_BOOT_MAX_STEP,
    KEY_MAX_STEPS_PER_HOUR,
    KEY_MAX_MEASUREMENT_AGE,
    KEY_APPROVAL_LIFETIME,
    KEY_FLOOR_LAG,
    KEY_MAX_YEARS_AFTER_BUILD,
    N_KEYS
};

/* Ranges: seconds and ppm in [min, max] (max 0 = no bound but the type's); counts in
 * [min, max]. The slew and frequency bounds are the kernel's (helper-policy.h). */
static const struct {
    const char *name;
    gint64 min;
    gint64 max;
} keys[N_KEYS] = {
    [KEY_MAX_SLEW] = {"MaxSlewSeconds", 0, HELPER_POLICY_KERNEL_MAX_SLEW_NS},
    [KEY_MAX_SLEW_PER_HOUR] = {"MaxSlewPerHourSeconds", 0, 0},
    [KEY_MAX_FREQUENCY] = {"MaxFrequencyPPM", 0, 500},
    [KEY_MAX_STEP] = {"MaxStepSeconds", 0, 0},
    [KEY_BOOT_MAX_STEP] = {"BootMaxStepSeconds", 0, 0},
    [KEY_MAX_STEPS_PER_HOUR] = {"MaxStepsPerHour", 0, HELPER_POLICY_MAX_STEPS},
    [KEY_MAX_MEASUREMENT_AGE] = {"MaxMeasurementAgeSeconds", 1, 0},
    [KEY_APPROVAL_LIFETIME] = {"ApprovalLifetimeSeconds", 1, 0},
    [KEY_FLOOR_LAG] = {"FloorLagSeconds", 0, 0},
    [KEY_MAX_YEARS_AFTER_BUILD] = {"MaxYearsAfterBuild", 1, 200},
};

/* Text from the file, fit for a one-line message. */
static char *quote(const char *text)
{
    GString *out = g_string_new("\"");
    glong n = 0;
    const char *p = text;
    for (; *p != '\0' && n < MAX_QUOTED_CHARS; p = g_utf8_next_char(p), n++) {
        gunichar c = g_utf8_get_char(p);
        if (g_unichar_iscntrl(c)) {
            g_string_append_c(out, '?');
        } else {
            g_string_append_unichar(out, c);
        }
    }
    g_string_append(out, *p == '\0' ? "\"" : "...\"");
    return g_string_free(out, FALSE);
}

G_GNUC_PRINTF(5, 6)
static void set_error(GError **error, enum limits_config_error code, const char *file, guint line,
                      const char *format, ...)
{
    va_list args;
    va_start(args, format);
    g_autofree char *message = g_strdup_vprintf(format, args);
    va_end(args);
    if (line == 0) {
        g_set_error(error, LIMITS_CONFIG_ERROR, code, "%s: %s", file, message);
    } else {
        g_set_error(error, LIMITS_CONFIG_ERROR, code, "%s:%u: %s", file, line, message);
    }
}

char *limits_config_format_seconds(gint64 ns)
{
    if (ns == HELPER_POLICY_NO_LIMIT) {
        return g_strdup("inf");
    }
    const char *sign = ns < 0 ? "-" : "";
    guint64 magnitude = ns < 0 ? (guint64)0 - (guint64)ns : (guint64)ns;
    guint64 whole = magnitude / (guint64)NS_PER_SEC;
    guint64 fraction = magnitude % (guint64)NS_PER_SEC;
    if (fraction == 0) {
        return g_strdup_printf("%s%" G_GUINT64_FORMAT, sign, whole);
    }
    char digits[16];
    g_snprintf(digits, sizeof digits, "%09" G_GUINT64_FORMAT, fraction);
    for (int i = 8; i > 0 && digits[i] == '0'; i--) {
        digits[i] = '\0';
    }
    return g_strdup_printf("%s%" G_GUINT64_FORMAT ".%s", sign, whole, digits);
}

/* "12", "0.5", "1000.000000001": at most 9 decimals; a message otherwise, and *too_large
 * (if not NULL) says whether the problem is that the value is too large. */
static char *parse_decimal(const char *text, gboolean allow_inf, gint64 min, gint64 max, gint64 *ns,
                           gboolean *too_large)
{
    gboolean ignored;
    if (too_large == NULL) {
        too_large = &ignored;
    }
    *too_large = FALSE;
    g_autofree char *quoted = quote(text);
    if (allow_inf && g_ascii_strcasecmp(text, "inf") == 0) {
        *ns = HELPER_POLICY_NO_LIMIT;
        return NULL;
    }
    const char *p = text;
    gint64 whole = 0;
    int digits = 0;
    for (; g_ascii_isdigit(*p); p++, digits++) {
        if (whole > MAX_WHOLE_SECS / 10) {
            *too_large = TRUE;
            return g_strdup_printf(_("%s is too large"), quoted);
        }
        whole = whole * 10 + (*p - '0');
    }
    gint64 fraction = 0;
    int decimals = 0;
    if (*p == '.') {
        for (p++; g_ascii_isdigit(*p); p++, decimals++) {
            if (decimals == 9) {
                return g_strdup_printf(_("%s has more than 9 decimals (nanoseconds)"), quoted);
            }
            fraction = fraction * 10 + (*p - '0');
        }
        if (decimals == 0) {
            digits = 0; /* "1." */
        }
    }
    if (digits == 0 || *p != '\0') {
        return allow_inf
                   ? g_strdup_printf(_("%s is not a number of seconds (like 0.5 or 1000, or inf)"),
                                     quoted)
                   : g_strdup_printf(_("%s is not a number of seconds (like 0.5 or 1000)"), quoted);
    }
    if (whole > MAX_WHOLE_SECS) {
        *too_large = TRUE;
        return g_strdup_printf(_("%s is too large"), quoted);
    }
    for (; decimals < 9; decimals++) {
        fraction *= 10;
    }
    gint64 value = whole * NS_PER_SEC + fraction;
    if (value < min) {
        g_autofree char *least = limits_config_format_seconds(min);
        return g_strdup_printf(_("%s is too small: the least is %s"), quoted, least);
    }
    if (max > 0 && value > max) {
        g_autofree char *most = limits_config_format_seconds(max);
        *too_large = TRUE;
        return g_strdup_printf(_("%s is too large: the most is %s"), quoted, most);
    }
    *ns = value;
    return NULL;
}

static char *parse_seconds(const char *text, gboolean allow_inf, gint64 min, gint64 max, gint64 *ns)
{
    return parse_decimal(text, allow_inf, min, max, ns, NULL);
}

static char *parse_count(const char *text, gint64 min, gint64 max, guint *out)
{
    g_autofree char *quoted = quote(text);
    gint64 value = 0;
    const char *p = text;
    for (; g_ascii_isdigit(*p) && value <= max; p++) {
        value = value * 10 + (*p - '0');
    }
    if (p == text || (*p != '\0' && !g_ascii_isdigit(*p))) {
        return g_strdup_printf(_("%s is not a whole number"), quoted);
    }
    /* min and max are not negative (keys[]). */
    if (*p != '\0' || value > max) {
        return g_strdup_printf(_("%s is too large: the most is %llu"), quoted,
                               (unsigned long long)max);
    }
    if (value < min) {
        return g_strdup_printf(_("%s is too small: the least is %llu"), quoted,
                               (unsigned long long)min);
    }
    *out = (guint)value;
    return NULL;
}

static char *parse_ppm(const char *text, gint64 max, double *ppm)
{
    /* The same exact decimal syntax as seconds; ppm with up to 9 decimals. */
    gint64 nano_ppm = 0;
    gboolean too_large = FALSE;
    g_autofree char *problem =
        parse_decimal(text, FALSE, 0, max * NS_PER_SEC, &nano_ppm, &too_large);
    if (problem != NULL) {
        g_autofree char *quoted = quote(text);
        if (too_large) {
            return g_strdup_printf(_("%s is too large: the most is %llu (the kernel's limit)"),
                                   quoted, (unsigned long long)max);
        }
        return g_strdup_printf(_("%s is not a number of ppm (like 500 or 12.5)"), quoted);
    }
    *ppm = (double)nano_ppm / 1e9;
    return NULL;
}

static char *set_value(struct helper_limits *limits, enum limit_key key, const char *text)
{
    gint64 min = keys[key].min;
    gint64 max = keys[key].max;
    switch (key) {
    case KEY_MAX_SLEW:
        return parse_seconds(text, FALSE, min, max, &limits->max_slew_ns);
    case KEY_MAX_SLEW_PER_HOUR:
        return parse_seconds(text, FALSE, min, max, &limits->max_slew_per_hour_ns);
    case KEY_MAX_FREQUENCY:
        return parse_ppm(text, max, &limits->max_frequency_ppm);
    case KEY_MAX_STEP:
        return parse_seconds(text, TRUE, min, max, &limits->max_step_ns);
    case KEY_BOOT_MAX_STEP:
        return parse_seconds(text, TRUE, min, max, &limits->boot_max_step_ns);
    case KEY_MAX_STEPS_PER_HOUR:
        return parse_count(text, min, max, &limits->max_steps_per_hour);
    case KEY_MAX_MEASUREMENT_AGE:
        return parse_seconds(text, FALSE, min * NS_PER_SEC, max, &limits->max_measurement_age_ns);
    case KEY_APPROVAL_LIFETIME:
        return parse_seconds(text, FALSE, min * NS_PER_SEC, max, &limits->approval_lifetime_ns);
    case KEY_FLOOR_LAG:
        return parse_seconds(text, FALSE, min, max, &limits->floor_lag_ns);
    case KEY_MAX_YEARS_AFTER_BUILD:
        return parse_count(text, min, max, &limits->max_years_after_build);
    case N_KEYS:
        break;
    }
    g_assert_not_reached();
    return NULL;
}

static gboolean find_key(const char *name, enum limit_key *key)
{
    for (int i = 0; i < N_KEYS; i++) {
        if (strcmp(keys[i].name, name) == 0) {
            *key = (enum limit_key)i;
            return TRUE;
        }
    }
    return FALSE;
}

static gboolean read_file(const char *path, gboolean missing_ok, GByteArray **contents,
                          gboolean *missing, GError **error)
{
    *missing = FALSE;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int saved = errno;
        if (saved == ENOENT && missing_ok) {
            *missing = TRUE;
            return TRUE;
        }
        set_error(error, LIMITS_CONFIG_ERROR_READ, path, 0, _("cannot read: %s"),
                  g_strerror(saved));
        return FALSE;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        set_error(error, LIMITS_CONFIG_ERROR_READ, path, 0, _("cannot read: not a regular file"));
        return FALSE;
    }
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        close(fd);
        unsigned mode = (unsigned)(st.st_mode & 07777);
        if (st.st_mode & S_IWOTH) {
            set_error(error, LIMITS_CONFIG_ERROR_PERMISSIONS, path, 0,
                      _("writable by others (mode %04o): anyone who can write it could loosen "
                        "the clock limits; make it writable only by root (chmod go-w)"),
                      mode);
        } else {
            set_error(error, LIMITS_CONFIG_ERROR_PERMISSIONS, path, 0,
                      _("writable by its group (mode %04o): anyone who can write it could "
                        "loosen the clock limits; make it writable only by root (chmod go-w)"),
                      mode);
        }
        return FALSE;
    }
    if (st.st_uid != 0 && st.st_uid != geteuid()) {
        close(fd);
        set_error(error, LIMITS_CONFIG_ERROR_PERMISSIONS, path, 0,
                  _("owned by uid %lu, neither root nor this user: that user could loosen the "
                    "clock limits"),
                  (unsigned long)st.st_uid);
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
            set_error(error, LIMITS_CONFIG_ERROR_READ, path, 0, _("cannot read: %s"),
                      g_strerror(saved));
            return FALSE;
        }
        if (n == 0) {
            break;
        }
        if (bytes->len + (gsize)n > MAX_FILE_SIZE) {
            close(fd);
            set_error(error, LIMITS_CONFIG_ERROR_READ, path, 0, _("larger than %d bytes"),
                      MAX_FILE_SIZE);
            return FALSE;
        }
        g_byte_array_append(bytes, buffer, (guint)n);
    }
    close(fd);
    *contents = g_steal_pointer(&bytes);
    return TRUE;
}

static void set_line_error(GError **error, const char *path, guint line,
                           enum keyfile_line_error bad, const char *text)
{
    g_autofree char *quoted = quote(text);
    switch (bad) {
    case KEYFILE_LINE_NUL:
        set_error(error, LIMITS_CONFIG_ERROR_SYNTAX, path, line, _("contains a NUL byte"));
        return;
    case KEYFILE_LINE_TOO_LONG:
        set_error(error, LIMITS_CONFIG_ERROR_SYNTAX, path, line, _("longer than %d bytes"),
                  KEYFILE_LINE_MAX);
        return;
    case KEYFILE_LINE_BAD_GROUP:
        set_error(error, LIMITS_CONFIG_ERROR_SYNTAX, path, line,
                  /* TRANSLATORS: keep [Limits] as it is. */
                  _("%s is not a group header: expected [Limits] alone on the line"), quoted);
        return;
    case KEYFILE_LINE_OK:
    case KEYFILE_LINE_NOT_KEY_VALUE:
        break;
    }
    set_error(error, LIMITS_CONFIG_ERROR_SYNTAX, path, line,
              _("%s is not a [group], a key=value line or a comment"), quoted);
}

/* One pass over the lines (core/keyfile-lines.c, which also rewrites ";" comments to "#"
 * for GKeyFile): the one group, known keys, none twice, with each key's line. */
static gboolean scan(const char *path, char *text, gsize len, guint lines[N_KEYS], GError **error)
{
    gboolean in_group = FALSE;
    guint group_line = 0;
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
            set_error(error, LIMITS_CONFIG_ERROR_SYNTAX, path, line, _("not valid UTF-8"));
            return FALSE;
        }
        if (!more) {
            set_line_error(error, path, line, bad, l->trimmed);
            return FALSE;
        }
        if (l->kind == KEYFILE_LINE_BLANK) {
            continue;
        }
        if (l->kind == KEYFILE_LINE_GROUP) {
            if (strcmp(l->name, GROUP) != 0) {
                g_autofree char *quoted = quote(l->name);
                set_error(error, LIMITS_CONFIG_ERROR_UNKNOWN, path, line,
                          _("unknown group %s (the only group is [Limits])"), quoted);
                return FALSE;
            }
            if (group_line != 0) {
                set_error(error, LIMITS_CONFIG_ERROR_DUPLICATE, path, line,
                          _("duplicate group [Limits] (first at line %u)"), group_line);
                return FALSE;
            }
            group_line = line;
            in_group = TRUE;
            continue;
        }
        g_autofree char *quoted = quote(l->name);
        if (!in_group) {
            set_error(error, LIMITS_CONFIG_ERROR_SYNTAX, path, line,
                      _("key %s comes before [Limits]"), quoted);
            return FALSE;
        }
        enum limit_key key;
        if (!find_key(l->name, &key)) {
            set_error(error, LIMITS_CONFIG_ERROR_UNKNOWN, path, line,
                      _("unknown key %s in [Limits]"), quoted);
            return FALSE;
        }
        if (lines[key] != 0) {
            set_error(error, LIMITS_CONFIG_ERROR_DUPLICATE, path, line,
                      _("duplicate key %s in [Limits] (first at line %u)"), quoted, lines[key]);
            return FALSE;
        }
        lines[key] = line;
    }
    return TRUE;
}

gboolean limits_config_parse(const char *path, const char *text, gsize len,
                             struct helper_limits *limits, GError **error)
{
    g_return_val_if_fail(path != NULL && (text != NULL || len == 0) && limits != NULL, FALSE);
    *limits = helper_limits_default();
    if (len > MAX_FILE_SIZE) {
        set_error(error, LIMITS_CONFIG_ERROR_READ, path, 0, _("larger than %d bytes"),
                  MAX_FILE_SIZE);
        return FALSE;
    }
    /* A private copy: the scan rewrites ";" comment lines. */
    g_autofree char *contents = g_malloc(len + 1);
    if (len > 0) {
        memcpy(contents, text, len);
    }
    contents[len] = '\0';
    guint lines[N_KEYS] = {0};
    if (!scan(path, contents, len, lines, error)) {
        return FALSE;
    }
    g_autoptr(GKeyFile) key_file = g_key_file_new();
    g_autoptr(GError) local = NULL;
    if (!g_key_file_load_from_data(key_file, contents, len, G_KEY_FILE_NONE, &local)) {
        set_error(error, LIMITS_CONFIG_ERROR_SYNTAX, path, 0, "%s", local->message);
        return FALSE;
    }
    struct helper_limits loaded = *limits;
    for (int i = 0; i < N_KEYS; i++) {
        if (lines[i] == 0) {
            continue;
        }
        g_autofree char *value = g_key_file_get_string(key_file, GROUP, keys[i].name, &local);
        if (value == NULL) {
            set_error(error, LIMITS_CONFIG_ERROR_VALUE, path, lines[i], "[" GROUP "] %s: %s",
                      keys[i].name, local->message);
            return FALSE;
        }
        g_strstrip(value);
        g_autofree char *problem = set_value(&loaded, (enum limit_key)i, value);
        if (problem != NULL) {
            set_error(error, LIMITS_CONFIG_ERROR_VALUE, path, lines[i], "[" GROUP "] %s: %s",
                      keys[i].name, problem);
            return FALSE;
        }
    }
    *limits = loaded;
    return TRUE;
}

gboolean limits_config_load(const char *path, gboolean missing_ok, struct helper_limits *limits,
                            GError **error)
{
    g_return_val_if_fail(path != NULL && limits != NULL, FALSE);
    *limits = helper_limits_default();
    g_autoptr(GByteArray) contents = NULL;
    gboolean missing = FALSE;
    if (!read_file(path, missing_ok, &contents, &missing, error)) {
        return FALSE;
    }
    if (missing) {
        return TRUE;
    }
    return limits_config_parse(path, (const char *)contents->data, contents->len, limits, error);
}
