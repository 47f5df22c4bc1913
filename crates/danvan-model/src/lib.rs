//! danvan-model
