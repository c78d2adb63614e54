/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* Fuzz target: the policy compiler (shared/policy/) on arbitrary bytes, as
 * `haltgslb-ctl validate` and `load` meet them. Every outcome is fine but a
 * crash, a leak, a read past the buffer or undefined behaviour; errors and
 * warnings are printed (to /dev/null) because printing echoes input. */
#include <stdio.h>
#include <stdlib.h>

#include "errors.h"
#include "fuzz.h"
#include "policy.h"

static FILE *sink;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	sink = fopen("/dev/null", "w");
	return sink != NULL ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	policy_t *policy = NULL;
	policy_errors_t errors = { 0 };
	int ret = policy_parse_buffer("fuzz.yaml", (const char *)data, size, &policy, &errors);
	if (ret == HG_EOK) {
		if (policy == NULL || errors.n_errors != 0) {
			abort();
		}
		policy_errors_print(&policy->warnings, "fuzz.yaml", sink);
		policy_free(policy);
	} else {
		if (policy != NULL) {
			abort();
		}
		policy_errors_print(&errors, "fuzz.yaml", sink);
	}
	policy_errors_free(&errors);
	return 0;
}
