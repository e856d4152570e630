/* Tests agent/core/keyfile-lines.c: the line structure both configuration files share. */
#include <check.h>
#include <string.h>

#include "check-main.h"
#include "keyfile-lines.h"

/* Reads every line of text; returns how many were read, the last error in *bad. */
static unsigned read_all(char *text, struct keyfile_line *out, unsigned max,
                         enum keyfile_line_error *bad)
{
    struct keyfile_lines reader;
    keyfile_lines_init(&reader, text, strlen(text));
    unsigned n = 0;
    while (n < max && keyfile_lines_next(&reader, &out[n], bad))
        n++;
    return n;
}

START_TEST(test_kinds_and_names)
{
    char text[] = "# comment\n\n  [Agent]  \nKey = value = more\n\tOther=\n[Source a b]";
    struct keyfile_line lines[8];
    enum keyfile_line_error bad;
    unsigned n = read_all(text, lines, 8, &bad);
    ck_assert_uint_eq(n, 6);
    ck_assert_int_eq(bad, KEYFILE_LINE_OK);
    ck_assert_int_eq(lines[0].kind, KEYFILE_LINE_BLANK);
    ck_assert_int_eq(lines[1].kind, KEYFILE_LINE_BLANK);
    ck_assert_int_eq(lines[2].kind, KEYFILE_LINE_GROUP);
    ck_assert_str_eq(lines[2].name, "Agent");
    ck_assert_uint_eq(lines[2].number, 3);
    ck_assert_int_eq(lines[3].kind, KEYFILE_LINE_KEY);
    ck_assert_str_eq(lines[3].name, "Key");
    ck_assert_str_eq(lines[3].trimmed, "Key = value = more");
    ck_assert_str_eq(lines[4].name, "Other");
    ck_assert_str_eq(lines[5].name, "Source a b");
    ck_assert_uint_eq(lines[5].number, 6);
}
END_TEST

START_TEST(test_semicolon_comments_become_hash)
{
    char text[] = "  ; old style\n[A]\n";
    struct keyfile_line lines[4];
    enum keyfile_line_error bad;
    ck_assert_uint_eq(read_all(text, lines, 4, &bad), 2);
    ck_assert_int_eq(lines[0].kind, KEYFILE_LINE_BLANK);
    ck_assert_str_eq(text, "  # old style\n[A]\n");
}
END_TEST

START_TEST(test_raw_line_kept)
{
    char text[] = " k=v \r\nx=y";
    struct keyfile_line lines[4];
    enum keyfile_line_error bad;
    ck_assert_uint_eq(read_all(text, lines, 4, &bad), 2);
    ck_assert_uint_eq(lines[0].raw_len, 6);
    ck_assert(memcmp(lines[0].raw, " k=v \r", 6) == 0);
    ck_assert_str_eq(lines[0].name, "k");
    ck_assert_str_eq(lines[1].name, "x");
}
END_TEST

START_TEST(test_bad_lines_named_with_their_number)
{
    static const struct {
        const char *text;
        enum keyfile_line_error error;
        unsigned line;
    } cases[] = {
        {"[A]\n[B\n", KEYFILE_LINE_BAD_GROUP, 2},
        {"[A] x\n", KEYFILE_LINE_BAD_GROUP, 1},
        {"[A]\njust words\n", KEYFILE_LINE_NOT_KEY_VALUE, 2},
        {"[A]\n  = value\n", KEYFILE_LINE_NOT_KEY_VALUE, 2},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[64];
        size_t len = strlen(cases[i].text);
        ck_assert_uint_lt(len, sizeof(text));
        memcpy(text, cases[i].text, len + 1);
        struct keyfile_line lines[4];
        enum keyfile_line_error bad;
        unsigned n = read_all(text, lines, 4, &bad);
        ck_assert_int_eq(bad, cases[i].error);
        ck_assert_uint_eq(lines[n].number, cases[i].line);
    }
}
END_TEST

START_TEST(test_nul_byte_refused)
{
    char text[] = "[A]\nk=v\0w\n";
    struct keyfile_lines reader;
    keyfile_lines_init(&reader, text, sizeof(text) - 1);
    struct keyfile_line line;
    enum keyfile_line_error bad;
    ck_assert(keyfile_lines_next(&reader, &line, &bad));
    ck_assert(!keyfile_lines_next(&reader, &line, &bad));
    ck_assert_int_eq(bad, KEYFILE_LINE_NUL);
    ck_assert_uint_eq(line.number, 2);
}
END_TEST

START_TEST(test_long_line_refused)
{
    static char text[KEYFILE_LINE_MAX + 16];
    memset(text, 'a', KEYFILE_LINE_MAX + 2);
    text[0] = 'k';
    text[1] = '=';
    text[KEYFILE_LINE_MAX + 2] = '\0';
    struct keyfile_line line;
    enum keyfile_line_error bad;
    ck_assert_uint_eq(read_all(text, &line, 1, &bad), 0);
    ck_assert_int_eq(bad, KEYFILE_LINE_TOO_LONG);
    /* As long as allowed: read. */
    text[KEYFILE_LINE_MAX] = '\0';
    ck_assert_uint_eq(read_all(text, &line, 1, &bad), 1);
    ck_assert_str_eq(line.name, "k");
}
END_TEST

START_TEST(test_empty_text)
{
    char text[] = "";
    struct keyfile_line line;
    enum keyfile_line_error bad;
    ck_assert_uint_eq(read_all(text, &line, 1, &bad), 0);
    ck_assert_int_eq(bad, KEYFILE_LINE_OK);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *suite = suite_create("keyfile-lines");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_kinds_and_names);
    tcase_add_test(tc, test_semicolon_comments_become_hash);
    tcase_add_test(tc, test_raw_line_kept);
    tcase_add_test(tc, test_bad_lines_named_with_their_number);
    tcase_add_test(tc, test_nul_byte_refused);
    tcase_add_test(tc, test_long_line_refused);
    tcase_add_test(tc, test_empty_text);
    suite_add_tcase(suite, tc);
    return suite;
}

GNOMON_CHECK_MAIN(make_suite)
