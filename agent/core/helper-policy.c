/* The clock helper's rules; see helper-policy.h. All arithmetic on times saturates, so no
 * request, however large its numbers, can wrap around a limit. */
#include "helper-policy.h"

#include <string.h>

/* Character arrays rather than pointers keep the tables in read-only data (no relocations:
 * core defines no writable globals, tests/unit/check-core-purity.py). */
static const struct {
    char id[28];
    char text[112];
    enum helper_error error;
} rules[HELPER_N_RULES] = {
    [HELPER_RULE_SLEW_WITHIN_LIMITS] = {"slew-within-limits",
                                        "slew within MaxSlewSeconds and "
                                        "MaxSlewPerHourSeconds",
                                        HELPER_ERROR_NONE},
    [HELPER_RULE_FREQUENCY_WITHIN_LIMITS] = {"frequency-within-limits",
                                             "frequency within MaxFrequencyPPM", HELPER_ERROR_NONE},
    [HELPER_RULE_STEP_WITHIN_LIMITS] = {"step-within-limits", "step within MaxStepSeconds",
                                        HELPER_ERROR_NONE},
    [HELPER_RULE_STEP_BOOT_WINDOW] = {"step-boot-window",
                                      "first forward step of the boot window, within "
                                      "BootMaxStepSeconds",
                                      HELPER_ERROR_NONE},
    [HELPER_RULE_STEP_APPROVED] = {"step-approved",
                                   "step matching an administrator's approval (now used up)",
                                   HELPER_ERROR_NONE},
    [HELPER_RULE_STEP_TO_FLOOR] = {"step-to-floor", "clock behind the floor: stepped forward to it",
                                   HELPER_ERROR_NONE},
    [HELPER_RULE_APPROVAL_RECORDED] = {"approval-recorded",
                                       "approval recorded for ApprovalLifetimeSeconds",
                                       HELPER_ERROR_NONE},
    [HELPER_RULE_NOT_AUTHORIZED] = {"not-authorized", "caller not authorized by polkit",
                                    HELPER_ERROR_NOT_AUTHORIZED},
    [HELPER_RULE_INVALID_REQUEST_ID] = {"invalid-request-id",
                                        "request ID not 1 to 64 characters of A-Z a-z 0-9 . _ : -",
                                        HELPER_ERROR_INVALID_ARGUMENT},
    [HELPER_RULE_INVALID_OFFSET] = {"invalid-offset", "offset out of range (or zero for a step)",
                                    HELPER_ERROR_INVALID_ARGUMENT},
    [HELPER_RULE_INVALID_UNCERTAINTY] = {"invalid-uncertainty", "uncertainty out of range",
                                         HELPER_ERROR_INVALID_ARGUMENT},
    [HELPER_RULE_INVALID_FREQUENCY] = {"invalid-frequency", "frequency not a finite number",
                                       HELPER_ERROR_INVALID_ARGUMENT},
    [HELPER_RULE_INVALID_TOLERANCE] = {"invalid-tolerance",
                                       "tolerance not smaller than the approved offset",
                                       HELPER_ERROR_INVALID_ARGUMENT},
    [HELPER_RULE_MEASURED_IN_FUTURE] = {"measured-in-future",
                                        "measurement time later than CLOCK_BOOTTIME now",
                                        HELPER_ERROR_INVALID_ARGUMENT},
    [HELPER_RULE_SLEW_TOO_LARGE] = {"slew-too-large", "slew larger than MaxSlewSeconds",
                                    HELPER_ERROR_LIMIT_EXCEEDED},
    [HELPER_RULE_SLEW_HOURLY_BUDGET] = {"slew-hourly-budget",
                                        "slews of the last hour would exceed "
                                        "MaxSlewPerHourSeconds",
                                        HELPER_ERROR_RATE_LIMITED},
    [HELPER_RULE_FREQUENCY_TOO_LARGE] = {"frequency-too-large",
                                         "frequency larger than MaxFrequencyPPM",
                                         HELPER_ERROR_LIMIT_EXCEEDED},
    [HELPER_RULE_STALE_MEASUREMENT] = {"stale-measurement",
                                       "measurement older than MaxMeasurementAgeSeconds",
                                       HELPER_ERROR_STALE},
    [HELPER_RULE_MEASURED_BEFORE_CHANGE] = {"measured-before-change",
                                            "measurement taken before the last accepted change "
                                            "of the clock",
                                            HELPER_ERROR_STALE},
    [HELPER_RULE_BEFORE_FLOOR] = {"before-floor", "result before the helper's time floor",
                                  HELPER_ERROR_BEFORE_FLOOR},
    [HELPER_RULE_AFTER_CEILING] = {"after-ceiling",
                                   "result later than the build date plus MaxYearsAfterBuild",
                                   HELPER_ERROR_AFTER_CEILING},
    [HELPER_RULE_STEPS_PER_HOUR] = {"steps-per-hour", "MaxStepsPerHour steps already this hour",
                                    HELPER_ERROR_RATE_LIMITED},
    [HELPER_RULE_STEP_TOO_LARGE] = {"step-too-large",
                                    "step larger than MaxStepSeconds, outside the boot window's "
                                    "forward allowance and without an approval",
                                    HELPER_ERROR_LIMIT_EXCEEDED},
    [HELPER_RULE_NOT_BEHIND_FLOOR] = {"not-behind-floor", "clock not behind the floor",
                                      HELPER_ERROR_NOT_BEHIND},
    [HELPER_RULE_BACKEND_FAILED] = {"backend-failed", "the clock could not be changed",
                                    HELPER_ERROR_FAILED},
};

