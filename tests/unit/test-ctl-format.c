/* Tests agent/ctl/format.c: durations with a unit chosen to fit (rounding across a unit
 * boundary, signs, the extremes of int64), ages in words, terminal widths, truncation,
 * timedatectl-style fields, table alignment with and without colour, and NO_COLOR. Runs in
 * the C locale: untranslated text, "." as the decimal point. */
#include <glib.h>
#include <locale.h>
#include <math.h>
#include <string.h>

#include "check-main.h"
#include "format.h"

#define US           G_GINT64_CONSTANT(1000)
#define MS           G_GINT64_CONSTANT(1000000)
#define SEC          G_GINT64_CONSTANT(1000000000)
#define USEC_PER_SEC G_GINT64_CONSTANT(1000000)

static void assert_duration(gint64 ns, gboolean with_sign, const char *expected)
{
    g_autofree char *text = ctl_format_duration(ns, with_sign);
    ck_assert_msg(strcmp(text, expected) == 0, "%" G_GINT64_FORMAT " ns: \"%s\", not \"%s\"", ns,
                  text, expected);
}

START_TEST(test_duration_units)
{
    assert_duration(0, TRUE, "0 ns");
    assert_duration(1, TRUE, "+1 ns");
    assert_duration(-999, TRUE, "-999 ns");
    assert_duration(1 * US, TRUE, "+1.0 µs");
    assert_duration(123 * US, TRUE, "+123 µs");
    assert_duration(-12345, TRUE, "-12.3 µs");
    assert_duration(5 * MS, FALSE, "5.0 ms");
    assert_duration(-250 * MS, TRUE, "-250 ms");
    assert_duration(1500 * MS, TRUE, "+1.5 s");
    assert_duration(59 * SEC, FALSE, "59.0 s");
}
END_TEST

START_TEST(test_duration_rounding_moves_the_unit)
{
    /* Never "1000 µs" or "100.0 ms": rounding up reaches the next unit or precision. */
    assert_duration(999960, FALSE, "1.0 ms");
    assert_duration(99960 * US, FALSE, "100 ms");
    assert_duration(99940 * US, FALSE, "99.9 ms");
    assert_duration(999600 * US, FALSE, "1.0 s");
    assert_duration(999499, FALSE, "999 µs");
    /* 59.96 s rounds to a minute: the two-unit form. */
    assert_duration(59960 * MS, FALSE, "1 min 0 s");
}
END_TEST

START_TEST(test_duration_large)
{
    assert_duration(1000 * SEC, TRUE, "+16 min 40 s");
    assert_duration(7200 * SEC, TRUE, "+2 h 0 min");
    assert_duration(-(7200 + 95) * SEC, TRUE, "-2 h 2 min");
    assert_duration(3599 * SEC + 600 * MS, FALSE, "1 h 0 min");
    assert_duration(26 * (3600 * SEC), TRUE, "+1 d 2 h");
    assert_duration(86399 * SEC + 900 * MS, FALSE, "1 d 0 h");
}
END_TEST

START_TEST(test_duration_extremes)
{
    g_autofree char *min = ctl_format_duration(G_MININT64, TRUE);
    g_autofree char *max = ctl_format_duration(G_MAXINT64, TRUE);
    /* 2^63 ns = 106751 d 23 h 47 min 16.854775808 s: to the hour, 106752 d 0 h. */
    ck_assert_str_eq(min, "-106752 d 0 h");
    ck_assert_str_eq(max, "+106752 d 0 h");
}
END_TEST

START_TEST(test_interval)
{
    g_autofree char *a = ctl_format_interval(32 * USEC_PER_SEC);
    g_autofree char *b = ctl_format_interval(2048 * USEC_PER_SEC);
    g_autofree char *c = ctl_format_interval(500000);
    g_autofree char *d = ctl_format_interval(7200 * USEC_PER_SEC);
    ck_assert_str_eq(a, "32 s");
    ck_assert_str_eq(b, "34 min 8 s");
    ck_assert_str_eq(c, "500 ms");
    ck_assert_str_eq(d, "2 h 0 min");
}
END_TEST

static void assert_age(gint64 seconds_ago, const char *expected)
{
    const gint64 now = G_GINT64_CONSTANT(1795000000) * USEC_PER_SEC;
    g_autofree char *text = ctl_format_age(now, now - seconds_ago * USEC_PER_SEC);
    ck_assert_msg(strcmp(text, expected) == 0, "%" G_GINT64_FORMAT " s ago: \"%s\", not \"%s\"",
                  seconds_ago, text, expected);
}

