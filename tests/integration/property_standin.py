#!/usr/bin/env python3
"""A stand-in for one read-only D-Bus property of a service that cannot run in the tests
(NetworkManager's State, systemd-networkd's OperationalState): it owns the service's name
on the bus of DBUS_SYSTEM_BUS_ADDRESS and answers org.freedesktop.DBus.Properties.Get for
that one property; every other call gets org.freedesktop.DBus.Error.UnknownMethod. It
speaks the D-Bus wire protocol itself (standard library only: the test machine has no
Python D-Bus bindings), prints "ready" once it owns the name, and runs until ended.

    property_standin.py NAME PATH INTERFACE PROPERTY SIGNATURE VALUE

SIGNATURE is "u" or "s"."""
import binascii
import os
import socket
import struct
import sys

METHOD_CALL, METHOD_RETURN, ERROR, SIGNAL = 1, 2, 3, 4
NO_REPLY_EXPECTED = 0x1
F_PATH, F_INTERFACE, F_MEMBER, F_ERROR_NAME, F_REPLY_SERIAL = 1, 2, 3, 4, 5
F_DESTINATION, F_SENDER, F_SIGNATURE = 6, 7, 8
BUS = "org.freedesktop.DBus"


class Writer:
    """Little-endian marshalling; alignment counts from the start of the buffer."""

    def __init__(self):
        self.data = bytearray()

    def pad(self, n):
        self.data += b"\0" * (-len(self.data) % n)

    def byte(self, value):
        self.data.append(value)

    def uint32(self, value):
        self.pad(4)
        self.data += struct.pack("<I", value)

    def string(self, value):
        encoded = value.encode()
        self.uint32(len(encoded))
        self.data += encoded + b"\0"

    def signature(self, value):
        encoded = value.encode()
        self.byte(len(encoded))
        self.data += encoded + b"\0"

    def variant(self, sig, value):
        self.signature(sig)
        {"u": self.uint32, "s": self.string, "o": self.string, "g": self.signature}[sig](value)


def message(mtype, serial, fields, body_sig="", body=b"", flags=0):
    w = Writer()
    for b in (ord("l"), mtype, flags, 1):
        w.byte(b)
    w.uint32(len(body))
    w.uint32(serial)
    if body_sig:
        fields = fields + [(F_SIGNATURE, "g", body_sig)]
    length_at = len(w.data)
    w.uint32(0)
    w.pad(8)
    start = len(w.data)
    for code, sig, value in fields:
        w.pad(8)
        w.byte(code)
        w.variant(sig, value)
    struct.pack_into("<I", w.data, length_at, len(w.data) - start)
    w.pad(8)
    return bytes(w.data) + body


def body_of(*items):
    """items: (signature, value) pairs, marshalled from an 8-aligned start."""
    w = Writer()
    for sig, value in items:
        if sig == "v":
            w.variant(*value)
        else:
            {"u": w.uint32, "s": w.string}[sig](value)
    return bytes(w.data)


class Reader:
    def __init__(self, data, order):
        self.data, self.pos, self.order = data, 0, order

    def align(self, n):
        self.pos += -self.pos % n

    def byte(self):
        self.pos += 1
        return self.data[self.pos - 1]

    def uint32(self):
        self.align(4)
        self.pos += 4
        return struct.unpack_from(self.order + "I", self.data, self.pos - 4)[0]

    def string(self):
        n = self.uint32()
        self.pos += n + 1
        return self.data[self.pos - n - 1:self.pos - 1].decode()

    def signature(self):
        n = self.byte()
        self.pos += n + 1
        return self.data[self.pos - n - 1:self.pos - 1].decode()

    def value(self, sig):
        return {"u": self.uint32, "s": self.string, "o": self.string,
                "g": self.signature, "h": self.uint32, "y": self.byte}[sig]()


