// SPDX-License-Identifier: ISC
//
// Status -> Push relay: what `pushrelay status --json` reports, read through
// rpcd's file.exec (the ACL in /usr/share/rpcd/acl.d/luci-app-pushrelay.json
// grants that one command line and nothing else) and shown as tables: both
// links, the queue, rates, drops by reason and the durability counters.
//
// Rates are counter differences between two successive polls divided by the
// time between the two replies on the browser's clock (Date.now()); they
// show "-" until the second reply and after the relay restarted (its uptime
// went back) or a counter went down. The JSON is the relay's (relay/status.c);
// sections and keys this page does not know are still shown, by their key,
// so a newer relay loses nothing on an older page.
'use strict';
'require view';
'require fs';
'require poll';
'require dom';

var CMD = '/usr/bin/pushrelay';
var ARGS = [ 'status', '--json' ];
var INTERVAL = 5;	// seconds between polls

var LINK_NAMES = { local: _('Local broker'), central: _('Central broker') };
var DIR_NAMES = { uplink: _('Uplink'), downlink: _('Downlink'),
	records: _('Records') };
var DROP_NAMES = {
	full: _('Store full'),
	expired: _('Expired (ttl)'),
	rejected: _('Refused by the broker'),
	noroute: _('No route'),
	too_large: _('Too large')
};

// One run of the command: { status, code, t } or { error, code }.
function readStatus() {
	return fs.exec(CMD, ARGS).then(function(res) {
		var s = null;

		try {
			s = JSON.parse(res.stdout);
		}
		catch (e) {
			s = null;
		}
		// The JSON counts even with a non-zero exit (3: unhealthy).
		if (s != null && typeof s == 'object' && !Array.isArray(s))
			return { status: s, code: res.code, t: Date.now() };
		return {
			code: res.code,
			error: _('pushrelay status failed') + ' (' + _('exit code') +
				' ' + res.code + '): ' + String(res.stderr || res.stdout ||
				'').trim()
		};
	}, function(err) {
		return { code: null, error: _('Cannot run') + ' ' + CMD + ' ' +
			ARGS.join(' ') + ': ' + (err && err.message ? err.message : err) };
	});
}

function isNum(v) {
	return typeof v == 'number' && isFinite(v);
}

function fmtNum(v) {
	return isNum(v) ? String(v) : (v == null ? '-' : String(v));
}

function fmtBytes(v) {
	var units = [ 'KiB', 'MiB', 'GiB', 'TiB' ], i = -1;

	if (!isNum(v))
		return fmtNum(v);
	if (v < 1024)
		return v + ' B';
	while (v >= 1024 && i < units.length - 1) {
		v /= 1024;
		i++;
	}
	return v.toFixed(2) + ' ' + units[i];
}

function fmtRate(v, unit) {
	return isNum(v) ? v.toFixed(1) + ' ' + unit : '-';
}

function fmtBool(v, yes, no) {
	if (v === true)
		return yes;
	if (v === false)
		return no;
	return fmtNum(v);
}

function keyName(names, k) {
	return Object.prototype.hasOwnProperty.call(names, k) ? names[k] : k;
}

// A table: caption, column heads, then rows [ label, cell, cell... ]; a cell
// is text or a node. Every value cell carries data-col, for styling hooks.
function table(id, caption, heads, rows) {
	var trs = [ E('tr', { 'class': 'tr table-titles' },
		heads.map(function(h) { return E('th', { 'class': 'th' }, h); })) ];

	rows.forEach(function(r) {
		trs.push(E('tr', { 'class': 'tr' }, r.map(function(c, i) {
			return E(i ? 'td' : 'th', { 'class': i ? 'td' : 'th left',
				'data-col': heads[i] }, c);
		})));
	});
	return E('div', { 'class': 'cbi-section', 'id': id }, [
		E('h3', {}, caption),
		E('table', { 'class': 'table' }, trs)
	]);
}

function linkState(l) {
	var up = l && l.connected === true;

	return E('span', {
		'class': 'pushrelay-state ' + (up ? 'up' : 'down'),
		'style': 'font-weight:bold;color:' + (up ? '#080' : '#c00')
	}, up ? _('Connected') : _('Disconnected'));
}

function linksTable(s) {
	var names = Object.keys(LINK_NAMES).filter(function(k) {
		return s[k] != null && typeof s[k] == 'object';
	});
	var cols = function(f) {
		return names.map(function(k) { return f(s[k]); });
	};
	var rows = [
		[ _('State') ].concat(cols(linkState)),
		[ _('Reconnects') ].concat(cols(function(l) {
			return fmtNum(l.reconnects); })),
		[ _('In flight') ].concat(cols(function(l) {
			return fmtNum(l.inflight); })),
		[ _('Sent (MQTT bytes)') ].concat(cols(function(l) {
			return fmtBytes(l.tx_bytes); })),
		[ _('Received (MQTT bytes)') ].concat(cols(function(l) {
			return fmtBytes(l.rx_bytes); })),
		[ _('Packets in') ].concat(cols(function(l) {
			return fmtNum(l.packets_in); })),
		[ _('Packets out') ].concat(cols(function(l) {
			return fmtNum(l.packets_out); })),
		[ _('Packets refused') ].concat(cols(function(l) {
			return fmtNum(l.refused); }))
	];

	return table('pushrelay-links', _('Links'), [ '' ].concat(
		names.map(function(k) { return LINK_NAMES[k]; })), rows);
}

