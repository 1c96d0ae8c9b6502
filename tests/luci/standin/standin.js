// SPDX-License-Identifier: ISC
//
// A minimal stand-in for LuCI's browser runtime, ours, for rendering
// luci-app-pushrelay's view in headless Chromium (tests/system/test_luci.py).
// It provides only what the view uses: E(), _(), L.bind, L.env and the
// classes view, fs, poll and dom. It loads the view file unchanged the way
// LuCI's loader does (luci.js, LuCI.require): fetch the source, read the
// leading 'require NAME' string directives, and run the source as the body
// of function(window, document, L, <one argument per require>).
//
// fs.exec(cmd, args) posts { command, params } to /exec on the test's
// server, which plays rpcd's file.exec: it checks the package's real ACL
// file and answers { code, stdout, stderr }, or HTTP 403 (LuCI's fs.exec
// then rejects with a PermissionError).
//
// Time is a fake clock: Date.now() starts at a fixed instant and moves only
// when the stand-in runs a poll, by that poll's interval. Query string:
//   polls=N  run the functions given to poll.add() N times after the first
//            render, one interval apart (default 0)
// When done, <body data-standin="done"> (or "error: ..." with the error
// in #standin-log) tells the test the page is complete.
'use strict';

(function() {
	var fakeNow = 1767225600000;	// 2026-01-01T00:00:00Z
	var polled = [];
	var params = new URLSearchParams(window.location.search);

	Date.now = function() { return fakeNow; };

	function append(node, child) {
		if (child == null || child === false)
			return;
		if (Array.isArray(child)) {
			child.forEach(function(c) { append(node, c); });
			return;
		}
		if (!(child instanceof Node))
			child = document.createTextNode(String(child));
		node.appendChild(child);
	}

	function isAttrs(v) {
		return v != null && typeof v == 'object' && !Array.isArray(v) &&
		    !(v instanceof Node);
	}

	window._ = function(s) { return s; };

	window.E = function(tag, attrs, children) {
		var node = document.createElement(tag);

		if (!isAttrs(attrs)) {
			children = attrs;
			attrs = null;
		}
		Object.keys(attrs || {}).forEach(function(k) {
			var v = attrs[k];
			if (v == null)
				return;
			if (typeof v == 'function')
				node.addEventListener(k.replace(/^on/, ''), v);
			else
				node.setAttribute(k, String(v));
		});
		append(node, children);
		return node;
	};

	var dom = {
		content: function(node, children) {
			while (node.firstChild)
				node.removeChild(node.firstChild);
			append(node, children);
			return node;
		},
		append: function(node, children) {
			append(node, children);
			return node;
		}
	};

	var L = {
		env: { pollinterval: 5 },
		bind: function(fn, self) {
			var args = Array.prototype.slice.call(arguments, 2);
			return function() {
				return fn.apply(self, args.concat(
				    Array.prototype.slice.call(arguments)));
			};
		}
	};

	var fs = {
		exec: function(command, args) {
			return fetch('/exec', {
				method: 'POST',
				headers: { 'Content-Type': 'application/json' },
				body: JSON.stringify({ command: command,
				    params: args || [] })
			}).then(function(res) {
				if (res.status == 403) {
					var e = new Error('Permission denied');
					e.name = 'PermissionError';
					throw e;
				}
				if (!res.ok)
					throw new Error('HTTP ' + res.status);
				return res.json();
			});
		}
	};

	var poll = {
		add: function(fn, interval) {
			polled.push({ fn: fn, interval: interval ||
			    L.env.pollinterval });
		}
	};

	var view = {
		extend: function(proto) {
			function View() {
				var self = this;
				this.ready = Promise.resolve(this.load()).then(
				    function(data) {
					return self.render(data);
				}).then(function(nodes) {
					dom.content(document.getElementById('view'),
					    nodes);
				});
			}
			View.prototype.load = function() { return null; };
			Object.keys(proto).forEach(function(k) {
				View.prototype[k] = proto[k];
			});
			return View;
		}
	};

	var classes = { view: view, fs: fs, poll: poll, dom: dom };

	// The directive scan of LuCI's loader: string statements at the top,
	// each 'use strict' or 'require NAME [as ALIAS]'; comments skipped.
	function requires(src) {
		var re = /^require[ \t]+(\S+)(?:[ \t]+as[ \t]+([a-zA-Z_]\S*))?$/;
		var out = [], i = 0, m;
		var lex = /\s+|\/\/[^\n]*|\/\*[\s\S]*?\*\/|'([^'\\]*)'\s*;?|"([^"\\]*)"\s*;?/y;

		while (i < src.length) {
			lex.lastIndex = i;
			m = lex.exec(src);
			if (m == null)
				break;
			i = lex.lastIndex;
			var s = m[1] != null ? m[1] : m[2];
			if (s == null)
				continue;
			var r = re.exec(s);
			if (r)
				out.push({ name: r[1], as: r[2] ||
				    r[1].replace(/[^a-zA-Z0-9_]/g, '_') });
			else if (!/^use[ \t]+strict$/.test(s))
				break;
		}
		return out;
	}

	function load(url) {
		return fetch(url).then(function(res) {
			if (!res.ok)
				throw new Error('HTTP ' + res.status + ' for ' + url);
			return res.text();
		}).then(function(src) {
			var deps = requires(src);
			var names = deps.map(function(d) { return d.as; });
			var args = deps.map(function(d) {
				if (!(d.name in classes))
					throw new Error('the stand-in has no class ' +
					    d.name);
				return classes[d.name];
			});
			var factory = eval('(function(window, document, L' +
			    names.map(function(n) { return ', ' + n; }).join('') +
			    ') { ' + src + '\n})\n//# sourceURL=' + url);
			var Cls = factory.apply(window,
			    [ window, document, L ].concat(args));
			return new Cls();
		});
	}

	function runPolls(n) {
		var p = Promise.resolve();

		for (var i = 0; i < n; i++) {
			p = p.then(function() {
				return polled.reduce(function(q, e) {
					return q.then(function() {
						fakeNow += e.interval * 1000;
						return e.fn();
					});
				}, Promise.resolve());
			});
		}
		return p;
	}

	load('/luci-static/resources/view/pushrelay/status.js')
	    .then(function(v) { return v.ready; })
	    .then(function() {
		return runPolls(parseInt(params.get('polls') || '0', 10));
	    }).then(function() {
		document.body.setAttribute('data-polls', String(polled.length));
		document.body.setAttribute('data-standin', 'done');
	    }, function(err) {
		document.getElementById('standin-log').textContent =
		    String(err && err.stack || err);
		document.body.setAttribute('data-standin', 'error: ' +
		    String(err && err.message || err));
	    });
})();
