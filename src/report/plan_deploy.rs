//! The plan's deployments table: each candidate's replicas × workers on the scenario's
//! `[hosting]` machines, with the API's, the machines' and the total cost per hour.

use crate::commands::plan::CapacityPlan;
use crate::format::usd;

/// The table's columns.
pub const COLUMNS: [&str; 6] = [
    "candidate",
    "replicas × workers",
    "machine",
    "API $/h",
    "hosting $/h",
    "total $/h",
];

/// One row per candidate with a deployment.
pub fn cells(p: &CapacityPlan) -> Vec<Vec<String>> {
    p.candidates
        .iter()
        .filter_map(|c| {
            let d = c.deployment.as_ref()?;
            Some(vec![
                c.name.clone(),
                format!("{} × {}", d.replicas, d.workers_per_replica),
                d.machine.clone().unwrap_or_else(|| "none fits".into()),
                usd(d.api_usd_hour),
                usd(d.hosting_usd_hour),
                usd(d.total_usd_hour),
            ])
        })
        .collect()
}

/// What the table says, with where the client's needs came from.
pub fn note(p: &CapacityPlan) -> String {
    format!(
        "Each candidate's replicas run on the cheapest `[hosting]` machine that fits one of them (client needs {}); \
         with `[hosting]` the plan ranks passing candidates by the API's cost plus the machines'.",
        p.deployment_basis.as_deref().unwrap_or("not known")
    )
}

/// The section in Markdown (empty without `[hosting]`).
pub fn markdown(p: &CapacityPlan) -> String {
    let mut out = match &p.shared_limit {
        Some(s) => format!("\n### Splitting the client rate limit\n\n{}\n", s.why),
        None => String::new(),
    };
    let rows = cells(p);
    if rows.is_empty() {
        return out;
    }
    out.push_str(&format!("\n### Deployments\n\n{}\n\n", note(p)));
    out.push_str(&super::plan::md_table(&COLUMNS, &rows));
    for c in &p.candidates {
        if let Some(d) = &c.deployment {
            out.push_str(&format!("- {}: {}.\n", c.name, d.why));
        }
    }
    out
}
