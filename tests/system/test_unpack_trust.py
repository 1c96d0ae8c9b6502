"""What a gateway can and cannot do through the unpacker (issue 12,
findings 3, 4 and 5; docs/unpack.md, "Trust"), through the real binaries
on real brokers.

The frames here are built byte by byte (tests/lib/frames.py) and published
on the central broker as a gateway would, with what no honest relay
sends: another gateway's topics, strings that are not MQTT's UTF-8, a
topic table used thousands of times.
"""

import json
import subprocess

from harness import bin_argv
import frames


def _decode(binary, data, tmp_path):
    path = tmp_path / "frame.bin"
    path.write_bytes(data)
    return subprocess.run(bin_argv(binary, "decode", path),
                          capture_output=True, timeout=30)


def test_decode_writes_json_even_for_strings_that_are_not_utf8(
        pushrelay_bin, tmp_path):
    """`decode` used to copy a topic's bytes into the JSON string as they
    were, so its output was not UTF-8 and no JSON reader took it."""
    f = frames.build("gw-a", 1, [
        {"topic": b"t/\xff\xfe/x", "payload": b"1"},
        {"topic": b"t/ok", "payload": b"2",
         "props": frames.props(user=[(b"k\xc0\xaf", b"v")])},
    ])
    p = _decode(pushrelay_bin, f, tmp_path)
    assert p.returncode == 0, p.stderr
    lines = [json.loads(l) for l in p.stdout.decode("utf-8").splitlines()]
    assert lines[1]["topic"] == "t/\ufffd\ufffd/x"
    assert lines[2]["properties"]["user_properties"] == [
        ["k\ufffd\ufffd", "v"]]
