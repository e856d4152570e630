/* The agent's side of clock-policy.md: from one consensus (offset, uncertainty) to one
 * request for the helper (slew, step, or nothing), the refused step left for an
 * administrator, a frequency estimate so later offsets shrink, and the poll interval.
 * The helper applies its own, independent limits; this never trusts it to. */
#ifndef GNOMON_CORE_DISCIPLINE_H
#define GNOMON_CORE_DISCIPLINE_H

#include <stdbool.h>
#include <stdint.h>

struct discipline_limits {
    int64_t step_threshold_ns;   /* below: slew (StepThresholdSeconds) */
    int64_t startup_max_step_ns; /* forward steps in the boot window; INT64_MAX = no limit */
    int64_t max_step_ns;         /* every other step; INT64_MAX = no limit */
    int64_t poll_min_ns;
    int64_t poll_max_ns;
    double max_frequency_ppm; /* the kernel slews at most 500 ppm */
};

enum discipline_verdict {
    DISCIPLINE_NOTHING, /* no consensus, or waiting: the clock stays as it is */
    DISCIPLINE_SLEW,    /* small offset: slew it (and maybe set the frequency) */
    DISCIPLINE_STEP,    /* step by offset_ns */
    DISCIPLINE_REFUSED, /* a step beyond the limits: reported, kept as pending */
};

enum discipline_rule {
    DISCIPLINE_RULE_NONE,
    DISCIPLINE_RULE_NO_CONSENSUS,
    DISCIPLINE_RULE_BELOW_THRESHOLD,    /* slew */
    DISCIPLINE_RULE_BOOT_WINDOW,        /* step allowed in the boot window */
    DISCIPLINE_RULE_WITHIN_MAX_STEP,    /* step allowed after it */
    DISCIPLINE_RULE_APPROVED,           /* step matching an administrator's approval */
    DISCIPLINE_RULE_OVER_STARTUP_LIMIT, /* refused: forward, over StartupMaxStepSeconds */
    DISCIPLINE_RULE_OVER_MAX_STEP,      /* refused: over MaxStepSeconds */
    DISCIPLINE_RULE_BELOW_FLOOR,        /* refused: would end before the time floor */
    DISCIPLINE_RULE_PENDING,            /* nothing: a refused step awaits approval */
};

struct discipline_decision {
    enum discipline_verdict verdict;
    enum discipline_rule rule;
    int64_t offset_ns; /* for SLEW, STEP, REFUSED */
    int64_t uncertainty_ns;
    bool set_frequency; /* with SLEW: also ask for frequency_ppm */
    double frequency_ppm;
};

struct discipline {
    bool boot_window_open;
    int64_t time_floor_unix_ns; /* 0: none */
    double frequency_ppm;       /* what the helper was last asked to apply */
    int64_t poll_ns;
    unsigned quiet_polls; /* consecutive small offsets, to lengthen the poll */
    /* The last accepted correction: the offset measured next grew from zero since. */
    bool have_baseline;
    int64_t baseline_boot_ns;
    bool pending;
    int64_t pending_offset_ns;
    bool approval_live;
    int64_t approval_offset_ns;
    int64_t approval_tolerance_ns;
};

void discipline_init(struct discipline *d, const struct discipline_limits *limits,
                     bool boot_window_open, double frequency_ppm, int64_t time_floor_unix_ns);

/* One decision. local_now_ns: the local clock (Unix ns); boot_now_ns: CLOCK_BOOTTIME. */
struct discipline_decision discipline_decide(struct discipline *d,
                                             const struct discipline_limits *limits, bool consensus,
                                             int64_t offset_ns, int64_t uncertainty_ns,
                                             int64_t local_now_ns, int64_t boot_now_ns);

/* The helper's answer to the request of a decision: accepted or not. */
void discipline_applied(struct discipline *d, const struct discipline_decision *decision,
                        bool accepted, int64_t boot_now_ns);

/* An administrator approved a step (the helper's StepApproved signal). */
void discipline_approve(struct discipline *d, int64_t offset_ns, int64_t tolerance_ns);
void discipline_approval_lapsed(struct discipline *d);

/* A clock jump, resume or large unexplained offset: measure afresh, limits unchanged. */
void discipline_restart_measuring(struct discipline *d);

const char *discipline_rule_str(enum discipline_rule rule);

#endif
