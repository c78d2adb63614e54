/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  prober_source: the prober's targets and identity read back from the policy
 *  that writer_load_policy() put into LMDB (no YAML involved). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "errors.h"
#include "prober/prober_source.h"
#include "tap.h"
#include "writer.h"
#include "writer_fixture.h"

static char dir[512];
static store_t *st;

typedef struct {
	char ids[8][HG_ID_SIZE];
	char v4[8][INET_ADDRSTRLEN];
	uint8_t type[8];
	size_t n;
	size_t stop_at; /*!< return 7 at this visit (0: never) */
} seen_t;

static int collect(void *ctx, const hg_rec_endpoint_t *ep)
{
	seen_t *s = ctx;
	if (s->n < 8) {
		memcpy(s->ids[s->n], ep->id, HG_ID_SIZE);
		s->v4[s->n][0] = '\0';
		if (ep->n_v4 > 0) {
			inet_ntop(AF_INET, ep->v4[0], s->v4[s->n], INET_ADDRSTRLEN);
		}
		s->type[s->n] = ep->check.type;
	}
	s->n++;
	return s->stop_at != 0 && s->n == s->stop_at ? 7 : HG_EOK;
}

/* Run a read snapshot around the walk. */
static int walk(seen_t *s, size_t *skipped)
{
	store_rtxn_t r = { 0 };
	int ret = store_rtxn_begin(st, &r);
	if (ret == HG_EOK) {
		ret = prober_source_foreach_endpoint(&r, collect, s, skipped);
	}
	store_rtxn_free(&r);
	return ret;
}

static int generation(uint64_t *gen)
{
	store_rtxn_t r = { 0 };
	int ret = store_rtxn_begin(st, &r);
	if (ret == HG_EOK) {
		ret = prober_source_generation(&r, gen);
	}
	store_rtxn_free(&r);
	return ret;
}

static int find(const char *id, char *known, size_t size)
{
	store_rtxn_t r = { 0 };
	int ret = store_rtxn_begin(st, &r);
	if (ret == HG_EOK) {
		ret = prober_source_find_prober(&r, id, known, size);
	}
	store_rtxn_free(&r);
	return ret;
}

static int put(enum store_dbi db, const char *key, const void *val, size_t vlen)
{
	store_wtxn_t w;
	int ret = store_wtxn_begin(st, &w);
	if (ret == HG_EOK) {
		store_put(&w, db, key, strlen(key), val, vlen);
		ret = store_wtxn_commit(&w);
	}
	return ret;
}

static void test_no_policy(void)
{
	uint64_t gen = 99;
	char known[64] = "x";
	seen_t s = { 0 };
	size_t skipped = 9;
	is_int(generation(&gen), HG_ENOENT, "empty DB: no policy generation");
	is_int(find("p-fra", known, sizeof(known)), HG_ENOENT, "empty DB: no prober");
	is_str(known, "", "empty DB: no prober ids to suggest");
	is_int(walk(&s, &skipped), HG_EOK, "empty DB: endpoint walk");
	ok(s.n == 0 && skipped == 0, "empty DB: no endpoint (%zu, skipped %zu)", s.n, skipped);
}

static void test_policy_a(void)
{
	policy_t *a = tm_policy_a();
	is_int(writer_load_policy(st, a, NULL), HG_EOK, "load model A");
	policy_free(a);

	uint64_t gen = 0;
	char known[64];
	is_int(generation(&gen), HG_EOK, "A: generation read");
	is_int(gen, 1, "A: generation 1");
	is_int(find("p-fra", known, sizeof(known)), HG_EOK, "A: p-fra is a prober");
	is_int(find("p-iad", known, sizeof(known)), HG_EOK, "A: p-iad is a prober");
	is_int(find("p-sin", known, sizeof(known)), HG_ENOENT, "A: p-sin is not");
	is_str(known, "p-fra, p-iad", "A: the probers it could be");
	is_int(find("p-fr", known, sizeof(known)), HG_ENOENT, "A: a prefix of an id is not an id");
	char small[9];
	is_int(find("nope", small, sizeof(small)), HG_ENOENT, "A: short list buffer");
	is_str(small, "p-fra, p", "A: the list is truncated, NUL-terminated");

	seen_t s = { 0 };
	size_t skipped = 9;
	is_int(walk(&s, &skipped), HG_EOK, "A: endpoint walk");
	is_int(s.n, 3, "A: 3 endpoints");
	is_int(skipped, 0, "A: none skipped");
	is_str(s.ids[0], "waf-ams", "A: id order: waf-ams");
	is_str(s.ids[1], "waf-fra", "A: id order: waf-fra");
	is_str(s.ids[2], "waf-iad", "A: id order: waf-iad");
	is_str(s.v4[1], "198.51.100.10", "A: waf-fra's address");
	is_int(s.type[1], HG_CHECK_HTTP, "A: waf-fra's effective check");

	seen_t stop = { .stop_at = 2 };
	is_int(walk(&stop, NULL), 7, "the visitor's stop value ends the walk");
	is_int(stop.n, 2, "no endpoint visited after the stop");
}

