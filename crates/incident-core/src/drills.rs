//! TODO(helper): drills
