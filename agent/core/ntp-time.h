/* NTP timestamps (RFC 5905 §6) and nanoseconds since the Unix epoch.
 * A 64-bit NTP timestamp names a second modulo 2^32 (an era of about 136 years); the one
 * place that decides which era is meant is ntp_time_to_unix_ns(), which picks the era
 * putting the time nearest a pivot (the local clock or the time floor), so the 2036
 * rollover needs nothing special anywhere else. */
#ifndef GNOMON_CORE_NTP_TIME_H
#define GNOMON_CORE_NTP_TIME_H

#include <stdint.h>

/* Seconds from 1900-01-01 (NTP's epoch) to 1970-01-01 (Unix's). */
#define NTP_UNIX_EPOCH_DELTA_S INT64_C(2208988800)

/* Unix nanoseconds -> 32.32 NTP timestamp (era number dropped; fraction rounded). */
uint64_t ntp_time_from_unix_ns(int64_t unix_ns);

/* 32.32 NTP timestamp -> Unix nanoseconds, in the era nearest pivot_unix_ns. Exact inverse
 * of ntp_time_from_unix_ns() for any time within 68 years of the pivot. */
int64_t ntp_time_to_unix_ns(uint64_t ntp, int64_t pivot_unix_ns);

/* NTP short format (unsigned 16.16 seconds: root delay, root dispersion) <-> ns.
 * ntp_short_from_ns() saturates: negative -> 0, beyond 65535.99998 s -> 0xffffffff. */
int64_t ntp_short_to_ns(uint32_t short_format);
uint32_t ntp_short_from_ns(int64_t ns);

#endif
