/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  Names printed by explain: the policy's own spelling, so an operator can
 *  match output to the YAML. */
#include "sel.h"

const char *sel_filter_name(uint8_t type)
{
	switch (type) {
	case 0:                     return "prefilter";
	case HG_F_UP:               return "up";
	case HG_F_GEOFENCE:         return "geofence";
	case HG_F_NEAREST:          return "nearest";
	case HG_F_LOWEST_LATENCY:   return "lowest-latency";
	case HG_F_MAX_LOSS:         return "max-loss";
	case HG_F_PRIORITY:         return "priority";
	case HG_F_WEIGHTED:         return "weighted";
	case HG_F_WEIGHTED_SHUFFLE: return "weighted-shuffle";
	case HG_F_ROUND_ROBIN:      return "round-robin";
	case HG_F_FIRST:            return "first";
	default:                    return "unknown";
	}
}

const char *sel_reason_name(uint8_t reason)
{
	switch (reason) {
	case SEL_R_KEPT:           return "kept";
	case SEL_R_DOWN:           return "down";
	case SEL_R_DRAINED:        return "drained";
	case SEL_R_NOT_IN_RULE:    return "not-in-rule";
	case SEL_R_TOO_SLOW:       return "too-slow";
	case SEL_R_LOSSY:          return "lossy";
	case SEL_R_LOWER_PRIORITY: return "lower-priority";
	case SEL_R_CUT:            return "cut";
	case SEL_R_NO_FAMILY:      return "no-family";
	default:                   return "unknown";
	}
}
