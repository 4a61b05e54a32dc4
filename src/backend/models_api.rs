//! Gemini's Models API (`GET /v1beta/models`, paginated): which models a project can call and
//! their token limits, as `stampede catalog check` compares them with the catalog. It never
//! sends generation traffic; the key goes in its one header and nowhere else.

use std::time::Duration;

use serde::Deserialize;

use super::ApiKey;

/// Pages read at most (1,000 models each): a server that never stops paging is cut off.
const MAX_PAGES: usize = 50;
/// Bytes of one page read at most.
const MAX_PAGE_BYTES: usize = 8 << 20;

/// One model as the API lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListedModel {
    /// `models/<id>`.
    pub name: String,
    /// Largest prompt.
    #[serde(default)]
    pub input_token_limit: u64,
    /// Largest answer.
    #[serde(default)]
    pub output_token_limit: u64,
    /// Methods it serves (`generateContent`, `embedContent`, …).
    #[serde(default)]
    pub supported_generation_methods: Vec<String>,
}

impl ListedModel {
    /// The id without `models/`.
    pub fn id(&self) -> &str {
        self.name.strip_prefix("models/").unwrap_or(&self.name)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Page {
    #[serde(default)]
    models: Vec<ListedModel>,
    #[serde(default)]
    next_page_token: Option<String>,
}

/// Every model `base_url` lists for `key`, page by page.
pub async fn list_models(base_url: &str, key: &ApiKey) -> Result<Vec<ListedModel>, String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| format!("could not build the HTTP client: {e}"))?;
    let base = base_url.trim_end_matches('/');
    let (mut models, mut token) = (Vec::new(), None::<String>);
    for _ in 0..MAX_PAGES {
        let mut url = format!("{base}/v1beta/models?pageSize=1000");
        if let Some(t) = &token {
            url.push_str("&pageToken=");
            url.push_str(&form_encode(t));
        }
        let page = fetch_page(&client, &url, key).await?;
        models.extend(page.models);
        match page.next_page_token.filter(|t| !t.is_empty()) {
            Some(t) => token = Some(t),
            None => return Ok(models),
        }
    }
    Err(format!(
        "{base}/v1beta/models: still paging after {MAX_PAGES} pages; stopped"
    ))
}

/// One page, its size bounded.
async fn fetch_page(client: &reqwest::Client, url: &str, key: &ApiKey) -> Result<Page, String> {
    let shown = url.split('?').next().unwrap_or(url);
    let mut response = client
        .get(url)
        .header("x-goog-api-key", key.expose())
        .send()
        .await
        .map_err(|e| format!("{shown}: {}", e.without_url()))?;
    let status = response.status();
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("{shown}: {}", e.without_url()))?
    {
        if body.len() + chunk.len() > MAX_PAGE_BYTES {
            return Err(format!(
                "{shown}: a page larger than {} MiB; stopped",
                MAX_PAGE_BYTES >> 20
            ));
        }
        body.extend_from_slice(&chunk);
    }
    if !status.is_success() {
        let text = String::from_utf8_lossy(&body);
        let cut: String = text.chars().take(300).collect();
        return Err(format!("{shown}: HTTP {status}: {cut}"));
    }
    serde_json::from_slice(&body).map_err(|e| format!("{shown}: not a models list: {e}"))
}

/// A page token as a query value (tokens are opaque; only the characters a query needs kept
/// apart are escaped).
fn form_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_tokens_are_read_as_the_api_writes_them() {
        let page: Page = serde_json::from_str(
            r#"{"models":[{"name":"models/gemini-3.8-flash","inputTokenLimit":1048576,"outputTokenLimit":65536,
                "supportedGenerationMethods":["generateContent"]}],"nextPageToken":"a b/="}"#,
        )
        .unwrap();
        assert_eq!(page.models[0].id(), "gemini-3.8-flash");
        assert_eq!(form_encode(page.next_page_token.as_deref().unwrap()), "a%20b%2F%3D");
    }
}
