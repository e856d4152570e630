/* Unit tests for agent/core/select.c: root distance, RFC 5905 clock select, and gnomon's
 * majority / quorum / operator rules, with hand-computed numbers. */
#include <check.h>
#include <stddef.h>
#include <stdint.h>

#include "check-main.h"
#include "select.h"

#define MS  NS_PER_MS
#define SEC NS_PER_SEC
#define NOW (INT64_C(5000) * SEC)

/* A fresh sample whose root distance is max(10 ms, delay) / 2: no dispersion, no age. */
static struct select_candidate make_candidate(const char *operator_name, const char *address,
                                              int64_t offset_ns, int64_t delay_ns)
{
    return (struct select_candidate){
        .operator_name = operator_name,
        .address = address,
        .sample = {.offset_ns = offset_ns, .delay_ns = delay_ns, .taken_ns = NOW, .stratum = 1},
        .jitter_ns = 0,
    };
}

static struct select_params make_params(unsigned min_agreeing, unsigned min_operators)
{
    return (struct select_params){
        .min_agreeing_sources = min_agreeing,
        .min_operators = min_operators,
        .now_ns = NOW,
    };
}

START_TEST(test_root_distance_hand_computed)
{
    struct sample s = {
        .offset_ns = 123 * MS, /* plays no part */
        .delay_ns = 30 * MS,
        .dispersion_ns = 1 * MS,
        .root_delay_ns = 20 * MS,
        .root_dispersion_ns = 5 * MS,
        .taken_ns = NOW - 100 * SEC,
    };
    /* (20 + 30) / 2 + 5 + 1 + 15e-6 * 100 s (1.5 ms) + 2 = 34.5 ms */
    ck_assert_int_eq(select_root_distance_ns(&s, 2 * MS, NOW), 34500000);
    /* Fresh: 1.5 ms less. */
    ck_assert_int_eq(select_root_distance_ns(&s, 2 * MS, NOW - 100 * SEC), 33000000);
    /* PHI rounds down: 1 s of age is 15 us, 1 ns of age is nothing. */
    ck_assert_int_eq(select_root_distance_ns(&s, 0, NOW - 99 * SEC) -
                         select_root_distance_ns(&s, 0, NOW - 100 * SEC),
                     15000);
    ck_assert_int_eq(select_root_distance_ns(&s, 0, NOW - 100 * SEC + 1) -
                         select_root_distance_ns(&s, 0, NOW - 100 * SEC),
                     0);
}
END_TEST

START_TEST(test_root_distance_mindisp_and_negatives)
{
    struct sample s = {.delay_ns = 2 * MS, .root_delay_ns = 1 * MS, .taken_ns = NOW};
    /* 3 ms of path is below MINDISP: max(10 ms, 3 ms) / 2 = 5 ms. */
    ck_assert_int_eq(select_root_distance_ns(&s, 0, NOW), 5 * MS);
    /* Negative terms and a sample from the future never shrink the interval. */
    struct sample bad = {
        .delay_ns = -50 * MS,
        .dispersion_ns = -1 * SEC,
        .root_delay_ns = -1,
        .root_dispersion_ns = INT64_MIN,
        .taken_ns = NOW + 1000 * SEC,
    };
    ck_assert_int_eq(select_root_distance_ns(&bad, -3 * SEC, NOW), 5 * MS);
}
END_TEST

START_TEST(test_root_distance_saturates)
{
    struct sample s = {
        .delay_ns = INT64_MAX,
        .dispersion_ns = INT64_MAX,
        .root_delay_ns = INT64_MAX,
        .root_dispersion_ns = INT64_MAX,
        .taken_ns = INT64_MIN,
    };
    ck_assert_int_eq(select_root_distance_ns(&s, INT64_MAX, INT64_MAX), INT64_MAX);
    ck_assert_int_eq(select_root_distance_ns(NULL, 0, NOW), INT64_MAX);
    /* The aging term alone at the largest possible age: floor((2^63 - 1) * 15e-6). */
    struct sample old = {.taken_ns = INT64_MIN};
    ck_assert_int_eq(select_root_distance_ns(&old, 0, INT64_MAX),
                     5 * MS + INT64_MAX / 1000000 * 15 + INT64_MAX % 1000000 * 15 / 1000000);
}
END_TEST