static void test_policy_b(void)
{
	policy_t *b = tm_policy_b();
	is_int(writer_load_policy(st, b, NULL), HG_EOK, "load model B");
	policy_free(b);

	uint64_t gen = 0;
	char known[64];
	is_int(generation(&gen), HG_EOK, "B: generation read");
	is_int(gen, 2, "B: generation 2");
	is_int(find("p-iad", known, sizeof(known)), HG_ENOENT, "B: p-iad left the policy");
	is_str(known, "p-fra, p-sin", "B: the probers it could be");
	seen_t s = { 0 };
	is_int(walk(&s, NULL), HG_EOK, "B: endpoint walk");
	ok(s.n == 3 && strcmp(s.ids[0], "waf-ams") == 0 && strcmp(s.ids[1], "waf-fra") == 0 &&
	           strcmp(s.ids[2], "waf-lon") == 0,
	   "B: waf-ams, waf-fra, waf-lon");
	is_str(s.v4[0], "198.51.100.21", "B: waf-ams's new address");
}

/* Records a reader does not understand are absent (SCHEMA.md), and counted. */
static void test_bad_records(void)
{
	hg_rec_endpoint_t ep;
	memset(&ep, 0, sizeof(ep));
	ep.layout = HG_REC_LAYOUT;
	snprintf(ep.id, sizeof(ep.id), "%s", "other-id");
	is_int(put(STORE_ENDPOINTS, "aa-short", &ep, 10), HG_EOK, "put a short endpoint record");
	is_int(put(STORE_ENDPOINTS, "ab-key", &ep, sizeof(ep)), HG_EOK,
	       "put a record whose id is not its key");
	ep.layout = HG_REC_LAYOUT + 1;
	snprintf(ep.id, sizeof(ep.id), "%s", "ac-layout");
	is_int(put(STORE_ENDPOINTS, "ac-layout", &ep, sizeof(ep)), HG_EOK,
	       "put a record of a newer layout");
	seen_t s = { 0 };
	size_t skipped = 0;
	is_int(walk(&s, &skipped), HG_EOK, "bad records: walk goes on");
	is_int(s.n, 3, "bad records: the 3 good endpoints visited");
	is_int(skipped, 3, "bad records: 3 skipped");
	is_str(s.ids[0], "waf-ams", "bad records: none of them visited");

	hg_rec_prober_t pr;
	memset(&pr, 0, sizeof(pr));
	pr.layout = HG_REC_LAYOUT + 1;
	is_int(put(STORE_PROBERS, "p-new", &pr, sizeof(pr)), HG_EOK,
	       "put a prober of a newer layout");
	char known[64];
	is_int(find("p-new", known, sizeof(known)), HG_ECORRUPT, "a prober record not understood");

	uint32_t short_gen = 3;
	is_int(put(STORE_META, HG_META_POLICY_GEN, &short_gen, sizeof(short_gen)), HG_EOK,
	       "put a 4-byte generation");
	uint64_t gen = 0;
	is_int(generation(&gen), HG_ECORRUPT, "a generation of the wrong size");
}

int main(void)
{
	const char *root = getenv("HG_TEST_DATA");
	root = root && *root ? root : "/tmp";
	mkdir(root, 0750);
	snprintf(dir, sizeof(dir), "%s/test_prober_source.XXXXXX", root);
	if (mkdtemp(dir) == NULL || store_open(dir, STORE_CREATE, &st) != HG_EOK) {
		ok(0, "create store in %s", dir);
		return done_testing();
	}
	test_no_policy();
	test_policy_a();
	test_policy_b();
	test_bad_records();
	store_close(st);
	char p[600];
	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", dir);
	unlink(p);
	ok(rmdir(dir) == 0, "test env removed");
	return done_testing();
}
