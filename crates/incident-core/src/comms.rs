//! TODO(helper): comms
