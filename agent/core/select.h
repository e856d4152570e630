/* Consensus among sources: RFC 5905's clock select (§11.2.1, A.5.5.1) finds the interval a
 * majority agrees on, then gnomon's rules (clock-policy.md, "consensus") demand a quorum of
 * distinct addresses from enough distinct operators before the clock may be steered. */
#ifndef GNOMON_CORE_SELECT_H
#define GNOMON_CORE_SELECT_H

#include <stddef.h>
#include <stdint.h>

#include "nanoseconds.h"
#include "sample-filter.h"

/* RFC 5905 §7.2 constants (nts-notes.md, "NTP arithmetic"). */
#define SELECT_MINDISP_NS      (10 * NS_PER_MS)
#define SELECT_PHI_PPM         15
/* Candidates beyond the first SELECT_MAX_CANDIDATES are not looked at: they do not vote
 * and are reported as SELECT_STATUS_FALSETICKER. */
#define SELECT_MAX_CANDIDATES  64
/* RFC 5905 MAXDIST: a source whose root distance reaches this does not vote. */
#define SELECT_MAX_DISTANCE_NS NS_PER_SEC

struct select_candidate {
    const char *operator_name; /* who runs the source (config Operator=); NULLs are one */
    const char *address;       /* the NTP address used; same address => counted once */
    struct sample sample;      /* the source's best sample */
    int64_t jitter_ns;
};

enum select_status {
    SELECT_STATUS_FALSETICKER, /* disagrees with the majority (or was not examined) */
    SELECT_STATUS_CANDIDATE,   /* agrees in part, or would be selected but no consensus */
    SELECT_STATUS_SELECTED,    /* contributes to the combined offset */
};

struct select_params {
    unsigned min_agreeing_sources; /* quorum, config MinAgreeingSources */
    unsigned min_operators;        /* distinct operators among agreeing, config MinOperators */
    int64_t now_ns;                /* CLOCK_BOOTTIME now, for aging */
};

enum select_verdict {
    SELECT_CONSENSUS,
    SELECT_NO_CANDIDATES,
    SELECT_NO_MAJORITY,
    SELECT_TOO_FEW_AGREEING,
    SELECT_TOO_FEW_OPERATORS,
};

struct select_result {
    enum select_verdict verdict;
    /* offset_ns, uncertainty_ns, low_ns and high_ns are filled whenever an intersection
     * was found (for reports such as "2 sources agree on +30 s"); steer only on
     * SELECT_CONSENSUS. All 0 when no intersection was found. */
    int64_t offset_ns;       /* combined offset: survivors' offsets weighted by 1/lambda */
    int64_t uncertainty_ns;  /* true time lies within offset ± this if a majority is honest */
    int64_t low_ns, high_ns; /* the intersection found */
    unsigned agreeing;       /* distinct addresses among the survivors */
    unsigned operators;      /* distinct operators among the survivors */
    unsigned voters;         /* distinct addresses among the candidates examined */
};

/* Root distance lambda (RFC 5905 A.5.5.2): max(MINDISP, root delay + delay) / 2 + root
 * dispersion + dispersion + PHI * (now - taken) + jitter. The correctness interval is
 * [offset - lambda, offset + lambda]. Negative terms and a negative age count as 0; the
 * sum saturates at INT64_MAX. */
int64_t select_root_distance_ns(const struct sample *s, int64_t jitter_ns, int64_t now_ns);

/* Runs the selection over candidates[0..n) and writes each one's status to status[0..n)
 * (status may be NULL). Candidates with the same address are one voter: the one with the
 * smaller root distance (the earlier on a tie) votes, its twins get its status. NULL
 * candidates or params give SELECT_NO_CANDIDATES. */
struct select_result select_run(const struct select_candidate *candidates, size_t n,
                                const struct select_params *params, enum select_status *status);

/* A short English reason, e.g. "no majority". */
const char *select_verdict_str(enum select_verdict v);
/* "selected", "candidate" or "falseticker": the words status reports use. */
const char *select_status_str(enum select_status status);

#endif
