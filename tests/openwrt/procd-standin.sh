# SPDX-License-Identifier: ISC
#
# A stand-in for /etc/rc.common, procd.sh, uci and logger, to run the
# OpenWrt init script (openwrt/net/pushrelay/files/pushrelay.init) off a
# router: every procd_* call, logger line, chown/chgrp/chmod and uci write
# is appended to $LOG, one call per line, as NAME [arg] [arg]...
# `uci -q get` reads the real UCI file $T_CONF (an awk reading of the
# syntax: enough for the sections the script asks about).
#
#   sh procd-standin.sh INIT ACTION
#
# Environment: LOG (the record), T_CONF (the UCI file the script and
# `pushrelay check` read), T_PROG (the pushrelay binary), T_KEEP (the
# keep.d file to write), T_UJAIL (ujail's path: executable or not),
# T_MOUNTS (a /proc/mounts stand-in), T_RUN_AS (the user, when set),
# PROCD_RUNNING (1: procd_running says yes). The script's own PROG,
# CONF, KEEP, UJAIL, MOUNTS and RUN_AS are set from them after it is
# sourced.
# Used by tests/system/test_packaging.py.

INIT="$1"
ACTION="$2"

rec() {
	printf '%s' "$1" >> "$LOG"
	shift
	for a in "$@"; do
		printf ' [%s]' "$a" >> "$LOG"
	done
	echo >> "$LOG"
}

# uci -q get PKG.SECTION.OPTION, SECTION being @TYPE[0] or a name.
uci_get() {
	awk -v want="$1" '
	function unq(v) {
		sub(/^[ \t]+/, "", v)
		if (v ~ /^'\''/) { sub(/^'\''/, "", v); sub(/'\''.*$/, "", v) }
		else if (v ~ /^"/) { sub(/^"/, "", v); sub(/".*$/, "", v) }
		else sub(/[ \t#].*$/, "", v)
		return v
	}
	BEGIN {
		split(want, w, ".")
		sect = w[2]; opt = w[3]; bytype = ""
		if (sect ~ /^@/) { bytype = substr(sect, 2); sub(/\[0\]$/, "", bytype) }
		n = 0; cur = 0; found = 0; out = ""
	}
	$1 == "config" {
		type = $2; name = unq(substr($0, index($0, $2) + length($2)))
		cur = 0
		if (bytype != "" && type == bytype && n++ == 0) cur = 1
		if (bytype == "" && name == sect) cur = 1
		if (cur && opt == "") { out = type; found = 1 }
		next
	}
	cur && ($1 == "option" || $1 == "list") && $2 == opt {
		v = unq(substr($0, index($0, $2) + length($2)))
		if (v == "") next
		out = ($1 == "list" && found) ? out " " v : v
		found = 1
	}
	END { if (found) print out; exit found ? 0 : 1 }
	' "$T_CONF"
}

uci() {
	[ "$1" = -q ] && shift
	case "$1" in
	get) uci_get "$2" ;;
	*) rec uci "$@" ;;
	esac
}

logger() { rec logger "$@"; }
chown() { rec chown "$@"; }
chgrp() { rec chgrp "$@"; }
chmod() { rec chmod "$@"; }

for f in procd_open_instance procd_close_instance procd_set_param \
    procd_add_jail procd_add_jail_mount procd_add_jail_mount_rw \
    procd_add_reload_trigger procd_add_validation \
    procd_add_interface_trigger procd_add_restart_mount_trigger \
    procd_send_signal uci_load_validate; do
	eval "$f() { rec $f \"\$@\"; }"
done
procd_running() { rec procd_running "$@"; [ "$PROCD_RUNNING" = 1 ]; }

. "$INIT"

PROG="$T_PROG"
CONF="$T_CONF"
KEEP="$T_KEEP"
UJAIL="$T_UJAIL"
MOUNTS="$T_MOUNTS"
RUN_AS="${T_RUN_AS:-$RUN_AS}"

# rc.common with USE_PROCD: start registers the instances, then the
# triggers; reload calls reload_service.
start() {
	rec rc_start
	start_service
	rc=$?
	service_triggers
	return $rc
}

case "$ACTION" in
start) start ;;
reload) reload_service ;;
wan_up) wan_up ;;
*) echo "procd-standin: unknown action $ACTION" >&2; exit 64 ;;
esac
rc=$?
rec exit "$rc"
exit 0
