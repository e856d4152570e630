/* The clock helper's own rules (clock-policy.md, "The helper's own rules" and "Boot with a
 * bad clock" step 1) as pure decisions: from the limits, what the helper remembers and the
 * time now, accept or refuse one request and name the rule that decided. No I/O and no
 * clock reading: the caller passes every time in, and applies and persists the result. */
#ifndef GNOMON_CORE_HELPER_POLICY_H
#define GNOMON_CORE_HELPER_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nanoseconds.h"

/* "inf" in a limit. */
#define HELPER_POLICY_NO_LIMIT                INT64_MAX
/* The "last hour" of the hourly limits is (now - 1 h, now] on CLOCK_BOOTTIME. */
#define HELPER_POLICY_HOUR_NS                 (INT64_C(3600) * NS_PER_SEC)
/* The floor file is written at most this often. */
#define HELPER_POLICY_FLOOR_WRITE_INTERVAL_NS (INT64_C(60) * NS_PER_SEC)
/* MaxYearsAfterBuild counts Gregorian mean years of 365.2425 days. */
#define HELPER_POLICY_YEAR_NS                 (INT64_C(31556952) * NS_PER_SEC)
/* Bounds on what is remembered: MaxStepsPerHour may not exceed HELPER_POLICY_MAX_STEPS;
 * slews beyond HELPER_POLICY_MAX_SLEWS in an hour are merged (never under-counted); the
 * last HELPER_POLICY_MAX_REQUESTS request IDs are remembered. */
#define HELPER_POLICY_MAX_STEPS               64
#define HELPER_POLICY_MAX_SLEWS               64
#define HELPER_POLICY_MAX_REQUESTS            64
/* A request ID: 1 to 64 characters from [A-Za-z0-9._:-] (a UUID fits). */
#define HELPER_POLICY_REQUEST_ID_MAX          64
/* The kernel's limits: the PLL takes offsets up to 0.5 s, frequencies up to 500 ppm. */
#define HELPER_POLICY_KERNEL_MAX_SLEW_NS      (NS_PER_SEC / 2)
#define HELPER_POLICY_KERNEL_MAX_PPM          500.0

/* [Limits] of clock-helper.conf; durations in ns, HELPER_POLICY_NO_LIMIT for "inf". */
struct helper_limits {
    int64_t max_slew_ns;            /* MaxSlewSeconds, per call */
    int64_t max_slew_per_hour_ns;   /* MaxSlewPerHourSeconds, sum of |slews| */
    double max_frequency_ppm;       /* MaxFrequencyPPM */
    int64_t max_step_ns;            /* MaxStepSeconds (may be inf) */
    int64_t boot_max_step_ns;       /* BootMaxStepSeconds, forward first step (may be inf) */
    unsigned max_steps_per_hour;    /* MaxStepsPerHour, <= HELPER_POLICY_MAX_STEPS */
    int64_t max_measurement_age_ns; /* MaxMeasurementAgeSeconds */
    int64_t approval_lifetime_ns;   /* ApprovalLifetimeSeconds */
    int64_t floor_lag_ns;           /* FloorLagSeconds */
    unsigned max_years_after_build; /* MaxYearsAfterBuild */
};

/* The defaults of clock-policy.md. */
struct helper_limits helper_limits_default(void);

enum helper_method {
    HELPER_METHOD_SLEW,
    HELPER_METHOD_STEP,
    HELPER_METHOD_SET_FREQUENCY,
    HELPER_METHOD_STEP_TO_FLOOR,
    HELPER_METHOD_APPROVE_STEP,
};

/* The org.gnomon.Error.* names a refusal carries (helper_error_dbus_name). */
enum helper_error {
    HELPER_ERROR_NONE,
    HELPER_ERROR_NOT_AUTHORIZED,
    HELPER_ERROR_INVALID_ARGUMENT,
    HELPER_ERROR_LIMIT_EXCEEDED,
    HELPER_ERROR_RATE_LIMITED,
    HELPER_ERROR_STALE,
    HELPER_ERROR_BEFORE_FLOOR,
    HELPER_ERROR_AFTER_CEILING,
    HELPER_ERROR_NOT_BEHIND,
    HELPER_ERROR_FAILED,
    HELPER_N_ERRORS
};

