//! TODO(helper): classify