static const char error_names[HELPER_N_ERRORS][40] = {
    [HELPER_ERROR_NONE] = "",
    [HELPER_ERROR_NOT_AUTHORIZED] = "org.gnomon.Error.NotAuthorized",
    [HELPER_ERROR_INVALID_ARGUMENT] = "org.gnomon.Error.InvalidArgument",
    [HELPER_ERROR_LIMIT_EXCEEDED] = "org.gnomon.Error.LimitExceeded",
    [HELPER_ERROR_RATE_LIMITED] = "org.gnomon.Error.RateLimited",
    [HELPER_ERROR_STALE] = "org.gnomon.Error.Stale",
    [HELPER_ERROR_BEFORE_FLOOR] = "org.gnomon.Error.BeforeFloor",
    [HELPER_ERROR_AFTER_CEILING] = "org.gnomon.Error.AfterCeiling",
    [HELPER_ERROR_NOT_BEHIND] = "org.gnomon.Error.NotBehind",
    [HELPER_ERROR_FAILED] = "org.gnomon.Error.Failed",
};

static const char method_names[][16] = {
    [HELPER_METHOD_SLEW] = "Slew",
    [HELPER_METHOD_STEP] = "Step",
    [HELPER_METHOD_SET_FREQUENCY] = "SetFrequency",
    [HELPER_METHOD_STEP_TO_FLOOR] = "StepToFloor",
    [HELPER_METHOD_APPROVE_STEP] = "ApproveStep",
};

static int64_t add_saturating(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b) {
        return INT64_MAX;
    }
    if (b < 0 && a < INT64_MIN - b) {
        return INT64_MIN;
    }
    return a + b;
}

static int64_t sub_saturating(int64_t a, int64_t b)
{
    if (b == INT64_MIN) {
        return a >= 0 ? INT64_MAX : a - INT64_MIN;
    }
    return add_saturating(a, -b);
}

/* |x| for x > INT64_MIN (callers refuse INT64_MIN first). */
static int64_t magnitude(int64_t x)
{
    return x < 0 ? -x : x;
}

/* |a - b|, which always fits in 64 unsigned bits. */
static uint64_t distance(int64_t a, int64_t b)
{
    return a >= b ? (uint64_t)a - (uint64_t)b : (uint64_t)b - (uint64_t)a;
}

