/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* Replay driver: runs a fuzz target's entry point once on each file of its
 * corpus, without libFuzzer (any compiler, any build: plain, ASan+UBSan,
 * valgrind), and reports TAP. So every seed, and every crash once added to
 * the corpus, is rerun by `make check`.
 *
 *   replay_TARGET                 every file of $top_srcdir/tests/fuzz/corpus/TARGET/
 *   replay_TARGET PATH...         these files, or every file of these directories
 *
 * TARGET comes from the program's name (replay_feed -> feed). A crash
 * kills the run (the harness reports it); the line before it names the
 * file. An empty or missing corpus is a failure, not a pass. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "tests/unit/tap.h"

static int replay_file(const char *path)
{
	int ret = -1;
	uint8_t *input = NULL;
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		ok(0, "%s: %s", path, strerror(errno));
		goto cleanup;
	}
	long len = -1;
	if (fseek(f, 0, SEEK_END) == 0) {
		len = ftell(f);
	}
	if (len < 0 || fseek(f, 0, SEEK_SET) != 0) {
		ok(0, "%s: cannot size it", path);
		goto cleanup;
	}
	/* Exactly len bytes, so a read past the input is an ASan error here too. */
	input = malloc(len > 0 ? (size_t)len : 1);
	if (input == NULL || fread(input, 1, (size_t)len, f) != (size_t)len) {
		ok(0, "%s: cannot read it", path);
		goto cleanup;
	}
	diag("replaying %s (%ld bytes)", path, len);
	LLVMFuzzerTestOneInput(input, (size_t)len);
	ok(1, "%s", path);
	ret = 0;
cleanup:
	free(input);
	if (f != NULL) {
		fclose(f);
	}
	return ret;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_corpus_file(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* Returns how many files it replayed. */
static size_t replay_path(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		ok(0, "%s: %s", path, strerror(errno));
		return 0;
	}
	if (!S_ISDIR(st.st_mode)) {
		return replay_file(path) == 0;
	}
	struct dirent **list = NULL;
	int n = scandir(path, &list, is_corpus_file, by_name);
	if (n < 0) {
		ok(0, "%s: %s", path, strerror(errno));
		return 0;
	}
	size_t done = 0;
	for (int i = 0; i < n; i++) {
		char file[4096];
		snprintf(file, sizeof(file), "%s/%s", path, list[i]->d_name);
		if (stat(file, &st) == 0 && S_ISREG(st.st_mode)) {
			done += replay_file(file) == 0;
		}
		free(list[i]);
	}
	free(list);
	return done;
}

int main(int argc, char **argv)
{
	if (LLVMFuzzerInitialize != NULL) {
		LLVMFuzzerInitialize(&argc, &argv);
	}
	size_t done = 0;
	if (argc > 1) {
		for (int i = 1; i < argc; i++) {
			done += replay_path(argv[i]);
		}
	} else {
		const char *base = strrchr(argv[0], '/');
		base = base != NULL ? base + 1 : argv[0];
		if (strncmp(base, "lt-", 3) == 0) {
			base += 3; /* libtool's wrapped binary */
		}
		const char *target = strncmp(base, "replay_", 7) == 0 ? base + 7 : base;
		const char *top = getenv("top_srcdir");
		char dir[4096];
		snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/%s", top != NULL ? top : ".",
		         target);
		done = replay_path(dir);
	}
	ok(done > 0, "replayed %zu corpus files", done);
	return done_testing();
}
