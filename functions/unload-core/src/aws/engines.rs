//! The engine a request names, built per invocation from clients made once: start-run,
//! check-status and report hold their logic against `engine::Engine` and get it from here.

use super::glue::GlueEngine;
use super::redshift_data::{UnloadEngine, UnloadSettings};
use super::s3::S3Lake;
use crate::config;
use crate::contract::{EngineKind, NormalizedRequest, State};
use crate::engine::Engine;
use crate::run::RunInfo;
use crate::run_args::SourceKind;
use crate::Result;

/// The clients and settings of both engines. The unload engine's settings are read once and
/// reported (ConfigurationError) only when a request asks for that engine.
pub struct Engines {
    glue: aws_sdk_glue::Client,
    data: aws_sdk_redshiftdata::Client,
    s3: aws_sdk_s3::Client,
    source: SourceKind,
    unload: Result<UnloadSettings>,
}

impl Engines {
    pub fn new(config: &aws_config::SdkConfig, source: SourceKind) -> Self {
        Self {
            glue: aws_sdk_glue::Client::new(config),
            data: aws_sdk_redshiftdata::Client::new(config),
            s3: super::s3_client(config),
            source,
            unload: UnloadSettings::from_lookup(config::process_env),
        }
    }

    /// The engine of the state's request (the Glue engine while the state has no request yet).
    pub fn for_state<'a>(&'a self, state: &'a State) -> Result<AnyEngine<'a>> {
        match (&state.request, &state.execution) {
            (Some(request), Some(execution)) if request.engine == EngineKind::Unload => {
                self.unload(request, &execution.id)
            }
            _ => Ok(self.glue()),
        }
    }

    /// The Glue engine.
    pub fn glue(&self) -> AnyEngine<'_> {
        AnyEngine::Glue(GlueEngine::new(self.glue.clone()).reading(self.source))
    }

    fn unload<'a>(
        &'a self,
        request: &'a NormalizedRequest,
        execution_id: &'a str,
    ) -> Result<AnyEngine<'a>> {
        let settings = self.unload.as_ref().map_err(Clone::clone)?;
        let store = S3Lake {
            client: self.s3.clone(),
        };
        Ok(AnyEngine::Unload(UnloadEngine::new(
            self.data.clone(),
            store,
            settings,
            request,
            execution_id,
        )))
    }
}

/// Either engine, as one type the handlers take.
pub enum AnyEngine<'a> {
    Glue(GlueEngine),
    Unload(UnloadEngine<'a, S3Lake>),
}

impl AnyEngine<'_> {
    /// For a look that must change nothing (report's check for a run still going): the unload
    /// engine then reports a finished statement without committing its files.
    pub fn observing(self) -> Self {
        match self {
            Self::Unload(engine) => Self::Unload(engine.observing()),
            glue => glue,
        }
    }
}

impl Engine for AnyEngine<'_> {
    async fn recent_runs(&self, job: &str) -> Result<Vec<RunInfo>> {
        match self {
            Self::Glue(e) => e.recent_runs(job).await,
            Self::Unload(e) => e.recent_runs(job).await,
        }
    }

    async fn start_run(
        &self,
        job: &str,
        request: &NormalizedRequest,
        execution_id: &str,
    ) -> Result<String> {
        match self {
            Self::Glue(e) => e.start_run(job, request, execution_id).await,
            Self::Unload(e) => e.start_run(job, request, execution_id).await,
        }
    }

    async fn get_run(&self, job: &str, run_id: &str) -> Result<RunInfo> {
        match self {
            Self::Glue(e) => e.get_run(job, run_id).await,
            Self::Unload(e) => e.get_run(job, run_id).await,
        }
    }

    async fn stop_run(&self, job: &str, run_id: &str) -> Result<bool> {
        match self {
            Self::Glue(e) => e.stop_run(job, run_id).await,
            Self::Unload(e) => e.stop_run(job, run_id).await,
        }
    }
}
