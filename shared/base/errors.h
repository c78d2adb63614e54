/*  haltgslb — error codes shared by every part of the project.
 *  SPDX-License-Identifier: GPL-3.0-or-later
 */
/*!
 * \file
 * \brief Error codes: functions return HG_EOK (0) or one of these (negative).
 *
 * LMDB and errno values are mapped into these in one place
 * (hg_err_from_mdb(), hg_err_from_errno()) so callers never see MDB_* codes.
 */
#pragma once

enum hg_error {
	HG_EOK = 0,
	HG_ENOMEM = -1,       /*!< Out of memory. */
	HG_EINVAL = -2,       /*!< Invalid argument or malformed input. */
	HG_ENOENT = -3,       /*!< No such key, file or database. */
	HG_EIO = -4,          /*!< I/O or unexpected LMDB failure. */
	HG_EMAPFULL = -5,     /*!< LMDB map is full (at its ceiling: raise HG_STORE_MAPSIZE_MAX). */
	HG_ESCHEMA = -6,      /*!< Database schema version not understood. */
	HG_EPOLICY = -7,      /*!< Policy failed validation (details were reported). */
	HG_ERANGE = -8,       /*!< Value out of range / a fixed limit exceeded. */
	HG_EEXIST = -9,       /*!< Already exists. */
	HG_EBUSY = -10,       /*!< Resource busy (e.g. readers table full). */
	HG_EACCES = -11,      /*!< Permission denied. */
	HG_ECORRUPT = -12,    /*!< A record failed its consistency checks. */
	HG_EGEO = -13,        /*!< Geo database cannot be opened or read. */
	HG_ENODATA = -14,     /*!< Nothing to answer (e.g. no address of that family). */
	HG_EUNSAFE = -15,     /*!< A file or directory fails the ownership/mode/symlink
	                      *   checks (someone else could redirect or change it). */
	HG_EMAPRESIZED = -16, /*!< Another process grew the database beyond this
	                       *   process's map; it is remapped when idle. */
};

/*! \brief Human-readable text for an HG_E* code (static string). */
const char *hg_strerror(int err);

/*! \brief Map an LMDB return code (MDB_* or errno) to an HG_E* code. */
int hg_err_from_mdb(int mdb_rc);

/*! \brief Map a positive errno value to an HG_E* code. */
int hg_err_from_errno(int errnum);
