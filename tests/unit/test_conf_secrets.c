/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for conf_warn_exposed() (platform/conf_secrets.c): which
 * modes and which options give a warning, and what it says. The files are
 * real, in a temporary directory, since the modes are what is tested.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <sys/stat.h>
#include <unistd.h>

#include "platform/conf.h"

#define RELAY	"config relay\n\toption id 'gw-1'\n"
#define UPLINK	"config uplink\n\toption topic 'sensors/#'\n"
#define CENTRAL	"config broker 'central'\n\tlist address 'c.example:8883'\n" \
	"\toption tls '0'\n"

struct seen {
	int n;
	char text[4][1024];
};

static void
collect(void *arg, const char *text)
{
	struct seen *s = arg;

	if (s->n < 4)
		snprintf(s->text[s->n], sizeof(s->text[0]), "%s", text);
	s->n++;
}

static char dir[64];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/pr-secrets-XXXXXX");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Writes text to dir/name with mode, loads it, and runs the check. */
static struct seen
run(const char *name, const char *text, mode_t mode)
{
	struct seen s;
	struct conf *c = NULL;
	char path[128];
	FILE *f;
	int n;

	memset(&s, 0, sizeof(s));
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
	assert_int_equal(conf_load(path, &c, stderr), CONF_OK);
	n = conf_warn_exposed(c, collect, &s);
	assert_int_equal(n, s.n);
	assert_int_equal(conf_warn_exposed(c, NULL, NULL), n);
	conf_free(c);
	return s;
}

static void
test_readable_config_with_secrets(void **state)
{
	struct seen s;

	(void)state;
	s = run("a.conf", RELAY CENTRAL "\toption password 'pw1'\n"
	    "\toption proxy 'p.example:3128'\n\toption proxy_password 'pw2'\n"
	    "config broker 'local'\n\toption password 'pw3'\n" UPLINK, 0644);
	assert_int_equal(s.n, 1);
	assert_non_null(strstr(s.text[0], "/a.conf: readable by every user "
	    "(mode 0644) and it holds option password (broker 'local'), "
	    "option password (broker 'central'), option proxy_password "
	    "(broker 'central'); chmod o-r it"));
	assert_null(strstr(s.text[0], "pw1"));
	assert_null(strstr(s.text[0], "pw2"));
	assert_null(strstr(s.text[0], "pw3"));
	/* Group-readable is the administrator's choice; other is not. */
	assert_int_equal(run("b.conf", RELAY CENTRAL "\toption password 'x'\n"
	    UPLINK, 0640).n, 0);
	assert_int_equal(run("c.conf", RELAY CENTRAL UPLINK, 0644).n, 0);
}

static void
test_unpacker_psk(void **state)
{
	struct seen s;

	(void)state;
	s = run("u.conf", "config unpack 'main'\n\toption tls '1'\n"
	    "\toption psk_identity 'id'\n\toption psk '00112233'\n", 0604);
	assert_int_equal(s.n, 1);
	assert_non_null(strstr(s.text[0], "(mode 0604) and it holds option "
	    "psk (config unpack)"));
}

static void
test_readable_key_file(void **state)
{
	char key[128], conf[512];
	struct conf *c = NULL;
	struct seen s;
	FILE *f;

	(void)state;
	/*
	 * With tls '0' loading parses no key, so an empty file stands for
	 * one; a key the relay does not use is exposed all the same.
	 */
	snprintf(key, sizeof(key), "%s/client.key", dir);
	assert_non_null(f = fopen(key, "w"));
	fclose(f);
	assert_int_equal(chmod(key, 0644), 0);
	snprintf(conf, sizeof(conf), "%s/k.conf", dir);
	assert_non_null(f = fopen(conf, "w"));
	fprintf(f, RELAY "config broker 'central'\n\tlist address 'c:1'\n"
	    "\toption tls '0'\n\toption key_file '%s'\n" UPLINK, key);
	fclose(f);
	assert_int_equal(chmod(conf, 0600), 0);
	assert_int_equal(conf_load(conf, &c, stderr), CONF_OK);
	memset(&s, 0, sizeof(s));
	assert_int_equal(conf_warn_exposed(c, collect, &s), 1);
	assert_non_null(strstr(s.text[0], "option key_file '"));
	assert_non_null(strstr(s.text[0], "(broker 'central'): the private "
	    "key is readable by every user (mode 0644)"));
	assert_int_equal(chmod(key, 0600), 0);
	assert_int_equal(conf_warn_exposed(c, NULL, NULL), 0);
	conf_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_readable_config_with_secrets),
		cmocka_unit_test(test_unpacker_psk),
		cmocka_unit_test(test_readable_key_file),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
