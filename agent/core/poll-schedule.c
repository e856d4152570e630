#include "poll-schedule.h"

void poll_schedule_init(struct poll_schedule *s)
{
    s->failures = 0;
    s->rate_shift = 0;
    s->next_allowed_ns = 0;
}

int64_t poll_schedule_backoff_ns(unsigned failures)
{
    /* Integer nanoseconds: each step adds half, and the cap ends the loop. */
    int64_t wait_ns = POLL_SCHEDULE_BACKOFF_FIRST_NS;
    for (unsigned i = 1; i < failures && wait_ns < POLL_SCHEDULE_BACKOFF_MAX_NS; i++)
        wait_ns += wait_ns / 2;
    return wait_ns < POLL_SCHEDULE_BACKOFF_MAX_NS ? wait_ns : POLL_SCHEDULE_BACKOFF_MAX_NS;
}

/* now + poll * 2^shift - poll: the next round comes poll_ns after this one, and a source
 * slowed by RATE sits out the rounds until its own interval has passed. */
static int64_t slowed_until(int64_t poll_ns, unsigned shift, int64_t now_ns)
{
    return now_ns + (poll_ns << shift) - poll_ns;
}

void poll_schedule_success(struct poll_schedule *s, int64_t poll_ns, int64_t now_ns)
{
    s->failures = 0;
    s->next_allowed_ns = s->rate_shift > 0 ? slowed_until(poll_ns, s->rate_shift, now_ns) : 0;
}

void poll_schedule_failure(struct poll_schedule *s, int64_t now_ns)
{
    if (s->failures < POLL_SCHEDULE_MAX_FAILURES)
        s->failures++;
    s->next_allowed_ns = now_ns + poll_schedule_backoff_ns(s->failures);
}

int64_t poll_schedule_rate(struct poll_schedule *s, int64_t poll_ns, int64_t now_ns)
{
    if (s->rate_shift < POLL_SCHEDULE_MAX_RATE_SHIFT)
        s->rate_shift++;
    s->next_allowed_ns = slowed_until(poll_ns, s->rate_shift, now_ns);
    return poll_ns << s->rate_shift;
}

bool poll_schedule_may_poll(const struct poll_schedule *s, int64_t now_ns)
{
    return s->next_allowed_ns <= now_ns;
}

void poll_schedule_forget_failures(struct poll_schedule *s)
{
    s->failures = 0;
    s->next_allowed_ns = 0;
}

bool poll_schedule_needs_key_exchange(bool have_keys, size_t cookies, int64_t key_time_unix,
                                      int64_t now_unix)
{
    if (!have_keys || cookies == 0)
        return true;
    return key_time_unix != 0 && now_unix - key_time_unix > POLL_SCHEDULE_KEY_LIFETIME_S;
}