class Connection:
    def __init__(self, address):
        path = None
        for part in address.split(";")[0].split(":", 1)[1].split(","):
            key, _, value = part.partition("=")
            if key == "path":
                path = value
        if path is None:
            raise SystemExit("property_standin: only unix:path= addresses: %s" % address)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        uid = binascii.hexlify(str(os.getuid()).encode())
        self.sock.sendall(b"\0AUTH EXTERNAL " + uid + b"\r\n")
        line = self._read_line()
        if not line.startswith(b"OK "):
            raise SystemExit("property_standin: authentication refused: %r" % line)
        self.sock.sendall(b"BEGIN\r\n")
        self.buffer = b""
        self.serial = 0

    def _read_line(self):
        line = b""
        while not line.endswith(b"\r\n"):
            chunk = self.sock.recv(1)
            if not chunk:
                raise SystemExit("property_standin: bus closed during authentication")
            line += chunk
        return line

    def _read(self, n):
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise SystemExit(0)  # the bus went away: nothing left to serve
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def send(self, mtype, fields, body_sig="", body=b"", flags=0):
        self.serial += 1
        self.sock.sendall(message(mtype, self.serial, fields, body_sig, body, flags))
        return self.serial

    def call_bus(self, member, body_sig="", body=b""):
        return self.send(METHOD_CALL, [(F_PATH, "o", "/org/freedesktop/DBus"),
                                       (F_INTERFACE, "s", BUS), (F_MEMBER, "s", member),
                                       (F_DESTINATION, "s", BUS)], body_sig, body)

    def receive(self):
        """One message: (type, flags, serial, header fields by code, body Reader)."""
        fixed = self._read(16)
        order = "<" if fixed[0:1] == b"l" else ">"
        mtype, flags = fixed[1], fixed[2]
        body_len, serial, fields_len = struct.unpack_from(order + "III", fixed, 4)
        header_len = 16 + fields_len + (-(16 + fields_len) % 8)
        rest = self._read(header_len - 16 + body_len)
        r = Reader(fixed + rest[:header_len - 16], order)
        r.pos = 16
        fields = {}
        while r.pos < 16 + fields_len:
            r.align(8)
            code = r.byte()
            fields[code] = r.value(r.signature())
        body = Reader(rest[header_len - 16:], order)
        return mtype, flags, serial, fields, body


def main(argv):
    if len(argv) != 7 or argv[5] not in ("u", "s"):
        print(__doc__, file=sys.stderr)
        return 2
    name, path, interface, prop, sig, text = argv[1:]
    value = int(text) if sig == "u" else text
    bus = Connection(os.environ["DBUS_SYSTEM_BUS_ADDRESS"])
    bus.call_bus("Hello")
    request = bus.call_bus("RequestName", "su", body_of(("s", name), ("u", 4)))
    while True:
        mtype, flags, serial, fields, body = bus.receive()
        if mtype in (METHOD_RETURN, ERROR) and fields.get(F_REPLY_SERIAL) == request:
            result = body.uint32() if mtype == METHOD_RETURN else None
            if result != 1:
                print("property_standin: could not own %s (%s)" % (name, result),
                      file=sys.stderr)
                return 1
            print("ready", flush=True)
            continue
        if mtype != METHOD_CALL:
            continue
        sender = fields.get(F_SENDER, "")
        reply_fields = [(F_REPLY_SERIAL, "u", serial), (F_DESTINATION, "s", sender)]
        args = []
        if fields.get(F_SIGNATURE) == "ss":
            args = [body.string(), body.string()]
        if (fields.get(F_PATH) == path and
                fields.get(F_INTERFACE) == "org.freedesktop.DBus.Properties" and
                fields.get(F_MEMBER) == "Get" and args == [interface, prop]):
            reply = (METHOD_RETURN, reply_fields, "v", body_of(("v", (sig, value))))
        else:
            reply = (ERROR, reply_fields + [(F_ERROR_NAME, "s",
                                             "org.freedesktop.DBus.Error.UnknownMethod")],
                     "s", body_of(("s", "the stand-in answers only Get(%s, %s) on %s"
                                   % (interface, prop, path))))
        if not flags & NO_REPLY_EXPECTED:
            bus.send(*reply, flags=NO_REPLY_EXPECTED)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
