/* Tests agent/core/cookie-jar.c: each cookie used once, oldest first, refilled to eight. */
#include <check.h>
#include <string.h>

#include "check-main.h"
#include "cookie-jar.h"

static struct nts_cookie make_cookie(unsigned char tag)
{
    struct nts_cookie c;
    memset(&c, 0, sizeof(c));
    c.len = 96;
    memset(c.data, tag, c.len);
    return c;
}

START_TEST(test_take_oldest_first_and_once)
{
    struct cookie_jar jar;
    cookie_jar_init(&jar);
    for (unsigned char i = 1; i <= 3; i++) {
        struct nts_cookie c = make_cookie(i);
        cookie_jar_add(&jar, &c);
    }
    struct nts_cookie out;
    for (unsigned char i = 1; i <= 3; i++) {
        ck_assert(cookie_jar_take(&jar, &out));
        ck_assert_uint_eq(out.data[0], i);
        ck_assert_uint_eq(jar.count, 3u - i);
    }
    ck_assert(!cookie_jar_take(&jar, &out));
}
END_TEST

START_TEST(test_full_jar_drops_oldest)
{
    struct cookie_jar jar;
    cookie_jar_init(&jar);
    for (unsigned char i = 1; i <= NTS_MAX_COOKIES + 2; i++) {
        struct nts_cookie c = make_cookie(i);
        cookie_jar_add(&jar, &c);
    }
    ck_assert_uint_eq(jar.count, NTS_MAX_COOKIES);
    struct nts_cookie out;
    ck_assert(cookie_jar_take(&jar, &out));
    ck_assert_uint_eq(out.data[0], 3);
}
END_TEST

START_TEST(test_placeholders_keep_jar_full)
{
    struct cookie_jar jar;
    cookie_jar_init(&jar);
    for (unsigned char i = 1; i <= NTS_MAX_COOKIES; i++) {
        struct nts_cookie c = make_cookie(i);
        cookie_jar_add(&jar, &c);
    }
    struct nts_cookie out;
    ck_assert(cookie_jar_take(&jar, &out));
    ck_assert_uint_eq(cookie_jar_placeholders(&jar), 0); /* 7 left + 1 back = 8 */
    for (int i = 0; i < 4; i++)
        ck_assert(cookie_jar_take(&jar, &out));
    ck_assert_uint_eq(cookie_jar_placeholders(&jar), 4); /* 3 left + 1 + 4 = 8 */
    cookie_jar_clear(&jar);
    ck_assert_uint_eq(cookie_jar_placeholders(&jar), NTS_MAX_COOKIES - 1);
}
END_TEST

START_TEST(test_bad_cookie_ignored)
{
    struct cookie_jar jar;
    cookie_jar_init(&jar);
    struct nts_cookie c = make_cookie(1);
    c.len = 0;
    cookie_jar_add(&jar, &c);
    c.len = NTS_COOKIE_MAX_LEN + 1;
    cookie_jar_add(&jar, &c);
    ck_assert_uint_eq(jar.count, 0);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *suite = suite_create("cookie-jar");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_take_oldest_first_and_once);
    tcase_add_test(tc, test_full_jar_drops_oldest);
    tcase_add_test(tc, test_placeholders_keep_jar_full);
    tcase_add_test(tc, test_bad_cookie_ignored);
    suite_add_tcase(suite, tc);
    return suite;
}

GNOMON_CHECK_MAIN(make_suite)