START_TEST(test_age)
{
    assert_age(0, "just now");
    assert_age(45, "45 s ago");
    assert_age(3 * 60 + 59, "3 min ago");
    assert_age(G_GINT64_CONSTANT(2) * 3600, "2 h ago");
    assert_age(2 * 3600 + 5 * 60 + 30, "2 h 5 min ago");
    assert_age(86400, "1 day ago");
    assert_age(3 * 86400 + 7000, "3 days ago");
    assert_age(-5, "in 5 s");
    assert_age(G_GINT64_CONSTANT(-2) * 86400, "in 2 days");
}
END_TEST

START_TEST(test_age_extremes)
{
    g_autofree char *a = ctl_format_age(G_MAXINT64, G_MININT64);
    g_autofree char *b = ctl_format_age(G_MININT64, G_MAXINT64);
    ck_assert_str_eq(a, "213503982 days ago");
    ck_assert_str_eq(b, "in 213503982 days");
}
END_TEST

START_TEST(test_ppm_and_reach)
{
    g_autofree char *a = ctl_format_ppm(12.3454);
    g_autofree char *b = ctl_format_ppm(-0.5);
    g_autofree char *c = ctl_format_ppm(NAN);
    g_autofree char *r0 = ctl_format_reach(0);
    g_autofree char *r1 = ctl_format_reach(0x0f);
    g_autofree char *r2 = ctl_format_reach(0xff);
    ck_assert_str_eq(a, "+12.345 ppm");
    ck_assert_str_eq(b, "-0.500 ppm");
    ck_assert_str_eq(c, "n/a");
    ck_assert_str_eq(r0, "0");
    ck_assert_str_eq(r1, "17");
    ck_assert_str_eq(r2, "377");
}
END_TEST

START_TEST(test_display_width)
{
    ck_assert_uint_eq(ctl_display_width(""), 0);
    ck_assert_uint_eq(ctl_display_width("abc"), 3);
    ck_assert_uint_eq(ctl_display_width("± 5.0 µs"), 8);
    ck_assert_uint_eq(ctl_display_width("Verzögerung"), 11);
    ck_assert_uint_eq(ctl_display_width("時刻"), 4);      /* wide */
    ck_assert_uint_eq(ctl_display_width("e\xcc\x81"), 1); /* e + combining acute */
    ck_assert_uint_eq(ctl_display_width("a\xff"), 2);     /* invalid byte: one cell */
}
END_TEST

START_TEST(test_truncate)
{
    g_autofree char *same = ctl_truncate("short", 5);
    g_autofree char *cut = ctl_truncate("connection refused by peer", 10);
    g_autofree char *wide = ctl_truncate("時刻時刻", 4);
    g_autofree char *umlaut = ctl_truncate("Zeitüberschreitung", 6);
    g_autofree char *none = ctl_truncate("abc", 0);
    ck_assert_str_eq(same, "short");
    ck_assert_str_eq(cut, "connectio…");
    ck_assert_uint_eq(ctl_display_width(cut), 10);
    ck_assert_str_eq(wide, "時…"); /* a second wide character would not fit */
    ck_assert_str_eq(umlaut, "Zeitü…");
    ck_assert_str_eq(none, "");
}
END_TEST

START_TEST(test_field)
{
    g_autofree char *a = ctl_format_field("State", 16, "synchronized");
    g_autofree char *b = ctl_format_field("Agreeing sources", 16, "3 of 3 required");
    g_autofree char *c = ctl_format_field("Versatz", 10, "+1.0 µs");
    g_autofree char *d = ctl_format_field("too long a label", 4, "x");
    ck_assert_str_eq(a, "           State: synchronized");
    ck_assert_str_eq(b, "Agreeing sources: 3 of 3 required");
    ck_assert_str_eq(c, "   Versatz: +1.0 µs");
    ck_assert_str_eq(d, "too long a label: x");
    /* The colons line up: the same offset for every label. */
    ck_assert_int_eq(strchr(a, ':') - a, strchr(b, ':') - b);
}
END_TEST

START_TEST(test_colour_wanted)
{
    ck_assert(ctl_colour_wanted(TRUE, NULL, "xterm-256color"));
    ck_assert(ctl_colour_wanted(TRUE, "", "xterm")); /* empty NO_COLOR: no-color.org */
    ck_assert(ctl_colour_wanted(TRUE, NULL, NULL));
    ck_assert(!ctl_colour_wanted(FALSE, NULL, "xterm"));
    ck_assert(!ctl_colour_wanted(TRUE, "1", "xterm"));
    ck_assert(!ctl_colour_wanted(TRUE, "0", "xterm")); /* any value counts */
    ck_assert(!ctl_colour_wanted(TRUE, NULL, "dumb"));
}
END_TEST

