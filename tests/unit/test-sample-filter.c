/* Unit tests for agent/core/sample-filter.c: least-delay choice, the ring, clearing, the
 * RFC 5905 §10 jitter and the age bound. */
#include <check.h>
#include <stdint.h>

#include "check-main.h"
#include "sample-filter.h"

#define MS  NS_PER_MS
#define NOW (INT64_C(100000) * NS_PER_SEC)

static struct sample make_sample(int64_t offset_ns, int64_t delay_ns, int64_t taken_ns)
{
    return (struct sample){
        .offset_ns = offset_ns,
        .delay_ns = delay_ns,
        .dispersion_ns = 1 * MS,
        .root_delay_ns = 2 * MS,
        .root_dispersion_ns = 3 * MS,
        .taken_ns = taken_ns,
        .stratum = 2,
        .leap = 0,
    };
}

static void add(struct sample_filter *f, int64_t offset_ns, int64_t delay_ns, int64_t taken_ns)
{
    struct sample s = {.offset_ns = offset_ns, .delay_ns = delay_ns, .taken_ns = taken_ns};
    sample_filter_add(f, &s);
}

START_TEST(test_init_is_empty)
{
    struct sample_filter f;
    struct sample out = make_sample(42, 42, 42);
    sample_filter_init(&f);
    ck_assert_uint_eq(sample_filter_count(&f), 0);
    ck_assert(!sample_filter_best(&f, NOW, &out));
    ck_assert_int_eq(out.offset_ns, 42); /* untouched on false */
    ck_assert_int_eq(sample_filter_jitter_ns(&f, NOW), 0);

    /* NULL is refused quietly, never dereferenced. */
    sample_filter_init(NULL);
    sample_filter_add(NULL, &out);
    sample_filter_add(&f, NULL);
    ck_assert_uint_eq(sample_filter_count(&f), 0);
    ck_assert_uint_eq(sample_filter_count(NULL), 0);
    ck_assert(!sample_filter_best(NULL, NOW, &out));
    ck_assert_int_eq(sample_filter_jitter_ns(NULL, NOW), 0);
}
END_TEST

START_TEST(test_best_is_least_delayed)
{
    struct sample_filter f;
    struct sample out;
    sample_filter_init(&f);
    sample_filter_add(&f, &(struct sample){0});
    sample_filter_clear(&f);
    add(&f, 1 * MS, 30 * MS, NOW - 3000);
    struct sample least = make_sample(2 * MS, 10 * MS, NOW - 2000);
    least.leap = 1;
    sample_filter_add(&f, &least);
    add(&f, 3 * MS, 20 * MS, NOW - 1000);
    ck_assert_uint_eq(sample_filter_count(&f), 3);
    ck_assert(sample_filter_best(&f, NOW, &out));
    /* The whole sample is copied out, not only the offset. */
    ck_assert_int_eq(out.offset_ns, 2 * MS);
    ck_assert_int_eq(out.delay_ns, 10 * MS);
    ck_assert_int_eq(out.dispersion_ns, 1 * MS);
    ck_assert_int_eq(out.root_delay_ns, 2 * MS);
    ck_assert_int_eq(out.root_dispersion_ns, 3 * MS);
    ck_assert_int_eq(out.taken_ns, NOW - 2000);
    ck_assert_uint_eq(out.stratum, 2);
    ck_assert_uint_eq(out.leap, 1);
}
END_TEST

START_TEST(test_best_tie_goes_to_newer)
{
    struct sample_filter f;
    struct sample out;
    sample_filter_init(&f);
    struct sample older = make_sample(1 * MS, 10 * MS, NOW - 64 * NS_PER_SEC);
    struct sample newer = make_sample(2 * MS, 10 * MS, NOW);
    sample_filter_add(&f, &older);
    sample_filter_add(&f, &newer);
    ck_assert(sample_filter_best(&f, NOW, &out));
    ck_assert_int_eq(out.offset_ns, 2 * MS);
    /* Again after the ring wrapped (older dropped, the next sample lands in slot 0 while
     * newer sits in slot 1): slot order is not age order, and the last added wins. */
    for (int i = 0; i < SAMPLE_FILTER_SIZE - 2; i++)
        add(&f, 100 * MS, 50 * MS, NOW);
    add(&f, 7 * MS, 10 * MS, NOW);
    ck_assert(sample_filter_best(&f, NOW, &out));
    ck_assert_int_eq(out.offset_ns, 7 * MS);
}
END_TEST

