/* The per-source clock filter (RFC 5905 §10): keeps a source's last SAMPLE_FILTER_SIZE
 * measurements and picks the one to trust (the least delayed: its offset has the least
 * error from path asymmetry) and the jitter among them. */
#ifndef GNOMON_CORE_SAMPLE_FILTER_H
#define GNOMON_CORE_SAMPLE_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nanoseconds.h"

/* One authenticated measurement of one source. All times in nanoseconds. */
struct sample {
    int64_t offset_ns;          /* server time minus local time */
    int64_t delay_ns;           /* round-trip delay (>= 0 after the caller clamps) */
    int64_t dispersion_ns;      /* the sample's own dispersion at the time it was taken */
    int64_t root_delay_ns;      /* from the server's header */
    int64_t root_dispersion_ns; /* from the server's header */
    int64_t taken_ns;           /* CLOCK_BOOTTIME when the reply arrived */
    uint8_t stratum;
    uint8_t leap; /* enum ntp_leap */
};

/* RFC 5905 §10 keeps eight stages. */
#define SAMPLE_FILTER_SIZE 8

/* Samples older than this are ignored by sample_filter_best() and sample_filter_jitter_ns():
 * 2 h is about four polls at the default PollMaxSeconds (2048 s), so the filter still has
 * a choice at the longest interval, while an older offset says more about the frequency
 * error since then than about the clock now (PHI alone has added 108 ms by then, ten times
 * MINDISP). A sample whose taken_ns lies after now_ns (a caller's bug) counts as fresh. */
#define SAMPLE_FILTER_MAX_AGE_NS (INT64_C(7200) * NS_PER_SEC)

/* A ring of the last SAMPLE_FILTER_SIZE samples. Fields are private: use the functions. */
struct sample_filter {
    struct sample samples[SAMPLE_FILTER_SIZE];
    size_t next;  /* slot the next sample goes to */
    size_t count; /* stored samples, at most SAMPLE_FILTER_SIZE */
};

void sample_filter_init(struct sample_filter *f);

/* Stores a copy of s; when the ring is full the oldest sample is dropped. */
void sample_filter_add(struct sample_filter *f, const struct sample *s);

/* Forgets every sample: after a clock step their offsets are void. */
void sample_filter_clear(struct sample_filter *f);

/* The clock was slewed by correction_ns (true time minus local time shrank by it): every
 * stored sample's offset follows, so an old sample never asks for the same correction
 * twice. Saturating. */
void sample_filter_shift(struct sample_filter *f, int64_t correction_ns);

/* Stored samples, stale ones included. */
size_t sample_filter_count(const struct sample_filter *f);

/* The sample with the smallest delay among those not older than SAMPLE_FILTER_MAX_AGE_NS at
 * now_ns; on a tie the one added last. false (and *out untouched) if there is none. */
bool sample_filter_best(const struct sample_filter *f, int64_t now_ns, struct sample *out);

/* RFC 5905 §10 jitter: the RMS of the differences between the offsets of the other fresh
 * samples and the best one's (divided by n - 1). 0 with fewer than two fresh samples;
 * saturates at INT64_MAX. */
int64_t sample_filter_jitter_ns(const struct sample_filter *f, int64_t now_ns);

#endif
