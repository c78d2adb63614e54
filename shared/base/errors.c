/*  SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <lmdb.h>

#include "errors.h"

const char *hg_strerror(int err)
{
	switch (err) {
	case HG_EOK: return "OK";
	case HG_ENOMEM: return "out of memory";
	case HG_EINVAL: return "invalid argument";
	case HG_ENOENT: return "not found";
	case HG_EIO: return "I/O error";
	case HG_EMAPFULL: return "database map full at its limit (raise HG_STORE_MAPSIZE_MAX)";
	case HG_ESCHEMA: return "unsupported database schema version";
	case HG_EPOLICY: return "invalid policy";
	case HG_ERANGE: return "value out of range or limit exceeded";
	case HG_EEXIST: return "already exists";
	case HG_EBUSY: return "resource busy";
	case HG_EACCES: return "permission denied";
	case HG_ECORRUPT: return "corrupt or truncated data";
	case HG_EGEO: return "geo database error";
	case HG_ENODATA: return "no data";
	case HG_EUNSAFE: return "unsafe file or directory (symlink, owner or mode)";
	case HG_EMAPRESIZED:
		return "database grew beyond this process's map (remapped when no read is active)";
	default: return "unknown error";
	}
}

int hg_err_from_errno(int errnum)
{
	switch (errnum) {
	case 0: return HG_EOK;
	case ENOMEM: return HG_ENOMEM;
	case EINVAL: return HG_EINVAL;
	case ENOENT: return HG_ENOENT;
	case ENOTDIR: return HG_ENOENT;
	case EACCES:
	case EPERM:
	case EROFS: return HG_EACCES;
	case EEXIST: return HG_EEXIST;
	case EBUSY:
	case EAGAIN: return HG_EBUSY;
	case ERANGE:
	case ENOSPC: return HG_ERANGE;
	default: return HG_EIO;
	}
}

int hg_err_from_mdb(int mdb_rc)
{
	switch (mdb_rc) {
	case MDB_SUCCESS: return HG_EOK;
	case MDB_NOTFOUND: return HG_ENOENT;
	case MDB_KEYEXIST: return HG_EEXIST;
	case MDB_MAP_FULL: return HG_EMAPFULL;
	case MDB_MAP_RESIZED: return HG_EMAPRESIZED;
	case MDB_READERS_FULL: return HG_EBUSY;
	case MDB_DBS_FULL: return HG_ERANGE;
	case MDB_BAD_VALSIZE: return HG_EINVAL;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID: return HG_ECORRUPT;
	case MDB_VERSION_MISMATCH: return HG_ESCHEMA;
	default: return mdb_rc > 0 ? hg_err_from_errno(mdb_rc) : HG_EIO;
	}
}