START_TEST(test_colours)
{
    g_autofree char *plain = ctl_colourize("synchronized", CTL_COLOUR_GREEN, FALSE);
    g_autofree char *green = ctl_colourize("synchronized", CTL_COLOUR_GREEN, TRUE);
    g_autofree char *none = ctl_colourize("measuring", NULL, TRUE);
    ck_assert_str_eq(plain, "synchronized");
    ck_assert_str_eq(green, "\033[32msynchronized\033[0m");
    ck_assert_str_eq(none, "measuring");
    ck_assert_str_eq(ctl_colour_for_state("synchronized"), CTL_COLOUR_GREEN);
    ck_assert_str_eq(ctl_colour_for_state("no-consensus"), CTL_COLOUR_YELLOW);
    ck_assert_str_eq(ctl_colour_for_state("step-refused"), CTL_COLOUR_YELLOW);
    ck_assert_ptr_null(ctl_colour_for_state("measuring"));
    ck_assert_ptr_null(ctl_colour_for_state(NULL));
    ck_assert_str_eq(ctl_colour_for_source_status("selected"), CTL_COLOUR_GREEN);
    ck_assert_str_eq(ctl_colour_for_source_status("falseticker"), CTL_COLOUR_RED);
    ck_assert_str_eq(ctl_colour_for_source_status("nts-ke-failed"), CTL_COLOUR_RED);
    ck_assert_str_eq(ctl_colour_for_source_status("nts-auth-failed"), CTL_COLOUR_RED);
    ck_assert_str_eq(ctl_colour_for_source_status("unreachable"), CTL_COLOUR_RED);
    ck_assert_ptr_null(ctl_colour_for_source_status("candidate"));
    ck_assert_ptr_null(ctl_colour_for_source_status("pending"));
}
END_TEST

static CtlTable *sample_table(void)
{
    const char *headers[] = {"NAME", "STATUS", "OFFSET", "LAST ERROR"};
    const gboolean right[] = {FALSE, FALSE, TRUE, FALSE};
    CtlTable *table = ctl_table_new(4, headers, right);
    const char *row1[] = {"cloudflare", "selected", "+123 µs", ""};
    const char *row2[] = {"ptb", "falseticker", "-2.5 s", "time differs"};
    const char *colours1[] = {NULL, CTL_COLOUR_GREEN, NULL, NULL};
    const char *colours2[] = {NULL, CTL_COLOUR_RED, NULL, NULL};
    ctl_table_add_row(table, row1, colours1);
    ctl_table_add_row(table, row2, colours2);
    return table;
}

START_TEST(test_table_alignment)
{
    g_autoptr(CtlTable) table = sample_table();
    g_autofree char *text = ctl_table_render(table, FALSE);
    ck_assert_str_eq(text, "NAME        STATUS        OFFSET  LAST ERROR\n"
                           "cloudflare  selected     +123 µs\n"
                           "ptb         falseticker   -2.5 s  time differs\n");
}
END_TEST

START_TEST(test_table_colour_keeps_alignment)
{
    g_autoptr(CtlTable) table = sample_table();
    g_autofree char *text = ctl_table_render(table, TRUE);
    ck_assert_str_eq(text, "NAME        STATUS        OFFSET  LAST ERROR\n"
                           "cloudflare  \033[32mselected\033[0m     +123 µs\n"
                           "ptb         \033[31mfalseticker\033[0m   -2.5 s  time differs\n");
}
END_TEST

START_TEST(test_table_wide_and_null_cells)
{
    const char *headers[] = {"A", "B"};
    g_autoptr(CtlTable) table = ctl_table_new(2, headers, NULL);
    const char *row1[] = {"時刻", "x"};
    const char *row2[] = {NULL, "y"};
    ctl_table_add_row(table, row1, NULL);
    ctl_table_add_row(table, row2, NULL);
    g_autofree char *text = ctl_table_render(table, TRUE);
    ck_assert_str_eq(text, "A     B\n"
                           "時刻  x\n"
                           "      y\n");
}
END_TEST

static Suite *make_suite(void)
{
    /* The tests expect untranslated text and "." as the decimal point. */
    (void)setlocale(LC_ALL, "C"); /* "C" is always there */
    Suite *suite = suite_create("ctl-format");
    TCase *tc = tcase_create("format");
    tcase_add_test(tc, test_duration_units);
    tcase_add_test(tc, test_duration_rounding_moves_the_unit);
    tcase_add_test(tc, test_duration_large);
    tcase_add_test(tc, test_duration_extremes);
    tcase_add_test(tc, test_interval);
    tcase_add_test(tc, test_age);
    tcase_add_test(tc, test_age_extremes);
    tcase_add_test(tc, test_ppm_and_reach);
    tcase_add_test(tc, test_display_width);
    tcase_add_test(tc, test_truncate);
    tcase_add_test(tc, test_field);
    tcase_add_test(tc, test_colour_wanted);
    tcase_add_test(tc, test_colours);
    tcase_add_test(tc, test_table_alignment);
    tcase_add_test(tc, test_table_colour_keeps_alignment);
    tcase_add_test(tc, test_table_wide_and_null_cells);
    suite_add_tcase(suite, tc);
    return suite;
}

GNOMON_CHECK_MAIN(make_suite)
