//! danvan-report