function wanTable(w) {
	if (w == null)
		return null;
	return table('pushrelay-wan', _('WAN'), [ '', _('Value') ], [
		[ _('TLS'), fmtBool(w.tls, _('yes'), _('no')) ],
		[ _('Sent'), fmtBytes(w.tx_bytes) ],
		[ _('Received'), fmtBytes(w.rx_bytes) ],
		[ _('Full handshakes'), fmtNum(w.handshakes_full) ],
		[ _('Resumed handshakes'), fmtNum(w.handshakes_resumed) ],
		[ _('Failed handshakes'), fmtNum(w.handshakes_failed) ]
	]);
}

// The queue per direction, with what went through it.
function queueTable(s) {
	var q = s.queue || {}, dirs = Object.keys(q);
	var per = function(obj, k) {
		return dirs.map(function(d) {
			return fmtNum(obj && obj[d] != null ? obj[d][k] : null);
		});
	};
	var total = function(name) {
		return dirs.map(function(d) {
			return fmtNum(s[name] != null ? s[name][d] : null);
		});
	};
	var rows = [
		[ _('Queued messages') ].concat(per(q, 'messages')),
		[ _('Queued bytes') ].concat(dirs.map(function(d) {
			return fmtBytes(q[d].bytes); })),
		[ _('In flight') ].concat(per(q, 'inflight'))
	];

	if (s.received != null)
		rows.push([ _('Received') ].concat(total('received')));
	if (s.forwarded != null)
		rows.push([ _('Forwarded') ].concat(total('forwarded')));
	if (s.redelivered != null)
		rows.push([ _('Sent again by the broker') ].concat(
			total('redelivered')));
	return table('pushrelay-queue', _('Queue'), [ '' ].concat(
		dirs.map(function(d) { return keyName(DIR_NAMES, d); })), rows);
}

function delta(cur, prev, path) {
	var a = cur, b = prev;

	for (var i = 0; i < path.length; i++) {
		a = a != null ? a[path[i]] : null;
		b = b != null ? b[path[i]] : null;
	}
	return (isNum(a) && isNum(b) && a >= b) ? a - b : null;
}

function dropSum(d) {
	var n = 0;

	Object.keys(d || {}).forEach(function(k) {
		if (isNum(d[k]))
			n += d[k];
	});
	return n;
}

// Rates between the previous reply and this one; null entries show "-".
function ratesTable(cur, prev) {
	var s = cur.status, p = prev ? prev.status : null, dt = null;
	var dirs = [ 'uplink', 'downlink' ];

	if (p != null && isNum(s.uptime_s) && isNum(p.uptime_s) &&
	    s.uptime_s >= p.uptime_s && cur.t > prev.t)
		dt = (cur.t - prev.t) / 1000;
	var rate = function(path) {
		var d = dt != null ? delta(s, p, path) : null;
		return d != null ? d / dt : null;
	};
	var dirRow = function(label, name) {
		return [ label ].concat(dirs.map(function(d) {
			return fmtRate(rate([ name, d ]), _('msg/s'));
		}));
	};
	var dropped = null;

	if (dt != null && dropSum(s.dropped) >= dropSum(p.dropped))
		dropped = (dropSum(s.dropped) - dropSum(p.dropped)) / dt;
	var rows = [];

	if (s.received != null)
		rows.push(dirRow(_('Received'), 'received'));
	if (s.forwarded != null)
		rows.push(dirRow(_('Forwarded'), 'forwarded'));
	rows.push([ _('Dropped (all reasons)'),
		fmtRate(dropped, _('msg/s')), '' ]);
	if (s.wan != null)
		rows.push([ _('WAN sent / received'),
			fmtRate(rate([ 'wan', 'tx_bytes' ]), _('B/s')),
			fmtRate(rate([ 'wan', 'rx_bytes' ]), _('B/s')) ]);
	var t = table('pushrelay-rates', _('Rates'),
		[ '', _('Uplink'), _('Downlink') ], rows);

	t.appendChild(E('p', { 'class': 'cbi-section-descr' }, dt != null ?
		_('Over the last') + ' ' + dt.toFixed(1) + ' s.' :
		_('Rates appear with the next poll (every') + ' ' + INTERVAL +
		' s).'));
	return t;
}

