//! ensure-job: make Glue hold exactly the table's desired job. GetJob; CreateJob when missing;
//! UpdateJob (full definition) only on drift; a lost create race re-reads and converges.

use unload_core::aws::glue::{self, Created};
use unload_core::aws::s3;
use unload_core::contract::{EngineKind, JobAction, JobRef, State};
/// ensure-job's settings: the job definition every table's job shares (GLUE_* variables).
pub use unload_core::job_spec::JobSettings as Settings;
use unload_core::job_spec::{JobDefinition, ScriptSource, OWNER_TAG};
use unload_core::{Result, UnloadError};

pub use unload_core::aws::GlueAndS3 as Clients;

pub async fn handle(state: &State, clients: &Clients, settings: &Settings) -> Result<JobRef> {
    let request = state.request()?;
    if request.engine == EngineKind::Unload {
        // The unload engine runs a statement in the warehouse: there is no Glue job to ensure.
        // The job name stays the run's name (the Data API's StatementName, metrics, logs).
        tracing::info!(job = %request.job_name, "unload engine: no Glue job needed");
        return Ok(JobRef {
            name: request.job_name.clone(),
            action: JobAction::Skipped,
        });
    }
    let script = match &settings.script {
        ScriptSource::Location(location) => location.clone(),
        ScriptSource::TemplateJob(template) => {
            glue::template_script_location(&clients.glue, template).await?
        }
    };
    if !s3::object_exists(&clients.s3, &script).await? {
        return Err(UnloadError::GlueScriptMissing(format!(
            "the Glue script {script} does not exist: redeploy the stack (sam deploy) or fix GLUE_SCRIPT_LOCATION"
        )));
    }
    let desired = JobDefinition::desired(settings, request, &script);
    let action = ensure(&clients.glue, &request.job_name, &desired, settings).await?;
    tracing::info!(job = %request.job_name, action = ?action, "Glue job ensured");
    Ok(JobRef {
        name: request.job_name.clone(),
        action,
    })
}

async fn ensure(
    client: &aws_sdk_glue::Client,
    name: &str,
    desired: &JobDefinition,
    settings: &Settings,
) -> Result<JobAction> {
    let stored = match glue::get_job(client, name).await? {
        Some(stored) => stored,
        None => match glue::create_job(client, name, desired, &settings.tags).await? {
            Created::Created => return Ok(JobAction::Created),
            Created::AlreadyExists => {
                tracing::info!(
                    job = name,
                    "another execution created the job first; re-reading it"
                );
                glue::get_job(client, name).await?.ok_or_else(|| {
                    UnloadError::GlueApiError(format!(
                        "Glue said job {name} already exists, but GetJob cannot find it"
                    ))
                })?
            }
        },
    };
    check_owner(client, name, settings).await?;
    let drift = desired.differences(&stored);
    if drift.is_empty() {
        return Ok(JobAction::Unchanged);
    }
    tracing::info!(job = name, fields = ?drift, "the stored job differs; updating it with the full definition");
    glue::update_job(client, name, desired).await?;
    Ok(JobAction::Updated)
}

/// Refuses a stored job that this stack's owner tag does not claim: another stack in the account
/// (or a person) made it, and an UpdateJob would silently take it over.
async fn check_owner(client: &aws_sdk_glue::Client, name: &str, settings: &Settings) -> Result<()> {
    let (Some(prefix), Some(owner)) = (&settings.job_arn_prefix, settings.owner()) else {
        return Ok(());
    };
    let tags = glue::job_tags(client, &format!("{prefix}{name}"))
        .await?
        .unwrap_or_default();
    match tags.get(OWNER_TAG) {
        Some(tag) if tag == owner => Ok(()),
        found => Err(UnloadError::JobOwnedElsewhere(format!(
            "Glue job {name} exists but {}, not {OWNER_TAG}={owner}: it belongs to another stack \
             or was made by hand, and ensure-job will not change it; delete or rename it, or tag it",
            match found {
                Some(tag) => format!("is tagged {OWNER_TAG}={tag}"),
                None => format!("has no {OWNER_TAG} tag"),
            }
        ))),
    }
}

#[cfg(test)]
mod tests;
