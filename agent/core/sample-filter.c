/* The per-source clock filter: RFC 5905 §10, reduced to what gnomon needs. */
#include "sample-filter.h"

#include <stddef.h>
#include <stdint.h>

/* now - then without overflow (clamped to the int64_t range). */
static int64_t sub_sat(int64_t now, int64_t then)
{
    if (then < 0 && now > INT64_MAX + then)
        return INT64_MAX;
    if (then > 0 && now < INT64_MIN + then)
        return INT64_MIN;
    return now - then;
}

/* Ring slot of the i-th stored sample, oldest first. */
static size_t slot(const struct sample_filter *f, size_t i)
{
    return (f->next + SAMPLE_FILTER_SIZE - f->count + i) % SAMPLE_FILTER_SIZE;
}

static bool is_fresh(const struct sample *s, int64_t now_ns)
{
    return sub_sat(now_ns, s->taken_ns) <= SAMPLE_FILTER_MAX_AGE_NS;
}

/* Slot of the best fresh sample, or SAMPLE_FILTER_SIZE if there is none. */
static size_t best_slot(const struct sample_filter *f, int64_t now_ns)
{
    size_t best = SAMPLE_FILTER_SIZE;
    /* Oldest to newest with "<=": on equal delays the newer sample wins, as its offset has
     * had less time to go stale. */
    for (size_t i = 0; i < f->count; i++) {
        size_t k = slot(f, i);
        const struct sample *s = &f->samples[k];
        if (!is_fresh(s, now_ns))
            continue;
        if (best == SAMPLE_FILTER_SIZE || s->delay_ns <= f->samples[best].delay_ns)
            best = k;
    }
    return best;
}

/* Square root by Newton's method, so that core/ needs no libm. Starting at or above the
 * root, the iterates fall monotonically; stop when they no longer do. */
static double square_root(double v)
{
    if (!(v > 0.0))
        return 0.0;
    double x = v > 1.0 ? v : 1.0;
    for (int i = 0; i < 2000; i++) {
        double next = 0.5 * (x + v / x);
        if (!(next < x))
            break;
        x = next;
    }
    return x;
}

void sample_filter_init(struct sample_filter *f)
{
    if (f == NULL)
        return;
    *f = (struct sample_filter){0};
}

void sample_filter_add(struct sample_filter *f, const struct sample *s)
{
    if (f == NULL || s == NULL)
        return;
    if (f->next >= SAMPLE_FILTER_SIZE || f->count > SAMPLE_FILTER_SIZE)
        sample_filter_init(f); /* never index out of the ring, whatever the struct held */
    f->samples[f->next] = *s;
    f->next = (f->next + 1) % SAMPLE_FILTER_SIZE;
    if (f->count < SAMPLE_FILTER_SIZE)
        f->count++;
}

void sample_filter_clear(struct sample_filter *f)
{
    sample_filter_init(f);
}

void sample_filter_shift(struct sample_filter *f, int64_t correction_ns)
{
    for (size_t k = 0; k < f->count && k < SAMPLE_FILTER_SIZE; k++) {
        int64_t *offset = &f->samples[k].offset_ns;
        if (correction_ns > 0 && *offset < INT64_MIN + correction_ns)
            *offset = INT64_MIN;
        else if (correction_ns < 0 && *offset > INT64_MAX + correction_ns)
            *offset = INT64_MAX;
        else
            *offset -= correction_ns;
    }
}

size_t sample_filter_count(const struct sample_filter *f)
{
    if (f == NULL || f->count > SAMPLE_FILTER_SIZE)
        return 0;
    return f->count;
}

bool sample_filter_best(const struct sample_filter *f, int64_t now_ns, struct sample *out)
{
    if (f == NULL || out == NULL || f->next >= SAMPLE_FILTER_SIZE || f->count > SAMPLE_FILTER_SIZE)
        return false;
    size_t best = best_slot(f, now_ns);
    if (best == SAMPLE_FILTER_SIZE)
        return false;
    *out = f->samples[best];
    return true;
}

int64_t sample_filter_jitter_ns(const struct sample_filter *f, int64_t now_ns)
{
    if (f == NULL || f->next >= SAMPLE_FILTER_SIZE || f->count > SAMPLE_FILTER_SIZE)
        return 0;
    size_t best = best_slot(f, now_ns);
    if (best == SAMPLE_FILTER_SIZE)
        return 0;

    /* RFC 5905 §10: psi = sqrt(1/(n-1) * sum (theta_0 - theta_j)^2). In double: a difference
     * of two int64_t may not fit in one, and its square never fits; the relative rounding
     * (2^-53) is far below a nanosecond for any offset a real source produces. */
    double best_offset = (double)f->samples[best].offset_ns;
    double sum = 0.0;
    unsigned others = 0;
    for (size_t i = 0; i < f->count; i++) {
        size_t k = slot(f, i);
        if (k == best || !is_fresh(&f->samples[k], now_ns))
            continue;
        double d = (double)f->samples[k].offset_ns - best_offset;
        sum += d * d;
        others++;
    }
    if (others == 0)
        return 0;

    double rms = square_root(sum / others);
    if (rms >= 9223372036854775808.0) /* 2^63 */
        return INT64_MAX;
    return (int64_t)(rms + 0.5);
}