START_TEST(test_ring_drops_oldest)
{
    struct sample_filter f;
    struct sample out;
    sample_filter_init(&f);
    /* The first sample is the least delayed; the others get worse one by one. */
    for (int i = 0; i < SAMPLE_FILTER_SIZE; i++)
        add(&f, i, (1 + 10 * i) * MS, NOW);
    ck_assert_uint_eq(sample_filter_count(&f), SAMPLE_FILTER_SIZE);
    ck_assert(sample_filter_best(&f, NOW, &out));
    ck_assert_int_eq(out.offset_ns, 0);

    /* The ninth pushes the first out: now the second (delay 11 ms) is best. */
    add(&f, 8, 500 * MS, NOW);
    ck_assert_uint_eq(sample_filter_count(&f), SAMPLE_FILTER_SIZE);
    ck_assert(sample_filter_best(&f, NOW, &out));
    ck_assert_int_eq(out.offset_ns, 1);
    ck_assert_int_eq(out.delay_ns, 11 * MS);

    /* Seven more, all worse: the ring now holds the ninth (500 ms) and these seven. */
    for (int i = 0; i < SAMPLE_FILTER_SIZE - 1; i++)
        add(&f, 9 + i, 600 * MS, NOW);
    ck_assert_uint_eq(sample_filter_count(&f), SAMPLE_FILTER_SIZE);
    ck_assert(sample_filter_best(&f, NOW, &out));
    ck_assert_int_eq(out.offset_ns, 8);
}
END_TEST

START_TEST(test_clear_forgets)
{
    struct sample_filter f;
    struct sample out;
    sample_filter_init(&f);
    for (int i = 0; i < 3; i++)
        add(&f, 5 * MS, 10 * MS, NOW);
    sample_filter_clear(&f);
    ck_assert_uint_eq(sample_filter_count(&f), 0);
    ck_assert(!sample_filter_best(&f, NOW, &out));
    ck_assert_int_eq(sample_filter_jitter_ns(&f, NOW), 0);

    add(&f, -3 * MS, 40 * MS, NOW);
    ck_assert_uint_eq(sample_filter_count(&f), 1);
    ck_assert(sample_filter_best(&f, NOW, &out));
    ck_assert_int_eq(out.offset_ns, -3 * MS);
}
END_TEST

START_TEST(test_jitter_hand_computed)
{
    struct sample_filter f;
    sample_filter_init(&f);
    add(&f, 11 * MS, 9 * MS, NOW);
    ck_assert_int_eq(sample_filter_jitter_ns(&f, NOW), 0); /* one sample */
    add(&f, 10 * MS, 5 * MS, NOW);                         /* the best */
    /* Two samples: sqrt(1^2 / 1) ms. */
    ck_assert_int_eq(sample_filter_jitter_ns(&f, NOW), 1 * MS);
    add(&f, 15 * MS, 6 * MS, NOW);
    add(&f, 5 * MS, 7 * MS, NOW);
    add(&f, 17 * MS, 8 * MS, NOW);
    /* Differences from the best: 1, 5, -5, 7 ms; sqrt((1 + 25 + 25 + 49) / 4) = 5 ms. */
    ck_assert_int_eq(sample_filter_jitter_ns(&f, NOW), 5 * MS);

    /* Not a whole number: differences 1 and 2 ns -> sqrt(5 / 2) = 1.58 -> 2 (rounded). */
    sample_filter_clear(&f);
    add(&f, 0, 1, NOW);
    add(&f, 1, 2, NOW);
    add(&f, -2, 3, NOW);
    ck_assert_int_eq(sample_filter_jitter_ns(&f, NOW), 2);
}
END_TEST

