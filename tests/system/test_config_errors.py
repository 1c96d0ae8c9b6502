# SPDX-License-Identifier: ISC
"""Every configuration error path of `pushrelay check` (and `run`), the valid
case with masked secrets and defaults, and the plain CLI exit codes.

A configuration error exits 2 and prints `FILE:LINE: option NAME: ...` (or
`FILE:LINE: syntax: ...`) to stderr; all errors of a file are reported.
The option name may be quoted (`option 'qos':`), both forms are accepted.
"""

import re

import pytest

from harness import T, default_config, line_of, run_cli


def base_config(tmp_path):
    return default_config(tmp_path, tmp_path / "ctl.sock", 1883, 1884)


def write(tmp_path, text, name="pushrelay.conf"):
    p = tmp_path / name
    p.write_text(text)
    return p


def opt_rx(path, line, name):
    return r"(?m)^%s:%d: option '?%s'?: \S" % (re.escape(str(path)), line, name)


def assert_error(r, rx):
    assert r.returncode == 2, "exit %d, want 2\nstdout:\n%s\nstderr:\n%s" % (
        r.returncode, r.stdout, r.stderr)
    assert re.search(rx, r.stderr), "stderr does not match %r:\n%s" % (rx, r.stderr)


def set_(section, key, value):
    def f(c):
        target = {"relay": c.relay, "local": c.local, "central": c.central,
                  "up": c.uplinks[0] if c.uplinks else None,
                  "down": c.downlinks[0] if c.downlinks else None}[section]
        if value is None:
            target.pop(key, None)
        else:
            target[key] = value
    return f


# (id, mutation of the RelayConfig, text edit of the rendered file,
#  marker: text on the offending line, option name or "syntax")
OPTION_CASES = [
    ("bad_qos", set_("up", "qos", "3"), None, "option qos '3'", "qos"),
    # issue #14: the WAN flow options
    ("max_delay_ms_range", set_("up", "max_delay_ms", "3600001"), None,
     "option max_delay_ms", "max_delay_ms"),
    ("max_delay_ms_in_downlink", set_("down", "max_delay_ms", "10"), None,
     "option max_delay_ms", "max_delay_ms"),
    ("max_rate_in_uplink", set_("up", "max_rate", "10"), None,
     "option max_rate", "max_rate"),
    ("max_rate_not_a_number", set_("down", "max_rate", "fast"), None,
     "option max_rate", "max_rate"),
    ("max_wan_rate_bad_size", set_("relay", "max_wan_rate", "1X"), None,
     "option max_wan_rate", "max_wan_rate"),
    ("daily_wan_quota_bad", set_("relay", "daily_wan_quota", "-5"), None,
     "option daily_wan_quota", "daily_wan_quota"),
    ("topic_alias_max_range", set_("central", "topic_alias_max", "70000"), None,
     "option topic_alias_max", "topic_alias_max"),
    ("qos_not_a_number", set_("down", "qos", "one"), None, "option qos 'one'", "qos"),
    ("unknown_option", set_("up", "qso", "1"), None, "option qso", "qso"),
    ("unknown_relay_option", set_("relay", "stroe", "/tmp/q.db"), None,
     "option stroe", "stroe"),
    ("bad_id_chars", set_("relay", "id", "gw/01"), None, "option id 'gw/01'", "id"),
    ("id_too_long", set_("relay", "id", "g" * 65), None, "option id 'ggg", "id"),
    # '' is absent, as in uci: the required id is missing (section line).
    ("empty_id", set_("relay", "id", ""), None, "config relay", "id"),
    ("bad_size_suffix", set_("relay", "store_max_bytes", "64X"), None,
     "option store_max_bytes", "store_max_bytes"),
    ("bad_store_full", set_("relay", "store_full", "drop_random"), None,
     "option store_full", "store_full"),
    ("bad_sync", set_("relay", "sync", "sometimes"), None, "option sync", "sync"),
    ("bad_log_level", set_("relay", "log_level", "verbose"), None,
     "option log_level", "log_level"),
    ("bad_local_address", set_("local", "address", "127.0.0.1:99999"), None,
     "option address '127.0.0.1:99999'", "address"),
    ("bad_central_address", set_("central", "address", ["127.0.0.1:abc"]), None,
     "list address '127.0.0.1:abc'", "address"),
    ("bad_protocol", set_("local", "protocol", "4"), None, "option protocol", "protocol"),
    ("bad_keepalive", set_("central", "keepalive", "sixty"), None,
     "option keepalive", "keepalive"),
    ("bad_mode", set_("up", "mode", "zip"), None, "option mode", "mode"),
    ("wildcard_in_remote_prefix", set_("up", "remote_prefix", "gw/+/"), None,
     "option remote_prefix 'gw/+/'", "remote_prefix"),
    ("wildcard_in_local_prefix", set_("down", "local_prefix", "dev/#/"), None,
     "option local_prefix", "local_prefix"),
    ("bad_topic_pattern", set_("up", "topic", "sensors/#/x"), None,
     "option topic 'sensors/#/x'", "topic"),
    ("negative_ttl", set_("up", "ttl", "-1"), None, "option ttl", "ttl"),
    ("bad_priority", set_("up", "priority", "high"), None, "option priority", "priority"),
    ("bad_reconnect_min", set_("central", "reconnect_min", "0"), None,
     "option reconnect_min", "reconnect_min"),
    ("unterminated_quote", None, ("option qos '1'", "option qos '1"),
     "option qos '1", "syntax"),
    ("unterminated_double_quote", None, ('option log_level \'debug\'',
                                         'option log_level "debug'),
     'option log_level "debug', "syntax"),
    ("option_outside_section", None, ("# pushrelay test configuration",
                                      "option id 'x'\n# pushrelay test configuration"),
     "option id 'x'", "syntax-or-any"),
]