START_TEST(test_three_honest_one_liar_at_30s)
{
    struct select_candidate c[] = {
        make_candidate("A", "192.0.2.1", 1 * MS, 20 * MS),
        make_candidate("B", "192.0.2.2", -2 * MS, 20 * MS),
        make_candidate("C", "192.0.2.3", 500 * NS_PER_US, 20 * MS),
        make_candidate("D", "192.0.2.4", 30 * SEC, 20 * MS),
    };
    enum select_status st[4];
    struct select_params p = make_params(3, 2);
    struct select_result r = select_run(c, 4, &p, st);
    ck_assert_int_eq(r.verdict, SELECT_CONSENSUS);
    ck_assert_int_eq(st[0], SELECT_STATUS_SELECTED);
    ck_assert_int_eq(st[1], SELECT_STATUS_SELECTED);
    ck_assert_int_eq(st[2], SELECT_STATUS_SELECTED);
    ck_assert_int_eq(st[3], SELECT_STATUS_FALSETICKER);
    ck_assert_uint_eq(r.voters, 4);
    ck_assert_uint_eq(r.agreeing, 3);
    ck_assert_uint_eq(r.operators, 3);
    /* Intervals [-9, 11], [-12, 8], [-9.5, 10.5] ms: with one falseticker allowed, low is
     * where three are open (-9 ms), high likewise from above (8 ms). */
    ck_assert_int_eq(r.low_ns, -9 * MS);
    ck_assert_int_eq(r.high_ns, 8 * MS);
    /* Equal weights: (1 - 2 + 0.5) / 3 ms = -166666.67 ns, rounded. */
    ck_assert_int_eq(r.offset_ns, -166667);
    /* max(-0.166667 + 9, 8 + 0.166667) ms */
    ck_assert_int_eq(r.uncertainty_ns, 8833333);
}
END_TEST

START_TEST(test_two_honest_two_liars_no_consensus)
{
    struct select_candidate c[] = {
        make_candidate("A", "192.0.2.1", 0, 20 * MS),
        make_candidate("B", "192.0.2.2", 30 * SEC, 20 * MS),
        make_candidate("C", "192.0.2.3", 1 * MS, 20 * MS),
        make_candidate("D", "192.0.2.4", 30 * SEC + 1 * MS, 20 * MS),
    };
    enum select_status st[4];
    struct select_params p = make_params(3, 2);
    struct select_result r = select_run(c, 4, &p, st);
    /* f = 0 and f = 1 need 4 and 3 intervals to meet; f = 2 is not a minority of 4. */
    ck_assert_int_eq(r.verdict, SELECT_NO_MAJORITY);
    ck_assert_uint_eq(r.voters, 4);
    ck_assert_uint_eq(r.agreeing, 0);
    ck_assert_int_eq(r.offset_ns, 0);
    ck_assert_int_eq(r.uncertainty_ns, 0);
    /* Nobody can be called a falseticker without a majority; nobody is selected. */
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(st[i], SELECT_STATUS_CANDIDATE);
}
END_TEST

START_TEST(test_all_lying_together)
{
    struct select_candidate c[] = {
        make_candidate("A", "192.0.2.1", 30 * SEC + 1 * MS, 20 * MS),
        make_candidate("B", "192.0.2.2", 30 * SEC - 1 * MS, 20 * MS),
        make_candidate("C", "192.0.2.3", 30 * SEC + 2 * MS, 20 * MS),
        make_candidate("D", "192.0.2.4", 30 * SEC - 2 * MS, 20 * MS),
    };
    enum select_status st[4];
    struct select_params p = make_params(3, 2);
    struct select_result r = select_run(c, 4, &p, st);
    /* Selection cannot tell a unanimous lie from the truth: that is what it is. */
    ck_assert_int_eq(r.verdict, SELECT_CONSENSUS);
    ck_assert_int_eq(r.offset_ns, 30 * SEC);
    ck_assert_uint_eq(r.agreeing, 4);
    ck_assert_int_eq(r.low_ns, 30 * SEC - 8 * MS);
    ck_assert_int_eq(r.high_ns, 30 * SEC + 8 * MS);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(st[i], SELECT_STATUS_SELECTED);
}
END_TEST

