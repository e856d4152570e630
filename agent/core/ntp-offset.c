#include "ntp-offset.h"

/* Half of a + b without overflowing, rounding toward zero like (a + b) / 2 would. */
static int64_t half_sum(int64_t a, int64_t b)
{
    int64_t half = a / 2 + b / 2;
    int64_t rest = a % 2 + b % 2; /* -2..2 */
    return half + rest / 2;
}

struct ntp_offset ntp_offset_compute(int64_t t1, int64_t t2, int64_t t3, int64_t t4)
{
    struct ntp_offset result;
    result.offset_ns = half_sum(t2 - t1, t3 - t4);
    result.delay_ns = (t4 - t1) - (t3 - t2);
    return result;
}
