/* The 48-byte NTPv4 header (RFC 5905 §7.3): parse, build, and the sanity checks on a
 * server reply that need no state. Matching a reply to its request is nts-packet.h's. */
#ifndef GNOMON_CORE_NTP_PACKET_H
#define GNOMON_CORE_NTP_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NTP_HEADER_LEN 48
#define NTP_VERSION    4

enum ntp_mode {
    NTP_MODE_CLIENT = 3,
    NTP_MODE_SERVER = 4,
};

enum ntp_leap {
    NTP_LEAP_NONE = 0,
    NTP_LEAP_INSERT = 1,
    NTP_LEAP_DELETE = 2,
    NTP_LEAP_UNSYNCHRONIZED = 3,
};

/* RFC 5905 MAXDIST: a server further than this from its reference is not a time source. */
#define NTP_MAX_ROOT_DISTANCE_NS INT64_C(1000000000)

struct ntp_header {
    uint8_t leap; /* enum ntp_leap */
    uint8_t version;
    uint8_t mode; /* enum ntp_mode */
    uint8_t stratum;
    int8_t poll;              /* log2 seconds */
    int8_t precision;         /* log2 seconds */
    uint32_t root_delay;      /* NTP short format */
    uint32_t root_dispersion; /* NTP short format */
    uint32_t reference_id;
    uint64_t reference_ts;
    uint64_t origin_ts;
    uint64_t receive_ts;
    uint64_t transmit_ts;
};

enum ntp_packet_error {
    NTP_PACKET_OK = 0,
    NTP_PACKET_ERR_TRUNCATED,      /* shorter than the 48-byte header */
    NTP_PACKET_ERR_VERSION,        /* not NTPv4 */
    NTP_PACKET_ERR_MODE,           /* not a server reply */
    NTP_PACKET_ERR_UNSYNCHRONIZED, /* leap indicator 3: the server has no time */
    NTP_PACKET_ERR_STRATUM,        /* stratum 0 (kiss) or above 15 */
    NTP_PACKET_ERR_ZERO_TIMESTAMP, /* receive or transmit timestamp is zero */
    NTP_PACKET_ERR_ROOT_DISTANCE,  /* root delay / 2 + root dispersion too large */
};

/* Reads the header from buf; extension fields (if any) start at NTP_HEADER_LEN. */
enum ntp_packet_error ntp_header_parse(const uint8_t *buf, size_t len, struct ntp_header *out);

/* Writes exactly NTP_HEADER_LEN bytes. */
void ntp_header_write(const struct ntp_header *header, uint8_t out[NTP_HEADER_LEN]);

/* Stateless sanity checks of a server reply (nts-notes.md: mode 4, version 4, stratum
 * 1-15, leap != 3, non-zero receive/transmit, root distance below the maximum). */
enum ntp_packet_error ntp_header_check_reply(const struct ntp_header *header);

/* A kiss-o'-death reply: stratum 0 with a four-letter code such as "RATE" or "NTSN". */
bool ntp_header_is_kiss(const struct ntp_header *header, const char code[4]);

const char *ntp_packet_error_str(enum ntp_packet_error error);

#endif
