//! danvan-testkit
