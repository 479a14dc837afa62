pub mod audit;
pub mod db;
pub mod harden;
pub mod scan;
pub mod webhook;