struct helper_limits helper_limits_default(void)
{
    return (struct helper_limits){
        .max_slew_ns = NS_PER_SEC / 2,
        .max_slew_per_hour_ns = 2 * NS_PER_SEC,
        .max_frequency_ppm = 500.0,
        .max_step_ns = 1000 * NS_PER_SEC,
        .boot_max_step_ns = HELPER_POLICY_NO_LIMIT,
        .max_steps_per_hour = 4,
        .max_measurement_age_ns = 30 * NS_PER_SEC,
        .approval_lifetime_ns = 900 * NS_PER_SEC,
        .floor_lag_ns = 86400 * NS_PER_SEC,
        .max_years_after_build = 30,
    };
}

void helper_policy_state_init(struct helper_policy_state *state, int64_t build_date_ns,
                              int64_t own_floor_ns)
{
    memset(state, 0, sizeof *state);
    state->build_date_ns = build_date_ns;
    state->own_floor_ns = own_floor_ns;
    state->boot_window_open = true;
}

int64_t helper_policy_floor_ns(const struct helper_policy_state *state)
{
    return state->own_floor_ns > state->build_date_ns ? state->own_floor_ns : state->build_date_ns;
}

int64_t helper_policy_ceiling_ns(const struct helper_policy_state *state,
                                 const struct helper_limits *limits)
{
    int64_t years = (int64_t)limits->max_years_after_build;
    if (years > INT64_MAX / HELPER_POLICY_YEAR_NS) {
        return INT64_MAX;
    }
    return add_saturating(state->build_date_ns, years * HELPER_POLICY_YEAR_NS);
}

bool helper_policy_approval_live(const struct helper_policy_state *state, int64_t boottime_ns)
{
    return state->approval.active && boottime_ns < state->approval.expiry_boottime_ns;
}

bool helper_request_id_is_valid(const char *request_id)
{
    if (request_id == NULL) {
        return false;
    }
    size_t len = 0;
    for (const char *p = request_id; *p != '\0'; p++, len++) {
        char c = *p;
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == ':' || c == '-';
        if (!ok || len >= HELPER_POLICY_REQUEST_ID_MAX) {
            return false;
        }
    }
    return len > 0;
}

const struct helper_request_memo *
helper_policy_find_request(const struct helper_policy_state *state, const char *request_id)
{
    if (request_id == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < state->n_requests && i < HELPER_POLICY_MAX_REQUESTS; i++) {
        if (strcmp(state->requests[i].id, request_id) == 0) {
            return &state->requests[i];
        }
    }
    return NULL;
}

static bool in_last_hour(const struct helper_event *event, int64_t boottime_ns)
{
    return event->boottime_ns > sub_saturating(boottime_ns, HELPER_POLICY_HOUR_NS);
}

static struct helper_decision decided(enum helper_rule rule, int64_t limit, int64_t value)
{
    return (struct helper_decision){.rule = rule, .limit = limit, .value = value};
}

static struct helper_decision decide_slew(const struct helper_limits *limits,
                                          const struct helper_policy_state *state,
                                          const struct helper_request *request,
                                          const struct helper_now *now)
{
    if (request->offset_ns == INT64_MIN) {
        return decided(HELPER_RULE_INVALID_OFFSET, 0, 0);
    }
    if (request->uncertainty_ns > (uint64_t)INT64_MAX) {
        return decided(HELPER_RULE_INVALID_UNCERTAINTY, INT64_MAX, INT64_MAX);
    }
    int64_t size = magnitude(request->offset_ns);
    if (size > limits->max_slew_ns) {
        return decided(HELPER_RULE_SLEW_TOO_LARGE, limits->max_slew_ns, size);
    }
    int64_t sum = size;
    for (size_t i = 0; i < state->n_slews && i < HELPER_POLICY_MAX_SLEWS; i++) {
        if (in_last_hour(&state->slews[i], now->boottime_ns)) {
            sum = add_saturating(sum, state->slews[i].amount_ns);
        }
    }
    if (sum > limits->max_slew_per_hour_ns) {
        return decided(HELPER_RULE_SLEW_HOURLY_BUDGET, limits->max_slew_per_hour_ns, sum);
    }
    struct helper_decision d = decided(HELPER_RULE_SLEW_WITHIN_LIMITS, limits->max_slew_ns, size);
    d.change_ns = request->offset_ns;
    return d;
}

