//! Feature tests of danvan's sync: one integration binary.

mod features;
mod simulation;
