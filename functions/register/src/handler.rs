//! register: after a successful run, make the Glue Data Catalog describe it. The table is decided
//! first (created, extended by new columns, or SchemaDrift before anything is written), then the
//! run's partitions are created or updated, and the days a whole-table overwrite removed are
//! deleted. Idempotent: a retry or a second run of the same day
//! leaves the same table and one partition per day.

use unload_core::aws::{catalog, s3};
use unload_core::catalog::{
    partitions, plan_partitions, removed_partitions, table_change, TableChange, TableSpec,
};
use unload_core::contract::{CatalogReport, JobAction, State};
use unload_core::{Result, UnloadError};

pub use unload_core::aws::GlueAndS3 as Clients;

pub async fn handle(state: &State, clients: &Clients) -> Result<CatalogReport> {
    let request = state.request()?;
    let target = request.catalog.as_ref().ok_or_else(|| {
        UnloadError::InvalidState(
            "the request names no catalog table (the state machine registers only when it does)"
                .into(),
        )
    })?;
    let manifest = s3::read_run_manifest(&clients.s3, state).await?;
    let spec = TableSpec::desired(request, target, &manifest)?;
    let action = ensure_table(&clients.glue, &spec).await?;
    let wanted = partitions(request, &manifest);
    let values: Vec<String> = wanted.iter().map(|p| p.value.clone()).collect();
    let stored = catalog::get_partitions(&clients.glue, target, &values).await?;
    let mut plan = plan_partitions(&spec, wanted, &stored);
    let raced = catalog::create_partitions(&clients.glue, &spec, &plan.create).await?;
    // Partitions another execution created in between are made ours like any stored one.
    let (lost, created): (Vec<_>, Vec<_>) = std::mem::take(&mut plan.create)
        .into_iter()
        .partition(|p| raced.contains(&p.value));
    plan.update.extend(lost);
    catalog::update_partitions(&clients.glue, &spec, &plan.update).await?;
    let removed = removed_partitions(request, &manifest);
    let deleted = catalog::delete_partitions(&clients.glue, target, &removed).await?;
    let report = CatalogReport {
        database: target.database.clone(),
        table: target.table.clone(),
        action,
        partitions_created: created.len() as u64,
        partitions_updated: plan.update.len() as u64,
        partitions_unchanged: plan.unchanged as u64,
        partitions_deleted: deleted,
    };
    tracing::info!(
        database = %report.database, table = %report.table, action = ?report.action,
        created = report.partitions_created, updated = report.partitions_updated,
        unchanged = report.partitions_unchanged, deleted = report.partitions_deleted,
        "catalog registered"
    );
    Ok(report)
}

/// Makes the stored table accept this run's data, or fails with SchemaDrift having written nothing.
async fn ensure_table(client: &aws_sdk_glue::Client, spec: &TableSpec) -> Result<JobAction> {
    let stored = catalog::get_table(client, &spec.target).await?;
    let change = match table_change(spec, stored.as_ref())? {
        TableChange::Create => match catalog::create_table(client, spec).await? {
            catalog::TableCreated::Created => return Ok(JobAction::Created),
            // Another execution created it first: decide against what it made.
            catalog::TableCreated::AlreadyExists => {
                let stored = catalog::get_table(client, &spec.target).await?;
                table_change(spec, stored.as_ref())?
            }
        },
        change => change,
    };
    match change {
        TableChange::AddColumns(added) => {
            tracing::info!(table = %spec.target.table, added = ?added, "new columns in the source: the catalog table gets them at the end");
            catalog::update_table(client, spec).await?;
            Ok(JobAction::Updated)
        }
        TableChange::Unchanged | TableChange::Create => Ok(JobAction::Unchanged),
    }
}

#[cfg(test)]
mod tests;