/* ppm as whole parts per billion, for the numbers of a decision. */
static int64_t to_ppb(double ppm)
{
    double ppb = ppm * 1000.0;
    if (ppb >= 9.2e18) {
        return INT64_MAX;
    }
    if (ppb <= -9.2e18) {
        return INT64_MIN;
    }
    return (int64_t)(ppb < 0 ? ppb - 0.5 : ppb + 0.5);
}

static struct helper_decision decide_frequency(const struct helper_limits *limits,
                                               const struct helper_request *request)
{
    double ppm = request->ppm;
    /* NaN and infinities give NaN here; a finite number gives 0. */
    if (!(ppm - ppm == 0.0)) {
        return decided(HELPER_RULE_INVALID_FREQUENCY, 0, 0);
    }
    double size = ppm < 0 ? -ppm : ppm;
    if (size > limits->max_frequency_ppm) {
        return decided(HELPER_RULE_FREQUENCY_TOO_LARGE, to_ppb(limits->max_frequency_ppm),
                       to_ppb(size));
    }
    return decided(HELPER_RULE_FREQUENCY_WITHIN_LIMITS, to_ppb(limits->max_frequency_ppm),
                   to_ppb(size));
}

/* Floor and ceiling, shared by Step and ApproveStep; HELPER_N_RULES when both hold. */
static struct helper_decision check_bounds(const struct helper_limits *limits,
                                           const struct helper_policy_state *state,
                                           const struct helper_now *now, int64_t offset_ns)
{
    int64_t result = add_saturating(now->time_ns, offset_ns);
    int64_t floor = helper_policy_floor_ns(state);
    if (result < floor) {
        return decided(HELPER_RULE_BEFORE_FLOOR, floor, result);
    }
    int64_t ceiling = helper_policy_ceiling_ns(state, limits);
    if (result > ceiling) {
        return decided(HELPER_RULE_AFTER_CEILING, ceiling, result);
    }
    return decided(HELPER_N_RULES, 0, 0);
}

/* CLOCK_BOOTTIME of the latest accepted step or slew (both lists are in time order), or
 * INT64_MIN when there has been none this boot. */
static int64_t last_change_boottime(const struct helper_policy_state *state)
{
    int64_t last = INT64_MIN;
    if (state->n_steps > 0 && state->steps[state->n_steps - 1].boottime_ns > last) {
        last = state->steps[state->n_steps - 1].boottime_ns;
    }
    if (state->n_slews > 0 && state->slews[state->n_slews - 1].boottime_ns > last) {
        last = state->slews[state->n_slews - 1].boottime_ns;
    }
    return last;
}

