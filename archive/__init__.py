"""The local SQLite archive: schema, storage, search and export."""
