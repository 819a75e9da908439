//! unload-core: the domain of the Redshift → S3 unload workflow, shared by the five Lambda
//! task workers and `unloadctl`. Pure logic lives in the modules below; `aws` holds the thin SDK
//! adapters.

pub mod checks;
pub mod contract;
pub mod error;
pub mod request;

pub use error::{Result, UnloadError};

pub mod aws;
#[cfg(test)]
mod fixtures;
pub mod job_spec;
pub mod manifest;
pub mod metrics;
pub mod polling;
pub mod run_args;
pub mod run_state;