/* Every rule that can decide a request. The rule fixes the verdict and the error. The
 * numbers a decision carries (limit, value) are in the unit the comment names. */
enum helper_rule {
    /* accepted */
    HELPER_RULE_SLEW_WITHIN_LIMITS,      /* value: |offset|, limit: MaxSlewSeconds */
    HELPER_RULE_FREQUENCY_WITHIN_LIMITS, /* value, limit: ppb */
    HELPER_RULE_STEP_WITHIN_LIMITS,      /* value: |offset|, limit: MaxStepSeconds */
    HELPER_RULE_STEP_BOOT_WINDOW,        /* value: offset, limit: BootMaxStepSeconds */
    HELPER_RULE_STEP_APPROVED,           /* value: offset, limit: the approved offset */
    HELPER_RULE_STEP_TO_FLOOR,           /* value: the step, limit: the floor */
    HELPER_RULE_APPROVAL_RECORDED,       /* value: offset, limit: tolerance */
    /* refused */
    HELPER_RULE_NOT_AUTHORIZED,         /* decided by polkit, outside this module */
    HELPER_RULE_INVALID_REQUEST_ID,     /* empty, too long, or characters outside the set */
    HELPER_RULE_INVALID_OFFSET,         /* INT64_MIN (no magnitude), or 0 for Step/ApproveStep */
    HELPER_RULE_INVALID_UNCERTAINTY,    /* more than INT64_MAX */
    HELPER_RULE_INVALID_FREQUENCY,      /* NaN or infinite */
    HELPER_RULE_INVALID_TOLERANCE,      /* value: tolerance, limit: |offset| (must be less) */
    HELPER_RULE_MEASURED_IN_FUTURE,     /* value: measured, limit: boottime now */
    HELPER_RULE_SLEW_TOO_LARGE,         /* value: |offset|, limit: MaxSlewSeconds */
    HELPER_RULE_SLEW_HOURLY_BUDGET,     /* value: last hour's sum with this one, limit: per hour */
    HELPER_RULE_FREQUENCY_TOO_LARGE,    /* value: |ppm| in ppb, limit: MaxFrequencyPPM in ppb */
    HELPER_RULE_STALE_MEASUREMENT,      /* value: age, limit: MaxMeasurementAgeSeconds */
    HELPER_RULE_MEASURED_BEFORE_CHANGE, /* value: measured boottime, limit: last change's */
    HELPER_RULE_BEFORE_FLOOR,           /* value: the resulting time, limit: the floor */
    HELPER_RULE_AFTER_CEILING,          /* value: the resulting time, limit: the ceiling */
    HELPER_RULE_STEPS_PER_HOUR,         /* value: steps in the last hour, limit: MaxStepsPerHour */
    HELPER_RULE_STEP_TOO_LARGE,         /* value: |offset|, limit: MaxStepSeconds */
    HELPER_RULE_NOT_BEHIND_FLOOR,       /* value: the time now, limit: the floor */
    HELPER_RULE_BACKEND_FAILED,         /* the change was allowed but could not be made */
    HELPER_N_RULES
};

struct helper_request {
    enum helper_method method;
    int64_t offset_ns;             /* Slew, Step, ApproveStep */
    uint64_t uncertainty_ns;       /* Slew, Step */
    uint64_t measured_boottime_ns; /* Step: when the offset was measured, CLOCK_BOOTTIME */
    uint64_t tolerance_ns;         /* ApproveStep */
    double ppm;                    /* SetFrequency */
    const char *request_id;        /* Step; NUL-terminated */
};

struct helper_now {
    int64_t time_ns;     /* the clock the rules judge (the simulated one in dry-run), Unix */
    int64_t boottime_ns; /* CLOCK_BOOTTIME */
};

struct helper_event {
    int64_t boottime_ns;
    int64_t amount_ns; /* a step's offset; the sum of |offset| of (merged) slews */
};

/* The earlier answer to a request ID. */
struct helper_request_memo {
    char id[HELPER_POLICY_REQUEST_ID_MAX + 1];
    enum helper_rule rule;
    int64_t limit;
    int64_t value;
};

