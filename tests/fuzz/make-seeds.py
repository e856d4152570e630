#!/usr/bin/python3
"""Writes the committed seed corpora for the fuzz targets (run once; the files are
committed). NTS-KE responses are built record by record; NTS replies are sealed with the
fuzz target's fixed key by OpenSSL's AES-SIV (python3-cryptography), so the fuzzer starts
from inputs that pass authentication. Configuration and state files are written as gnomon
writes or documents them, each beside variants that one rule refuses; the clock helper's
calls are serialised GVariant tuples (little-endian, as on the machines gnomon runs on).
    /usr/bin/python3 make-seeds.py corpus
"""
import base64
import json
import math
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


ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def repo_file(path):
    with open(os.path.join(ROOT, path), "rb") as f:
        return f.read()


# --- the agent's configuration (fuzz-config.c: files separated by lines "%%") ---

DROP_IN = b"\n%%\n"
ONE_SOURCE = (b"[Agent]\nMinAgreeingSources=1\nMinOperators=1\n"
              b"UntrustedClockMinAgreeingSources=1\n\n"
              b"[Source a]\nHost=nts.example.net\nOperator=Example\n")
THREE = (b"[Source a]\nHost=a.example.net\nOperator=A\n"
         b"[Source b]\nHost=192.0.2.1\nPort=4461\nOperator=B\n"
         b"[Source c]\nHost=2001:db8::1\nOperator=C\n"
         b"TrustedCertificates=/etc/ssl/certs/ca.pem\n")


def agent(**keys):
    return b"[Agent]\n" + b"".join(b"%s=%s\n" % (k.encode(), v.encode())
                                   for k, v in keys.items())


def config_seeds():
    return {
        "default-conf": repo_file("data/gnomon.conf"),
        "one-source": ONE_SOURCE,
        "three-sources": agent(MinAgreeingSources="2", MinOperators="2") + THREE,
        "all-agent-keys": agent(MinAgreeingSources="3", MinOperators="3",
                                StepThresholdSeconds="0.125", StartupMaxStepSeconds="inf",
                                MaxStepSeconds="86400", UntrustedClockMinAgreeingSources="3",
                                PollMinSeconds="16", PollMaxSeconds="1024",
                                StartJitterSeconds="0", TrustedCertificates="/etc/ca.pem",
                                StateDirectory="/var/lib/gnomon") + THREE,
        "comments-and-blanks": b"# c\n; semicolon\n\n  [Agent]  \n MinOperators = 1 \n"
                               b"MinAgreeingSources=1\nUntrustedClockMinAgreeingSources=1\n"
                               b"[Source x y]\r\nHost=h.example.org\nOperator=\\sX\n",
        "drop-in-override": THREE + DROP_IN + agent(MinAgreeingSources="2"),
        "drop-in-adds": ONE_SOURCE + DROP_IN + b"[Source b]\nHost=b.example.net\n"
                        b"Operator=B\n" + DROP_IN + agent(
                            MinOperators="2", MinAgreeingSources="2",
                            UntrustedClockMinAgreeingSources="2"),
        "drop-in-redefines": ONE_SOURCE + DROP_IN + b"[Source a]\nHost=c.example.net\n"
                             b"Operator=C\n",
        "same-host-port": ONE_SOURCE + b"[Source b]\nHost=NTS.example.net\nPort=4460\n"
                          b"Operator=B\n",
        "duplicate-key": ONE_SOURCE + b"Host=x.example.net\n",
        "duplicate-group": ONE_SOURCE + b"[Agent]\n",
        "unknown-key": ONE_SOURCE + b"Hots=x\n",
        "unknown-group": b"[Agnet]\nMinOperators=1\n",
        "source-without-name": b"[Source]\nHost=a.example.net\n",
        "key-before-group": b"MinOperators=1\n" + ONE_SOURCE,
        "bad-header": b"[Agent] x\n",
        "no-equals": b"[Agent]\nMinOperators\n",
        "not-utf8": b"[Agent]\nMinOperators=\xff\n",
        "nul-byte": b"[Agent]\nMinOperators=1\x00\n",
        "no-sources": agent(MinOperators="1"),
        "missing-operator": b"[Source a]\nHost=a.example.net\n",
        "bad-host": b"[Source a]\nHost=-bad-.example..net\nOperator=A\n",
        "bad-port": ONE_SOURCE + b"Port=65536\n",
        "hex-seconds": agent(StepThresholdSeconds="0x10") + THREE,
        "nan-seconds": agent(PollMinSeconds="nan") + THREE,
        "huge-seconds": agent(MaxStepSeconds="1e300") + THREE,
        "negative-count": agent(MinOperators="-1") + THREE,
        "poll-min-above-max": agent(PollMinSeconds="4096") + THREE,
        "relative-path": agent(StateDirectory="var/lib") + THREE,
        "unknown-escape": ONE_SOURCE + b"TrustedCertificates=/a\\qb\n",
        "inconsistent": agent(MinAgreeingSources="4") + THREE,
    }


