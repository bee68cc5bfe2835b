//! TODO(helper): incident
