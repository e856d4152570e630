/* Tests agent/core/json-nesting.c: the bound on arrays and objects put before json-glib. */
#include <check.h>
#include <string.h>

#include "check-main.h"
#include "json-nesting.h"

START_TEST(test_counts_every_bracket)
{
    const char *flat = "{\"a\":[1,2],\"b\":{\"c\":[]}}"; /* 4 containers */
    ck_assert(!json_nesting_too_deep(flat, strlen(flat), 4));
    ck_assert(json_nesting_too_deep(flat, strlen(flat), 3));
    /* In strings too: what json-glib's tokenizer makes of them does not matter. */
    const char *quoted = "{\"[[[\":'{{'}";
    ck_assert(json_nesting_too_deep(quoted, strlen(quoted), 5));
    ck_assert(!json_nesting_too_deep(quoted, strlen(quoted), 6));
}
END_TEST

START_TEST(test_deep_nesting_refused_within_len)
{
    static char deep[100000];
    memset(deep, '[', sizeof(deep));
    ck_assert(json_nesting_too_deep(deep, sizeof(deep), 1024));
    ck_assert(!json_nesting_too_deep(deep, 1024, 1024)); /* only len bytes are read */
    ck_assert(!json_nesting_too_deep(NULL, 0, 0));
}
END_TEST

static Suite *make_suite(void)
{
    Suite *suite = suite_create("json-nesting");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_counts_every_bracket);
    tcase_add_test(tc, test_deep_nesting_refused_within_len);
    suite_add_tcase(suite, tc);
    return suite;
}

GNOMON_CHECK_MAIN(make_suite)