static struct helper_decision decide_step(const struct helper_limits *limits,
                                          const struct helper_policy_state *state,
                                          const struct helper_request *request,
                                          const struct helper_now *now)
{
    if (!helper_request_id_is_valid(request->request_id)) {
        return decided(HELPER_RULE_INVALID_REQUEST_ID, 0, 0);
    }
    const struct helper_request_memo *memo = helper_policy_find_request(state, request->request_id);
    if (memo != NULL) {
        struct helper_decision d = decided(memo->rule, memo->limit, memo->value);
        d.repeated = true;
        return d;
    }
    int64_t offset = request->offset_ns;
    if (offset == INT64_MIN || offset == 0) {
        return decided(HELPER_RULE_INVALID_OFFSET, 0, offset);
    }
    if (request->uncertainty_ns > (uint64_t)INT64_MAX) {
        return decided(HELPER_RULE_INVALID_UNCERTAINTY, INT64_MAX, INT64_MAX);
    }
    int64_t boottime = now->boottime_ns < 0 ? 0 : now->boottime_ns;
    if (request->measured_boottime_ns > (uint64_t)boottime) {
        int64_t measured = request->measured_boottime_ns > (uint64_t)INT64_MAX
                               ? INT64_MAX
                               : (int64_t)request->measured_boottime_ns;
        return decided(HELPER_RULE_MEASURED_IN_FUTURE, boottime, measured);
    }
    int64_t age = boottime - (int64_t)request->measured_boottime_ns;
    if (age > limits->max_measurement_age_ns) {
        return decided(HELPER_RULE_STALE_MEASUREMENT, limits->max_measurement_age_ns, age);
    }
    /* A measurement from before the last accepted change describes a clock that no longer
     * exists: stepping by it would apply that change a second time. This is what keeps a
     * lost answer from ever becoming two steps (clock-policy.md), whatever the caller
     * does after losing it. */
    int64_t last_change = last_change_boottime(state);
    if ((int64_t)request->measured_boottime_ns < last_change) {
        return decided(HELPER_RULE_MEASURED_BEFORE_CHANGE, last_change,
                       (int64_t)request->measured_boottime_ns);
    }
    struct helper_decision bounds = check_bounds(limits, state, now, offset);
    if (bounds.rule != HELPER_N_RULES) {
        return bounds;
    }
    int64_t recent = 0;
    for (size_t i = 0; i < state->n_steps && i < HELPER_POLICY_MAX_STEPS; i++) {
        if (in_last_hour(&state->steps[i], now->boottime_ns)) {
            recent++;
        }
    }
    if (recent >= (int64_t)limits->max_steps_per_hour) {
        return decided(HELPER_RULE_STEPS_PER_HOUR, limits->max_steps_per_hour, recent);
    }

    struct helper_decision d;
    int64_t size = magnitude(offset);
    if (helper_policy_approval_live(state, now->boottime_ns) &&
        distance(offset, state->approval.offset_ns) <= state->approval.tolerance_ns) {
        d = decided(HELPER_RULE_STEP_APPROVED, state->approval.offset_ns, offset);
    } else if (size <= limits->max_step_ns) {
        d = decided(HELPER_RULE_STEP_WITHIN_LIMITS, limits->max_step_ns, size);
    } else if (state->boot_window_open && offset > 0 && offset <= limits->boot_max_step_ns) {
        d = decided(HELPER_RULE_STEP_BOOT_WINDOW, limits->boot_max_step_ns, offset);
    } else {
        return decided(HELPER_RULE_STEP_TOO_LARGE, limits->max_step_ns, size);
    }
    d.change_ns = offset;
    return d;
}

static struct helper_decision decide_step_to_floor(const struct helper_policy_state *state,
                                                   const struct helper_now *now)
{
    int64_t floor = helper_policy_floor_ns(state);
    if (now->time_ns >= floor) {
        return decided(HELPER_RULE_NOT_BEHIND_FLOOR, floor, now->time_ns);
    }
    int64_t change = sub_saturating(floor, now->time_ns);
    struct helper_decision d = decided(HELPER_RULE_STEP_TO_FLOOR, floor, change);
    d.change_ns = change;
    return d;
}

static struct helper_decision decide_approval(const struct helper_limits *limits,
                                              const struct helper_policy_state *state,
                                              const struct helper_request *request,
                                              const struct helper_now *now)
{
    int64_t offset = request->offset_ns;
    if (offset == INT64_MIN || offset == 0) {
        return decided(HELPER_RULE_INVALID_OFFSET, 0, offset);
    }
    int64_t size = magnitude(offset);
    if (request->tolerance_ns >= (uint64_t)size) {
        int64_t tolerance = request->tolerance_ns > (uint64_t)INT64_MAX
                                ? INT64_MAX
                                : (int64_t)request->tolerance_ns;
        return decided(HELPER_RULE_INVALID_TOLERANCE, size, tolerance);
    }
    struct helper_decision bounds = check_bounds(limits, state, now, offset);
    if (bounds.rule != HELPER_N_RULES) {
        return bounds;
    }
    return decided(HELPER_RULE_APPROVAL_RECORDED, (int64_t)request->tolerance_ns, offset);
}

