pub mod audit;
pub mod harden;
pub mod webhook;
