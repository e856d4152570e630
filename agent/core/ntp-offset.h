/* Clock offset and round-trip delay from one NTP exchange (RFC 5905 §8):
 * offset = ((T2 - T1) + (T3 - T4)) / 2, delay = (T4 - T1) - (T3 - T2),
 * all in Unix nanoseconds. offset is "server time minus local time". */
#ifndef GNOMON_CORE_NTP_OFFSET_H
#define GNOMON_CORE_NTP_OFFSET_H

#include <stdint.h>

struct ntp_offset {
    int64_t offset_ns;
    int64_t delay_ns; /* may be negative when the server's clock is broken: caller decides */
};

/* t1 client send, t2 server receive, t3 server send, t4 client receive. Never overflows
 * for timestamps within 136 years of each other. */
struct ntp_offset ntp_offset_compute(int64_t t1, int64_t t2, int64_t t3, int64_t t4);

#endif
