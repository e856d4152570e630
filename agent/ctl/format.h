/* gnomonctl's output for people: durations with a unit chosen to fit, ages in words, widths
 * on a terminal, aligned tables and when to colour them. Pure functions: no bus, no I/O,
 * no clock (callers pass "now"), so tests/unit/test-ctl-format.c checks them directly. */
#ifndef GNOMON_CTL_FORMAT_H
#define GNOMON_CTL_FORMAT_H

#include <glib.h>

/* SGR sequences for the few colours gnomonctl uses. */
#define CTL_COLOUR_GREEN  "\033[32m"
#define CTL_COLOUR_YELLOW "\033[33m"
#define CTL_COLOUR_RED    "\033[31m"
#define CTL_COLOUR_RESET  "\033[0m"

/* "+123 µs", "-5.0 ms", "+1.5 s", "+16 min 40 s", "+2 h 0 min", "+3 d 2 h"; "0 ns" for 0.
 * Below a minute: three significant digits at most (one decimal under 100), the unit
 * chosen so the number lies in [1, 1000). with_sign FALSE: the magnitude only ("5.0 ms"). */
char *ctl_format_duration(gint64 ns, gboolean with_sign);

/* An interval of whole seconds as such: "32 s", "17 min 4 s", "2 h 0 min"; below a second
 * or with a fraction, as ctl_format_duration. */
char *ctl_format_interval(guint64 usec);

/* How long ago then_usec was at now_usec (both CLOCK_REALTIME µs): "just now", "45 s ago",
 * "3 min ago", "2 h 5 min ago", "3 days ago"; "in 5 s" for a time in the future. */
char *ctl_format_age(gint64 now_usec, gint64 then_usec);

/* "+12.345 ppm"; "n/a" when not finite. */
char *ctl_format_ppm(double ppm);

/* The reach register in octal, like chronyc: "377", "17", "0". */
char *ctl_format_reach(guint8 reach);

/* Terminal cells the UTF-8 text takes: wide (East Asian) characters count two,
 * combining marks none. Invalid UTF-8 counts one cell per byte. */
gsize ctl_display_width(const char *text);

/* text cut to at most max_width cells, ending in "…" when it was cut. */
char *ctl_truncate(const char *text, gsize max_width);

/* "   label: value", the label right-aligned in width cells (timedatectl's layout). */
char *ctl_format_field(const char *label, gsize width, const char *value);

/* Whether to colour: a terminal, NO_COLOR unset or empty (https://no-color.org), and a
 * TERM other than "dumb". */
gboolean ctl_colour_wanted(gboolean is_terminal, const char *no_color, const char *term);

/* text between colour and reset when enabled and colour is not NULL; else a copy. */
char *ctl_colourize(const char *text, const char *colour, gboolean enabled);

/* The colour of an Agent1 State / a source's Status; NULL for none. */
const char *ctl_colour_for_state(const char *state);
const char *ctl_colour_for_source_status(const char *status);

/* A table with a header line, columns two spaces apart, each as wide as its widest cell
 * (in terminal cells); no trailing blanks. */
typedef struct ctl_table CtlTable;

/* headers: n_columns titles; right_aligned: n_columns flags (NULL: all left). */
CtlTable *ctl_table_new(guint n_columns, const char *const *headers, const gboolean *right_aligned);
/* cells: n_columns texts (NULL counts as ""); colours: n_columns or NULL. Copied. */
void ctl_table_add_row(CtlTable *table, const char *const *cells, const char *const *colours);
char *ctl_table_render(const CtlTable *table, gboolean colour);
void ctl_table_free(CtlTable *table);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CtlTable, ctl_table_free)

#endif
