pub mod audit;
pub mod webhook;