START_TEST(test_liar_by_300ms)
{
    struct select_candidate c[] = {
        make_candidate("A", "192.0.2.1", 0, 20 * MS),
        make_candidate("B", "192.0.2.2", 300 * MS, 20 * MS),
        make_candidate("C", "192.0.2.3", 0, 20 * MS),
        make_candidate("D", "192.0.2.4", 0, 20 * MS),
    };
    enum select_status st[4];
    struct select_params p = make_params(3, 2);
    struct select_result r = select_run(c, 4, &p, st);
    ck_assert_int_eq(r.verdict, SELECT_CONSENSUS);
    ck_assert_int_eq(st[1], SELECT_STATUS_FALSETICKER);
    ck_assert_int_eq(st[0], SELECT_STATUS_SELECTED);
    ck_assert_int_eq(r.offset_ns, 0);
    ck_assert_int_eq(r.low_ns, -10 * MS);
    ck_assert_int_eq(r.high_ns, 10 * MS);
    ck_assert_int_eq(r.uncertainty_ns, 10 * MS);
}
END_TEST

START_TEST(test_same_address_counts_once)
{
    struct select_candidate c[] = {
        make_candidate("A", "192.0.2.1", 0, 20 * MS),
        make_candidate("B", "192.0.2.1", 2 * MS, 40 * MS), /* same address, lambda 20 ms */
        make_candidate("C", "192.0.2.3", 1 * MS, 20 * MS),
    };
    enum select_status st[3];
    struct select_params p = make_params(3, 2);
    struct select_result r = select_run(c, 3, &p, st);
    ck_assert_int_eq(r.verdict, SELECT_TOO_FEW_AGREEING);
    ck_assert_uint_eq(r.voters, 2);
    ck_assert_uint_eq(r.agreeing, 2);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(st[i], SELECT_STATUS_CANDIDATE);

    /* At quorum 2 they agree; the twin with the larger lambda plays no part in the offset
     * (0 and 1 ms with equal weights), yet shares its twin's status. */
    p = make_params(2, 2);
    r = select_run(c, 3, &p, st);
    ck_assert_int_eq(r.verdict, SELECT_CONSENSUS);
    ck_assert_uint_eq(r.voters, 2);
    ck_assert_uint_eq(r.operators, 2);
    ck_assert_int_eq(r.offset_ns, 500 * NS_PER_US);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(st[i], SELECT_STATUS_SELECTED);
}
END_TEST

START_TEST(test_twin_with_smaller_lambda_votes)
{
    struct select_candidate c[] = {
        /* The first twin says +30 s with lambda 50 ms, the later one 0 with 10 ms. */
        make_candidate("A", "2001:db8::1", 30 * SEC, 100 * MS),
        make_candidate("B", "192.0.2.2", 1 * MS, 20 * MS),
        make_candidate("A", "2001:db8::1", 0, 20 * MS),
        make_candidate("C", "192.0.2.3", -1 * MS, 20 * MS),
    };
    enum select_status st[4];
    struct select_params p = make_params(3, 3);
    struct select_result r = select_run(c, 4, &p, st);
    ck_assert_int_eq(r.verdict, SELECT_CONSENSUS);
    ck_assert_uint_eq(r.voters, 3);
    ck_assert_uint_eq(r.agreeing, 3);
    ck_assert_int_eq(r.offset_ns, 0);
    ck_assert_int_eq(st[0], SELECT_STATUS_SELECTED); /* its twin's status */
    ck_assert_int_eq(st[2], SELECT_STATUS_SELECTED);

    /* With equal lambdas the earlier twin votes: now +30 s against two at 0 -> it is out. */
    c[0].sample.delay_ns = 20 * MS;
    r = select_run(c, 4, &p, st);
    ck_assert_int_eq(r.verdict, SELECT_TOO_FEW_AGREEING);
    ck_assert_uint_eq(r.agreeing, 2);
    ck_assert_int_eq(st[0], SELECT_STATUS_FALSETICKER);
    ck_assert_int_eq(st[2], SELECT_STATUS_FALSETICKER);
    ck_assert_int_eq(st[1], SELECT_STATUS_CANDIDATE);
}
END_TEST