struct helper_decision helper_policy_decide(const struct helper_limits *limits,
                                            const struct helper_policy_state *state,
                                            const struct helper_request *request,
                                            const struct helper_now *now)
{
    switch (request->method) {
    case HELPER_METHOD_SLEW:
        return decide_slew(limits, state, request, now);
    case HELPER_METHOD_STEP:
        return decide_step(limits, state, request, now);
    case HELPER_METHOD_SET_FREQUENCY:
        return decide_frequency(limits, request);
    case HELPER_METHOD_STEP_TO_FLOOR:
        return decide_step_to_floor(state, now);
    case HELPER_METHOD_APPROVE_STEP:
        return decide_approval(limits, state, request, now);
    }
    return decided(HELPER_RULE_INVALID_OFFSET, 0, 0);
}

/* Keeps the events of the last hour, in order. */
static void prune(struct helper_event *events, size_t *n, size_t capacity, int64_t boottime_ns)
{
    size_t kept = 0;
    for (size_t i = 0; i < *n && i < capacity; i++) {
        if (in_last_hour(&events[i], boottime_ns)) {
            events[kept++] = events[i];
        }
    }
    *n = kept;
}

bool helper_policy_expire(struct helper_policy_state *state, int64_t boottime_ns)
{
    prune(state->steps, &state->n_steps, HELPER_POLICY_MAX_STEPS, boottime_ns);
    prune(state->slews, &state->n_slews, HELPER_POLICY_MAX_SLEWS, boottime_ns);
    if (state->approval.active && !helper_policy_approval_live(state, boottime_ns)) {
        memset(&state->approval, 0, sizeof state->approval);
        return true;
    }
    return false;
}

static void remember_request(struct helper_policy_state *state, const char *id,
                             const struct helper_decision *decision)
{
    struct helper_request_memo memo = {
        .rule = decision->rule, .limit = decision->limit, .value = decision->value};
    size_t len = strlen(id); /* valid: at most HELPER_POLICY_REQUEST_ID_MAX */
    memcpy(memo.id, id, len + 1);
    if (state->next_request >= HELPER_POLICY_MAX_REQUESTS) {
        state->next_request = 0;
    }
    state->requests[state->next_request] = memo;
    state->next_request = (state->next_request + 1) % HELPER_POLICY_MAX_REQUESTS;
    if (state->n_requests < HELPER_POLICY_MAX_REQUESTS) {
        state->n_requests++;
    }
    state->last_request = memo;
    state->has_last_request = true;
}

static void add_step(struct helper_policy_state *state, int64_t boottime_ns, int64_t offset_ns)
{
    prune(state->steps, &state->n_steps, HELPER_POLICY_MAX_STEPS, boottime_ns);
    if (state->n_steps == HELPER_POLICY_MAX_STEPS) {
        memmove(&state->steps[0], &state->steps[1],
                (HELPER_POLICY_MAX_STEPS - 1) * sizeof state->steps[0]);
        state->n_steps--;
    }
    state->steps[state->n_steps++] = (struct helper_event){boottime_ns, offset_ns};
}

/* When the list is full the two oldest slews merge into one at the later time: the
 * hourly sum is then over-counted for a while, never under-counted. */
static void add_slew(struct helper_policy_state *state, int64_t boottime_ns, int64_t size_ns)
{
    prune(state->slews, &state->n_slews, HELPER_POLICY_MAX_SLEWS, boottime_ns);
    if (state->n_slews == HELPER_POLICY_MAX_SLEWS) {
        state->slews[1].amount_ns =
            add_saturating(state->slews[1].amount_ns, state->slews[0].amount_ns);
        memmove(&state->slews[0], &state->slews[1],
                (HELPER_POLICY_MAX_SLEWS - 1) * sizeof state->slews[0]);
        state->n_slews--;
    }
    state->slews[state->n_slews++] = (struct helper_event){boottime_ns, size_ns};
}

