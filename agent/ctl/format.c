#include "format.h"

#include <glib/gi18n.h>
#include <math.h>
#include <string.h>

#define NS_PER_US  G_GUINT64_CONSTANT(1000)
#define NS_PER_SEC G_GUINT64_CONSTANT(1000000000)
#define US_PER_SEC G_GINT64_CONSTANT(1000000)

/* |ns| without overflow for G_MININT64. */
static guint64 magnitude(gint64 ns)
{
    return ns < 0 ? (guint64)(-(ns + 1)) + 1 : (guint64)ns;
}

/* One number below a minute: one decimal under 100, none from 100, the unit moving up
 * when rounding reaches 1000 (999.96 µs is "1.0 ms", not "1000 µs"). */
static gboolean append_small(GString *out, guint64 abs_ns)
{
    static const struct {
        double scale;
        const char *unit;
    } units[] = {{1e3, "µs"}, {1e6, "ms"}, {1e9, "s"}};
    if (abs_ns < NS_PER_US) {
        g_string_append_printf(out, "%" G_GUINT64_FORMAT " ns", abs_ns);
        return TRUE;
    }
    for (guint i = 0; i < G_N_ELEMENTS(units); i++) {
        double value = (double)abs_ns / units[i].scale;
        double one_decimal = round(value * 10) / 10;
        gboolean seconds = i == G_N_ELEMENTS(units) - 1;
        if (one_decimal < (seconds ? 60 : 100)) {
            g_string_append_printf(out, "%.1f %s", one_decimal, units[i].unit);
            return TRUE;
        }
        if (!seconds && round(value) < 1000) {
            g_string_append_printf(out, "%.0f %s", round(value), units[i].unit);
            return TRUE;
        }
    }
    return FALSE;
}

/* A minute or more: two units, rounded to the smaller one. */
static void append_large(GString *out, guint64 abs_ns)
{
    guint64 s = abs_ns / NS_PER_SEC + (abs_ns % NS_PER_SEC >= NS_PER_SEC / 2);
    if (s < 3600) {
        g_string_append_printf(out, "%" G_GUINT64_FORMAT " min %" G_GUINT64_FORMAT " s", s / 60,
                               s % 60);
        return;
    }
    guint64 minutes = (s + 30) / 60;
    if (minutes < (guint64)24 * 60) {
        g_string_append_printf(out, "%" G_GUINT64_FORMAT " h %" G_GUINT64_FORMAT " min",
                               minutes / 60, minutes % 60);
        return;
    }
    guint64 hours = (s + 1800) / 3600;
    g_string_append_printf(out, "%" G_GUINT64_FORMAT " d %" G_GUINT64_FORMAT " h", hours / 24,
                           hours % 24);
}

char *ctl_format_duration(gint64 ns, gboolean with_sign)
{
    GString *out = g_string_new(NULL);
    if (with_sign && ns != 0)
        g_string_append_c(out, ns < 0 ? '-' : '+');
    guint64 abs_ns = magnitude(ns);
    if (!append_small(out, abs_ns))
        append_large(out, abs_ns);
    return g_string_free(out, FALSE);
}

char *ctl_format_interval(guint64 usec)
{
    if (usec < (guint64)US_PER_SEC || usec % US_PER_SEC != 0)
        return ctl_format_duration((gint64)MIN(usec, (guint64)(G_MAXINT64 / 1000)) * 1000, FALSE);
    if (usec < 60 * (guint64)US_PER_SEC)
        return g_strdup_printf("%" G_GUINT64_FORMAT " s", usec / US_PER_SEC);
    GString *out = g_string_new(NULL);
    append_large(out, MIN(usec, G_MAXUINT64 / 1000) * 1000);
    return g_string_free(out, FALSE);
}

/* Whole units, truncated (3 min 59 s is "3 min"), as systemctl shows ages. */
static char *coarse(guint64 usec)
{
    guint64 s = usec / US_PER_SEC;
    if (s < 60)
        return g_strdup_printf("%" G_GUINT64_FORMAT " s", s);
    if (s < 3600)
        return g_strdup_printf("%" G_GUINT64_FORMAT " min", s / 60);
    if (s % 3600 / 60 == 0)
        return g_strdup_printf("%" G_GUINT64_FORMAT " h", s / 3600);
    return g_strdup_printf("%" G_GUINT64_FORMAT " h %" G_GUINT64_FORMAT " min", s / 3600,
                           s % 3600 / 60);
}