START_TEST(test_operator_diversity)
{
    struct select_candidate c[] = {
        make_candidate("Acme", "192.0.2.1", 0, 20 * MS),
        make_candidate("Acme", "192.0.2.2", 1 * MS, 20 * MS),
        make_candidate("Acme", "192.0.2.3", -1 * MS, 20 * MS),
    };
    enum select_status st[3];
    struct select_params p = make_params(3, 2);
    struct select_result r = select_run(c, 3, &p, st);
    ck_assert_int_eq(r.verdict, SELECT_TOO_FEW_OPERATORS);
    ck_assert_uint_eq(r.agreeing, 3);
    ck_assert_uint_eq(r.operators, 1);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(st[i], SELECT_STATUS_CANDIDATE);

    /* A second operator suffices, */
    c[2].operator_name = "Other";
    r = select_run(c, 3, &p, st);
    ck_assert_int_eq(r.verdict, SELECT_CONSENSUS);
    ck_assert_uint_eq(r.operators, 2);
    /* but unnamed operators are all one unknown operator, not several. */
    c[0].operator_name = NULL;
    c[1].operator_name = NULL;
    c[2].operator_name = NULL;
    r = select_run(c, 3, &p, st);
    ck_assert_int_eq(r.verdict, SELECT_TOO_FEW_OPERATORS);
    ck_assert_uint_eq(r.operators, 1);
}
END_TEST

START_TEST(test_majority_required)
{
    /* Two agree tightly (lambda 5 ms), three are scattered a second apart: no point lies in
     * three intervals, so no f < 5/2 works. */
    struct select_candidate c[] = {
        make_candidate("A", "192.0.2.1", 0, 1 * MS),
        make_candidate("B", "192.0.2.2", 1 * MS, 1 * MS),
        make_candidate("C", "192.0.2.3", 1 * SEC, 1 * MS),
        make_candidate("D", "192.0.2.4", 2 * SEC, 1 * MS),
        make_candidate("E", "192.0.2.5", 3 * SEC, 1 * MS),
    };
    enum select_status st[5];
    struct select_params p = make_params(1, 1);
    struct select_result r = select_run(c, 5, &p, st);
    ck_assert_int_eq(r.verdict, SELECT_NO_MAJORITY);
    ck_assert_uint_eq(r.voters, 5);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(st[i], SELECT_STATUS_CANDIDATE);

    /* A third one near 0 makes a majority of five. */
    c[4].sample.offset_ns = 2 * MS;
    r = select_run(c, 5, &p, st);
    ck_assert_int_eq(r.verdict, SELECT_CONSENSUS);
    ck_assert_uint_eq(r.agreeing, 3);
    ck_assert_int_eq(r.offset_ns, 1 * MS);
    ck_assert_int_eq(st[2], SELECT_STATUS_FALSETICKER);
    ck_assert_int_eq(st[3], SELECT_STATUS_FALSETICKER);
    ck_assert_int_eq(st[4], SELECT_STATUS_SELECTED);
    /* Two sources alone are no majority of two plus two disjoint ones either. */
    r = select_run(c, 4, &p, st);
    ck_assert_int_eq(r.verdict, SELECT_NO_MAJORITY);
}
END_TEST

START_TEST(test_weighted_mean)
{
    /* lambda 10, 20, 20 ms; intervals [-10, 10], [-17, 23], [-14, 26] ms. */
    struct select_candidate c[] = {
        make_candidate("A", "192.0.2.1", 0, 20 * MS),
        make_candidate("B", "192.0.2.2", 3 * MS, 40 * MS),
        make_candidate("C", "192.0.2.3", 6 * MS, 40 * MS),
    };
    struct select_params p = make_params(3, 3);
    struct select_result r = select_run(c, 3, &p, NULL);
    ck_assert_int_eq(r.verdict, SELECT_CONSENSUS);
    /* (0 / 10 + 3 / 20 + 6 / 20) / (1 / 10 + 1 / 20 + 1 / 20) = 0.45 / 0.2 = 2.25 ms */
    ck_assert_int_eq(r.offset_ns, 2250000);
    ck_assert_int_eq(r.low_ns, -10 * MS);
    ck_assert_int_eq(r.high_ns, 10 * MS);
    /* max(2.25 + 10, 10 - 2.25) ms */
    ck_assert_int_eq(r.uncertainty_ns, 12250000);

    /* Age and jitter widen lambda and so lower the weight: 1000 s of PHI (15 ms) and 5 ms
     * of jitter take C to lambda 40 ms.
     * (0 / 10 + 3 / 20 + 6 / 40) / (1 / 10 + 1 / 20 + 1 / 40) = 0.3 / 0.175 = 1.7142857 ms */
    c[2].jitter_ns = 5 * MS;
    c[2].sample.taken_ns = NOW - 1000 * SEC;
    ck_assert_int_eq(select_root_distance_ns(&c[2].sample, c[2].jitter_ns, NOW), 40 * MS);
    r = select_run(c, 3, &p, NULL);
    ck_assert_int_eq(r.verdict, SELECT_CONSENSUS);
    ck_assert_int_eq(r.offset_ns, 1714286);
}
END_TEST

