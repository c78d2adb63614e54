# The on-disk contract: installed so external readers build against it.
haltgslbinclude_HEADERS += lmdb-schema/schema.h
dist_doc_DATA += lmdb-schema/SCHEMA.md
