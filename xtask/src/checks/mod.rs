//! Measuring the backends: `bench` (throughput) and `gate` (a GPU's training steps against the
//! CPU reference).

pub mod bench;
pub mod gate;
pub mod reference;
