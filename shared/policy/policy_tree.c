/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* The compiler's YAML tree: child and text accessors, freeing, and byte
 * offsets turned into line:column as libyaml counts them. */

#include <stdlib.h>
#include <string.h>

#include "policy_ctx.h"

void ptree_free(ptree_t *tree)
{
	free(tree->nodes);
	free(tree->kids);
	free(tree->text);
	memset(tree, 0, sizeof(*tree));
}

static bool utf8_cont(uint8_t b)
{
	return (b & 0xc0) == 0x80;
}

policy_pos_t ptree_offset_pos(const char *buf, size_t len, size_t offset)
{
	const uint8_t *s = (const uint8_t *)buf;
	policy_pos_t pos = { 1, 1 };
	size_t i = 0;
	if (offset > len) {
		offset = len;
	}
	if (offset >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
		i = 3; /* libyaml's marks start after the BOM */
	}
	while (i < offset) {
		/* the breaks libyaml counts: CR LF, CR, LF, NEL, LS, PS */
		size_t brk = 0;
		if (s[i] == '\r') {
			brk = i + 1 < offset && s[i + 1] == '\n' ? 2 : 1;
		} else if (s[i] == '\n') {
			brk = 1;
		} else if (s[i] == 0xc2 && i + 1 < offset && s[i + 1] == 0x85) {
			brk = 2;
		} else if (s[i] == 0xe2 && i + 2 < offset && s[i + 1] == 0x80 &&
		           (s[i + 2] == 0xa8 || s[i + 2] == 0xa9)) {
			brk = 3;
		}
		if (brk > 0) {
			pos.line++;
			pos.col = 1;
			i += brk;
			continue;
		}
		if (!utf8_cont(s[i])) {
			pos.col++;
		}
		i++;
	}
	return pos;
}

size_t pnode_len(const pnode_t *node)
{
	return node->type == PNODE_SCALAR ? 0 : node->len;
}

pnode_t *pnode_item(const pctx_t *c, const pnode_t *seq, size_t i)
{
	return &c->tree->nodes[c->tree->kids[seq->off + i]];
}

pnode_t *pnode_key(const pctx_t *c, const pnode_t *map, size_t i)
{
	return &c->tree->nodes[c->tree->kids[map->off + 2 * i]];
}

pnode_t *pnode_value(const pctx_t *c, const pnode_t *map, size_t i)
{
	return &c->tree->nodes[c->tree->kids[map->off + 2 * i + 1]];
}

const char *pnode_text(const pctx_t *c, const pnode_t *node)
{
	return c->tree->text + node->off;
}