@pytest.mark.parametrize("case", OPTION_CASES, ids=[c[0] for c in OPTION_CASES])
def test_check_reports_file_line_option(tmp_path, pushrelay_bin, case):
    _id, mutate, edit, marker, name = case
    cfg = base_config(tmp_path)
    if mutate:
        mutate(cfg)
    text = cfg.render()
    if edit:
        assert edit[0] in text
        text = text.replace(edit[0], edit[1], 1)
    path = write(tmp_path, text)
    line = line_of(text, marker)
    r = run_cli(pushrelay_bin, "check", conf=path, timeout=T(10))
    if name == "syntax":
        rx = r"(?m)^%s:%d: syntax: \S" % (re.escape(str(path)), line)
    elif name == "syntax-or-any":
        rx = r"(?m)^%s:%d: \S" % (re.escape(str(path)), line)
    else:
        rx = opt_rx(path, line, name)
    assert_error(r, rx)


def test_unknown_section_type(tmp_path, pushrelay_bin):
    text = base_config(tmp_path).render() + "\nconfig uplinks\n\toption topic 'x/#'\n"
    path = write(tmp_path, text)
    line = line_of(text, "config uplinks")
    r = run_cli(pushrelay_bin, "check", conf=path)
    assert_error(r, r"(?m)^%s:%d: .*uplinks" % (re.escape(str(path)), line))


def test_missing_id(tmp_path, pushrelay_bin):
    cfg = base_config(tmp_path)
    del cfg.relay["id"]
    path = write(tmp_path, cfg.render())
    r = run_cli(pushrelay_bin, "check", conf=path)
    assert_error(r, r"(?m)^%s(:\d+)?: .*\bid\b" % re.escape(str(path)))


def test_unknown_broker_name(tmp_path, pushrelay_bin):
    """Brokers are 'local' and 'central'; a typo must not pass silently."""
    text = base_config(tmp_path).render() + \
        "\nconfig broker 'centrl'\n\toption address '127.0.0.1:1885'\n"
    path = write(tmp_path, text)
    line = line_of(text, "config broker 'centrl'")
    r = run_cli(pushrelay_bin, "check", conf=path)
    assert_error(r, r"(?m)^%s:%d: .*centrl" % (re.escape(str(path)), line))


def test_reconnect_max_below_min(tmp_path, pushrelay_bin):
    cfg = base_config(tmp_path)
    cfg.central["reconnect_min"] = "10"
    cfg.central["reconnect_max"] = "2"
    text = cfg.render()
    path = write(tmp_path, text)
    lines = {line_of(text, "option reconnect_min"),
             line_of(text, "option reconnect_max")}
    r = run_cli(pushrelay_bin, "check", conf=path)
    assert r.returncode == 2, r.stderr
    m = re.search(r"(?m)^%s:(\d+): option '?reconnect_(min|max)'?: \S"
                  % re.escape(str(path)), r.stderr)
    assert m and int(m.group(1)) in lines, r.stderr


def test_311_local_broker_refuses_overlapping_routes(tmp_path, pushrelay_bin):
    cfg = base_config(tmp_path)
    cfg.local["protocol"] = "311"
    cfg.uplinks = [{"topic": "#", "remote_prefix": "gw/%i/", "qos": "1"}]
    text = cfg.render()
    path = write(tmp_path, text)
    first_route = line_of(text, "config uplink")
    r = run_cli(pushrelay_bin, "check", conf=path)
    assert r.returncode == 2, r.stdout + r.stderr
    m = re.search(r"(?m)^%s:(\d+): \S" % re.escape(str(path)), r.stderr)
    assert m, r.stderr
    assert int(m.group(1)) >= first_route, "names a route's line: " + r.stderr


