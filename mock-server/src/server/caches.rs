//! `cachedContents`: explicit context caches (create, get, list, update the TTL, delete), as
//! the official SDK's `client.caches` calls them.

use std::time::{Duration, SystemTime};

use axum::extract::{Path, Request, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{api_key, page_query, reply, request_key, to_wall, AppState};
use crate::bounds::MAX_CACHE_TTL_SECS;
use crate::context_cache::CachedContent;
use crate::errors::{parse_proto_duration, ApiError};
use crate::wire::{invalid_payload_message, Content};

/// The TTL of a cache created without `ttl` or `expireTime` (the caching docs: one hour).
const DEFAULT_TTL: Duration = Duration::from_secs(3600);

/// The body of a create or update.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CacheBody {
    model: Option<String>,
    #[serde(default)]
    contents: Vec<Content>,
    system_instruction: Option<Content>,
    ttl: Option<String>,
    expire_time: Option<String>,
    display_name: Option<String>,
}

impl CacheBody {
    /// The time to live it asks for: `ttl` ("300s"), or `expireTime` (RFC 3339) from now.
    fn ttl(&self) -> Result<Option<Duration>, ApiError> {
        if let Some(t) = &self.ttl {
            return parse_proto_duration(t).map(Some).ok_or_else(|| {
                ApiError::invalid_argument(format!(
                    "Invalid value at 'ttl' ({t:?}): expected a duration such as \"300s\""
                ))
            });
        }
        if let Some(t) = &self.expire_time {
            let shown: String = t.chars().take(40).collect();
            let at = humantime::parse_rfc3339_weak(t).map_err(|_| {
                ApiError::invalid_argument(format!(
                    "Invalid value at 'expire_time' ({shown:?}): expected an RFC 3339 time"
                ))
            })?;
            let ahead = at.duration_since(SystemTime::now()).unwrap_or_default();
            if ahead.is_zero() || ahead > Duration::from_secs(MAX_CACHE_TTL_SECS) {
                return Err(ApiError::invalid_argument(format!(
                    "Invalid value at 'expire_time' ({shown:?}): must be in the future and at most 30 days ahead."
                )));
            }
            return Ok(Some(ahead));
        }
        Ok(None)
    }
}

fn resource(c: &CachedContent) -> Value {
    json!({
        "name": c.name,
        "model": format!("models/{}", c.model),
        "displayName": c.display_name,
        "createTime": to_wall(c.created),
        "updateTime": to_wall(c.updated),
        "expireTime": to_wall(c.expires),
        "usageMetadata": {"totalTokenCount": c.tokens},
    })
}

async fn body_of(state: &AppState, request: Request) -> Result<(Option<String>, CacheBody), ApiError> {
    let (parts, body) = request.into_parts();
    let key = api_key(&parts.headers, parts.uri.query());
    let bytes = state.read_body(&parts.headers, body).await?;
    crate::bounds::json_nodes(&bytes, crate::bounds::MAX_JSON_NODES)?;
    let parsed = if bytes.is_empty() {
        CacheBody::default()
    } else {
        serde_json::from_slice(&bytes).map_err(|e| ApiError::invalid_argument(invalid_payload_message(&e)))?
    };
    Ok((key, parsed))
}

/// `POST /{version}/cachedContents`.
pub async fn create(State(state): State<AppState>, request: Request) -> Response {
    let result = async {
        let (key, body) = body_of(&state, request).await?;
        let model = body
            .model
            .as_deref()
            .map(|m| m.strip_prefix("models/").unwrap_or(m))
            .ok_or_else(|| ApiError::invalid_argument("CachedContent.model is required."))?;
        let texts = body.system_instruction.iter().chain(body.contents.iter());
        let tokens = state
            .model
            .profile()
            .token_rule(model)
            .count(texts.flat_map(|c| c.parts.iter()).filter_map(|p| p.text.as_deref()));
        let ttl = body.ttl()?.unwrap_or(DEFAULT_TTL);
        let name = body.display_name.as_deref().unwrap_or("");
        let c = state.model.create_cache(key.as_deref(), model, name, tokens, ttl)?;
        Ok(resource(&c))
    }
    .await;
    reply(result)
}

/// `GET /{version}/cachedContents?pageSize=&pageToken=`.
pub async fn list(State(state): State<AppState>, request: Request) -> Response {
    let key = request_key(&request);
    let result = page_query(request.uri().query(), 100, "cachedContents/").and_then(|(size, after)| {
        let (caches, next) = state.model.list_caches(key.as_deref(), after.as_deref(), size)?;
        let mut body = json!({"cachedContents": caches.iter().map(resource).collect::<Vec<_>>()});
        if let Some(next) = next {
            body["nextPageToken"] = json!(next.trim_start_matches("cachedContents/"));
        }
        Ok(body)
    });
    reply(result)
}

/// `GET /{version}/cachedContents/{id}`.
pub async fn get(State(state): State<AppState>, Path((_v, id)): Path<(String, String)>, request: Request) -> Response {
    let key = request_key(&request);
    let name = format!("cachedContents/{id}");
    reply(state.model.get_cache(key.as_deref(), &name).map(|c| resource(&c)))
}

/// `PATCH /{version}/cachedContents/{id}`: a new `ttl` or `expireTime`.
pub async fn update(
    State(state): State<AppState>,
    Path((_v, id)): Path<(String, String)>,
    request: Request,
) -> Response {
    let name = format!("cachedContents/{id}");
    let result = async {
        let (key, body) = body_of(&state, request).await?;
        let ttl = body
            .ttl()?
            .ok_or_else(|| ApiError::invalid_argument("Either ttl or expire_time must be set."))?;
        Ok(resource(&state.model.update_cache(key.as_deref(), &name, ttl)?))
    }
    .await;
    reply(result)
}

/// `DELETE /{version}/cachedContents/{id}`.
pub async fn delete(
    State(state): State<AppState>,
    Path((_v, id)): Path<(String, String)>,
    request: Request,
) -> Response {
    let key = request_key(&request);
    let name = format!("cachedContents/{id}");
    reply(state.model.delete_cache(key.as_deref(), &name).map(|()| json!({})))
}