# --- the helper's limits file (fuzz-limits-config.c) ---

def limits(**keys):
    return b"[Limits]\n" + b"".join(b"%s=%s\n" % (k.encode(), v.encode())
                                     for k, v in keys.items())


def limits_seeds():
    return {
        "default-conf": repo_file("data/clock-helper.conf"),
        "empty": b"",
        "all-keys": limits(MaxSlewSeconds="0.25", MaxSlewPerHourSeconds="1.5",
                           MaxFrequencyPPM="12.5", MaxStepSeconds="inf",
                           BootMaxStepSeconds="INF", MaxStepsPerHour="64",
                           MaxMeasurementAgeSeconds="1", ApprovalLifetimeSeconds="60",
                           FloorLagSeconds="0", MaxYearsAfterBuild="200"),
        "nine-decimals": limits(MaxSlewSeconds="0.000000001", FloorLagSeconds="1.123456789"),
        "ten-decimals": limits(FloorLagSeconds="1.1234567891"),
        "largest": limits(MaxStepSeconds="9223372035.999999999"),
        "too-large": limits(MaxStepSeconds="9223372036"),
        "slew-above-kernel": limits(MaxSlewSeconds="0.500000001"),
        "ppm-above-kernel": limits(MaxFrequencyPPM="500.000000001"),
        "count-too-large": limits(MaxStepsPerHour="65", MaxYearsAfterBuild="0"),
        "not-a-number": limits(MaxSlewSeconds="1.", ApprovalLifetimeSeconds="-1"),
        "inf-not-allowed": limits(MaxSlewSeconds="inf"),
        "duplicate-key": limits(MaxSlewSeconds="0.1") + b"MaxSlewSeconds=0.2\n",
        "duplicate-group": limits() + limits(),
        "unknown-key": limits(MaxSlew="0.1"),
        "unknown-group": b"[Agent]\nMaxSlewSeconds=0.1\n",
        "key-before-group": b"MaxSlewSeconds=0.1\n" + limits(),
        "comments": b"; a\n# b\n  [Limits]  \n  MaxStepsPerHour = 007 \n",
        "escape": limits(MaxSlewSeconds="\\x0.1"),
    }


# --- state files (fuzz-state-files.c: first byte 0 agent, 1 source, 2 boot, 3 floor) ---

MACHINE_ID = "0123456789abcdef0123456789abcdef"
BOOT_ID = "01234567-89ab-cdef-0123-456789abcdef"
OTHER_BOOT = "fedcba98-7654-3210-fedc-ba9876543210"


def state_json(selector, obj, compact=False):
    text = json.dumps(obj, separators=(",", ":")) if compact else json.dumps(obj, indent=2)
    return bytes([selector]) + text.encode() + b"\n"


def agent_state(**changes):
    obj = {"version": 1, "machine_id": MACHINE_ID, "boot_id": BOOT_ID,
           "frequency_ppm": -12.345, "time_floor_unix": 1764000000,
           "last_sync_unix": 1764000100, "boot_window_closed": True}
    obj.update(changes)
    return obj


def b64(data):
    return base64.b64encode(data).decode()