static bool move_floor(struct helper_policy_state *state, const struct helper_limits *limits,
                       const struct helper_now *now, int64_t change_ns)
{
    int64_t new_time = add_saturating(now->time_ns, change_ns);
    int64_t candidate = sub_saturating(new_time, limits->floor_lag_ns);
    if (candidate <= helper_policy_floor_ns(state)) {
        return false;
    }
    if (state->floor_written && sub_saturating(now->boottime_ns, state->floor_written_boottime_ns) <
                                    HELPER_POLICY_FLOOR_WRITE_INTERVAL_NS) {
        return false;
    }
    state->own_floor_ns = candidate;
    state->floor_written = true;
    state->floor_written_boottime_ns = now->boottime_ns;
    return true;
}

bool helper_policy_commit(struct helper_policy_state *state, const struct helper_limits *limits,
                          const struct helper_request *request,
                          const struct helper_decision *decision, const struct helper_now *now)
{
    if (decision->repeated || decision->rule == HELPER_RULE_NOT_AUTHORIZED) {
        return false;
    }
    if (request->method == HELPER_METHOD_STEP && helper_request_id_is_valid(request->request_id)) {
        remember_request(state, request->request_id, decision);
    }
    if (!helper_rule_accepts(decision->rule)) {
        return false;
    }
    switch (request->method) {
    case HELPER_METHOD_STEP:
        add_step(state, now->boottime_ns, decision->change_ns);
        if (state->steps_this_boot < UINT32_MAX) {
            state->steps_this_boot++;
        }
        state->boot_window_open = false;
        if (decision->rule == HELPER_RULE_STEP_APPROVED) {
            memset(&state->approval, 0, sizeof state->approval);
        }
        return move_floor(state, limits, now, decision->change_ns);
    case HELPER_METHOD_SLEW:
        add_slew(state, now->boottime_ns, magnitude(decision->change_ns));
        return move_floor(state, limits, now, decision->change_ns);
    case HELPER_METHOD_SET_FREQUENCY:
        return move_floor(state, limits, now, 0);
    case HELPER_METHOD_APPROVE_STEP:
        state->approval = (struct helper_approval){
            .active = true,
            .offset_ns = request->offset_ns,
            .tolerance_ns = request->tolerance_ns,
            .expiry_boottime_ns = add_saturating(now->boottime_ns, limits->approval_lifetime_ns),
        };
        return false;
    case HELPER_METHOD_STEP_TO_FLOOR:
        /* Not a synchronisation: the floor stays, the boot window stays open. */
        return false;
    }
    return false;
}

bool helper_rule_accepts(enum helper_rule rule)
{
    return rule < HELPER_N_RULES && rules[rule].error == HELPER_ERROR_NONE;
}

enum helper_error helper_rule_error(enum helper_rule rule)
{
    return rule < HELPER_N_RULES ? rules[rule].error : HELPER_ERROR_FAILED;
}

const char *helper_rule_id(enum helper_rule rule)
{
    return rule < HELPER_N_RULES ? rules[rule].id : "unknown";
}

const char *helper_rule_text(enum helper_rule rule)
{
    return rule < HELPER_N_RULES ? rules[rule].text : "unknown rule";
}

bool helper_rule_from_id(const char *id, enum helper_rule *rule)
{
    for (int i = 0; id != NULL && i < HELPER_N_RULES; i++) {
        if (strcmp(rules[i].id, id) == 0) {
            *rule = (enum helper_rule)i;
            return true;
        }
    }
    return false;
}

const char *helper_error_dbus_name(enum helper_error error)
{
    return error > HELPER_ERROR_NONE && error < HELPER_N_ERRORS ? error_names[error] : NULL;
}

const char *helper_method_name(enum helper_method method)
{
    return method <= HELPER_METHOD_APPROVE_STEP ? method_names[method] : "unknown";
}