START_TEST(test_uncertainty_bound)
{
    /* [-10, 10] and [-6, 14] ms meet in [-6, 10]; equal weights put the offset at 2 ms. */
    struct select_candidate c[] = {
        make_candidate("A", "192.0.2.1", 0, 20 * MS),
        make_candidate("B", "192.0.2.2", 4 * MS, 20 * MS),
    };
    enum select_status st[2];
    struct select_params p = make_params(2, 2);
    struct select_result r = select_run(c, 2, &p, st);
    ck_assert_int_eq(r.verdict, SELECT_CONSENSUS);
    ck_assert_int_eq(r.low_ns, -6 * MS);
    ck_assert_int_eq(r.high_ns, 10 * MS);
    ck_assert_int_eq(r.offset_ns, 2 * MS);
    ck_assert_int_eq(r.uncertainty_ns, 8 * MS);
    /* Sound: the whole intersection lies within offset ± uncertainty. */
    ck_assert_int_le(r.offset_ns - r.uncertainty_ns, r.low_ns);
    ck_assert_int_ge(r.offset_ns + r.uncertainty_ns, r.high_ns);

    /* Lopsided: B at -4 ms with lambda 20 ms, [-24, 16] ∩ [-10, 10] = [-10, 10]; the
     * offset (0 / 10 - 4 / 20) / (1 / 10 + 1 / 20) = -1.333 ms lies nearer low, so the
     * bound is the distance to high: 11.333 ms. */
    c[1].sample.offset_ns = -4 * MS;
    c[1].sample.delay_ns = 40 * MS;
    r = select_run(c, 2, &p, st);
    ck_assert_int_eq(r.verdict, SELECT_CONSENSUS);
    ck_assert_int_eq(r.low_ns, -10 * MS);
    ck_assert_int_eq(r.high_ns, 10 * MS);
    ck_assert_int_eq(r.offset_ns, -1333333);
    ck_assert_int_eq(r.uncertainty_ns, 11333333);
}
END_TEST

START_TEST(test_outside_midpoint_costs_a_falseticker)
{
    /* All three intervals meet in [-1, 10] ms, but C's midpoint (12 ms) lies outside it. With
     * f = 0 no midpoint may lie outside, so f = 1: two intervals meet in [-10, 10] ms. */
    struct select_candidate c[] = {
        make_candidate("A", "192.0.2.1", 0, 20 * MS), make_candidate("B", "192.0.2.2", 0, 20 * MS),
        make_candidate("C", "192.0.2.3", 12 * MS, 26 * MS), /* lambda 13 ms: [-1, 25] */
    };
    enum select_status st[3];
    struct select_params p = make_params(2, 2);
    struct select_result r = select_run(c, 3, &p, st);
    ck_assert_int_eq(r.verdict, SELECT_CONSENSUS);
    ck_assert_int_eq(r.low_ns, -10 * MS);
    ck_assert_int_eq(r.high_ns, 10 * MS);
    ck_assert_int_eq(st[0], SELECT_STATUS_SELECTED);
    ck_assert_int_eq(st[1], SELECT_STATUS_SELECTED);
    ck_assert_int_eq(st[2], SELECT_STATUS_CANDIDATE);
    ck_assert_uint_eq(r.agreeing, 2);
}
END_TEST

