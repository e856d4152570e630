/* Clock select and consensus, as nts-notes.md ("NTP arithmetic") and clock-policy.md
 * ("consensus") describe them. Fixed-size arrays on the stack: no allocation. */
#include "select.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Sort order at equal values: low end, midpoint, high end. Intervals that only touch then
 * count as overlapping (closed intervals), and a midpoint on the edge of the intersection
 * is never counted as outside it. */
enum endpoint_type {
    ENDPOINT_LOW = -1,
    ENDPOINT_MID = 0,
    ENDPOINT_HIGH = 1,
};

struct endpoint {
    int64_t value;
    int type; /* enum endpoint_type */
};

/* One vote: the candidate with the smallest root distance among those sharing an address. */
struct voter {
    size_t index; /* into candidates */
    int64_t lambda;
    int64_t low, mid, high; /* the correctness interval [mid - lambda, mid + lambda] */
    enum select_status status;
};

static int64_t add_sat(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b)
        return INT64_MIN;
    return a + b;
}

static int64_t sub_sat(int64_t a, int64_t b)
{
    if (b < 0 && a > INT64_MAX + b)
        return INT64_MAX;
    if (b > 0 && a < INT64_MIN + b)
        return INT64_MIN;
    return a - b;
}

static int64_t non_negative(int64_t v)
{
    return v < 0 ? 0 : v;
}

/* base + delta for a sum known to lie in the int64_t range, without a signed overflow on
 * the way there. */
static int64_t add_unsigned(int64_t base, uint64_t delta)
{
    if (base >= 0) {
        uint64_t sum = (uint64_t)base + delta;
        return sum > INT64_MAX ? INT64_MAX : (int64_t)sum;
    }
    uint64_t magnitude = (uint64_t)(-(base + 1)) + 1; /* |base|, up to 2^63 */
    if (delta >= magnitude) {
        uint64_t sum = delta - magnitude;
        return sum > INT64_MAX ? INT64_MAX : (int64_t)sum;
    }
    return -(int64_t)(magnitude - delta - 1) - 1;
}

/* Addresses and operator names compare as strings; two NULLs are the same (unknown) one, so
 * missing names can only lower the counts that a consensus needs. */
