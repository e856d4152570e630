#include "discipline.h"

#include "nanoseconds.h"

/* Frequency estimate (a frequency-locked loop): after a correction the offset grows from
 * zero at the rate of the remaining frequency error, so offset / elapsed estimates it.
 * Half of each estimate is taken: fast enough to follow a 50 ppm crystal within a few
 * polls, slow enough that measurement noise does not make it wander. */
#define FLL_GAIN         0.5
/* Estimates over shorter spans are mostly noise (politeness keeps polls >= 2 s apart). */
#define FLL_MIN_SPAN_NS  (16 * NS_PER_SEC)
/* Poll interval: lengthen after two quiet polls, shorten after a loud one. */
#define POLL_QUIET_NS    (500 * NS_PER_US)
#define POLL_LOUD_NS     (2 * NS_PER_MS)
#define POLL_QUIET_COUNT 2

static int64_t abs64(int64_t v)
{
    return v == INT64_MIN ? INT64_MAX : (v < 0 ? -v : v);
}

void discipline_init(struct discipline *d, const struct discipline_limits *limits,
                     bool boot_window_open, double frequency_ppm, int64_t time_floor_unix_ns)
{
    *d = (struct discipline){
        .boot_window_open = boot_window_open,
        .time_floor_unix_ns = time_floor_unix_ns,
        .frequency_ppm = frequency_ppm,
        .poll_ns = limits->poll_min_ns,
    };
}

static struct discipline_decision nothing(enum discipline_rule rule)
{
    return (struct discipline_decision){.verdict = DISCIPLINE_NOTHING, .rule = rule};
}

static struct discipline_decision step(enum discipline_rule rule, int64_t offset_ns,
                                       int64_t uncertainty_ns)
{
    return (struct discipline_decision){
        .verdict = DISCIPLINE_STEP,
        .rule = rule,
        .offset_ns = offset_ns,
        .uncertainty_ns = uncertainty_ns,
    };
}

/* Which rule would let this step through without an administrator, or why not. */
static enum discipline_rule judge_step(const struct discipline *d,
                                       const struct discipline_limits *limits, int64_t offset_ns,
                                       int64_t local_now_ns)
{
    /* A step backwards below the time floor is refused like an over-limit step. */
    if (offset_ns < 0 && d->time_floor_unix_ns != 0 &&
        local_now_ns + offset_ns < d->time_floor_unix_ns)
        return DISCIPLINE_RULE_BELOW_FLOOR;
    int64_t size = abs64(offset_ns);
    if (d->boot_window_open) {
        /* Forward: a dead RTC or a restored VM is behind; backward only as far as later. */
        if (offset_ns > 0)
            return size <= limits->startup_max_step_ns ? DISCIPLINE_RULE_BOOT_WINDOW
                                                       : DISCIPLINE_RULE_OVER_STARTUP_LIMIT;
        return size <= limits->max_step_ns ? DISCIPLINE_RULE_BOOT_WINDOW
                                           : DISCIPLINE_RULE_OVER_MAX_STEP;
    }
    return size <= limits->max_step_ns ? DISCIPLINE_RULE_WITHIN_MAX_STEP
                                       : DISCIPLINE_RULE_OVER_MAX_STEP;
}

static void adapt_poll(struct discipline *d, const struct discipline_limits *limits,
                       int64_t offset_ns)
{
    int64_t size = abs64(offset_ns);
    if (size < POLL_QUIET_NS) {
        if (++d->quiet_polls >= POLL_QUIET_COUNT) {
            d->quiet_polls = 0;
            d->poll_ns =
                d->poll_ns > limits->poll_max_ns / 2 ? limits->poll_max_ns : d->poll_ns * 2;
        }
    } else {
        d->quiet_polls = 0;
        if (size > POLL_LOUD_NS)
            d->poll_ns =
                d->poll_ns / 2 < limits->poll_min_ns ? limits->poll_min_ns : d->poll_ns / 2;
    }
}

static struct discipline_decision slew(struct discipline *d, const struct discipline_limits *limits,
                                       int64_t offset_ns, int64_t uncertainty_ns,
                                       int64_t boot_now_ns)
{
    struct discipline_decision decision = {
        .verdict = DISCIPLINE_SLEW,
        .rule = DISCIPLINE_RULE_BELOW_THRESHOLD,
        .offset_ns = offset_ns,
        .uncertainty_ns = uncertainty_ns,
        .frequency_ppm = d->frequency_ppm,
    };
    if (d->have_baseline) {
        int64_t span = boot_now_ns - d->baseline_boot_ns;
        if (span >= FLL_MIN_SPAN_NS) {
            /* offset = true - local > 0: the local clock ran slow, so speed it up. */
            double error_ppm = (double)offset_ns / (double)span * 1e6;
            double ppm = d->frequency_ppm + FLL_GAIN * error_ppm;
            if (ppm > limits->max_frequency_ppm)
                ppm = limits->max_frequency_ppm;
            if (ppm < -limits->max_frequency_ppm)
                ppm = -limits->max_frequency_ppm;
            decision.set_frequency = ppm != d->frequency_ppm;
            decision.frequency_ppm = ppm;
        }
    }
    adapt_poll(d, limits, offset_ns);
    return decision;
}

