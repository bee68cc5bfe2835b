//! TODO(helper): ingest
