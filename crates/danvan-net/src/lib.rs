//! danvan-net
