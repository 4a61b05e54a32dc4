//! The network path between client and mock: round-trip time, jitter, loss.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A network path standing for a region: round-trip time, jitter and loss.
///
/// Each answer is delayed by `rtt` plus a uniform jitter in `[-jitter, +jitter]`; with chance
/// `loss` a request also suffers one retransmission timeout (`rto`, by default the larger of
/// 200 ms, Linux's minimum, and 2×rtt).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, schemars::JsonSchema)]
#[serde(try_from = "RawNetwork", into = "RawNetwork")]
pub struct Network {
    /// Preset name, or `custom`.
    pub name: String,
    /// Round-trip time added to every answer.
    pub rtt: Duration,
    /// Half-width of the uniform jitter around `rtt`.
    pub jitter: Duration,
    /// Chance of one retransmission per request.
    pub loss: f64,
    /// Retransmission timeout.
    pub rto: Duration,
}

impl Network {
    /// A named network preset.
    pub fn preset(name: &str) -> Option<Network> {
        let ms = Duration::from_millis;
        let (rtt, jitter, loss) = match name {
            "local" => (ms(0), ms(0), 0.0),
            "same-region" => (ms(2), Duration::from_micros(500), 0.0),
            "cross-region" => (ms(40), ms(4), 0.001),
            "cross-continent" => (ms(150), ms(15), 0.005),
            _ => return None,
        };
        Some(Network {
            name: name.to_string(),
            rtt,
            jitter,
            loss,
            rto: (2 * rtt).max(ms(200)),
        })
    }
}

/// Names accepted by [`Network::preset`].
pub const NETWORK_PRESETS: [&str; 4] = ["local", "same-region", "cross-region", "cross-continent"];

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
enum RawNetwork {
    Named(String),
    Custom(NetworkTable),
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct NetworkTable {
    #[serde(with = "humantime_serde", default)]
    #[schemars(with = "String")]
    rtt: Duration,
    #[serde(with = "humantime_serde", default)]
    #[schemars(with = "String")]
    jitter: Duration,
    #[serde(default)]
    loss: f64,
    #[serde(with = "humantime_serde", default)]
    #[schemars(with = "Option<String>")]
    rto: Option<Duration>,
}

impl TryFrom<RawNetwork> for Network {
    type Error = String;
    fn try_from(raw: RawNetwork) -> Result<Self, String> {
        match raw {
            RawNetwork::Named(name) => Network::preset(&name)
                .ok_or_else(|| format!("unknown network preset {name:?}; expected one of {NETWORK_PRESETS:?}")),
            RawNetwork::Custom(t) => {
                crate::ranges::SHARE.check("network.loss", t.loss)?;
                if t.jitter > t.rtt {
                    return Err("jitter must not exceed rtt".into());
                }
                Ok(Network {
                    name: "custom".into(),
                    rtt: t.rtt,
                    jitter: t.jitter,
                    loss: t.loss,
                    rto: t.rto.unwrap_or((2 * t.rtt).max(Duration::from_millis(200))),
                })
            }
        }
    }
}

impl From<Network> for RawNetwork {
    fn from(n: Network) -> Self {
        if n.name != "custom" && Network::preset(&n.name).as_ref() == Some(&n) {
            return RawNetwork::Named(n.name);
        }
        RawNetwork::Custom(NetworkTable {
            rtt: n.rtt,
            jitter: n.jitter,
            loss: n.loss,
            rto: Some(n.rto),
        })
    }
}
