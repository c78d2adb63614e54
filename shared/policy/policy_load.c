/*  SPDX-License-Identifier: GPL-3.0-or-later */
/* YAML text -> the compiler's compact tree, from libyaml's event API.
 *
 * Not yaml_parser_load(): it cannot stop early, so a 200k-deep `[[[...`
 * costs libyaml's scanner O(depth) per token (72 s for 400 KB) before we see
 * anything; it resolves anchors by a linear scan; and its nodes cost ~190
 * bytes each. Here every limit is checked as the events arrive, anchors are
 * hashed, and a node is 20 bytes. */

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "errors.h"
#include "policy_ctx.h"

/* An open sequence or mapping: its node and where its children start on the
 * pending-children stack. */
typedef struct {
	uint32_t node;
	size_t first_child;
	uint64_t expanded; /*!< nodes under it, aliases counted in full */
	int anchor;        /*!< its anchor's slot, or -1 */
} open_t;

typedef struct {
	char *name; /*!< owned; NULL: empty slot */
	uint64_t hash;
	uint32_t node;
	uint32_t line;     /*!< where it was defined, for the duplicate report */
	uint64_t expanded; /*!< 0 while its collection is still open */
} anchor_t;

#define ANCHOR_SLOTS 16384u /* power of two above PLOAD_MAX_ANCHORS */

typedef struct {
	pctx_t *c;
	ptree_t *t;
	open_t *open; /*!< at most PLOAD_MAX_DEPTH + 1 */
	size_t depth;
	uint32_t *pending; /*!< children of the open collections, in order */
	size_t n_pending, cap_pending;
	anchor_t *anchors; /*!< ANCHOR_SLOTS, open addressing */
	size_t n_anchors;
	uint64_t alias_nodes; /*!< nodes reached through aliases */
	uint32_t root;
	bool has_root;
	bool failed;
} loader_t;

/* pctx_reserve() without zeroing: the tree's arrays are written before they
 * are read, and untouched capacity costs no memory. */
static bool grow(loader_t *l, void **arr, size_t *cap, size_t n, size_t elsize)
{
	if (n <= *cap) {
		return true;
	}
	size_t ncap = *cap ? *cap * 2 : 64;
	while (ncap < n) {
		ncap *= 2;
	}
	void *p = realloc(*arr, ncap * elsize);
	if (p == NULL) {
		l->c->nomem = l->failed = true;
		return false;
	}
	*arr = p;
	*cap = ncap;
	return true;
}

static policy_pos_t mark_pos(yaml_mark_t m)
{
	return (policy_pos_t){ (uint32_t)m.line + 1, (uint32_t)m.column + 1 };
}