static bool same_name(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

int64_t select_root_distance_ns(const struct sample *s, int64_t jitter_ns, int64_t now_ns)
{
    if (s == NULL)
        return INT64_MAX;
    /* RFC 5905 A.5.5.2 (root_dist()): half the round trip to the reference, but at least
     * MINDISP / 2, plus every dispersion, plus PHI for each second since the sample was
     * taken (the local clock may have drifted that much since), plus jitter. */
    int64_t path = add_sat(non_negative(s->root_delay_ns), non_negative(s->delay_ns));
    if (path < SELECT_MINDISP_NS)
        path = SELECT_MINDISP_NS;
    int64_t age = non_negative(sub_sat(now_ns, s->taken_ns));
    /* age * PHI, split so that the product cannot overflow; rounds down. */
    int64_t aging = age / 1000000 * SELECT_PHI_PPM + age % 1000000 * SELECT_PHI_PPM / 1000000;

    int64_t lambda = path / 2;
    lambda = add_sat(lambda, non_negative(s->root_dispersion_ns));
    lambda = add_sat(lambda, non_negative(s->dispersion_ns));
    lambda = add_sat(lambda, aging);
    lambda = add_sat(lambda, non_negative(jitter_ns));
    return lambda;
}

static bool endpoint_before(const struct endpoint *a, const struct endpoint *b)
{
    return a->value < b->value || (a->value == b->value && a->type < b->type);
}

/* Insertion sort: at most 3 * SELECT_MAX_CANDIDATES entries, and stable. */
static void sort_endpoints(struct endpoint *e, size_t count)
{
    for (size_t i = 1; i < count; i++) {
        struct endpoint key = e[i];
        size_t j = i;
        while (j > 0 && endpoint_before(&key, &e[j - 1])) {
            e[j] = e[j - 1];
            j--;
        }
        e[j] = key;
    }
}

/* RFC 5905 §11.2.1 / A.5.5.1 (clock_select()), as nts-notes.md states it: for f = 0, 1, ...
 * while 2f < m, sweep up until m - f intervals are open (low) and down likewise (high); the
 * midpoints passed on the way are outside. Done when at most f midpoints are outside and
 * low <= high. The threshold is m - f, as the notes say (the listing in RFC 5905 A.5.5.1
 * writes n - found there; its prose, like ntpd, means the number of falsetickers allowed). */
static bool intersect(const struct endpoint *e, size_t count, size_t m, int64_t *low, int64_t *high)
{
    for (size_t f = 0; 2 * f < m; f++) {
        size_t need = m - f;
        size_t open = 0;
        size_t outside = 0;
        bool have_low = false;
        bool have_high = false;
        int64_t lo = 0;
        int64_t hi = 0;

        for (size_t i = 0; i < count; i++) {
            if (e[i].type == ENDPOINT_LOW) {
                if (++open >= need) {
                    lo = e[i].value;
                    have_low = true;
                    break;
                }
            } else if (e[i].type == ENDPOINT_MID) {
                outside++;
            } else if (open > 0) {
                open--;
            }
        }

        open = 0;
        for (size_t i = count; i-- > 0;) {
            if (e[i].type == ENDPOINT_HIGH) {
                if (++open >= need) {
                    hi = e[i].value;
                    have_high = true;
                    break;
                }
            } else if (e[i].type == ENDPOINT_MID) {
                outside++;
            } else if (open > 0) {
                open--;
            }
        }

        if (have_low && have_high && outside <= f && lo <= hi) {
            *low = lo;
            *high = hi;
            return true;
        }
    }
    return false;
}

/* RFC 5905 §11.2.3 combines the survivors weighted by 1/lambda. The weighted mean lies
 * between the smallest and largest survivor offset, so it is taken relative to the smallest
 * (in double: differences of int64_t need 64 bits unsigned) and added back without overflow.
 * The rounding of double is far below a nanosecond for any offset a real source gives. */
static int64_t combine(const struct voter *v, size_t m)
{
    int64_t min = INT64_MAX;
    int64_t max = INT64_MIN;
    for (size_t j = 0; j < m; j++) {
        if (v[j].status != SELECT_STATUS_SELECTED)
            continue;
        if (v[j].mid < min)
            min = v[j].mid;
        if (v[j].mid > max)
            max = v[j].mid;
    }
    if (min >= max)
        return min;

    double weighted = 0.0;
    double weights = 0.0;
    for (size_t j = 0; j < m; j++) {
        if (v[j].status != SELECT_STATUS_SELECTED)
            continue;
        /* lambda >= MINDISP / 2 > 0 by construction; the guard keeps that local. */
        double w = 1.0 / (double)(v[j].lambda > 0 ? v[j].lambda : 1);
        weighted += w * (double)((uint64_t)v[j].mid - (uint64_t)min);
        weights += w;
    }
    double mean = weighted / weights;
    uint64_t span = (uint64_t)max - (uint64_t)min;
    if (!(mean > 0.0))
        return min;
    if (mean >= (double)span)
        return max;
    uint64_t delta = (uint64_t)(mean + 0.5);
    return add_unsigned(min, delta > span ? span : delta);
}

static unsigned count_operators(const struct select_candidate *c, const struct voter *v, size_t m)
{
    unsigned operators = 0;
    for (size_t j = 0; j < m; j++) {
        if (v[j].status != SELECT_STATUS_SELECTED)
            continue;
        bool seen = false;
        for (size_t k = 0; k < j && !seen; k++)
            seen = v[k].status == SELECT_STATUS_SELECTED &&
                   same_name(c[v[k].index].operator_name, c[v[j].index].operator_name);
        if (!seen)
            operators++;
    }
    return operators;
}

struct select_result select_run(const struct select_candidate *candidates, size_t n,
                                const struct select_params *params, enum select_status *status)
{
    struct select_result r = {.verdict = SELECT_NO_CANDIDATES};

    /* Until shown otherwise nothing is trusted; this is also the final status of the
     * candidates beyond SELECT_MAX_CANDIDATES, which are not examined. */
    if (status != NULL) {
        for (size_t i = 0; i < n; i++)
            status[i] = SELECT_STATUS_FALSETICKER;
    }
    if (candidates == NULL || params == NULL || n == 0)
        return r;
    size_t examined = n;
    if (examined > SELECT_MAX_CANDIDATES)
        examined = SELECT_MAX_CANDIDATES; /* not a ?: expression: cppcheck 2.10 misreads it */

    /* One vote per address (clock-policy.md: the same NTP address counts once): the twin
     * with the smaller root distance votes, the earlier one on a tie. */
    struct voter voters[SELECT_MAX_CANDIDATES];
    size_t owner[SELECT_MAX_CANDIDATES];
    size_t m = 0;
    for (size_t i = 0; i < examined; i++) {
        const struct select_candidate *c = &candidates[i];
        int64_t lambda = select_root_distance_ns(&c->sample, c->jitter_ns, params->now_ns);
        /* RFC 5905 fit(): a source this far from its reference knows no time worth a vote,
         * and its wide interval would agree with anything. */
        if (lambda >= SELECT_MAX_DISTANCE_NS) {
            owner[i] = SIZE_MAX;
            continue;
        }
        size_t j = 0;
        while (j < m && !same_name(candidates[voters[j].index].address, c->address))
            j++;
        owner[i] = j;
        if (j == m) {
            voters[m] = (struct voter){.index = i, .lambda = lambda};
            m++;
        } else if (lambda < voters[j].lambda) {
            voters[j].index = i;
            voters[j].lambda = lambda;
        }
    }
    r.voters = (unsigned)m;
    if (m == 0) {
        if (status != NULL) {
            for (size_t i = 0; i < examined; i++)
                status[i] = SELECT_STATUS_CANDIDATE;
        }
        return r;
    }

    struct endpoint endpoints[3 * SELECT_MAX_CANDIDATES];
    for (size_t j = 0; j < m; j++) {
        struct voter *v = &voters[j];
        v->mid = candidates[v->index].sample.offset_ns;
        v->low = sub_sat(v->mid, v->lambda);
        v->high = add_sat(v->mid, v->lambda);
        endpoints[3 * j] = (struct endpoint){v->low, ENDPOINT_LOW};
        endpoints[3 * j + 1] = (struct endpoint){v->mid, ENDPOINT_MID};
        endpoints[3 * j + 2] = (struct endpoint){v->high, ENDPOINT_HIGH};
    }
    sort_endpoints(endpoints, 3 * m);

    int64_t low = 0;
    int64_t high = 0;
    if (!intersect(endpoints, 3 * m, m, &low, &high)) {
        /* No majority agrees on anything, so no source can be called a falseticker either. */
        r.verdict = SELECT_NO_MAJORITY;
        if (status != NULL) {
            for (size_t i = 0; i < examined; i++)
                status[i] = SELECT_STATUS_CANDIDATE;
        }
        return r;
    }
    r.low_ns = low;
    r.high_ns = high;

    /* Survivors are the voters whose midpoint lies inside [low, high], as in RFC 5905's
     * listing (A.5.5.1). ntpd keeps every interval that overlaps it and chrony wants the
     * interval to contain or lie inside it; we follow the RFC. An overlapping interval
     * whose midpoint lies outside is a candidate, anything else a falseticker. */
    unsigned agreeing = 0;
    for (size_t j = 0; j < m; j++) {
        struct voter *v = &voters[j];
        if (v->mid >= low && v->mid <= high) {
            v->status = SELECT_STATUS_SELECTED;
            agreeing++;
        } else if (v->low <= high && v->high >= low) {
            v->status = SELECT_STATUS_CANDIDATE;
        } else {
            v->status = SELECT_STATUS_FALSETICKER;
        }
    }
    r.agreeing = agreeing;
    r.operators = count_operators(candidates, voters, m);

    if (agreeing > 0) {
        r.offset_ns = combine(voters, m);
        int64_t below = sub_sat(r.offset_ns, low);
        int64_t above = sub_sat(high, r.offset_ns);
        r.uncertainty_ns = below > above ? below : above;
    }

    /* Both conditions of clock-policy.md's "consensus": a strict majority of the voters
     * (ntpd-rs and chrony both require more than half; the sweep above already implies it,
     * checked again so the rule stands on its own) and the quorum, from enough operators. */
    if (agreeing == 0 || 2 * (size_t)agreeing <= m)
        r.verdict = SELECT_NO_MAJORITY;
    else if (agreeing < params->min_agreeing_sources)
        r.verdict = SELECT_TOO_FEW_AGREEING;
    else if (r.operators < params->min_operators)
        r.verdict = SELECT_TOO_FEW_OPERATORS;
    else
        r.verdict = SELECT_CONSENSUS;

    /* Without a consensus nothing is selected: would-be survivors are only candidates. */
    if (r.verdict != SELECT_CONSENSUS) {
        for (size_t j = 0; j < m; j++) {
            if (voters[j].status == SELECT_STATUS_SELECTED)
                voters[j].status = SELECT_STATUS_CANDIDATE;
        }
    }
    if (status != NULL) {
        for (size_t i = 0; i < examined; i++)
            status[i] = owner[i] == SIZE_MAX ? SELECT_STATUS_CANDIDATE : voters[owner[i]].status;
    }
    return r;
}

const char *select_verdict_str(enum select_verdict v)
{
    switch (v) {
    case SELECT_CONSENSUS:
        return "consensus";
    case SELECT_NO_CANDIDATES:
        return "no sources";
    case SELECT_NO_MAJORITY:
        return "no majority";
    case SELECT_TOO_FEW_AGREEING:
        return "too few sources agree";
    case SELECT_TOO_FEW_OPERATORS:
        return "too few operators among the agreeing sources";
    }
    return "unknown verdict";
}

const char *select_status_str(enum select_status status)
{
    switch (status) {
    case SELECT_STATUS_SELECTED:
        return "selected";
    case SELECT_STATUS_CANDIDATE:
        return "candidate";
    case SELECT_STATUS_FALSETICKER:
        return "falseticker";
    }
    return "candidate";
}