struct discipline_decision discipline_decide(struct discipline *d,
                                             const struct discipline_limits *limits, bool consensus,
                                             int64_t offset_ns, int64_t uncertainty_ns,
                                             int64_t local_now_ns, int64_t boot_now_ns)
{
    if (!consensus)
        return nothing(DISCIPLINE_RULE_NO_CONSENSUS);

    if (abs64(offset_ns) < limits->step_threshold_ns) {
        d->pending = false;
        return slew(d, limits, offset_ns, uncertainty_ns, boot_now_ns);
    }

    /* An administrator named this offset (clock-policy.md: approving a refused step): the
     * sources must still agree on it, within the tolerance given. */
    if (d->approval_live && abs64(offset_ns - d->approval_offset_ns) <= d->approval_tolerance_ns &&
        !(offset_ns < 0 && d->time_floor_unix_ns != 0 &&
          local_now_ns + offset_ns < d->time_floor_unix_ns))
        return step(DISCIPLINE_RULE_APPROVED, offset_ns, uncertainty_ns);

    enum discipline_rule rule = judge_step(d, limits, offset_ns, local_now_ns);
    if (rule == DISCIPLINE_RULE_BOOT_WINDOW || rule == DISCIPLINE_RULE_WITHIN_MAX_STEP) {
        d->pending = false;
        return step(rule, offset_ns, uncertainty_ns);
    }
    /* Refused. Reported once; after that the pending offset follows the measurements,
     * and nothing is retried until an approval. */
    bool first = !d->pending;
    d->pending = true;
    d->pending_offset_ns = offset_ns;
    if (!first)
        return nothing(DISCIPLINE_RULE_PENDING);
    return (struct discipline_decision){
        .verdict = DISCIPLINE_REFUSED,
        .rule = rule,
        .offset_ns = offset_ns,
        .uncertainty_ns = uncertainty_ns,
    };
}

void discipline_applied(struct discipline *d, const struct discipline_decision *decision,
                        bool accepted, int64_t boot_now_ns)
{
    if (!accepted)
        return;
    if (decision->verdict == DISCIPLINE_SLEW) {
        d->have_baseline = true;
        d->baseline_boot_ns = boot_now_ns;
        if (decision->set_frequency)
            d->frequency_ppm = decision->frequency_ppm;
    } else if (decision->verdict == DISCIPLINE_STEP) {
        d->boot_window_open = false;
        d->pending = false;
        d->approval_live = false;
        /* Samples from before the step are void (the caller discards them), and no
         * frequency estimate may span the step. */
        d->have_baseline = false;
        d->quiet_polls = 0;
    }
}

void discipline_approve(struct discipline *d, int64_t offset_ns, int64_t tolerance_ns)
{
    d->approval_live = true;
    d->approval_offset_ns = offset_ns;
    d->approval_tolerance_ns = tolerance_ns < 0 ? 0 : tolerance_ns;
}

void discipline_approval_lapsed(struct discipline *d)
{
    d->approval_live = false;
}

void discipline_restart_measuring(struct discipline *d)
{
    d->have_baseline = false;
    d->quiet_polls = 0;
}

const char *discipline_rule_str(enum discipline_rule rule)
{
    switch (rule) {
    case DISCIPLINE_RULE_NONE:
        return "none";
    case DISCIPLINE_RULE_NO_CONSENSUS:
        return "no consensus";
    case DISCIPLINE_RULE_BELOW_THRESHOLD:
        return "offset below the step threshold: slew";
    case DISCIPLINE_RULE_BOOT_WINDOW:
        return "step in the boot window";
    case DISCIPLINE_RULE_WITHIN_MAX_STEP:
        return "step within MaxStepSeconds";
    case DISCIPLINE_RULE_APPROVED:
        return "step approved by an administrator";
    case DISCIPLINE_RULE_OVER_STARTUP_LIMIT:
        return "forward step over StartupMaxStepSeconds";
    case DISCIPLINE_RULE_OVER_MAX_STEP:
        return "step over MaxStepSeconds";
    case DISCIPLINE_RULE_BELOW_FLOOR:
        return "step would end before the time floor";
    case DISCIPLINE_RULE_PENDING:
        return "a refused step awaits an administrator's approval";
    }
    return "unknown rule";
}