static void fail_at(loader_t *l, yaml_mark_t m, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void fail_at(loader_t *l, yaml_mark_t m, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pctx_verr_at(l->c, mark_pos(m), fmt, ap);
	va_end(ap);
	l->failed = true;
}

/* FNV-1a: anchor names are short. Colliding names only cost time, bounded by
 * PLOAD_MAX_ANCHORS probes each. */
static uint64_t name_hash(const char *s)
{
	uint64_t h = 14695981039346656037ull;
	for (; *s != '\0'; s++) {
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	}
	return h;
}

static anchor_t *anchor_slot(loader_t *l, const char *name, uint64_t h)
{
	for (size_t i = h & (ANCHOR_SLOTS - 1);; i = (i + 1) & (ANCHOR_SLOTS - 1)) {
		anchor_t *a = &l->anchors[i];
		if (a->name == NULL || (a->hash == h && strcmp(a->name, name) == 0)) {
			return a;
		}
	}
}

/* Register \a name for node \a id; returns its slot or -1 after an error. */
static int anchor_add(loader_t *l, const char *name, uint32_t id, yaml_mark_t m)
{
	if (l->anchors == NULL) {
		l->anchors = calloc(ANCHOR_SLOTS, sizeof(*l->anchors));
		if (l->anchors == NULL) {
			l->c->nomem = l->failed = true;
			return -1;
		}
	}
	uint64_t h = name_hash(name);
	anchor_t *a = anchor_slot(l, name, h);
	if (a->name != NULL) {
		/* libyaml's own loader refuses these too */
		fail_at(l, m, "duplicate anchor '&%.64s' (first at line %u)", name, a->line);
		return -1;
	}
	if (l->n_anchors >= PLOAD_MAX_ANCHORS) {
		fail_at(l, m, "too many anchors (max %u)", PLOAD_MAX_ANCHORS);
		return -1;
	}
	a->name = strdup(name);
	if (a->name == NULL) {
		l->c->nomem = l->failed = true;
		return -1;
	}
	a->hash = h;
	a->node = id;
	a->line = (uint32_t)m.line + 1;
	l->n_anchors++;
	return (int)(a - l->anchors);
}

/* Count \a n more nodes under the innermost open collection; \a alias: they
 * are an alias's, beyond the nodes the tree holds. */
static bool count_expanded(loader_t *l, uint64_t n, bool alias, yaml_mark_t m)
{
	if (l->depth > 0) {
		l->open[l->depth - 1].expanded += n;
	}
	l->alias_nodes += alias ? n : 0;
	if (l->t->n_nodes + l->alias_nodes > PLOAD_MAX_EXPANDED) {
		fail_at(l, m,
		        "the document is too large through its aliases (more than %u "
		        "nodes once expanded)",
		        PLOAD_MAX_EXPANDED);
		return false;
	}
	return true;
}

/* A finished node becomes a child of the innermost open collection, or the
 * root. */
static void attach(loader_t *l, uint32_t id)
{
	if (l->depth == 0) {
		l->root = id;
		l->has_root = true;
		return;
	}
	if (grow(l, (void **)&l->pending, &l->cap_pending, l->n_pending + 1, sizeof(*l->pending))) {
		l->pending[l->n_pending++] = id;
	}
}

static bool new_node(loader_t *l, uint8_t type, yaml_mark_t m, uint32_t *id)
{
	ptree_t *t = l->t;
	if (t->n_nodes >= PLOAD_MAX_NODES) {
		fail_at(l, m, "too many YAML nodes (more than %u)", PLOAD_MAX_NODES);
		return false;
	}
	if (!grow(l, (void **)&t->nodes, &t->cap_nodes, t->n_nodes + 1, sizeof(*t->nodes))) {
		return false;
	}
	*id = (uint32_t)t->n_nodes++;
	t->nodes[*id] = (pnode_t){ .line = (uint32_t)m.line + 1,
		                   .col = (uint32_t)m.column + 1,
		                   .type = type };
	return true;
}

static void on_scalar(loader_t *l, const yaml_event_t *e)
{
	ptree_t *t = l->t;
	uint32_t id;
	size_t len = e->data.scalar.length;
	if (!new_node(l, PNODE_SCALAR, e->start_mark, &id) ||
	    !grow(l, (void **)&t->text, &t->cap_text, t->n_text + len + 1, 1)) {
		return;
	}
	pnode_t *n = &t->nodes[id];
	/* libyaml does not resolve tags: the YAML 1.1 null forms by hand */
	const char *v = (const char *)e->data.scalar.value;
	n->null = e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	          (len == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
	           strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0);
	n->len = (uint32_t)len;
	n->off = (uint32_t)t->n_text;
	memcpy(t->text + t->n_text, e->data.scalar.value, len);
	t->text[t->n_text + len] = '\0';
	t->n_text += len + 1;
	if (e->data.scalar.anchor != NULL) {
		int a = anchor_add(l, (const char *)e->data.scalar.anchor, id, e->start_mark);
		if (a >= 0) {
			l->anchors[a].expanded = 1;
		}
	}
	if (!l->failed && count_expanded(l, 1, false, e->start_mark)) {
		attach(l, id);
	}
}

static void on_start(loader_t *l, const yaml_event_t *e, uint8_t type)
{
	const yaml_char_t *anchor =
	        type == PNODE_SEQ ? e->data.sequence_start.anchor : e->data.mapping_start.anchor;
	if (l->depth >= PLOAD_MAX_DEPTH) {
		fail_at(l, e->start_mark,
		        "nesting deeper than %u levels (a policy needs 9 at "
		        "most)",
		        PLOAD_MAX_DEPTH);
		return;
	}
	uint32_t id;
	if (!new_node(l, type, e->start_mark, &id) || !count_expanded(l, 0, false, e->start_mark)) {
		return;
	}
	open_t *o = &l->open[l->depth++];
	o->node = id;
	o->first_child = l->n_pending;
	o->expanded = 1;
	o->anchor = anchor != NULL ? anchor_add(l, (const char *)anchor, id, e->start_mark) : -1;
}

static void on_end(loader_t *l)
{
	ptree_t *t = l->t;
	open_t o = l->open[--l->depth];
	size_t n = l->n_pending - o.first_child;
	pnode_t *node = &t->nodes[o.node];
	if (!grow(l, (void **)&t->kids, &t->cap_kids, t->n_kids + n, sizeof(*t->kids))) {
		return;
	}
	node = &t->nodes[o.node];
	node->off = (uint32_t)t->n_kids;
	node->len = (uint32_t)(node->type == PNODE_MAP ? n / 2 : n);
	if (n > 0) {
		memcpy(t->kids + t->n_kids, l->pending + o.first_child, n * sizeof(*t->kids));
	}
	t->n_kids += n;
	l->n_pending = o.first_child;
	if (o.anchor >= 0) {
		l->anchors[o.anchor].expanded = o.expanded;
	}
	if (l->depth > 0) {
		l->open[l->depth - 1].expanded += o.expanded;
	}
	attach(l, o.node);
}

static void on_alias(loader_t *l, const yaml_event_t *e)
{
	const char *name = (const char *)e->data.alias.anchor;
	anchor_t *a = l->anchors != NULL ? anchor_slot(l, name, name_hash(name)) : NULL;
	if (a == NULL || a->name == NULL) {
		fail_at(l, e->start_mark, "unknown alias '*%.64s'", name);
		return;
	}
	if (a->expanded == 0) {
		fail_at(l, e->start_mark, "alias '*%.64s' is inside the node it names", name);
		return;
	}
	if (count_expanded(l, a->expanded, true, e->start_mark)) {
		attach(l, a->node);
	}
}

static void syntax_error(loader_t *l, const yaml_parser_t *p, const char *buf, size_t len)
{
	if (p->error == YAML_MEMORY_ERROR) {
		l->c->nomem = true;
	} else if (p->error == YAML_READER_ERROR) {
		/* The reader reports a byte offset, never a mark. */
		policy_pos_t pos = ptree_offset_pos(buf, len, p->problem_offset);
		if (p->problem_value >= 0) {
			pctx_err_at(l->c, pos, "YAML syntax error: %s (0x%02x)",
			            p->problem ? p->problem : "?", (unsigned)p->problem_value);
		} else {
			pctx_err_at(l->c, pos, "YAML syntax error: %s",
			            p->problem ? p->problem : "?");
		}
	} else if (p->context != NULL) {
		/* libyaml reports where it gave up; the context says where the
		 * broken construct began, which is often where the typo is. */
		pctx_err_at(l->c, mark_pos(p->problem_mark),
		            "YAML syntax error: %s (%s started at "
		            "line %zu, column %zu)",
		            p->problem ? p->problem : "?", p->context, p->context_mark.line + 1,
		            p->context_mark.column + 1);
	} else {
		pctx_err_at(l->c, mark_pos(p->problem_mark), "YAML syntax error: %s",
		            p->problem ? p->problem : "?");
	}
	l->failed = true;
}

/* One event; false when loading is over (stream end, second document, error). */
static bool on_event(loader_t *l, yaml_parser_t *p, const yaml_event_t *e, int *docs)
{
	switch (e->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++*docs > 1) {
			/* the report goes at the second document's root: one more event */
			yaml_event_t root;
			if (yaml_parser_parse(p, &root)) {
				pctx_err_at(l->c, mark_pos(root.start_mark),
				            "a policy file holds one YAML document, found another");
				yaml_event_delete(&root);
			} else {
				pctx_err_at(l->c, mark_pos(e->start_mark),
				            "a policy file holds one YAML document, found another");
			}
			l->failed = true;
			return false;
		}
		return true;
	case YAML_SCALAR_EVENT: on_scalar(l, e); break;
	case YAML_SEQUENCE_START_EVENT: on_start(l, e, PNODE_SEQ); break;
	case YAML_MAPPING_START_EVENT: on_start(l, e, PNODE_MAP); break;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT: on_end(l); break;
	case YAML_ALIAS_EVENT: on_alias(l, e); break;
	case YAML_STREAM_END_EVENT: return false;
	default: break;
	}
	return !l->failed;
}

