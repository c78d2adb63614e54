/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*!
 * \file
 * \brief explain: a recorded run of the selection engine, and its printers.
 */
#pragma once

#include <math.h>
#include <stdbool.h>

#include "geo.h"
#include "sel.h"
#include "view.h"

#define EXPLAIN_STEPS_MAX (HG_CHAIN_MAX + 2)

/*! A copy of one sel_trace_step_t (the engine's is valid only during the callback). */
typedef struct {
	int filter;
	uint8_t type;
	uint8_t n_in, n_out;
	uint8_t in[HG_NAME_EP_MAX], out[HG_NAME_EP_MAX];
	uint8_t reason[HG_NAME_EP_MAX];
	double metric[HG_NAME_EP_MAX];
	char note[160];
} explain_step_t;

typedef struct {
	const char *name_text;
	char client_text[64]; /*!< "ADDR" or "ADDR/LEN" */
	bool from_ecs;
	uint8_t source_len;
	uint16_t qtype;
	bool have_geo;
	geo_info_t geo;
	view_t view;
	sel_answer_t answer;
	explain_step_t steps[EXPLAIN_STEPS_MAX];
	size_t n_steps;
} explain_t;

/*! \brief Endpoint / prober id of a view as a C string (into buf). */
const char *explain_ep_id(const view_t *v, unsigned ep, char *buf, size_t size);
const char *explain_prober_id(const view_t *v, unsigned pr, char *buf, size_t size);

void explain_print_text(const explain_t *x);
void explain_print_json(const explain_t *x);
