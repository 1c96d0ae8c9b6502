/* SPDX-License-Identifier: ISC */
/*
 * fuzz_uci: libFuzzer on the configuration reader: the UCI parser
 * (platform/uci.c) and the schema that turns its sections into a struct
 * conf (platform/conf.c, conf_unpack.c, confval.c), on any bytes. Every
 * input must end in CONF_OK or a reported error, never a crash, a leak
 * or a read out of bounds. Errors go to /dev/null.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "platform/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Warnings ('' where a default applies, a value cut by '#') are read too. */
static void
fuzz_warning(void *arg, const char *text)
{
	fputs(text, arg);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	struct conf *c = NULL;

	if (devnull == NULL && (devnull = fopen("/dev/null", "w")) == NULL)
		return 0;
	if (conf_parse("fuzz.conf", (const char *)data, size, &c, devnull) ==
	    CONF_OK) {
		(void)conf_warnings(c, fuzz_warning, devnull);
		conf_free(c);
	}
	return 0;
}
