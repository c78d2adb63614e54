/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*!
 * \file
 * \brief Header-only helpers for unit tests that look into an LMDB
 *        environment: a scratch environment, whole-database snapshots to
 *        prove "nothing changed", record and cell reads.
 *
 * Every helper opens and ends its own read txn, so values are copied out.
 */
#pragma once

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"
#include "policy.h"
#include "store.h"
#include "view.h"
#include "view_lookup.h"

/*! \brief Create a scratch environment under $HG_TEST_DATA (or /tmp) named
 *         after \a tag; \a dir receives its path. \return the store or NULL. */
static inline store_t *dbf_create(const char *tag, char *dir, size_t size)
{
	const char *root = getenv("HG_TEST_DATA");
	root = root && *root ? root : "/tmp";
	mkdir(root, 0750);
	snprintf(dir, size, "%s/%s.XXXXXX", root, tag);
	store_t *st = NULL;
	if (mkdtemp(dir) == NULL || store_open(dir, STORE_CREATE, &st) != HG_EOK) {
		return NULL;
	}
	return st;
}

/*! \brief Close \a st and delete its files and directory. \return 0 on success. */
static inline int dbf_remove(store_t *st, const char *dir)
{
	store_close(st);
	char p[1024];
	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", dir);
	unlink(p);
	return rmdir(dir);
}

static inline int dbf_dump_entry(void *ctx, const void *key, size_t klen, const void *val,
                                 size_t vlen)
{
	FILE *f = ctx;
	fprintf(f, "%zu:", klen);
	fwrite(key, 1, klen, f);
	fprintf(f, "%zu:", vlen);
	fwrite(val, 1, vlen, f);
	return HG_EOK;
}

/*! \brief Every key and value of every DB, length-prefixed, in one malloc'd
 *         buffer: two snapshots are equal iff the whole database is. */
static inline char *dbf_dump_all(store_t *st, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	store_rtxn_t r = { 0 };
	store_rtxn_begin(st, &r);
	for (int db = 0; db < STORE_DBI_COUNT; db++) {
		fprintf(f, "[%d]", db);
		if (store_foreach(&r, db, NULL, 0, dbf_dump_entry, f) != HG_EOK) {
			fprintf(f, "(walk failed)");
		}
	}
	store_rtxn_free(&r);
	fclose(f);
	return buf;
}

/*! \brief True if the database is byte for byte the snapshot \a before. */
static inline bool dbf_same(store_t *st, const char *before, size_t blen)
{
	size_t len;
	char *now = dbf_dump_all(st, &len);
	bool same = now != NULL && len == blen && memcmp(now, before, len) == 0;
	free(now);
	return same;
}

/*! \brief A malloc'd copy of the value of \a key in \a db, or NULL. */
static inline void *dbf_get(store_t *st, enum store_dbi db, const void *key, size_t klen,
                            size_t *len)
{
	store_rtxn_t r = { 0 };
	const void *val;
	void *out = NULL;
	store_rtxn_begin(st, &r);
	if (store_get(&r, db, key, klen, &val, len) == HG_EOK) {
		out = malloc(*len ? *len : 1);
		memcpy(out, val, *len);
	}
	store_rtxn_free(&r);
	return out;
}

/*! \brief The stored measurement of \a ep by \a prober into \a out. */
static inline bool dbf_measure(store_t *st, const char *ep, const char *prober,
                               hg_rec_measure_t *out)
{
	uint8_t key[STORE_MEASURE_KEY_MAX];
	size_t klen = store_measure_key(key, sizeof(key), ep, prober), len = 0;
	void *v = dbf_get(st, STORE_MEASUREMENTS, key, klen, &len);
	bool found = v != NULL && len == sizeof(*out);
	if (found) {
		memcpy(out, v, sizeof(*out));
	}
	free(v);
	return found;
}

/*! \brief The cell of endpoint \a ep × prober \a prober that the view of
 *         \a name (presentation, e.g. "global.example.net.") reads: in the
 *         endpoint set the view references (schema 2). */
static inline bool dbf_cell(store_t *st, const char *name, const char *ep, const char *prober,
                            hg_view_cell_t *out)
{
	uint8_t wire[HG_DNAME_MAX], wlen;
	if (policy_parse_dname(name, wire, &wlen) != HG_EOK) {
		return false;
	}
	size_t len, slen = 0;
	uint8_t *blob = dbf_get(st, STORE_VIEWS, wire, wlen, &len), *set = NULL;
	view_t v;
	view_set_t s;
	bool found = false;
	if (blob != NULL && view_open(blob, len, &v) == HG_EOK) {
		uint8_t key[4];
		view_set_key(v.hdr->set_id, key);
		set = dbf_get(st, STORE_SETS, key, sizeof(key), &slen);
	}
	if (set != NULL && view_set_open(set, slen, &s) == HG_EOK) {
		long e = view_find_ep(&s, ep), p = view_find_prober(&s, prober);
		if (e >= 0 && p >= 0) {
			*out = *view_cell(&s, (unsigned)e, (unsigned)p);
			found = true;
		}
	}
	free(set);
	free(blob);
	return found;
}
