#include "ntp-packet.h"

#include <string.h>

#include "byte-order.h"
#include "ntp-time.h"

enum ntp_packet_error ntp_header_parse(const uint8_t *buf, size_t len, struct ntp_header *out)
{
    if (len < NTP_HEADER_LEN)
        return NTP_PACKET_ERR_TRUNCATED;
    out->leap = buf[0] >> 6;
    out->version = (buf[0] >> 3) & 0x7;
    out->mode = buf[0] & 0x7;
    out->stratum = buf[1];
    out->poll = (int8_t)buf[2];
    out->precision = (int8_t)buf[3];
    out->root_delay = read_be32(buf + 4);
    out->root_dispersion = read_be32(buf + 8);
    out->reference_id = read_be32(buf + 12);
    out->reference_ts = read_be64(buf + 16);
    out->origin_ts = read_be64(buf + 24);
    out->receive_ts = read_be64(buf + 32);
    out->transmit_ts = read_be64(buf + 40);
    return NTP_PACKET_OK;
}

void ntp_header_write(const struct ntp_header *header, uint8_t out[NTP_HEADER_LEN])
{
    out[0] = (uint8_t)(((header->leap & 0x3) << 6) | ((header->version & 0x7) << 3) |
                       (header->mode & 0x7));
    out[1] = header->stratum;
    out[2] = (uint8_t)header->poll;
    out[3] = (uint8_t)header->precision;
    write_be32(out + 4, header->root_delay);
    write_be32(out + 8, header->root_dispersion);
    write_be32(out + 12, header->reference_id);
    write_be64(out + 16, header->reference_ts);
    write_be64(out + 24, header->origin_ts);
    write_be64(out + 32, header->receive_ts);
    write_be64(out + 40, header->transmit_ts);
}

enum ntp_packet_error ntp_header_check_reply(const struct ntp_header *header)
{
    if (header->version != NTP_VERSION)
        return NTP_PACKET_ERR_VERSION;
    if (header->mode != NTP_MODE_SERVER)
        return NTP_PACKET_ERR_MODE;
    if (header->leap == NTP_LEAP_UNSYNCHRONIZED)
        return NTP_PACKET_ERR_UNSYNCHRONIZED;
    if (header->stratum == 0 || header->stratum > 15)
        return NTP_PACKET_ERR_STRATUM;
    if (header->receive_ts == 0 || header->transmit_ts == 0)
        return NTP_PACKET_ERR_ZERO_TIMESTAMP;
    int64_t distance =
        ntp_short_to_ns(header->root_delay) / 2 + ntp_short_to_ns(header->root_dispersion);
    if (distance >= NTP_MAX_ROOT_DISTANCE_NS)
        return NTP_PACKET_ERR_ROOT_DISTANCE;
    return NTP_PACKET_OK;
}

bool ntp_header_is_kiss(const struct ntp_header *header, const char code[4])
{
    return header->stratum == 0 && header->reference_id == read_be32((const uint8_t *)code);
}

const char *ntp_packet_error_str(enum ntp_packet_error error)
{
    switch (error) {
    case NTP_PACKET_OK:
        return "no error";
    case NTP_PACKET_ERR_TRUNCATED:
        return "packet shorter than an NTP header";
    case NTP_PACKET_ERR_VERSION:
        return "not an NTPv4 packet";
    case NTP_PACKET_ERR_MODE:
        return "not a server reply";
    case NTP_PACKET_ERR_UNSYNCHRONIZED:
        return "server is not synchronized (leap indicator 3)";
    case NTP_PACKET_ERR_STRATUM:
        return "invalid stratum";
    case NTP_PACKET_ERR_ZERO_TIMESTAMP:
        return "zero receive or transmit timestamp";
    case NTP_PACKET_ERR_ROOT_DISTANCE:
        return "server's root distance too large";
    }
    return "unknown NTP packet error";
}
