//! danvan-node