START_TEST(test_age_bound)
{
    struct sample_filter f;
    struct sample out;
    sample_filter_init(&f);
    /* The least delayed sample is one nanosecond too old: ignored. */
    add(&f, 1000 * MS, 1 * MS, NOW - SAMPLE_FILTER_MAX_AGE_NS - 1);
    add(&f, 4 * MS, 20 * MS, NOW - 1000);
    add(&f, 0, 30 * MS, NOW);
    ck_assert_uint_eq(sample_filter_count(&f), 3); /* still stored */
    ck_assert(sample_filter_best(&f, NOW, &out));
    ck_assert_int_eq(out.offset_ns, 4 * MS);
    /* The stale offset (+1 s) does not enter the jitter either: sqrt(4^2 / 1) ms. */
    ck_assert_int_eq(sample_filter_jitter_ns(&f, NOW), 4 * MS);

    /* Exactly at the bound still counts: one nanosecond earlier, it is the best. */
    ck_assert(sample_filter_best(&f, NOW - 1, &out));
    ck_assert_int_eq(out.offset_ns, 1000 * MS);

    /* Everything stale: nothing to offer. */
    int64_t later = NOW + SAMPLE_FILTER_MAX_AGE_NS + 1;
    ck_assert(!sample_filter_best(&f, later, &out));
    ck_assert_int_eq(sample_filter_jitter_ns(&f, later), 0);

    /* A sample from "the future" (a caller's bug) is not thrown away. */
    sample_filter_clear(&f);
    add(&f, 6, 1, NOW);
    ck_assert(sample_filter_best(&f, NOW - 1000 * NS_PER_SEC, &out));
    ck_assert_int_eq(out.offset_ns, 6);

    /* Extreme clock readings do not overflow the age computation. */
    ck_assert(!sample_filter_best(&f, INT64_MAX, &out));
    sample_filter_clear(&f);
    add(&f, 7, 1, INT64_MIN);
    ck_assert(!sample_filter_best(&f, INT64_MAX, &out));
    ck_assert(sample_filter_best(&f, INT64_MIN, &out));
}
END_TEST

START_TEST(test_jitter_extreme_offsets)
{
    struct sample_filter f;
    sample_filter_init(&f);
    add(&f, INT64_MIN, 0, NOW);
    add(&f, INT64_MAX, INT64_MAX, NOW);
    /* The difference (2^64 - 1 ns) does not fit: saturated, not wrapped. */
    ck_assert_int_eq(sample_filter_jitter_ns(&f, NOW), INT64_MAX);

    sample_filter_clear(&f);
    add(&f, 0, 0, NOW);
    add(&f, INT64_MAX / 4, 1, NOW);
    int64_t jitter = sample_filter_jitter_ns(&f, NOW);
    /* Within the rounding of a double at 2^61 (512 ns). */
    ck_assert_int_ge(jitter, INT64_MAX / 4 - 1024);
    ck_assert_int_le(jitter, INT64_MAX / 4 + 1024);
}
END_TEST

START_TEST(test_shift_follows_a_slew)
{
    struct sample_filter f;
    sample_filter_init(&f);
    for (int i = 0; i < 3; i++) {
        struct sample s = {.offset_ns = 5 * NS_PER_MS + i, .delay_ns = 100 + i, .taken_ns = 0};
        sample_filter_add(&f, &s);
    }
    sample_filter_shift(&f, 5 * NS_PER_MS);
    struct sample best;
    ck_assert(sample_filter_best(&f, 0, &best));
    ck_assert_int_eq(best.offset_ns, 0); /* the least delayed, its 5 ms already corrected */
    ck_assert_int_eq(f.samples[2].offset_ns, 2);
    struct sample extreme = {.offset_ns = INT64_MIN + 1, .delay_ns = 1};
    sample_filter_add(&f, &extreme);
    sample_filter_shift(&f, 10);
    ck_assert(sample_filter_best(&f, 0, &best));
    ck_assert_int_eq(best.offset_ns, INT64_MIN); /* saturated, not wrapped */
}
END_TEST

static Suite *make_suite(void)
{
    Suite *suite = suite_create("sample-filter");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_init_is_empty);
    tcase_add_test(tc, test_best_is_least_delayed);
    tcase_add_test(tc, test_best_tie_goes_to_newer);
    tcase_add_test(tc, test_ring_drops_oldest);
    tcase_add_test(tc, test_clear_forgets);
    tcase_add_test(tc, test_jitter_hand_computed);
    tcase_add_test(tc, test_age_bound);
    tcase_add_test(tc, test_jitter_extreme_offsets);
    tcase_add_test(tc, test_shift_follows_a_slew);
    suite_add_tcase(suite, tc);
    return suite;
}

GNOMON_CHECK_MAIN(make_suite)