/* libyaml checks each %TAG directive against all earlier ones inside one
 * call we cannot interrupt (20k of them: 0.5 s, growing as the square). A
 * directive is a line starting with '%', which nothing else in a policy can
 * be (block scalars are indented, comments start with '#'): count them
 * first. Returns false after reporting the first one past the limit. */
static bool directives_ok(pctx_t *c, const char *buf, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '%' && (i == 0 || buf[i - 1] == '\n' || buf[i - 1] == '\r') &&
		    ++n > PLOAD_MAX_DIRECTIVES) {
			pctx_err_at(c, ptree_offset_pos(buf, len, i),
			            "too many YAML directives "
			            "(max %u; a policy needs none)",
			            PLOAD_MAX_DIRECTIVES);
			return false;
		}
	}
	return true;
}

bool ptree_load(pctx_t *c, ptree_t *tree, const char *buf, size_t len)
{
	open_t open[PLOAD_MAX_DEPTH + 1];
	loader_t l = { .c = c, .t = tree, .open = open };
	yaml_parser_t parser;
	int docs = 0;

	memset(tree, 0, sizeof(*tree));
	if (!directives_ok(c, buf, len)) {
		return false;
	}
	if (!yaml_parser_initialize(&parser)) {
		c->nomem = true;
		return false;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	for (;;) {
		yaml_event_t e;
		if (!yaml_parser_parse(&parser, &e)) {
			syntax_error(&l, &parser, buf, len);
			break;
		}
		bool more = on_event(&l, &parser, &e, &docs);
		yaml_event_delete(&e);
		if (!more) {
			break;
		}
	}
	yaml_parser_delete(&parser);
	if (l.anchors != NULL) {
		for (size_t i = 0; i < ANCHOR_SLOTS; i++) {
			free(l.anchors[i].name);
		}
		free(l.anchors);
	}
	free(l.pending);
	if (l.failed || c->nomem) {
		ptree_free(tree);
		return false;
	}
	tree->root = l.has_root ? &tree->nodes[l.root] : NULL;
	return true;
}
