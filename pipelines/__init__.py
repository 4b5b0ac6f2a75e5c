"""Item pipelines: extraction of the bulletin record, then storage in the archive."""