#define US_PER_DAY (G_GUINT64_CONSTANT(86400) * US_PER_SEC)

char *ctl_format_age(gint64 now_usec, gint64 then_usec)
{
    gboolean future = then_usec > now_usec;
    guint64 usec =
        future ? (guint64)then_usec - (guint64)now_usec : (guint64)now_usec - (guint64)then_usec;
    if (!future && usec < (guint64)US_PER_SEC)
        return g_strdup(_("just now"));
    if (usec >= US_PER_DAY) {
        guint64 days = usec / US_PER_DAY;
        gulong n = (gulong)MIN(days, G_MAXULONG);
        /* Whole phrases, so a language can decline the noun (German "vor 3 Tagen"). */
        return future ? g_strdup_printf(ngettext("in %lu day", "in %lu days", n), n)
                      : g_strdup_printf(ngettext("%lu day ago", "%lu days ago", n), n);
    }
    g_autofree char *span = coarse(usec);
    /* TRANSLATORS: %s is a time span with unit symbols, e.g. "3 min" or "2 h 5 min". */
    return future ? g_strdup_printf(_("in %s"), span) : g_strdup_printf(_("%s ago"), span);
}

char *ctl_format_ppm(double ppm)
{
    if (!isfinite(ppm))
        return g_strdup(_("n/a"));
    return g_strdup_printf("%+.3f ppm", ppm);
}

char *ctl_format_reach(guint8 reach)
{
    return g_strdup_printf("%o", (unsigned)reach);
}

gsize ctl_display_width(const char *text)
{
    gsize width = 0;
    const char *p = text;
    while (*p != '\0') {
        gunichar c = g_utf8_get_char_validated(p, -1);
        if (c == (gunichar)-1 || c == (gunichar)-2) {
            width++;
            p++;
            continue;
        }
        if (g_unichar_iszerowidth(c))
            width += 0;
        else if (g_unichar_iswide(c))
            width += 2;
        else
            width += 1;
        p = g_utf8_next_char(p);
    }
    return width;
}

char *ctl_truncate(const char *text, gsize max_width)
{
    if (ctl_display_width(text) <= max_width)
        return g_strdup(text);
    if (max_width == 0)
        return g_strdup("");
    GString *out = g_string_new(NULL);
    gsize width = 0;
    const char *p = text;
    /* Room for the ellipsis (one cell). */
    while (*p != '\0') {
        gunichar c = g_utf8_get_char_validated(p, -1);
        gboolean valid = c != (gunichar)-1 && c != (gunichar)-2;
        const char *next = valid ? g_utf8_next_char(p) : p + 1;
        gsize w = !valid ? 1 : g_unichar_iszerowidth(c) ? 0 : g_unichar_iswide(c) ? 2 : 1;
        if (width + w > max_width - 1)
            break;
        if (valid)
            g_string_append_len(out, p, next - p);
        else
            g_string_append_c(out, '?');
        width += w;
        p = next;
    }
    g_string_append(out, "…");
    return g_string_free(out, FALSE);
}

static void append_spaces(GString *out, gsize n)
{
    for (gsize i = 0; i < n; i++)
        g_string_append_c(out, ' ');
}

char *ctl_format_field(const char *label, gsize width, const char *value)
{
    GString *out = g_string_new(NULL);
    gsize label_width = ctl_display_width(label);
    if (label_width < width)
        append_spaces(out, width - label_width);
    g_string_append_printf(out, "%s: %s", label, value);
    return g_string_free(out, FALSE);
}

gboolean ctl_colour_wanted(gboolean is_terminal, const char *no_color, const char *term)
{
    if (!is_terminal)
        return FALSE;
    if (no_color != NULL && no_color[0] != '\0')
        return FALSE;
    return term == NULL || strcmp(term, "dumb") != 0;
}

char *ctl_colourize(const char *text, const char *colour, gboolean enabled)
{
    if (!enabled || colour == NULL)
        return g_strdup(text);
    return g_strconcat(colour, text, CTL_COLOUR_RESET, NULL);
}

