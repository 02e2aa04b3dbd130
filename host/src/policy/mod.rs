//! Operator policy for what a guest may reach beyond its stdio.

pub mod complexity;
pub mod egress;
pub mod imports;
