pub mod audit;
pub mod db;
pub mod harden;
pub mod key;
pub mod model;
pub mod scan;
pub mod webhook;
