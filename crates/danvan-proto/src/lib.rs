//! danvan-proto
