# SPDX-License-Identifier: ISC
"""Batch frames (docs/frame-format.md) built byte by byte in Python, so
that tests can send the central broker what no honest relay would: bad
strings, a topic table used 2,000 times, another gateway's id.

build(gateway, seq, records, topics=None, codec=0) -> bytes
  records: list of dicts with topic (index into topics, or str/bytes when
  topics is None), payload (bytes), qos, retain, ts (ms), expiry (s or
  None), props (the raw props blob, bytes, or None).
  topics: explicit topic table (list of bytes) or None to build it from
  the records' topics in order of first use.
  codec 1 compresses the body with the `lz4` command (lz4_available()).

props(...) builds a props blob (relay/props.h) from keyword arguments.
"""

import shutil
import struct
import subprocess

_P1, _P2, _P3, _P4, _P5 = (2654435761, 2246822519, 3266489917, 668265263,
                           374761393)
_M = 0xFFFFFFFF


def _rotl(x, r):
    return ((x << r) | (x >> (32 - r))) & _M


def xxh32(data, seed=0):
    """XXH32 (github.com/Cyan4973/xxHash, doc/xxhash_spec.md)."""
    n, i = len(data), 0
    if n >= 16:
        v = [(seed + _P1 + _P2) & _M, (seed + _P2) & _M, seed,
             (seed - _P1) & _M]
        while n - i >= 16:
            for k in range(4):
                lane = struct.unpack_from("<I", data, i + 4 * k)[0]
                v[k] = (_rotl((v[k] + lane * _P2) & _M, 13) * _P1) & _M
            i += 16
        h = (_rotl(v[0], 1) + _rotl(v[1], 7) + _rotl(v[2], 12) +
             _rotl(v[3], 18)) & _M
    else:
        h = (seed + _P5) & _M
    h = (h + n) & _M
    while n - i >= 4:
        lane = struct.unpack_from("<I", data, i)[0]
        h = (_rotl((h + lane * _P3) & _M, 17) * _P4) & _M
        i += 4
    while i < n:
        h = (_rotl((h + data[i] * _P5) & _M, 11) * _P1) & _M
        i += 1
    h ^= h >> 15
    h = (h * _P2) & _M
    h ^= h >> 13
    h = (h * _P3) & _M
    h ^= h >> 16
    return h


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def zigzag(d):
    return 2 * d if d >= 0 else 2 * (-d) - 1


def _b(s):
    return s.encode() if isinstance(s, str) else bytes(s)


def _mqtt_str(s):
    s = _b(s)
    return struct.pack(">H", len(s)) + s


def props(content_type=None, response_topic=None, correlation=None,
          payload_format=None, user=()):
    """A props blob: MQTT 5 wire form without the length (relay/props.h)."""
    out = b""
    if payload_format is not None:
        out += bytes([1, payload_format])
    if content_type is not None:
        out += b"\x03" + _mqtt_str(content_type)
    if response_topic is not None:
        out += b"\x08" + _mqtt_str(response_topic)
    if correlation is not None:
        out += b"\x09" + _mqtt_str(correlation)
    for k, v in user:
        out += b"\x26" + _mqtt_str(k) + _mqtt_str(v)
    return out


def lz4_available():
    return shutil.which("lz4") is not None


def _lz4(body):
    p = subprocess.run(["lz4", "-c", "-q", "--content-size", "-"],
                       input=body, capture_output=True, check=True)
    return p.stdout


def body(records, topics=None):
    if topics is None:
        topics = []
        for r in records:
            t = _b(r["topic"])
            if t not in topics:
                topics.append(t)
        index = {t: i for i, t in enumerate(topics)}
    else:
        topics = [_b(t) for t in topics]
        index = None
    out = bytearray(varint(len(topics)))
    for t in topics:
        out += varint(len(t)) + t
    prev = 0
    for r in records:
        ts = r.get("ts", 1700000000000)
        flags = r.get("qos", 1) | (4 if r.get("retain") else 0)
        expiry, pr = r.get("expiry"), r.get("props")
        if expiry is not None:
            flags |= 8
        if pr:
            flags |= 16
        ti = r["topic"] if index is None else index[_b(r["topic"])]
        out.append(flags)
        out += varint(ti) + varint(zigzag(ts - prev))
        prev = ts
        if expiry is not None:
            out += varint(expiry)
        if pr:
            out += varint(len(pr)) + pr
        payload = _b(r.get("payload", b""))
        out += varint(len(payload)) + payload
    return bytes(out)


def wrap(gateway, seq, count, b, codec=0):
    """A frame around body b (bytes) of count records."""
    gw = _b(gateway)
    head = b"PRBF" + bytes([1, codec, 0, len(gw)]) + gw
    head += struct.pack("<QIII", seq, count, len(b), xxh32(b))
    head += struct.pack("<I", xxh32(head))
    return head + (b if codec == 0 else _lz4(b))


def build(gateway, seq, records, topics=None, codec=0):
    """One frame from gateway with sequence number seq (see the module)."""
    return wrap(gateway, seq, len(records), body(records, topics), codec)


def one_topic_many_records(topic, count):
    """A body whose count empty records all use one topic: it expands to
    count * len(topic) bytes, while LZ4 makes it a few KB."""
    t = _b(topic)
    return varint(1) + varint(len(t)) + t + b"\x01\x00\x00\x00" * count
