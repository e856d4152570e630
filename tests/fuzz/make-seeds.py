#!/usr/bin/python3
"""Writes the committed seed corpora for the fuzz targets (run once; the files are
committed). NTS-KE responses are built record by record; NTS replies are sealed with the
fuzz target's fixed key by OpenSSL's AES-SIV (python3-cryptography), so the fuzzer starts
from inputs that pass authentication.
    /usr/bin/python3 make-seeds.py corpus
"""
import os
import struct
import sys

from cryptography.hazmat.primitives.ciphers.aead import AESSIV

S2C_KEY = bytes([0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe, 0x01, 0x23, 0x45,
                 0x67, 0x89, 0xab, 0xcd, 0xef, 0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a,
                 0x69, 0x78, 0x87, 0x96, 0xa5, 0xb4, 0xc3, 0xd2, 0xe1, 0xf0])
TRANSMIT_TS = 0x0123456789abcdef
UID = b"gnomon-fuzz-unique-identifier-32"
NONCE = b"fuzz-nonce-16byt"


def record(rtype, body=b"", critical=False):
    return struct.pack(">HH", rtype | (0x8000 if critical else 0), len(body)) + body


def ke_response(cookies=8, server=None, port=None, extra=b""):
    out = record(1, b"\x00\x00", True) + record(4, b"\x00\x0f", True)
    for i in range(cookies):
        out += record(5, bytes([i]) * 100)
    if server is not None:
        out += record(6, server)
    if port is not None:
        out += record(7, struct.pack(">H", port))
    return out + extra + record(0, b"", True)


def field(ftype, body, minimum=16):
    length = max(minimum, (4 + len(body) + 3) & ~3)
    return struct.pack(">HH", ftype, length) + body + bytes(length - 4 - len(body))


def header(stratum=2, refid=0x7F000001, leap=0):
    server_time = 0xEA000000 << 32
    return struct.pack(">BBbbIII QQQQ".replace(" ", ""), (leap << 6) | (4 << 3) | 4, stratum,
                       4, -20, 0x100, 0x200, refid, server_time - (16 << 32), TRANSMIT_TS,
                       server_time, server_time + 1000)


def sealed_reply(n_cookies=2, nonce=NONCE):
    ad = header() + field(0x0104, UID)
    plain = b"".join(field(0x0204, bytes([i]) * 100, 4) for i in range(n_cookies))
    sealed = AESSIV(S2C_KEY).encrypt(plain, [ad, nonce])
    body = struct.pack(">HH", len(nonce), len(sealed)) + nonce + sealed
    return ad + field(0x0404, body)


def main():
    root = sys.argv[1]
    seeds = {
        "nts-ke-response": {
            "eight-cookies": ke_response(),
            "one-cookie": ke_response(cookies=1),
            "server-and-port": ke_response(server=b"ntp.example.net", port=11123),
            "unknown-noncritical": ke_response(extra=record(0x1234, b"xx")),
            "error-record": record(2, b"\x00\x02", True) + record(0, b"", True),
            "warning-record": ke_response(extra=record(3, b"\x00\x01", True)),
            "incomplete": ke_response()[:-4],
        },
        "nts-reply": {
            # mode byte 0: raw packet
            "raw-two-cookies": b"\x00" + sealed_reply(),
            "raw-eight-cookies": b"\x00" + sealed_reply(8),
            "raw-nak": b"\x00" + header(stratum=0, refid=0x4E54534E) + field(0x0104, UID),
            # mode byte 1: header + fields for the harness to seal
            "sealed-cookies": b"\x01" + header() + field(0x0204, b"\x07" * 100, 4) * 3,
            "sealed-empty": b"\x01" + header(),
            "sealed-rate-kiss": b"\x01" + header(stratum=0, refid=0x52415445),
            "sealed-unknown-field": b"\x01" + header() + field(0x7777, b"abcd", 4),
        },
    }
    for target, files in seeds.items():
        os.makedirs(os.path.join(root, target), exist_ok=True)
        for name, data in files.items():
            with open(os.path.join(root, target, name), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
