//! `[hosting]`: what the client's replicas run on and what that costs, so that `plan` can weigh
//! one big replica against several small ones by the whole deployment's cost (the API's and the
//! machines').

use serde::{Deserialize, Serialize};
use stampede_mock::ranges::{Range, USD};

/// `[hosting]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HostingSpec {
    /// Machines a replica can run on: each replica takes the cheapest one that fits it.
    pub machines: Vec<Machine>,
    /// A fixed cost per replica per hour on top of its machine (a load-balancer target, a
    /// sidecar, a licence).
    #[serde(default)]
    pub replica_usd_hour: f64,
    /// What one replica of the client needs; when absent, `plan` measures it with its hosting
    /// probe (stampede's own Rust client: a client in another language needs more).
    #[serde(default)]
    pub client: Option<ClientNeed>,
}

/// A machine type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Machine {
    /// Its name, as the provider calls it.
    pub name: String,
    /// vCPUs.
    pub vcpu: f64,
    /// Memory (GiB).
    pub memory_gib: f64,
    /// Price per hour (USD).
    pub usd_hour: f64,
}

/// What one replica of the client needs, per unit of its work.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientNeed {
    /// CPU time per attempt sent (ms).
    pub cpu_ms_per_attempt: f64,
    /// Memory per request in flight (KiB).
    pub kib_per_in_flight: f64,
    /// Memory of an idle replica (MiB).
    pub base_mib: f64,
}

/// Sizes of machines and of a client's needs.
const SIZE: Range = Range {
    kind: "machine size or client need",
    min: 0.0,
    above_min: true,
    max: 1e6,
    unit: "",
    keys: "`hosting.machines[].vcpu`, `memory_gib`, `hosting.client.*`",
};

/// The most machine types a scenario lists.
const MAX_MACHINES: usize = 64;

impl HostingSpec {
    /// Checks every number and the machine list; the message names the key.
    pub fn validate(&self) -> Result<(), String> {
        if self.machines.is_empty() || self.machines.len() > MAX_MACHINES {
            return Err(format!(
                "hosting.machines: expected 1 to {MAX_MACHINES} machine types, got {}",
                self.machines.len()
            ));
        }
        for (i, m) in self.machines.iter().enumerate() {
            SIZE.check(&format!("hosting.machines[{i}].vcpu"), m.vcpu)?;
            SIZE.check(&format!("hosting.machines[{i}].memory_gib"), m.memory_gib)?;
            USD.check(&format!("hosting.machines[{i}].usd_hour"), m.usd_hour)?;
        }
        USD.check("hosting.replica_usd_hour", self.replica_usd_hour)?;
        if let Some(c) = &self.client {
            SIZE.check("hosting.client.cpu_ms_per_attempt", c.cpu_ms_per_attempt)?;
            SIZE.check("hosting.client.kib_per_in_flight", c.kib_per_in_flight)?;
            SIZE.check("hosting.client.base_mib", c.base_mib)?;
        }
        Ok(())
    }

    /// The cheapest machine with at least `vcpu` and `memory_gib` (on a tie in price, the
    /// first listed); `None` when none is that big.
    pub fn cheapest_fitting(&self, vcpu: f64, memory_gib: f64) -> Option<&Machine> {
        self.machines
            .iter()
            .filter(|m| m.vcpu >= vcpu && m.memory_gib >= memory_gib)
            .min_by(|a, b| a.usd_hour.total_cmp(&b.usd_hour))
    }
}
