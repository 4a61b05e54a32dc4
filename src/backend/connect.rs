//! Where a prepared run sends its attempts ([`Endpoint`]) and the one place that turns that into
//! a working transport ([`connect`]).
//!
//! The run's preparation resolves everything an endpoint needs once (profile, URL, API key,
//! HTTP version); `connect` only builds: the mock's model in-process for `sim`, the model behind
//! a loopback HTTP server for `mock`, an HTTP client checked against its host for `gemini` and
//! `openai`. A new target is a new backend file, a new arm here and its preparation arm.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use stampede_mock::server::{self, ServerOptions};
use stampede_mock::{MockModel, MockProfile};

use super::connections::ConnectionTimings;
use super::gemini::{GeminiBackend, GeminiOptions};
use super::openai::{OpenAiBackend, OpenAiOptions};
use super::sim::SimBackend;
use super::{ApiKey, Backend, HttpVersion};

/// The key the in-process mock accepts (its profile accepts any).
const MOCK_KEY: &str = "stampede-mock";

/// How long the reachability check of an HTTP target may take.
const PREFLIGHT_TIMEOUT: Duration = Duration::from_secs(10);

/// A resolved destination for a run's attempts: everything the transport needs, nothing left
/// to look up.
#[derive(Debug, Clone)]
pub enum Endpoint {
    /// The mock's behaviour model, in-process (virtual time).
    Sim {
        /// The behaviour to model.
        profile: MockProfile,
    },
    /// The same model served over HTTP on an ephemeral port of 127.0.0.1 (real time).
    Mock {
        /// The behaviour to serve.
        profile: MockProfile,
        /// HTTP version of the client's connections.
        http: HttpVersion,
    },
    /// Gemini's REST API (the real service, or any server at `base_url`).
    Gemini {
        /// Base URL without a trailing slash.
        base_url: String,
        /// The API key, looked up once.
        key: ApiKey,
        /// HTTP version of plain `http://` connections.
        http: HttpVersion,
    },
    /// An OpenAI-compatible chat-completions API.
    Openai {
        /// Base URL up to and without `/chat/completions`, without a trailing slash.
        base_url: String,
        /// The API key (`None`: a local server that needs none).
        key: Option<ApiKey>,
        /// HTTP version of plain `http://` connections.
        http: HttpVersion,
    },
}

impl Endpoint {
    /// The mock profile a `sim` or `mock` endpoint serves.
    pub fn profile(&self) -> Option<&MockProfile> {
        match self {
            Endpoint::Sim { profile } | Endpoint::Mock { profile, .. } => Some(profile),
            _ => None,
        }
    }
}

/// Why a transport could not be built.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConnectError(pub String);

/// A built transport: the backend, and the server it talks to when that lives in this process
/// (stopped when this is dropped).
pub struct Connected {
    /// Where attempts go.
    pub backend: Arc<dyn Backend>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Drop for Connected {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// What a transport is built with besides its endpoint.
#[derive(Clone)]
pub struct ConnectOptions {
    /// Seed of the model's random streams (sim and mock).
    pub seed: u64,
    /// Connections kept per host (the worker count).
    pub pool: usize,
    /// Where live transports record connection set-up timings.
    pub timings: Arc<ConnectionTimings>,
    /// `thinkingConfig` every Gemini-shaped call asks for (the scenario's budget or level).
    pub thinking: stampede_mock::thinking::Thinking,
    /// Characters per token of synthesised prompts on HTTP targets (the scenario's profile's;
    /// the mock's own profile for a mock target).
    pub density: stampede_mock::tokens::TokenRules,
}

/// Builds the transport for `endpoint`; called on the runtime that will drive it (the model of
/// a `sim` endpoint reads that runtime's paused clock). HTTP targets are first checked to accept
/// TCP connections, so an unreachable one is reported as such instead of as a run of transport
/// errors.
pub async fn connect(endpoint: &Endpoint, options: ConnectOptions) -> Result<Connected, ConnectError> {
    match endpoint {
        Endpoint::Sim { profile } => {
            let model = Arc::new(MockModel::new(profile.clone(), options.seed));
            Ok(Connected {
                backend: Arc::new(SimBackend::new(model, options.thinking)),
                server: None,
            })
        }
        Endpoint::Mock { profile, http } => {
            let model = Arc::new(MockModel::new(profile.clone(), options.seed));
            let (addr, server) = server::spawn(
                model,
                ServerOptions::default(),
                SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            )
            .await
            .map_err(|e| ConnectError(format!("could not start the mock on 127.0.0.1: {e}")))?;
            let backend = GeminiBackend::new(GeminiOptions {
                base_url: format!("http://{addr}"),
                key: ApiKey::new(MOCK_KEY),
                pool: options.pool,
                send_hints: true,
                thinking: options.thinking,
                timings: Some(options.timings),
                http: *http,
                density: profile.token_rules(),
            })
            .map_err(|e| ConnectError(format!("could not build the HTTP client: {e}")))?;
            Ok(Connected {
                backend: Arc::new(backend),
                server: Some(server),
            })
        }
        Endpoint::Gemini { base_url, key, http } => {
            preflight(base_url).await?;
            remote(GeminiBackend::new(GeminiOptions {
                base_url: base_url.clone(),
                key: key.clone(),
                pool: options.pool,
                send_hints: false,
                thinking: options.thinking,
                timings: Some(options.timings),
                http: *http,
                density: options.density.clone(),
            }))
        }
        Endpoint::Openai { base_url, key, http } => {
            preflight(base_url).await?;
            remote(OpenAiBackend::new(OpenAiOptions {
                base_url: base_url.clone(),
                key: key.clone(),
                pool: options.pool,
                send_hints: false,
                timings: Some(options.timings),
                http: *http,
                density: options.density.clone(),
            }))
        }
    }
}

/// A backend to a server of someone else's, as built.
fn remote<B: Backend + 'static>(built: anyhow::Result<B>) -> Result<Connected, ConnectError> {
    let backend = built.map_err(|e| ConnectError(format!("could not build the HTTP client: {e}")))?;
    Ok(Connected {
        backend: Arc::new(backend),
        server: None,
    })
}

/// Checks that the target's host accepts TCP connections within [`PREFLIGHT_TIMEOUT`].
async fn preflight(base_url: &str) -> Result<(), ConnectError> {
    let url = reqwest::Url::parse(base_url).map_err(|e| ConnectError(format!("base URL {base_url:?}: {e}")))?;
    let host = url
        .host_str()
        .ok_or_else(|| ConnectError(format!("base URL {base_url:?} has no host")))?;
    let port = url.port_or_known_default().unwrap_or(443);
    let connect = tokio::net::TcpStream::connect((host, port));
    match tokio::time::timeout(PREFLIGHT_TIMEOUT, connect).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(ConnectError(format!("the target {host}:{port} is unreachable: {e}"))),
        Err(_) => Err(ConnectError(format!(
            "the target {host}:{port} did not answer within {} s",
            PREFLIGHT_TIMEOUT.as_secs()
        ))),
    }
}