const char *ctl_colour_for_state(const char *state)
{
    if (state == NULL)
        return NULL;
    if (strcmp(state, "synchronized") == 0)
        return CTL_COLOUR_GREEN;
    if (strcmp(state, "no-consensus") == 0 || strcmp(state, "step-refused") == 0)
        return CTL_COLOUR_YELLOW;
    return NULL;
}

const char *ctl_colour_for_source_status(const char *status)
{
    static const char *const failures[] = {"falseticker", "unreachable", "nts-ke-failed",
                                           "nts-auth-failed"};
    if (status == NULL)
        return NULL;
    if (strcmp(status, "selected") == 0)
        return CTL_COLOUR_GREEN;
    for (guint i = 0; i < G_N_ELEMENTS(failures); i++) {
        if (strcmp(status, failures[i]) == 0)
            return CTL_COLOUR_RED;
    }
    return NULL;
}

/* ---- tables ------------------------------------------------------------------------ */

struct ctl_table {
    guint n_columns;
    GPtrArray *rows;    /* char** of n_columns cells; rows[0] is the header */
    GPtrArray *colours; /* const char** of n_columns (static strings) or NULL, per row */
    gboolean *right_aligned;
};

static char **copy_cells(guint n, const char *const *cells)
{
    char **copy = g_new0(char *, n + 1);
    for (guint i = 0; i < n; i++)
        copy[i] = g_strdup(cells[i] != NULL ? cells[i] : "");
    return copy;
}

CtlTable *ctl_table_new(guint n_columns, const char *const *headers, const gboolean *right_aligned)
{
    CtlTable *table = g_new0(CtlTable, 1);
    table->n_columns = n_columns;
    table->rows = g_ptr_array_new_with_free_func((GDestroyNotify)g_strfreev);
    table->colours = g_ptr_array_new_with_free_func(g_free);
    table->right_aligned = g_new0(gboolean, n_columns);
    if (right_aligned != NULL)
        memcpy(table->right_aligned, right_aligned, n_columns * sizeof(gboolean));
    g_ptr_array_add(table->rows, copy_cells(n_columns, headers));
    g_ptr_array_add(table->colours, NULL);
    return table;
}

void ctl_table_add_row(CtlTable *table, const char *const *cells, const char *const *colours)
{
    g_ptr_array_add(table->rows, copy_cells(table->n_columns, cells));
    g_ptr_array_add(table->colours,
                    colours != NULL ? g_memdup2(colours, table->n_columns * sizeof(char *)) : NULL);
}

char *ctl_table_render(const CtlTable *table, gboolean colour)
{
    /* Freed by hand: scan-build does not see g_autofree (the cleanup attribute). */
    gsize *widths = g_new0(gsize, table->n_columns);
    for (guint r = 0; r < table->rows->len; r++) {
        char **cells = g_ptr_array_index(table->rows, r);
        for (guint c = 0; c < table->n_columns; c++)
            widths[c] = MAX(widths[c], ctl_display_width(cells[c]));
    }
    GString *out = g_string_new(NULL);
    for (guint r = 0; r < table->rows->len; r++) {
        char **cells = g_ptr_array_index(table->rows, r);
        const char **colours = g_ptr_array_index(table->colours, r);
        GString *line = g_string_new(NULL);
        for (guint c = 0; c < table->n_columns; c++) {
            gsize pad = widths[c] - ctl_display_width(cells[c]);
            if (c > 0)
                g_string_append(line, "  ");
            if (table->right_aligned[c])
                append_spaces(line, pad);
            g_autofree char *text =
                ctl_colourize(cells[c], colours != NULL ? colours[c] : NULL, colour);
            g_string_append(line, text);
            if (!table->right_aligned[c] && c + 1 < table->n_columns)
                append_spaces(line, pad);
        }
        /* An empty last column must not leave the padding before it. */
        while (line->len > 0 && line->str[line->len - 1] == ' ')
            g_string_truncate(line, line->len - 1);
        g_string_append_len(out, line->str, (gssize)line->len);
        g_string_append_c(out, '\n');
        g_string_free(line, TRUE);
    }
    g_free(widths);
    return g_string_free(out, FALSE);
}

void ctl_table_free(CtlTable *table)
{
    if (table == NULL)
        return;
    g_ptr_array_unref(table->rows);
    g_ptr_array_unref(table->colours);
    g_free(table->right_aligned);
    g_free(table);
}
