/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*!
 * \file
 * \brief Hand-built policy models for test_writer (no YAML involved).
 *        Every model is malloc()ed the way the compiler does it: free with
 *        policy_free().
 */
#pragma once

#include "policy.h"

/*! Model A: probers p-fra, p-iad; pools eu (waf-fra, waf-ams) and us
 *  (waf-iad); names global. (eu+us, geofence), eu. (eu, nearest),
 *  us. (us, priority) under example.net. */
policy_t *tm_policy_a(void);

/*! Model B: probers p-fra, p-sin; pool eu (waf-fra, waf-ams, waf-lon);
 *  names global. and lon. under example.net. */
policy_t *tm_policy_b(void);

/*! Model B plus \a extra names n0. .. n<extra-1>. over pool eu (chain up,
 *  first 2; at most 78): every name shares B's endpoint set. */
policy_t *tm_policy_b_many(unsigned extra);

/*! Model A plus, last, a name whose pool has HG_NAME_EP_MAX + 1 endpoints:
 *  every record fits, but view_build() of that last name fails (HG_ERANGE). */
policy_t *tm_policy_too_big(void);