def source_state(**changes):
    obj = {"version": 1, "machine_id": MACHINE_ID, "host": "nts.example.net", "port": 4460,
           "c2s_key": b64(bytes(range(32))), "s2c_key": b64(bytes(range(32, 64))),
           "aead": 15, "ntp_server": "ntp.example.net", "ntp_port": 123,
           "key_exchange_time_unix": 1764000000,
           "cookies": [b64(bytes([i]) * 100) for i in range(8)]}
    obj.update(changes)
    return obj


def boot_record(**changes):
    s = 1000000000
    obj = {"boot_id": BOOT_ID, "boot_window_open": False, "steps_this_boot": 2,
           "steps": [{"boottime_ns": 3000 * s, "amount_ns": 5 * s},
                     {"boottime_ns": 6000 * s, "amount_ns": -2 * s}],
           "slews": [{"boottime_ns": 6500 * s, "amount_ns": s // 10}],
           "requests": [{"id": "req-1", "rule": "step-within-limits", "limit": 1000 * s,
                         "value": 5 * s},
                        {"id": "req-2", "rule": "step-too-large", "limit": 1000 * s,
                         "value": 5000 * s}],
           "last_request": {"id": "req-2", "rule": "step-too-large", "limit": 1000 * s,
                            "value": 5000 * s},
           "approval": {"offset_ns": -3600 * s, "tolerance_ns": s,
                        "expiry_boottime_ns": 7000 * s},
           "floor_written_boottime_ns": 6500 * s}
    obj.update(changes)
    return obj


def state_seeds():
    # Compact, to stay within the 4096 bytes the fuzzer is run with.
    full_ring = [{"id": "r%d" % i, "rule": "step-approved", "limit": 1, "value": 1}
                 for i in range(64)]
    return {
        "agent": state_json(0, agent_state()),
        "agent-other-boot": state_json(0, agent_state(boot_id=OTHER_BOOT)),
        "agent-foreign-machine": state_json(0, agent_state(machine_id="f" * 32)),
        "agent-version-2": state_json(0, agent_state(version=2)),
        "agent-frequency-int": state_json(0, agent_state(frequency_ppm=500)),
        "agent-frequency-too-large": state_json(0, agent_state(frequency_ppm=500.5)),
        "agent-truncated": state_json(0, agent_state())[:60],
        "agent-not-object": b"\x00[1, 2, 3]\n",
        "agent-missing-member": state_json(0, {"version": 1, "machine_id": MACHINE_ID}),
        "source": state_json(1, source_state()),
        "source-no-cookies": state_json(1, source_state(cookies=[])),
        "source-nine-cookies": state_json(1, source_state(
            cookies=[b64(bytes([i]) * 4) for i in range(9)])),
        "source-repeated-cookie": state_json(1, source_state(
            cookies=[b64(b"abcd"), b64(b"efgh"), b64(b"abcd")])),
        "source-bad-base64": state_json(1, source_state(c2s_key="AAA", s2c_key="A===")),
        "source-short-key": state_json(1, source_state(c2s_key=b64(bytes(31)))),
        "source-cookie-length": state_json(1, source_state(cookies=[b64(b"abc")])),
        "source-host-changed": state_json(1, source_state(host="other.example.net")),
        "source-aead": state_json(1, source_state(aead=16)),
        "boot": state_json(2, boot_record()),
        "boot-fresh": state_json(2, boot_record(
            boot_window_open=True, steps_this_boot=0, steps=[], slews=[], requests=[],
            last_request=None, approval=None, floor_written_boottime_ns=None)),
        "boot-full-ring": state_json(2, boot_record(requests=full_ring, steps=[], approval=None),
                                     compact=True),
        "boot-other": state_json(2, boot_record(boot_id=OTHER_BOOT)),
        "boot-damaged": state_json(2, boot_record(steps_this_boot=-1)),
        "boot-bad-id": state_json(2, boot_record(
            last_request={"id": "no spaces", "rule": "x", "limit": 0, "value": 0})),
        "boot-extremes": state_json(2, boot_record(
            steps=[{"boottime_ns": -2 ** 63, "amount_ns": 2 ** 63 - 1}],
            slews=[{"boottime_ns": 2 ** 63 - 1, "amount_ns": -2 ** 63}],
            approval={"offset_ns": -2 ** 63, "tolerance_ns": 2 ** 63 - 1,
                      "expiry_boottime_ns": 2 ** 63 - 1})),
        # Nesting as deep as each reader's size limit allows (64 KiB, 256 KiB), longer than
        # the fuzzer's inputs: json-glib parses it by recursion, and the boot record's
        # 80000 levels overflowed the stack. Both readers now refuse such files first.
        "agent-deep-nesting": b"\x00" + b"[" * 65000,
        "boot-deep-nesting": b"\x02" + b"{\"a\":[" * 40000,
        "floor": b"\x031764000000\n",
        "floor-negative": b"\x03 -5 \n",
        "floor-garbage": b"\x03yesterday\n",
        "floor-too-large": b"\x039223372036854775807\n",
    }


# --- the clock helper's calls (fuzz-helper-args.c) ---

SLEW, SET_FREQUENCY, STEP, STEP_TO_FLOOR, APPROVE_STEP, UNKNOWN = range(6)
NS = 1000000000


def call(method, args=b"", advance=0, wrong_type=False):
    return bytes([method | (0x80 if wrong_type else 0), advance, len(args)]) + args


def xt(x, t):
    return struct.pack("<qQ", x, t)


def step(offset, measured, request_id, uncertainty=1000000, advance=0):
    args = struct.pack("<qQQ", offset, uncertainty, measured) + request_id + b"\x00"
    return call(STEP, args, advance)


def helper_args_seeds():
    # CLOCK_BOOTTIME starts at 10 s; a call's advance byte adds its square in seconds.
    return {
        "slew": b"\x00" + call(SLEW, xt(NS // 10, 1000000)),
        "slew-too-large": b"\x00" + call(SLEW, xt(-NS, 0)),
        "slew-budget": b"\x00" + call(SLEW, xt(NS // 2, 0)) * 5,
        "slew-int64-min": b"\x00" + call(SLEW, xt(-2 ** 63, 2 ** 64 - 1)),
        "frequency": b"\x00" + call(SET_FREQUENCY, struct.pack("<d", 12.5)),
        "frequency-nan": b"\x00" + call(SET_FREQUENCY, struct.pack("<d", math.nan)),
        "frequency-too-large": b"\x00" + call(SET_FREQUENCY, struct.pack("<d", -600.0)),
        "step": b"\x00" + step(5 * NS, 9 * NS, b"req-1"),
        "step-repeated": b"\x00" + step(5 * NS, 9 * NS, b"req-1") * 2,
        "step-boot-window": b"\x00" + step(10 ** 6 * NS, 9 * NS, b"boot"),
        "step-stale": b"\x00" + step(5 * NS, 9 * NS, b"old", advance=10),
        "step-bad-id": b"\x00" + step(5 * NS, 9 * NS, b"no spaces!"),
        "steps-per-hour": b"\x00" + b"".join(step(NS, (10 + i) * NS, b"s%d" % i, advance=1)
                                             for i in range(6)),
        "approve-then-step": b"\x00" + call(APPROVE_STEP, xt(-3600 * NS, NS)) +
                             step(-3600 * NS + 1, 9 * NS, b"approved"),
        "approve-bad-tolerance": b"\x00" + call(APPROVE_STEP, xt(NS, NS)),
        "step-to-floor-behind": b"\x04" + call(STEP_TO_FLOOR, b"\x00"),
        "step-to-floor-ahead": b"\x00" + call(STEP_TO_FLOOR, b"\x00"),
        "tight-limits": b"\x01" + call(SLEW, xt(1, 0)) + step(1, 9 * NS, b"t"),
        "loose-limits": b"\x02" + step(50 * 365 * 86400 * NS, 9 * NS, b"far") * 2,
        "unknown-method": b"\x00" + call(UNKNOWN, b"\x00"),
        "wrong-type": b"\x00" + call(SET_FREQUENCY, xt(1, 2), wrong_type=True),
    }


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
        "config": config_seeds(),
        "limits-config": limits_seeds(),
        "state-files": state_seeds(),
        "helper-args": helper_args_seeds(),
    }
    for target, files in seeds.items():
        os.makedirs(os.path.join(root, target), exist_ok=True)
        for name, data in files.items():
            with open(os.path.join(root, target, name), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
