# SPDX-License-Identifier: ISC
"""`pushrelay decode` on the worked examples of docs/frame-format.md.

The frames are taken from the document's hex dumps, so the test also
holds the document to what the binary really reads.
"""

import json
import re
import subprocess
from pathlib import Path

import pytest

import frames
from harness import bin_argv

DOC = Path(__file__).resolve().parents[2] / "docs" / "frame-format.md"


def _hex_blocks(section):
    """The frames written as hex dumps under the ### SECTION.n headings of
    docs/frame-format.md, one per heading."""
    text = DOC.read_text()
    blocks = re.findall(r"### %s\.\d[^\n]*\n.*?```\n(.*?)```" % section,
                        text, re.S)
    frames = []
    for b in blocks:
        data = bytearray()
        for line in b.splitlines():
            m = re.match(r"[0-9a-f]{8}: ((?:[0-9a-f]{2} ?)+)", line)
            if m:
                data += bytes.fromhex(m.group(1).replace(" ", ""))
        frames.append(bytes(data))
    return frames


def _examples():
    frames = _hex_blocks(7)
    assert len(frames) == 2, "the document should hold two worked examples"
    return frames


def _examples_v2():
    """Section 9's version 2 vectors: codec 0, codec 1, the dictionary
    frame, codec 2."""
    frames = _hex_blocks(9)
    assert len(frames) == 4, "the document should hold four v2 vectors"
    return frames


def _decode(binary, data, tmp_path, name="frame.bin"):
    path = tmp_path / name
    path.write_bytes(data)
    return subprocess.run(bin_argv(binary, "decode", path),
                          capture_output=True, timeout=30)


@pytest.mark.parametrize("which,codec", [(0, "none"), (1, "lz4")])
def test_decode_worked_example(pushrelay_bin, tmp_path, which, codec):
    frame = _examples()[which]
    p = _decode(pushrelay_bin, frame, tmp_path)
    assert p.returncode == 0, p.stderr
    lines = [json.loads(l) for l in p.stdout.decode().splitlines()]
    head, recs = lines[0], lines[1:]
    assert head["codec"] == codec and head["version"] == 1
    assert head["gateway"] == "gw-berlin.01" and head["seq"] == 7
    assert head["count"] == 3 == len(recs)
    assert head["frame_len"] == len(frame)
    assert [r["topic"] for r in recs] == [
        "tele/aq_DESH001/SENSOR", "tele/aq_DESH001/SENSOR",
        "tele/aq_DENI063/SENSOR"]
    assert [r["payload"] for r in recs] == [
        '{"PM10":16.7}', '{"PM10":16.9}', '{"PM10":31.7}']
    assert [(r["qos"], r["retain"]) for r in recs] == [
        (1, False), (1, False), (0, True)]
    assert [r["ts"] for r in recs] == [
        1700000000000, 1700000001000, 1700000000750]
    assert recs[1]["properties"] == {"message_expiry": 3600,
                                     "content_type": "application/json"}


def test_decode_stdin(pushrelay_bin):
    frame = _examples()[1]
    p = subprocess.run(bin_argv(pushrelay_bin, "decode", "-"), input=frame,
                       capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert len(p.stdout.decode().splitlines()) == 4


@pytest.mark.parametrize("cut", [0, 5, 43, 100, 173])
def test_decode_truncated_frame_exits_2(pushrelay_bin, tmp_path, cut):
    p = _decode(pushrelay_bin, _examples()[1][:cut], tmp_path)
    assert p.returncode == 2
    assert re.search(rb"byte \d+", p.stderr), p.stderr
    assert p.stdout == b"", "a bad frame prints no record"


def test_decode_refuses_unknown_version_and_codec(pushrelay_bin, tmp_path):
    frame = bytearray(_examples()[0])
    frame[4] = 3
    p = _decode(pushrelay_bin, bytes(frame), tmp_path)
    assert p.returncode == 2 and b"version 3" in p.stderr, p.stderr
    frame = bytearray(_examples()[0])
    frame[5] = 7
    p = _decode(pushrelay_bin, bytes(frame), tmp_path)
    assert p.returncode == 2 and b"codec 7" in p.stderr, p.stderr


def test_decode_bit_flips_never_crash(pushrelay_bin, tmp_path):
    """Every single-bit flip of the codec-0 example: exit 2 with the byte
    named, never a crash (a decode of changed content would fail the
    content checksum)."""
    frame = _examples()[0]
    for i in range(0, len(frame) * 8, 7):
        bad = bytearray(frame)
        bad[i // 8] ^= 1 << (i % 8)
        p = _decode(pushrelay_bin, bytes(bad), tmp_path)
        assert p.returncode == 2, "flip of bit %d accepted" % i
        assert b"byte " in p.stderr


def test_decode_missing_file_exits_1(pushrelay_bin, tmp_path):
    p = subprocess.run(bin_argv(pushrelay_bin, "decode", tmp_path / "nope.bin"),
                       capture_output=True, timeout=30)
    assert p.returncode == 1 and b"nope.bin" in p.stderr


def _v2_records(p):
    lines = [json.loads(l) for l in p.stdout.decode().splitlines()]
    return lines[0], lines[1:]


def test_decode_v2_vectors_and_dictionary(pushrelay_bin, tmp_path):
    """The v2 vectors of section 9 decode to section 7's records; the
    frame that names a dictionary says so without it, and decodes with
    its dictionary frame given after it."""
    none, lz4, dict_frame, with_dict = _examples_v2()
    for frame, codec in ((none, "none"), (lz4, "lz4")):
        p = _decode(pushrelay_bin, frame, tmp_path)
        assert p.returncode == 0, p.stderr
        head, recs = _v2_records(p)
        assert head["version"] == 2 and head["codec"] == codec
        assert head["seq"] == 7 and len(recs) == 3
        assert [r["payload"] for r in recs] == [
            '{"PM10":16.7}', '{"PM10":16.9}', '{"PM10":31.7}']
    p = _decode(pushrelay_bin, with_dict, tmp_path)
    assert p.returncode == 2 and p.stdout == b""
    assert b"dictionary 1 (check 465d8089) of gateway gw-berlin.01 is " \
        b"missing" in p.stderr, p.stderr
    (tmp_path / "dict.bin").write_bytes(dict_frame)
    p = _decode(pushrelay_bin, dict_frame, tmp_path, name="d.bin")
    assert p.returncode == 0, p.stderr
    head = json.loads(p.stdout.decode().splitlines()[0])
    assert head["kind"] == "dictionary" and head["dictionary_id"] == 1
    (tmp_path / "frame.bin").write_bytes(with_dict)
    p = subprocess.run(bin_argv(pushrelay_bin, "decode",
                                tmp_path / "frame.bin",
                                tmp_path / "dict.bin"),
                       capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr
    head, recs = _v2_records(p)
    assert head["codec"] == "lz4+dictionary" and len(recs) == 3
    assert recs[1]["properties"] == {"message_expiry": 3600,
                                     "content_type": "application/json"}
    # A dictionary with the same id and other bytes is never used.
    content = dict_frame[27:]
    other = frames.wrap2("gw-berlin.01", 6, 0, content[:-1] + b"X",
                         kind=1, dict_id=1)
    assert other[:27] != dict_frame[:27]
    (tmp_path / "other.bin").write_bytes(other)
    p = subprocess.run(bin_argv(pushrelay_bin, "decode",
                                tmp_path / "frame.bin",
                                tmp_path / "other.bin"),
                       capture_output=True, timeout=30)
    assert p.returncode == 2 and p.stdout == b"", p.stdout
    assert b"is missing" in p.stderr, p.stderr