START_TEST(test_overlapping_midpoint_outside_is_candidate)
{
    /* D's interval [5, 25] ms overlaps the intersection [-10, 10] ms but its offset does
     * not lie inside it: RFC 5905 does not let it survive. */
    struct select_candidate c[] = {
        make_candidate("A", "192.0.2.1", 0, 20 * MS),
        make_candidate("B", "192.0.2.2", 0, 20 * MS),
        make_candidate("C", "192.0.2.3", 0, 20 * MS),
        make_candidate("D", "192.0.2.4", 15 * MS, 20 * MS),
    };
    enum select_status st[4];
    struct select_params p = make_params(3, 2);
    struct select_result r = select_run(c, 4, &p, st);
    ck_assert_int_eq(r.verdict, SELECT_CONSENSUS);
    ck_assert_int_eq(r.low_ns, -10 * MS);
    ck_assert_int_eq(r.high_ns, 10 * MS);
    ck_assert_int_eq(st[3], SELECT_STATUS_CANDIDATE);
    ck_assert_int_eq(st[0], SELECT_STATUS_SELECTED);
    ck_assert_uint_eq(r.agreeing, 3);
    ck_assert_int_eq(r.offset_ns, 0);
}
END_TEST

START_TEST(test_aging_widens_interval)
{
    /* Fresh, C at +100 ms lies outside [-10, 10] ms: a falseticker. */
    struct select_candidate c[] = {
        make_candidate("A", "192.0.2.1", 0, 20 * MS),
        make_candidate("B", "192.0.2.2", 0, 20 * MS),
        make_candidate("C", "192.0.2.3", 100 * MS, 20 * MS),
    };
    enum select_status st[3];
    struct select_params p = make_params(2, 2);
    struct select_result r = select_run(c, 3, &p, st);
    ck_assert_int_eq(r.verdict, SELECT_CONSENSUS);
    ck_assert_int_eq(st[2], SELECT_STATUS_FALSETICKER);

    /* Two hours old, PHI adds 108 ms: [-18, 218] ms now overlaps, C becomes a candidate. */
    c[2].sample.taken_ns = NOW - 7200 * SEC;
    r = select_run(c, 3, &p, st);
    ck_assert_int_eq(r.verdict, SELECT_CONSENSUS);
    ck_assert_int_eq(st[2], SELECT_STATUS_CANDIDATE);
    ck_assert_int_eq(r.low_ns, -10 * MS);
    ck_assert_int_eq(r.high_ns, 10 * MS);
}
END_TEST

START_TEST(test_no_candidates)
{
    enum select_status st[3] = {SELECT_STATUS_SELECTED, SELECT_STATUS_SELECTED,
                                SELECT_STATUS_SELECTED};
    struct select_params p = make_params(1, 1);
    struct select_result r = select_run(NULL, 0, &p, NULL);
    ck_assert_int_eq(r.verdict, SELECT_NO_CANDIDATES);
    ck_assert_uint_eq(r.voters, 0);
    ck_assert_int_eq(r.offset_ns, 0);

    /* A NULL array or NULL params is "nothing to select from", and nobody is selected. */
    r = select_run(NULL, 3, &p, st);
    ck_assert_int_eq(r.verdict, SELECT_NO_CANDIDATES);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(st[i], SELECT_STATUS_FALSETICKER);
    struct select_candidate c = make_candidate("A", "192.0.2.1", 0, 20 * MS);
    st[0] = SELECT_STATUS_SELECTED;
    r = select_run(&c, 1, NULL, st);
    ck_assert_int_eq(r.verdict, SELECT_NO_CANDIDATES);
    ck_assert_int_eq(st[0], SELECT_STATUS_FALSETICKER);

    /* One source is a majority of one; the quorum decides. */
    r = select_run(&c, 1, &p, st);
    ck_assert_int_eq(r.verdict, SELECT_CONSENSUS);
    ck_assert_int_eq(st[0], SELECT_STATUS_SELECTED);
    p = make_params(3, 1);
    r = select_run(&c, 1, &p, st);
    ck_assert_int_eq(r.verdict, SELECT_TOO_FEW_AGREEING);
    ck_assert_int_eq(st[0], SELECT_STATUS_CANDIDATE);
}
END_TEST

