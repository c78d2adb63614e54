# SPDX-License-Identifier: GPL-3.0-or-later
"""Rewrite meta["schema_version"] with lmdb-utils (mdb_dump/mdb_load), to
test how the module treats a database of a schema it does not know."""
import struct
import subprocess

KEY = b"schema_version".hex()


def set_schema_version(db, version):
    dump = subprocess.run(["mdb_dump", "-s", "meta", db], capture_output=True, text=True,
                          check=True, timeout=30).stdout.splitlines()
    out, i = [], 0
    while i < len(dump):
        line = dump[i]
        out.append(line)
        if line.strip() == KEY:
            out.append(" " + struct.pack("<I", version).hex())
            i += 2
            continue
        i += 1
    subprocess.run(["mdb_load", "-s", "meta", db], input="\n".join(out) + "\n", text=True,
                   check=True, timeout=30, capture_output=True)
