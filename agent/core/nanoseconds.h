/* Time quantities in gnomon: signed 64-bit integer nanoseconds for every offset,
 * duration and instant (instants count from the Unix epoch, or from boot for
 * CLOCK_BOOTTIME readings). NTP's fixed-point formats exist only at the wire boundary
 * (ntp-time.h). */
#ifndef GNOMON_CORE_NANOSECONDS_H
#define GNOMON_CORE_NANOSECONDS_H

#include <stdint.h>

#define NS_PER_US  INT64_C(1000)
#define NS_PER_MS  INT64_C(1000000)
#define NS_PER_SEC INT64_C(1000000000)

#endif
