/*  SPDX-License-Identifier: GPL-3.0-or-later */
#include <string.h>

#include <libdnssec/binary.h>
#include <libdnssec/error.h>
#include <libknot/libknot.h>

#include "module_rrsig.h"

#define RRSIG_FIXED 18u   /* type covered .. key tag */
#define SIG_MAX     1024u /* RSA-4096 needs 512 */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static int add(dnssec_sign_ctx_t *ctx, const uint8_t *data, size_t len)
{
	dnssec_binary_t bin = { .size = len, .data = (uint8_t *)data };
	return dnssec_sign_add(ctx, &bin);
}

/* Each RR as owner | type | class | original TTL | rdlength | rdata. */
static int add_records(dnssec_sign_ctx_t *ctx, const knot_rrset_t *rr)
{
	size_t owner_len = knot_dname_size(rr->owner);
	uint8_t head[KNOT_DNAME_MAXLEN + 10];
	memcpy(head, rr->owner, owner_len);
	put16(head + owner_len, rr->type);
	put16(head + owner_len + 2, rr->rclass);
	put32(head + owner_len + 4, rr->ttl);

	const knot_rdata_t *rd = rr->rrs.rdata;
	for (uint16_t i = 0; i < rr->rrs.count; i++) {
		const uint8_t *data = rd->data;
		uint8_t lower[KNOT_DNAME_MAXLEN];
		if (rr->type == KNOT_RRTYPE_CNAME) {
			if (rd->len > sizeof(lower) || knot_dname_size(rd->data) != rd->len) {
				return KNOT_ESPACE;
			}
			knot_dname_copy_lower(lower, rd->data);
			data = lower;
		}
		put16(head + owner_len + 8, rd->len);
		int ret = add(ctx, head, owner_len + 10);
		if (ret == DNSSEC_EOK) {
			ret = add(ctx, data, rd->len);
		}
		if (ret != DNSSEC_EOK) {
			return ret;
		}
		rd = knot_rdataset_next((knot_rdata_t *)rd);
	}
	return KNOT_EOK;
}

int module_rrsig_sign(knot_rrset_t *rrsig, const knot_rrset_t *rr, const knot_dname_t *signer,
                      const module_key_t *key, uint32_t inception, uint32_t expiration,
                      knot_mm_t *mm)
{
	if (key->ctx == NULL || rr->rrs.count == 0) {
		return KNOT_EINVAL;
	}
	uint8_t rdata[RRSIG_FIXED + KNOT_DNAME_MAXLEN + SIG_MAX];
	size_t signer_len = knot_dname_size(signer);

	/* The labels field does not count the root nor a leading '*'. */
	size_t labels = knot_dname_labels(rr->owner, NULL);
	if (knot_dname_is_wildcard(rr->owner)) {
		labels--;
	}
	put16(rdata, rr->type);
	rdata[2] = key->id.alg;
	rdata[3] = (uint8_t)labels;
	put32(rdata + 4, rr->ttl);
	put32(rdata + 8, expiration);
	put32(rdata + 12, inception);
	put16(rdata + 16, key->id.tag);
	memcpy(rdata + RRSIG_FIXED, signer, signer_len);
	size_t head_len = RRSIG_FIXED + signer_len;

	int ret = dnssec_sign_init(key->ctx);
	if (ret == DNSSEC_EOK) {
		ret = add(key->ctx, rdata, head_len);
	}
	if (ret == DNSSEC_EOK) {
		ret = add_records(key->ctx, rr);
	}
	dnssec_binary_t sig = { 0 };
	if (ret == DNSSEC_EOK) {
		ret = dnssec_sign_write(key->ctx, DNSSEC_SIGN_NORMAL, &sig);
	}
	if (ret != DNSSEC_EOK) {
		return ret;
	}
	if (sig.size > SIG_MAX) {
		dnssec_binary_free(&sig);
		return KNOT_ESPACE;
	}
	memcpy(rdata + head_len, sig.data, sig.size);
	ret = knot_rrset_add_rdata(rrsig, rdata, (uint16_t)(head_len + sig.size), mm);
	dnssec_binary_free(&sig);
	return ret;
}
