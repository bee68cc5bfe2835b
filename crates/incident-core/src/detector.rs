//! TODO(helper): detector