function dropsTable(d) {
	var keys = Object.keys(d || {});

	return table('pushrelay-drops', _('Dropped messages'),
		[ _('Reason'), _('Messages') ], keys.map(function(k) {
			var n = d[k];
			return [ keyName(DROP_NAMES, k), isNum(n) && n > 0 ?
				E('strong', { 'style': 'color:#c00' }, fmtNum(n)) :
				fmtNum(n) ];
		}));
}

function usToMs(v) {
	return isNum(v) ? (v / 1000).toFixed(2) + ' ms' : fmtNum(v);
}

function durabilityTable(s) {
	var st = s.store || {}, d = s.durability || {};

	return table('pushrelay-durability', _('Durability'),
		[ '', _('Value') ], [
		[ _('Store writable'), fmtBool(st.writable, _('yes'),
			E('strong', { 'style': 'color:#c00' }, _('no'))) ],
		[ _('Store errors'), fmtNum(st.errors) ],
		[ _('Commits'), fmtNum(d.commits) ],
		[ _('Failed commits'), fmtNum(d.commits_failed) ],
		[ _('Acknowledgements held for a commit'),
			fmtNum(d.acks_held_total) ],
		[ _('QoS 2 repeats'), fmtNum(d.qos2_repeats) ],
		[ _('Crash-loss window, max'), usToMs(d.window_us_max) ],
		[ _('Crash-loss window, average'), usToMs(d.window_us_avg) ]
	]);
}

// Sections this page has no table for (batches, frames, records, anything
// newer): one generic key/value table each.
function otherTables(s) {
	var known = [ 'role', 'id', 'version', 'uptime_s', 'local', 'central',
		'wan', 'queue', 'received', 'forwarded', 'redelivered',
		'dropped', 'store', 'durability' ];

	return Object.keys(s).filter(function(k) {
		return known.indexOf(k) < 0 && s[k] != null &&
		    typeof s[k] == 'object' && !Array.isArray(s[k]);
	}).map(function(k) {
		return table('pushrelay-' + k, k.charAt(0).toUpperCase() +
			k.slice(1).replace(/_/g, ' '), [ '', _('Value') ],
			Object.keys(s[k]).map(function(f) {
				var v = s[k][f];
				return [ f.replace(/_/g, ' '), /bytes$/.test(f) ?
					fmtBytes(v) : (typeof v == 'boolean' ?
					fmtBool(v, _('yes'), _('no')) : fmtNum(v)) ];
			}));
	});
}

function summary(s) {
	return E('p', { 'id': 'pushrelay-summary' }, [
		(s.role == 'unpack' ? _('Unpacker') : _('Relay')) + ' ',
		E('strong', {}, fmtNum(s.id)), ', ' + _('version') + ' ' +
		fmtNum(s.version) + ', ' + _('up') + ' ' + fmtNum(s.uptime_s) +
		' s'
	]);
}

function banner(cls, text) {
	return E('div', { 'class': 'alert-message ' + cls,
		'id': 'pushrelay-' + cls }, text);
}

return view.extend({
	load: function() {
		return readStatus();
	},

	// Builds the page body for one reply and keeps the last good one for
	// the rates and to show (marked stale) while the command fails.
	update: function(body, res) {
		var nodes = [], cur = res.status != null ? res : this.last;

		if (res.error != null) {
			nodes.push(banner('error', res.error));
			if (cur != null)
				nodes.push(banner('warning', _('The figures below are ' +
					'from the last reply, taken') + ' ' + ((Date.now() -
					cur.t) / 1000).toFixed(0) + ' s ' + _('ago') + '.'));
		}
		else if (res.code !== 0) {
			nodes.push(banner('warning', _('pushrelay status exited with') +
				' ' + res.code + (res.code === 3 ? ': ' + _('the central ' +
				'link has been down longer than unhealthy_after') : '') +
				'.'));
		}
		if (cur != null) {
			var s = cur.status;
			nodes.push(summary(s), linksTable(s), wanTable(s.wan),
				queueTable(s), ratesTable(cur, res.status != null ?
				this.last : this.prev), dropsTable(s.dropped),
				durabilityTable(s));
			nodes = nodes.concat(otherTables(s));
		}
		if (res.status != null) {
			this.prev = this.last;
			this.last = res;
		}
		dom.content(body, nodes.filter(function(n) { return n != null; }));
	},

	render: function(res) {
		var body = E('div', { 'id': 'pushrelay-body' });

		this.prev = null;
		this.last = null;
		this.update(body, res);
		poll.add(L.bind(function() {
			return readStatus().then(L.bind(this.update, this, body));
		}, this), INTERVAL);
		return E('div', { 'class': 'cbi-map', 'id': 'pushrelay-status' }, [
			E('h2', {}, _('Push relay')),
			E('div', { 'class': 'cbi-map-descr' }, _('The MQTT edge ' +
				'relay as') + ' ' + CMD + ' ' + ARGS.join(' ') + ' ' +
				_('reports it, every') + ' ' + INTERVAL + ' s.'),
			body
		]);
	},

	handleSaveApply: null,
	handleSave: null,
	handleReset: null
});
