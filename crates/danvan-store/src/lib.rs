//! danvan-store
