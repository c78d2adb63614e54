/*  SPDX-License-Identifier: GPL-3.0-or-later */
/*  LMDB meta pages read with pread() and checked, before anything maps the
 *  file (layout and rules: store_meta.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "store_meta.h"

#define META_MAGIC      0xBEEFC0DEu
#define META_MAGIC_SWAP 0xDEC0EFBEu
#define META_VERSION    1u
#define META_PAGE_FLAG  0x08u        /* page header flag of a meta page */
#define META_NO_ROOT    ((size_t)-1) /* an empty B-tree */
#define META_FIRST_DATA 2u           /* pages 0 and 1 are the meta pages */

/* One B-tree record of a meta page. LMDB's page numbers, counts and txn
 * ids are native size_t words, like these. */
struct meta_tree {
	uint32_t pad; /* free-page tree: the page size */
	uint16_t flags;
	uint16_t depth;
	size_t branch_pages, leaf_pages, overflow_pages, entries;
	size_t root;
};

/* The start of a meta page as it is on disk: page header, then the meta. */
struct meta_page {
	size_t pgno;
	uint16_t pad;
	uint16_t flags;
	uint32_t bounds;
	uint32_t magic;
	uint32_t version;
	size_t address;
	size_t mapsize;
	struct meta_tree tree[2]; /* 0: free pages, 1: main */
	size_t last_pg;
	size_t txnid;
};

_Static_assert(sizeof(size_t) != 8 || sizeof(struct meta_page) == 152,
               "meta page layout of LMDB 0.9 on a 64-bit system");

__attribute__((format(printf, 3, 4))) static int meta_fail(char *why, size_t size, const char *fmt,
                                                           ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, size, fmt, ap);
	va_end(ap);
	return HG_ECORRUPT;
}

static bool psize_valid(uint32_t psize)
{
	return psize >= STORE_META_PSIZE_MIN && psize <= STORE_META_PSIZE_MAX &&
	       (psize & (psize - 1)) == 0;
}

/* Read meta page \a k at \a off and check what can be checked on its own. */
static int meta_read(int fd, unsigned k, off_t off, struct meta_page *m, char *why, size_t size)
{
	ssize_t n;
	do {
		n = pread(fd, m, sizeof(*m), off);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		snprintf(why, size, "cannot read meta page %u: %s", k, strerror(errno));
		return HG_EIO;
	}
	if ((size_t)n < sizeof(*m)) {
		return meta_fail(why, size, "the file ends inside meta page %u (truncated)", k);
	}
	if (m->magic == META_MAGIC_SWAP) {
		return meta_fail(why, size,
		                 "meta page %u: written on a machine of the other byte "
		                 "order (LMDB files are not portable)",
		                 k);
	}
	if (!(m->flags & META_PAGE_FLAG) || m->magic != META_MAGIC) {
		return meta_fail(why, size,
		                 "page %u is not an LMDB meta page (zeroed or "
		                 "overwritten)",
		                 k);
	}
	if (m->version != META_VERSION) {
		return meta_fail(why, size,
		                 "meta page %u: LMDB data format version %u, this "
		                 "build reads version %u",
		                 k, m->version, META_VERSION);
	}
	if (m->pgno != k) {
		return meta_fail(why, size, "meta page %u says it is page %zu", k, m->pgno);
	}
	uint32_t psize = m->tree[0].pad;
	if (!psize_valid(psize)) {
		return meta_fail(why, size, "meta page %u: invalid page size %u", k, psize);
	}
	/* Commit N writes meta page N % 2; both say txn 0 in a new environment. */
	if (m->txnid != 0 && (m->txnid & 1u) != k) {
		return meta_fail(why, size,
		                 "meta page %u holds txn %zu, which belongs in meta "
		                 "page %u",
		                 k, m->txnid, (unsigned)(m->txnid & 1u));
	}
	if (m->last_pg < META_FIRST_DATA - 1 || m->last_pg >= SIZE_MAX / psize - 1) {
		return meta_fail(why, size, "meta page %u: invalid last page %zu", k, m->last_pg);
	}
	for (unsigned t = 0; t < 2; t++) {
		size_t root = m->tree[t].root;
		if (root != META_NO_ROOT && (root < META_FIRST_DATA || root > m->last_pg)) {
			return meta_fail(why, size,
			                 "meta page %u: %s tree root is page %zu, outside "
			                 "pages %u..%zu",
			                 k, t == 0 ? "free-page" : "main", root, META_FIRST_DATA,
			                 m->last_pg);
		}
	}
	return HG_EOK;
}

int store_meta_check(int fd, store_meta_t *out, char *why, size_t why_size)
{
	why[0] = '\0';
	struct stat st;
	if (fstat(fd, &st) != 0) {
		snprintf(why, why_size, "cannot stat: %s", strerror(errno));
		return HG_EIO;
	}
	if (st.st_size == 0) {
		snprintf(why, why_size, "the file is empty");
		return HG_ENOENT;
	}

	struct meta_page m[2];
	int ret = meta_read(fd, 0, 0, &m[0], why, why_size);
	if (ret != HG_EOK) {
		return ret;
	}
	size_t psize = m[0].tree[0].pad;
	/* As LMDB: the second meta page sits one page (of the first's size) in. */
	ret = meta_read(fd, 1, (off_t)psize, &m[1], why, why_size);
	if (ret != HG_EOK) {
		return ret;
	}
	if (m[1].tree[0].pad != psize) {
		return meta_fail(why, why_size,
		                 "the meta pages disagree on the page size (%zu, %u)", psize,
		                 m[1].tree[0].pad);
	}

	unsigned which = m[1].txnid > m[0].txnid ? 1 : 0;
	/* A reader may still use the older meta page's snapshot. */
	size_t last = m[0].last_pg > m[1].last_pg ? m[0].last_pg : m[1].last_pg;
	store_meta_t meta = {
		.psize = psize,
		.last_pg = last,
		.txnid = m[which].txnid,
		.which = which,
		.file_size = (uint64_t)st.st_size,
		.need = ((uint64_t)last + 1) * psize,
	};
	if (out != NULL) {
		*out = meta;
	}
	if (meta.file_size < meta.need) {
		return meta_fail(why, why_size,
		                 "the file is %llu bytes, but its meta page (txn %zu) "
		                 "uses %zu pages of %zu bytes (%llu bytes): truncated",
		                 (unsigned long long)meta.file_size, meta.txnid, last + 1, psize,
		                 (unsigned long long)meta.need);
	}
	return HG_EOK;
}

int store_meta_check_settled(int fd, store_meta_t *out, char *why, size_t why_size)
{
	int ret = HG_EOK;
	for (int attempt = 0; attempt < 6; attempt++) {
		if (attempt > 0) {
			struct timespec ts = { 0, 20 * 1000000L };
			nanosleep(&ts, NULL);
		}
		ret = store_meta_check(fd, out, why, why_size);
		if (ret != HG_ECORRUPT) {
			break;
		}
	}
	return ret;
}
