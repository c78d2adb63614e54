/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  haltgslb-dump: print every DB of a haltgslb LMDB environment. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "dump.h"
#include "errors.h"
#include "store_guard.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: haltgslb-dump --db DIR [--json] [DB]\n"
	           "\n"
	           "Print the haltgslb database in DIR (read-only; safe while writers run).\n"
	           "  --db DIR   LMDB environment directory\n"
	           "  --json     one JSON document with decoded fields instead of text\n"
	           "  DB         only this database: meta probers pools endpoints names\n"
	           "             epsets measurements views overrides cursors sets\n"
	           "  --help     this text\n");
}

static int find_db(const char *name)
{
	for (int i = 0; i < STORE_DBI_COUNT; i++) {
		if (strcmp(store_db_name(i), name) == 0) {
			return i;
		}
	}
	return -1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL;
	bool json = false;
	int c;
	while ((c = getopt_long(argc, argv, "d:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'j': json = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	int only = -1;
	if (optind < argc) {
		only = find_db(argv[optind]);
		if (only < 0 || optind + 1 < argc) {
			fprintf(stderr, "haltgslb-dump: unknown database '%s' (see --help)\n",
			        argv[optind]);
			return 2;
		}
	}
	if (dir == NULL) {
		fprintf(stderr, "haltgslb-dump: --db DIR is required (see --help)\n");
		return 2;
	}
	store_guard_install(STORE_GUARD_FATAL, "haltgslb-dump");
	char why[512];
	if (store_become_dir_owner(dir, why, sizeof(why)) != HG_EOK) {
		fprintf(stderr, "haltgslb-dump: %s\n", why);
		return 1;
	}
	store_t *store = NULL;
	int ret = store_open(dir, STORE_RDONLY, &store);
	if (ret == HG_ENOENT) {
		fprintf(stderr, "haltgslb-dump: %s (run haltgslb-ctl load first)\n",
		        *store_last_error() ? store_last_error() : "no haltgslb database");
		return 1;
	} else if (ret != HG_EOK) {
		fprintf(stderr, "haltgslb-dump: %s\n",
		        *store_last_error() ? store_last_error() : hg_strerror(ret));
		return 1;
	}
	store_rtxn_t rtxn = { 0 };
	ret = store_rtxn_begin(store, &rtxn);
	if (ret == HG_EOK) {
		dump_out_t out = { .f = stdout, .json = json };
		dump_obj_begin(&out, NULL);
		if (json && only < 0) {
			dump_str(&out, "path", store_path(store));
		}
		for (int db = 0; db < STORE_DBI_COUNT && ret == HG_EOK; db++) {
			if (only < 0 || only == db) {
				ret = dump_db(&out, &rtxn, db);
			}
		}
		dump_obj_end(&out);
		dump_finish(&out);
	}
	store_rtxn_free(&rtxn);
	store_close(store);
	if (ret != HG_EOK) {
		fprintf(stderr, "haltgslb-dump: %s: %s\n", dir, hg_strerror(ret));
		return 1;
	}
	if (ferror(stdout)) {
		fprintf(stderr, "haltgslb-dump: write error\n");
		return 1;
	}
	return 0;
}
