//! Loading, validating and describing policies.
