//! TODO(helper): postmortem
