/*  haltgslb — checking an LMDB data file without mapping it.
 *  SPDX-License-Identifier: GPL-3.0-or-later
 */
/*!
 * \file
 * \brief Read both meta pages of a data.mdb with pread() and check them and
 *        the file's size, so a truncated or corrupt environment is refused
 *        before LMDB maps it.
 *
 * LMDB maps data.mdb and reads its pages in place: a page past the end of a
 * truncated file raises SIGBUS in whatever thread touches it (in knotd, the
 * whole server dies), and a zeroed or garbled meta page trips LMDB
 * assertions (abort()). LMDB itself only reads the meta pages with pread()
 * and checks their flags, magic and version; it never compares the file
 * size with the pages in use. store_meta_check() does what LMDB does and
 * more (page size, page numbers, txn ids, roots, size), on a file
 * descriptor, without mapping anything.
 *
 * Layout (LMDB 0.9, data format version 1, native word size and byte
 * order): page 0 and page 1 are meta pages; each starts with the 16-byte
 * page header (page number, flags), then the meta record: magic
 * 0xBEEFC0DE, format version, fixed-map address, map size, the free-page
 * and main B-tree records (the free one's first word is the page size),
 * the last page in use and the id of the txn that wrote it. Commit N
 * writes meta page N % 2; readers use the one with the higher txn id.
 *
 * "The file covers its pages" means size >= (last page + 1) * page size for
 * both meta pages. LMDB may leave free pages at the end of the file
 * unwritten (pages allocated and freed in one txn), so a file written by
 * another LMDB writer can be shorter and still intact; haltgslb's writers
 * extend the file over such pages after each commit (store_wtxn_commit()),
 * which makes the check exact for databases they write.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/*! What the meta pages of a data file say. */
typedef struct {
	size_t psize;       /*!< page size */
	size_t last_pg;     /*!< last page in use, the larger of the two meta pages' */
	size_t txnid;       /*!< id of the newest committed txn */
	unsigned which;     /*!< the meta page LMDB uses (0 or 1): the higher txn id */
	uint64_t file_size; /*!< size of the file when checked */
	uint64_t need;      /*!< bytes its pages need: (last_pg + 1) * psize */
} store_meta_t;

/*! LMDB's page size limits (0.9: OS page size, at most 32 KiB; 64 KiB
 *  accepted as LMDB's development branch allows it). */
#define STORE_META_PSIZE_MIN 512u
#define STORE_META_PSIZE_MAX 65536u

/*!
 * \brief Check the LMDB data file open on \a fd (readable), without mapping it.
 *
 * \param[in]  fd        Data file (data.mdb), open for reading.
 * \param[out] out       What the meta pages say (filled on HG_EOK; on
 *                       HG_ECORRUPT for a short file too, so callers can
 *                       report the sizes). May be NULL.
 * \param[out] why       One-line reason on failure ("" on success); the
 *                       caller prefixes the file name.
 * \param[in]  why_size  Size of \a why.
 * \return HG_EOK; HG_ENOENT: the file is empty (LMDB would create a new
 *         environment in it); HG_ECORRUPT: truncated (shorter than its
 *         meta pages or than the pages they use) or a meta page invalid
 *         (flags, magic, byte order, format version, page size, page
 *         number, txn id parity, root beyond the last page); HG_EIO: read
 *         or stat error.
 */
int store_meta_check(int fd, store_meta_t *out, char *why, size_t why_size);

/*!
 * \brief store_meta_check(), retried a few times (about 100 ms in all) while
 *        it finds the file corrupt.
 *
 * A writer commits by writing the meta page after the data pages, then
 * (haltgslb's writers) extends the file over unwritten free pages at its
 * end; a check that falls between the two, or reads a meta page while it
 * is being rewritten, sees a state that lasts microseconds. Use this one
 * wherever a false "corrupt" would refuse a good database. Sleeps.
 */
int store_meta_check_settled(int fd, store_meta_t *out, char *why, size_t why_size);