def test_311_local_broker_with_disjoint_routes_is_valid(tmp_path, pushrelay_bin):
    cfg = base_config(tmp_path)
    cfg.local["protocol"] = "311"          # sensors/# up, cmd/# down: disjoint
    path = write(tmp_path, cfg.render())
    r = run_cli(pushrelay_bin, "check", conf=path)
    assert r.returncode == 0, r.stderr


def test_all_errors_reported_at_once(tmp_path, pushrelay_bin):
    cfg = base_config(tmp_path)
    cfg.uplinks[0]["qos"] = "3"
    cfg.relay["store_full"] = "drop_random"
    cfg.downlinks[0]["qso"] = "1"
    text = cfg.render()
    path = write(tmp_path, text)
    r = run_cli(pushrelay_bin, "check", conf=path)
    assert r.returncode == 2
    for marker, name in (("option qos '3'", "qos"),
                         ("option store_full", "store_full"),
                         ("option qso", "qso")):
        rx = opt_rx(path, line_of(text, marker), name)
        assert re.search(rx, r.stderr), "missing %r in:\n%s" % (rx, r.stderr)


@pytest.mark.parametrize("what", ["bad_qos", "syntax"])
def test_run_with_a_bad_config_exits_2(tmp_path, pushrelay_bin, what):
    cfg = base_config(tmp_path)
    if what == "bad_qos":
        cfg.uplinks[0]["qos"] = "3"
        text = cfg.render()
        marker, rx_tail = "option qos '3'", "option '?qos'?: \\S"
    else:
        text = cfg.render().replace("option qos '1'", "option qos '1", 1)
        marker, rx_tail = "option qos '1", "syntax: \\S"
    path = write(tmp_path, text)
    r = run_cli(pushrelay_bin, "run", conf=path, timeout=T(10))
    assert_error(r, r"(?m)^%s:%d: %s" % (re.escape(str(path)),
                                         line_of(text, marker), rx_tail))


def test_valid_config_prints_effective_config_with_secrets_masked(tmp_path,
                                                                  pushrelay_bin):
    cfg = base_config(tmp_path)
    cfg.central["username"] = "relay-user"
    cfg.central["password"] = "s3cr3t-Pa55word"
    cfg.local["username"] = "local-user"
    cfg.local["password"] = "l0cal-Pa55word"
    text = cfg.render()
    # Other UCI forms: double quotes, unquoted words, spaces for indentation,
    # comments at the end of a line.
    text = text.replace("option id 'gw-test'", 'option id "gw-test"   # the id')
    text = text.replace("option log_level 'debug'", "option log_level debug")
    text = text.replace("\toption qos '1'", "    option qos 1", 1)
    path = write(tmp_path, text)
    r = run_cli(pushrelay_bin, "check", conf=path)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "s3cr3t-Pa55word" not in out + r.stderr
    assert "l0cal-Pa55word" not in out + r.stderr
    assert "********" in out
    assert "gw-test" in out
    assert "relay-user" in out
    # defaults filled in
    for rx in (r"store_max_bytes\s", r"store_full\s+'?drop_oldest'?",
               r"\bsync\s+'?normal'?", r"keepalive\s+'?30'?",
               r"keepalive\s+'?60'?", r"status_topic\s+'?pushrelay/(gw-test|%i)/status'?",
               r"client_id\s+'?pushrelay-(gw-test|%i)'?", r"\bmode\s+'?raw'?",
               r"\bttl\s+'?0'?", r"\bpriority\s+'?0'?"):
        assert re.search(rx, out), "%r not in check output:\n%s" % (rx, out)

    # The printed configuration is itself a valid configuration.
    again = write(tmp_path, out, "printed.conf")
    r2 = run_cli(pushrelay_bin, "check", conf=again)
    assert r2.returncode == 0, r2.stderr


def test_missing_file(tmp_path, pushrelay_bin):
    path = tmp_path / "does-not-exist.conf"
    r = run_cli(pushrelay_bin, "check", conf=path)
    assert r.returncode == 2
    assert str(path) in r.stderr


def test_help_version_and_usage_errors(pushrelay_bin):
    r = run_cli(pushrelay_bin, "help")
    assert r.returncode == 0, r.stderr
    text = r.stdout + r.stderr
    for word in ("run", "check", "status", "version"):
        assert word in text
    r = run_cli(pushrelay_bin, "version")
    assert r.returncode == 0
    assert re.search(r"\d+\.\d+\.\d+", r.stdout + r.stderr)
    r = run_cli(pushrelay_bin, "frobnicate")
    assert r.returncode == 2
    assert r.stderr.strip()
    r = run_cli(pushrelay_bin)
    assert r.returncode == 2, "no subcommand is a usage error"
    r = run_cli(pushrelay_bin, "check", "--no-such-flag")
    assert r.returncode == 2


