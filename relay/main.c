/* SPDX-License-Identifier: ISC */
/*
 * main: the pushrelay command line. One binary, subcommands: run,
 * unpack, check, status, decode, version, help. Exit codes: 0 success,
 * 1 runtime failure, 2 usage or configuration error, and for status 3:
 * the central link has been down longer than option unhealthy_after.
 */
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "platform/conf.h"
#include "platform/ctl.h"
#include "platform/json.h"
#include "platform/log.h"
#include "platform/tls.h"
#include "relay/decode.h"
#include "relay/relay.h"

#define EXIT_USAGE	2
#define EXIT_UNHEALTHY	3

struct main_opts {
	const char *file;
	int verbose;
	int json;
	int prometheus;
};

static void
main_usage(FILE *f)
{
	fprintf(f,
	    "usage: pushrelay COMMAND [options]\n"
	    "\n"
	    "commands:\n"
	    "  run [-c FILE] [-v]          run the relay in the foreground\n"
	    "  unpack [-c FILE] [-v]       run the central-site unpacker "
	    "in the foreground\n"
	    "                              (FILE defaults to %s)\n"
	    "  check [-c FILE]             validate FILE and print the "
	    "effective configuration\n"
	    "  status [-c FILE] [--json|--prometheus]\n"
	    "                              show the running relay's state "
	    "(Prometheus:\n"
	    "                              text exposition format)\n"
	    "  decode [FILE|-]             print one batch frame as JSON "
	    "lines\n"
	    "  version                     print the version\n"
	    "  help                        print this help\n"
	    "\n"
	    "FILE defaults to %s. Logs go to syslog, and to stderr\n"
	    "when it is a terminal or -v is given.\n"
	    "Exit codes: 0 success, 1 runtime failure, 2 usage or "
	    "configuration error;\n"
	    "status exits 3 when the central link has been down longer than "
	    "option\n"
	    "unhealthy_after (default 300 s; 0: never).\n",
	    CONF_UNPACK_DEFAULT_FILE,
	    CONF_DEFAULT_FILE);
}

static int
main_parse(int argc, char **argv, struct main_opts *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "json", no_argument, NULL, 'j' },
		{ "prometheus", no_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	o->file = NULL;		/* the command's default, set by main() */
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:vj", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			o->file = optarg;
			break;
		case 'v':
			o->verbose = 1;
			break;
		case 'j':
			o->json = 1;
			break;
		case 'P':
			o->prometheus = 1;
			break;
		default:
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "pushrelay: unexpected argument '%s'\n",
		    argv[optind]);
		return -1;
	}
	if (o->json && o->prometheus) {
		fprintf(stderr, "pushrelay: --json and --prometheus exclude "
		    "each other\n");
		return -1;
	}
	return 0;
}

/* Loads the file, printing every error; NULL when it is not valid. */
static struct conf *
main_load(const char *file)
{
	struct conf *c = NULL;

	if (conf_load(file, &c, stderr) != CONF_OK)
		return NULL;
	return c;
}

/* conf_warn_exposed() callbacks: check prints, the daemon logs. */
static void
main_warn_print(void *arg, const char *text)
{
	fprintf(arg, "pushrelay: warning: %s\n", text);
}

/* conf_warnings() lines carry their own "FILE:LINE: warning:". */
static void
main_warn_line(void *arg, const char *text)
{
	fprintf(arg, "%s\n", text);
}

static void
main_warn_log(void *arg, const char *text)
{
	(void)arg;
	log_warn("%s", text);
}

/* run and unpack: each runs what its file configures, and only that. */
static int
main_run(const struct main_opts *o, enum conf_role role)
{
	struct conf *c;
	int dest = LOG_TO_SYSLOG;

	/*
	 * SIGUSR1 ("the WAN is up", docs/openwrt.md) kills by default; one
	 * that arrives while the relay starts, before loop.c installs its
	 * handler, is ignored instead: the relay is about to connect anyway.
	 */
	signal(SIGUSR1, SIG_IGN);
	if ((c = main_load(o->file)) == NULL)
		return EXIT_USAGE;
	if (c->role != role) {
		fprintf(stderr, "pushrelay: %s: configures %s; run it with "
		    "`pushrelay %s -c %s`\n", o->file, c->role ==
		    CONF_ROLE_UNPACK ? "an unpacker (config unpack)" :
		    "a relay (no config unpack section)", c->role ==
		    CONF_ROLE_UNPACK ? "unpack" : "run", o->file);
		conf_free(c);
		return EXIT_USAGE;
	}
	if (o->verbose || isatty(STDERR_FILENO))
		dest |= LOG_TO_STDERR;
	log_open("pushrelay", dest, (enum log_level)c->log_level);
	conf_warnings(c, main_warn_log, NULL);
	conf_warn_exposed(c, main_warn_log, NULL);
	return relay_run(c);
}

static int
main_check(const struct main_opts *o)
{
	struct conf *c;

	if ((c = main_load(o->file)) == NULL)
		return EXIT_USAGE;
	conf_warnings(c, main_warn_line, stderr);
	conf_warn_exposed(c, main_warn_print, stderr);
	conf_print(c, stdout);
	conf_free(c);
	return 0;
}

