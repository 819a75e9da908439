//! unload-core: the domain of the Redshift → S3 unload workflow, shared by the five Lambda
//! task workers and `unloadctl`. Pure logic lives in the modules below and never imports `aws`,
//! which holds the thin SDK adapters (the Glue engine among them, behind `engine::Engine`).

pub mod batch;
pub mod catalog;
pub mod checks;
pub mod completion;
pub mod config;
pub mod contract;
pub mod error;
pub mod execution_names;
pub mod request;

pub use error::{Result, UnloadError};

pub mod aws;
pub mod engine;
#[cfg(test)]
mod fixtures;
pub mod job_spec;
pub mod manifest;
pub mod metrics;
pub mod polling;
pub mod run;
pub mod run_args;
pub mod unload_commit;
pub mod unload_sql;
