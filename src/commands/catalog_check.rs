//! `stampede catalog check`: the catalog against what the Models API lists — models the API
//! serves that the catalog lacks, catalog models the API no longer lists, and token limits that
//! disagree — so a CI job can watch for drift.

use stampede_mock::catalog::data::Catalog;
use stampede_mock::catalog::lifecycle::{self, Standing};

use crate::backend::models_api::ListedModel;

/// How the catalog and the API differ.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Drift {
    /// Gemini models the API lists for generation that the catalog lacks.
    pub not_in_catalog: Vec<String>,
    /// Catalog models (not shut down) that the API does not list.
    pub not_listed: Vec<String>,
    /// `(model, limit, catalog's, API's)` where a token limit disagrees.
    pub limits: Vec<(String, &'static str, u64, u64)>,
    /// Listed models left out of the comparison (not `gemini-*`, or no `generateContent`).
    pub not_compared: usize,
}

impl Drift {
    /// Whether the catalog and the API agree.
    pub fn is_empty(&self) -> bool {
        self.not_in_catalog.is_empty() && self.not_listed.is_empty() && self.limits.is_empty()
    }
}

/// Compares `listed` with `catalog` on `today` (a model shut down by then is expected to be
/// missing from the list).
pub fn drift(listed: &[ListedModel], catalog: &Catalog, today: &str) -> Drift {
    let generates = |m: &&ListedModel| {
        m.id().starts_with("gemini-")
            && (m.supported_generation_methods.is_empty()
                || m.supported_generation_methods.iter().any(|g| g == "generateContent"))
    };
    let compared: Vec<&ListedModel> = listed.iter().filter(generates).collect();
    let mut d = Drift {
        not_compared: listed.len() - compared.len(),
        ..Drift::default()
    };
    for m in &compared {
        match catalog.models.get(m.id()) {
            None => d.not_in_catalog.push(m.id().to_string()),
            Some(entry) => {
                let pairs = [
                    ("input_token_limit", entry.input_token_limit, m.input_token_limit),
                    ("output_token_limit", entry.output_token_limit, m.output_token_limit),
                ];
                for (what, ours, theirs) in pairs {
                    if ours != theirs {
                        d.limits.push((m.id().to_string(), what, ours, theirs));
                    }
                }
            }
        }
    }
    for id in catalog.models.keys() {
        let gone = matches!(lifecycle::standing(catalog, id, today), Standing::Refused(_));
        if !gone && !compared.iter().any(|m| m.id() == id) {
            d.not_listed.push(id.clone());
        }
    }
    d
}

/// The drift as text for the terminal.
pub fn describe(d: &Drift, listed: usize, base_url: &str) -> String {
    let mut out = format!(
        "{base_url}/v1beta/models lists {listed} models; compared: the gemini-* models that serve generateContent \
         ({} others left out)\n",
        d.not_compared
    );
    if d.is_empty() {
        out.push_str("the catalog agrees with the API: same models, same token limits\n");
        return out;
    }
    for id in &d.not_in_catalog {
        out.push_str(&format!(
            "  listed, not in the catalog: {id} (add it with --catalog FILE; `stampede run --dry-run` on it prints the snippet)\n"
        ));
    }
    for id in &d.not_listed {
        out.push_str(&format!("  in the catalog, not listed: {id}\n"));
    }
    for (id, what, ours, theirs) in &d.limits {
        out.push_str(&format!(
            "  {id}: {what} is {ours} in the catalog, {theirs} in the API\n"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(id: &str, input: u64, methods: &[&str]) -> ListedModel {
        ListedModel {
            name: format!("models/{id}"),
            input_token_limit: input,
            output_token_limit: 65536,
            supported_generation_methods: methods.iter().map(|m| m.to_string()).collect(),
        }
    }

    #[test]
    fn new_missing_and_disagreeing_models_are_found_and_shut_down_ones_expected_gone() {
        let c = stampede_mock::catalog::data::current();
        let mut api: Vec<ListedModel> = c
            .models
            .iter()
            .filter(|(id, _)| !matches!(lifecycle::standing(c, id, "2026-12-03"), Standing::Refused(_)))
            .map(|(id, m)| listed(id, m.input_token_limit, &["generateContent"]))
            .collect();
        assert!(drift(&api, c, "2026-12-03").is_empty());
        api.retain(|m| m.id() != "gemini-3.6-flash");
        api.push(listed("gemini-3.9-flash", 1048576, &["generateContent"]));
        api.push(listed("text-embedding-005", 2048, &["embedContent"]));
        api.iter_mut()
            .find(|m| m.id() == "gemini-3.8-flash")
            .unwrap()
            .input_token_limit = 2_000_000;
        let d = drift(&api, c, "2026-12-03");
        assert_eq!(d.not_in_catalog, ["gemini-3.9-flash"]);
        assert_eq!(d.not_listed, ["gemini-3.6-flash"]);
        assert_eq!(
            d.limits,
            [("gemini-3.8-flash".to_string(), "input_token_limit", 1048576, 2_000_000)]
        );
        assert_eq!(d.not_compared, 1);
    }
}
