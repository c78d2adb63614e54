/*  haltgslb — the contract between a fuzz target and its drivers.
 *  SPDX-License-Identifier: GPL-3.0-or-later
 */
/*!
 * \file
 * \brief Every target in tests/fuzz/ defines LLVMFuzzerTestOneInput(), and
 *        may define LLVMFuzzerInitialize(). Two drivers call them: libFuzzer
 *        (`./configure --enable-fuzzing`, `make fuzz`) and replay_main.c
 *        (`make check` in every build, over tests/fuzz/corpus/TARGET/).
 *
 * A target must: accept any bytes of any length (the drivers pass a buffer
 * of exactly \a size bytes, so a read past it is an ASan error); free all it
 * allocates (leaks fail the run); abort() when an invariant it checks does
 * not hold (a round trip differs, a rejection has no reason); return 0.
 * It must not write files, use the network or depend on the time.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*! Optional one-time setup; both drivers call it first when it exists. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));