/* Bytes of the printable character at p: 1 to 4, or 0 to escape *p. */
static size_t
main_printable(const uint8_t *p)
{
	size_t len;

	if (*p == '\n' || *p == '\t' || (*p >= 0x20 && *p < 0x7f))
		return 1;
	if (*p < 0xc2 || *p > 0xf4)	/* controls, DEL, bad lead bytes */
		return 0;
	len = *p < 0xe0 ? 2 : *p < 0xf0 ? 3 : 4;
	if (strnlen((const char *)p, len) < len || !json_utf8_valid(p, len))
		return 0;
	if (p[0] == 0xc2 && p[1] < 0xa0)	/* C1 controls U+0080-U+009F */
		return 0;
	return len;
}

/*
 * Prints a control socket reply. Whatever listens at the configured path
 * answers, not necessarily the relay, so every control character but
 * newline and tab, every C1 control and every byte that is not UTF-8 is
 * escaped, and a terminal never receives an escape sequence: \xNN in
 * text, \u00NN with --json (valid inside a JSON string, where the relay's
 * own replies never have such a byte).
 */
static void
main_put_reply(FILE *f, const char *reply, int json)
{
	const uint8_t *p = (const uint8_t *)reply;
	size_t k;

	while (*p != '\0') {
		if ((k = main_printable(p)) == 0) {
			fprintf(f, json ? "\\u%04x" : "\\x%02x", *p);
			k = 1;
		} else
			fwrite(p, 1, k, f);
		p += k;
	}
}

/*
 * How long the central link has been down, read from a status reply in
 * the form asked for: JSON "central":{..."down_s":N}, Prometheus
 * pushrelay_link_down_seconds{link="central"} N, text "health   central
 * link down for N s" (absent: up). -1 when a JSON or Prometheus reply has
 * no such figure (a relay older than this client, or not a relay at all).
 */
static long long
main_central_down(const char *reply, const struct main_opts *o)
{
	static const char prom[] = "\npushrelay_link_down_seconds"
	    "{link=\"central\"} ";
	static const char text[] = "\nhealth   central link down for ";
	const char *p = NULL, *end;
	char *num_end;
	long long v;

	if (o->json) {
		if ((p = strstr(reply, "\"central\":{")) == NULL ||
		    (end = strchr(p, '}')) == NULL ||
		    (p = strstr(p, "\"down_s\":")) == NULL || p > end)
			return -1;
		p += strlen("\"down_s\":");
	} else if (o->prometheus) {
		if ((p = strstr(reply, prom)) == NULL)
			return -1;
		p += strlen(prom);
	} else {
		if ((p = strstr(reply, text)) == NULL)
			return 0;
		p += strlen(text);
	}
	v = strtoll(p, &num_end, 10);
	return num_end != p && v >= 0 ? v : -1;
}

/*
 * status: prints the relay's reply; exits 3 when the central link has
 * been down longer than option unhealthy_after (0: never), read from the
 * reply itself, so that a watchdog needs no JSON parser.
 */
static int
main_status(const struct main_opts *o)
{
	char reply[CTL_REPLY_MAX], err[512];
	long long down;
	struct conf *c;
	int rc, after;

	if ((c = main_load(o->file)) == NULL)
		return EXIT_USAGE;
	after = c->unhealthy_after;
	rc = ctl_request(c->control, o->json ? "status json" : o->prometheus ?
	    "status prometheus" : "status", reply, sizeof(reply), 5000, err,
	    sizeof(err));
	conf_free(c);
	if (rc != CTL_OK) {
		fprintf(stderr, "pushrelay: status: %s\n", err);
		return 1;
	}
	main_put_reply(stdout, reply, o->json);
	down = main_central_down(reply, o);
	if (after > 0 && down > after) {
		fprintf(stderr, "pushrelay: status: unhealthy: the central "
		    "link has been down for %lld s (option unhealthy_after "
		    "%d)\n", down, after);
		return EXIT_UNHEALTHY;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct main_opts o;
	const char *cmd;

	memset(&o, 0, sizeof(o));
	if (argc < 2) {
		main_usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[1];
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 ||
	    strcmp(cmd, "-h") == 0) {
		main_usage(stdout);
		return 0;
	}
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("pushrelay %s (%s)\n", PUSHRELAY_VERSION,
		    tls_library_version());
		return 0;
	}
	if (strcmp(cmd, "decode") == 0) {
		if (argc > 3) {
			main_usage(stderr);
			return EXIT_USAGE;
		}
		return decode_run(argc == 3 ? argv[2] : "-");
	}
	if (strcmp(cmd, "run") != 0 && strcmp(cmd, "check") != 0 &&
	    strcmp(cmd, "status") != 0 && strcmp(cmd, "unpack") != 0) {
		fprintf(stderr, "pushrelay: unknown command '%s'\n", cmd);
		main_usage(stderr);
		return EXIT_USAGE;
	}
	if (main_parse(argc - 1, argv + 1, &o) != 0) {
		main_usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(cmd, "unpack") == 0 && o.file == NULL)
		o.file = CONF_UNPACK_DEFAULT_FILE;
	if (o.file == NULL)
		o.file = CONF_DEFAULT_FILE;
	if (strcmp(cmd, "run") == 0)
		return main_run(&o, CONF_ROLE_RELAY);
	if (strcmp(cmd, "unpack") == 0)
		return main_run(&o, CONF_ROLE_UNPACK);
	if (strcmp(cmd, "check") == 0)
		return main_check(&o);
	return main_status(&o);
}
