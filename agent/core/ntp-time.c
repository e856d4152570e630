#include "ntp-time.h"

#include "nanoseconds.h"

#define NTP_ERA_S (INT64_C(1) << 32)

uint64_t ntp_time_from_unix_ns(int64_t unix_ns)
{
    /* Floor division so that times before 1970 keep a fraction in [0, 1 s). */
    int64_t secs = unix_ns / NS_PER_SEC;
    int64_t frac_ns = unix_ns % NS_PER_SEC;
    if (frac_ns < 0) {
        frac_ns += NS_PER_SEC;
        secs -= 1;
    }
    /* Round to the nearest 2^-32 s; a carry into the seconds is possible at the top. */
    uint64_t frac = (((uint64_t)frac_ns << 32) + (uint64_t)NS_PER_SEC / 2) / (uint64_t)NS_PER_SEC;
    uint64_t ntp_secs = (uint64_t)(secs + NTP_UNIX_EPOCH_DELTA_S);
    return (ntp_secs << 32) + frac;
}

int64_t ntp_time_to_unix_ns(uint64_t ntp, int64_t pivot_unix_ns)
{
    int64_t era0_s = (int64_t)(ntp >> 32) - NTP_UNIX_EPOCH_DELTA_S;
    uint64_t frac = ntp & UINT64_C(0xffffffff);
    int64_t frac_ns = (int64_t)((frac * (uint64_t)NS_PER_SEC + (UINT64_C(1) << 31)) >> 32);

    /* The era that puts the time nearest the pivot: shift by whole eras until the
     * distance is at most half an era. Seconds stay far from overflow (|pivot| < 293 y). */
    int64_t pivot_s = pivot_unix_ns / NS_PER_SEC;
    int64_t secs = era0_s;
    int64_t eras = (pivot_s - secs) / NTP_ERA_S;
    secs += eras * NTP_ERA_S;
    if (pivot_s - secs > NTP_ERA_S / 2)
        secs += NTP_ERA_S;
    else if (secs - pivot_s > NTP_ERA_S / 2)
        secs -= NTP_ERA_S;

    /* int64 nanoseconds end in 1677 and 2262: pick the representable neighbouring era
     * rather than overflow (only reachable with a pivot near those limits). */
    const int64_t max_s = INT64_MAX / NS_PER_SEC - 1;
    if (secs > max_s)
        secs -= NTP_ERA_S;
    else if (secs < -max_s)
        secs += NTP_ERA_S;
    return secs * NS_PER_SEC + frac_ns;
}

int64_t ntp_short_to_ns(uint32_t short_format)
{
    int64_t secs = short_format >> 16;
    int64_t frac = short_format & 0xffff;
    return secs * NS_PER_SEC + ((frac * NS_PER_SEC + (1 << 15)) >> 16);
}

uint32_t ntp_short_from_ns(int64_t ns)
{
    if (ns <= 0)
        return 0;
    if (ns >= INT64_C(65536) * NS_PER_SEC)
        return UINT32_MAX;
    uint64_t secs = (uint64_t)(ns / NS_PER_SEC);
    uint64_t frac =
        (((uint64_t)(ns % NS_PER_SEC) << 16) + (uint64_t)NS_PER_SEC / 2) / (uint64_t)NS_PER_SEC;
    uint64_t value = (secs << 16) + frac;
    return value > UINT32_MAX ? UINT32_MAX : (uint32_t)value;
}