START_TEST(test_extreme_values)
{
    /* Saturated lambdas (INT64_MAX) are past MAXDIST: none of them votes, whatever its
     * offset, and nothing overflows on the way. */
    struct select_candidate c[3] = {
        make_candidate("A", "192.0.2.1", INT64_MAX / 4, INT64_MAX),
        make_candidate("B", "192.0.2.2", -(INT64_MAX / 4), INT64_MAX),
        make_candidate("C", "192.0.2.3", 0, INT64_MAX),
    };
    for (int i = 0; i < 3; i++)
        c[i].sample.root_dispersion_ns = INT64_MAX;
    enum select_status st[3];
    struct select_params p = make_params(3, 3);
    struct select_result r = select_run(c, 3, &p, st);
    ck_assert_int_eq(r.verdict, SELECT_NO_CANDIDATES);
    ck_assert_uint_eq(r.voters, 0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(st[i], SELECT_STATUS_CANDIDATE);

    /* Offsets at the very ends of the range, small lambdas: two disjoint, no majority. */
    struct select_candidate ends[2] = {
        make_candidate("A", "192.0.2.1", INT64_MAX, 20 * MS),
        make_candidate("B", "192.0.2.2", INT64_MIN, 20 * MS),
    };
    p = make_params(1, 1);
    r = select_run(ends, 2, &p, st);
    ck_assert_int_eq(r.verdict, SELECT_NO_MAJORITY);

    /* Three near INT64_MAX agree; the high end saturates, the combination stays in range. */
    struct select_candidate top[3] = {
        make_candidate("A", "192.0.2.1", INT64_MAX, 20 * MS),
        make_candidate("B", "192.0.2.2", INT64_MAX - 2 * MS, 20 * MS),
        make_candidate("C", "192.0.2.3", INT64_MAX - 4 * MS, 20 * MS),
    };
    p = make_params(3, 3);
    r = select_run(top, 3, &p, st);
    ck_assert_int_eq(r.verdict, SELECT_CONSENSUS);
    ck_assert_int_eq(r.low_ns, INT64_MAX - 10 * MS);
    ck_assert_int_eq(r.high_ns, INT64_MAX);
    ck_assert_int_eq(r.offset_ns, INT64_MAX - 2 * MS);
    ck_assert_int_eq(r.uncertainty_ns, 8 * MS);

    /* Two survivors at opposite ends of the range cannot agree: no overflow either. */
    struct select_candidate wide[2] = {
        make_candidate("A", "192.0.2.1", INT64_MIN / 2, 900 * MS),
        make_candidate("B", "192.0.2.2", INT64_MAX / 2, 900 * MS),
    };
    p = make_params(2, 2);
    r = select_run(wide, 2, &p, st);
    ck_assert_int_eq(r.verdict, SELECT_NO_MAJORITY);
}
END_TEST

START_TEST(test_too_distant_source_does_not_vote)
{
    /* RFC 5905 MAXDIST: a 3 s wide interval would agree with anyone; it must not fill the
     * quorum. Its root dispersion puts its root distance at 1.5 s. */
    struct select_candidate c[] = {
        make_candidate("A", "192.0.2.1", 1 * MS, 20 * MS),
        make_candidate("B", "192.0.2.2", -1 * MS, 20 * MS),
        make_candidate("C", "192.0.2.3", 900 * MS, 20 * MS),
    };
    c[2].sample.root_dispersion_ns = 1500 * MS;
    enum select_status st[3];
    struct select_params p = make_params(3, 2);
    struct select_result r = select_run(c, 3, &p, st);
    ck_assert_int_eq(r.verdict, SELECT_TOO_FEW_AGREEING);
    ck_assert_uint_eq(r.voters, 2);
    ck_assert_uint_eq(r.agreeing, 2);
    ck_assert_int_eq(st[2], SELECT_STATUS_CANDIDATE);
    /* Just inside the bound it votes, and agrees. */
    c[2].sample.offset_ns = 0;
    c[2].sample.root_dispersion_ns = 900 * MS;
    r = select_run(c, 3, &p, st);
    ck_assert_int_eq(r.verdict, SELECT_CONSENSUS);
    ck_assert_uint_eq(r.agreeing, 3);
}
END_TEST

START_TEST(test_too_many_candidates)
{
    static const char *const names[] = {"a", "b", "c", "d", "e", "f", "g", "h"};
    struct select_candidate c[SELECT_MAX_CANDIDATES + 2];
    char addresses[SELECT_MAX_CANDIDATES + 2][16];
    enum select_status st[SELECT_MAX_CANDIDATES + 2];
    for (size_t i = 0; i < SELECT_MAX_CANDIDATES + 2; i++) {
        /* Distinct addresses "x00" .. "x65". */
        addresses[i][0] = 'x';
        addresses[i][1] = (char)('0' + i / 10);
        addresses[i][2] = (char)('0' + i % 10);
        addresses[i][3] = '\0';
        c[i] = make_candidate(names[i % 8], addresses[i], (int64_t)(i % 3) * MS, 20 * MS);
    }
    /* The last one shares an address with the first, and would be a better voter. */
    c[SELECT_MAX_CANDIDATES + 1].address = addresses[0];
    c[SELECT_MAX_CANDIDATES + 1].sample.delay_ns = 0;
    struct select_params p = make_params(3, 2);
    struct select_result r = select_run(c, SELECT_MAX_CANDIDATES + 2, &p, st);
    ck_assert_int_eq(r.verdict, SELECT_CONSENSUS);
    ck_assert_uint_eq(r.voters, SELECT_MAX_CANDIDATES);
    ck_assert_uint_eq(r.agreeing, SELECT_MAX_CANDIDATES);
    ck_assert_uint_eq(r.operators, 8);
    ck_assert_int_eq(st[SELECT_MAX_CANDIDATES - 1], SELECT_STATUS_SELECTED);
    /* Not examined: neither voters nor selected. */
    ck_assert_int_eq(st[SELECT_MAX_CANDIDATES], SELECT_STATUS_FALSETICKER);
    ck_assert_int_eq(st[SELECT_MAX_CANDIDATES + 1], SELECT_STATUS_FALSETICKER);
    /* 22 at 0, 21 at 1 ms, 21 at 2 ms, equal weights: 63 / 64 ms. */
    ck_assert_int_eq(r.offset_ns, 984375);
}
END_TEST

START_TEST(test_verdict_strings)
{
    ck_assert_str_eq(select_verdict_str(SELECT_CONSENSUS), "consensus");
    ck_assert_str_eq(select_verdict_str(SELECT_NO_CANDIDATES), "no sources");
    ck_assert_str_eq(select_verdict_str(SELECT_NO_MAJORITY), "no majority");
    ck_assert_str_eq(select_verdict_str(SELECT_TOO_FEW_AGREEING), "too few sources agree");
    ck_assert_str_eq(select_verdict_str(SELECT_TOO_FEW_OPERATORS),
                     "too few operators among the agreeing sources");
    ck_assert_str_eq(select_verdict_str((enum select_verdict)42), "unknown verdict");
}
END_TEST

static Suite *make_suite(void)
{
    Suite *suite = suite_create("select");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_root_distance_hand_computed);
    tcase_add_test(tc, test_root_distance_mindisp_and_negatives);
    tcase_add_test(tc, test_root_distance_saturates);
    tcase_add_test(tc, test_three_honest_one_liar_at_30s);
    tcase_add_test(tc, test_two_honest_two_liars_no_consensus);
    tcase_add_test(tc, test_all_lying_together);
    tcase_add_test(tc, test_liar_by_300ms);
    tcase_add_test(tc, test_same_address_counts_once);
    tcase_add_test(tc, test_twin_with_smaller_lambda_votes);
    tcase_add_test(tc, test_operator_diversity);
    tcase_add_test(tc, test_majority_required);
    tcase_add_test(tc, test_weighted_mean);
    tcase_add_test(tc, test_uncertainty_bound);
    tcase_add_test(tc, test_overlapping_midpoint_outside_is_candidate);
    tcase_add_test(tc, test_outside_midpoint_costs_a_falseticker);
    tcase_add_test(tc, test_aging_widens_interval);
    tcase_add_test(tc, test_no_candidates);
    tcase_add_test(tc, test_extreme_values);
    tcase_add_test(tc, test_too_distant_source_does_not_vote);
    tcase_add_test(tc, test_too_many_candidates);
    tcase_add_test(tc, test_verdict_strings);
    suite_add_tcase(suite, tc);
    return suite;
}

GNOMON_CHECK_MAIN(make_suite)