# --- UCI as uci means it (issue 13) ---------------------------------------

def test_semicolon_joined_line_is_refused(tmp_path, pushrelay_bin):
    """libuci drops what follows an unquoted word and ';': refuse, exit 2."""
    text = base_config(tmp_path).render().replace(
        "\toption log_level 'debug'", "\toption log_level debug; option sync off", 1)
    path = write(tmp_path, text)
    line = line_of(text, "option sync off")
    r = run_cli(pushrelay_bin, "check", conf=path)
    assert_error(r, r"(?m)^%s:%d: syntax: ';' joins statements" %
                 (re.escape(str(path)), line))
    r = run_cli(pushrelay_bin, "run", conf=path)
    assert_error(r, r"(?m)^%s:%d: syntax: ';'" % (re.escape(str(path)), line))


def test_unquoted_hash_warns_with_file_line_option(tmp_path, pushrelay_bin):
    """`sensors/#` unquoted is `sensors/` in uci: check says so, exits 0."""
    text = base_config(tmp_path).render().replace(
        "option topic 'sensors/#'", "option topic sensors/#", 1)
    path = write(tmp_path, text)
    line = line_of(text, "option topic sensors/#")
    r = run_cli(pushrelay_bin, "check", conf=path)
    assert r.returncode == 0, r.stderr
    assert re.search(r"(?m)^%s:%d: warning: option topic: an unquoted '#' "
                     r"starts a comment in uci, so the value is 'sensors/'"
                     % (re.escape(str(path)), line), r.stderr), r.stderr
    assert "\toption topic 'sensors/'\n" in r.stdout


def test_empty_value_is_absent_and_warns(tmp_path, pushrelay_bin):
    """'' is what `uci commit` deletes: the default applies, check warns
    where that changed the meaning, and '%none' says "none"."""
    cfg = base_config(tmp_path)
    cfg.relay["status_topic"] = ""
    cfg.uplinks[0]["remote_prefix"] = ""
    cfg.downlinks[0]["remote_prefix"] = "%none"
    text = cfg.render()
    path = write(tmp_path, text)
    r = run_cli(pushrelay_bin, "check", conf=path)
    assert r.returncode == 0, r.stderr
    for marker, name in (("option status_topic ''", "status_topic"),
                         ("option remote_prefix ''", "remote_prefix")):
        rx = r"(?m)^%s:%d: warning: option %s: '' is the same as leaving " \
             r"the option out .*write '%%none' for none$" % (
                 re.escape(str(path)), line_of(text, marker), name)
        assert re.search(rx, r.stderr), "missing %r in:\n%s" % (rx, r.stderr)
    assert "\toption status_topic 'pushrelay/%s/status'\n" % cfg.relay["id"] \
        in r.stdout
    assert "\toption remote_prefix '%none'\n" in r.stdout
    assert len(r.stderr.strip().splitlines()) == 2, r.stderr


@pytest.mark.parametrize("word,want", [("yes", "1"), ("on", "1"),
                                       ("enabled", "1"), ("true", "1"),
                                       ("no", "0"), ("off", "0"),
                                       ("disabled", "0"), ("false", "0")])
def test_booleans_as_config_get_bool(tmp_path, pushrelay_bin, word, want):
    cfg = base_config(tmp_path)
    cfg.central["tls"] = word
    if want == "1":
        cfg.central["psk_identity"] = "gw"
        cfg.central["psk"] = "00112233445566778899aabbccddeeff"
    path = write(tmp_path, cfg.render())
    r = run_cli(pushrelay_bin, "check", conf=path)
    assert r.returncode == 0, r.stderr
    assert "\toption tls '%s'\n" % want in r.stdout


def test_run_logs_the_warnings_once(relay_factory):
    """run logs what check warns about, at start, naming file:line:option."""
    relay = relay_factory(start=False, relay={"status_topic": ""})
    text = relay.write_config(relay.config.render().replace(
        "option topic 'sensors/#'", "option topic sensors/#", 1))
    relay.start()
    relay.wait_connected()
    log = relay.log_text()
    for marker, name in (("option status_topic ''", "status_topic"),
                         ("option topic sensors/#", "topic")):
        want = "%s:%d: warning: option %s: " % (relay.conf_path,
                                                 line_of(text, marker), name)
        assert log.count(want) == 1, "want once %r in:\n%s" % (want, log)
