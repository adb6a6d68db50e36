//! The paper's experiments: `reproduce` trains and evaluates each suite's models, `results` is
//! the schema of what it writes, `report` turns results files into the paper's tables.

pub mod report;
pub mod reproduce;
pub mod results;