struct helper_approval {
    bool active;
    int64_t offset_ns;
    uint64_t tolerance_ns;
    int64_t expiry_boottime_ns; /* live while boottime < expiry */
};

/* What the helper remembers. Plain data: copy it by assignment; the helper keeps the
 * per-boot part in its runtime directory and own_floor_ns in its floor file. */
struct helper_policy_state {
    int64_t build_date_ns;
    int64_t own_floor_ns; /* the floor file; INT64_MIN when there is none */
    bool floor_written;   /* written this boot, at floor_written_boottime_ns */
    int64_t floor_written_boottime_ns;

    bool boot_window_open;    /* until the first accepted Step of this boot */
    unsigned steps_this_boot; /* accepted Step calls (StepToFloor is not counted) */
    struct helper_event steps[HELPER_POLICY_MAX_STEPS];
    size_t n_steps;
    struct helper_event slews[HELPER_POLICY_MAX_SLEWS];
    size_t n_slews;

    struct helper_request_memo requests[HELPER_POLICY_MAX_REQUESTS]; /* a ring */
    size_t n_requests;
    size_t next_request;
    bool has_last_request;
    struct helper_request_memo last_request; /* the latest Step */

    struct helper_approval approval;
};

struct helper_decision {
    enum helper_rule rule;
    bool repeated;     /* the earlier answer to the same request ID: nothing is changed */
    int64_t change_ns; /* accepted Slew, Step, StepToFloor: the offset to apply */
    int64_t limit;     /* see enum helper_rule */
    int64_t value;
};

/* A state for a fresh boot: boot window open, nothing remembered. own_floor_ns INT64_MIN
 * when there is no floor file. */
void helper_policy_state_init(struct helper_policy_state *state, int64_t build_date_ns,
                              int64_t own_floor_ns);

/* max(own floor, build date). */
int64_t helper_policy_floor_ns(const struct helper_policy_state *state);
/* build date + MaxYearsAfterBuild years (saturating). */
int64_t helper_policy_ceiling_ns(const struct helper_policy_state *state,
                                 const struct helper_limits *limits);
bool helper_policy_approval_live(const struct helper_policy_state *state, int64_t boottime_ns);

/* Decides one request. Does not change the state. */
struct helper_decision helper_policy_decide(const struct helper_limits *limits,
                                            const struct helper_policy_state *state,
                                            const struct helper_request *request,
                                            const struct helper_now *now);

/* Remembers a decision (after the change was made, or with HELPER_RULE_BACKEND_FAILED
 * when it could not be): the request ID and its answer (Step), the step or slew, the
 * approval given or used, and the floor. Returns true when the floor moved and should be
 * written (at most once per HELPER_POLICY_FLOOR_WRITE_INTERVAL_NS). A repeated request or
 * HELPER_RULE_NOT_AUTHORIZED changes nothing. */
bool helper_policy_commit(struct helper_policy_state *state, const struct helper_limits *limits,
                          const struct helper_request *request,
                          const struct helper_decision *decision, const struct helper_now *now);

/* Forgets steps and slews older than an hour and an expired approval. Returns true when
 * the approval was dropped. */
bool helper_policy_expire(struct helper_policy_state *state, int64_t boottime_ns);

/* Looks a request ID up among the remembered ones; NULL when unseen. */
const struct helper_request_memo *
helper_policy_find_request(const struct helper_policy_state *state, const char *request_id);

bool helper_request_id_is_valid(const char *request_id);

bool helper_rule_accepts(enum helper_rule rule);
enum helper_error helper_rule_error(enum helper_rule rule);
/* A stable machine name for records and the journal, e.g. "step-too-large". */
const char *helper_rule_id(enum helper_rule rule);
/* Short English text, e.g. "step larger than MaxStepSeconds". */
const char *helper_rule_text(enum helper_rule rule);
/* The rule of a name from helper_rule_id(); false for an unknown name. */
bool helper_rule_from_id(const char *id, enum helper_rule *rule);
/* "org.gnomon.Error.LimitExceeded"; NULL for HELPER_ERROR_NONE. */
const char *helper_error_dbus_name(enum helper_error error);
/* "Slew", "Step", "SetFrequency", "StepToFloor", "ApproveStep". */
const char *helper_method_name(enum helper_method method);

#endif
