//! The API key of an HTTP target, kept out of every log, debug print and output file.

/// An API key that never shows itself.
#[derive(Clone)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> ApiKey {
        ApiKey(key.into())
    }

    /// The key itself, for the one header that carries it.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

/// Why a key read from the environment cannot be sent: said without the key itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyProblem {
    /// The bytes are not UTF-8.
    #[error("is not UTF-8 text")]
    NotUtf8,
    /// Whitespace before or after the key (a newline from `echo` or a file, most often).
    #[error("has whitespace before or after the key (a newline from `echo` or a file?)")]
    Whitespace,
    /// A space, a control or a non-ASCII character inside the key.
    #[error("has a character that is not printable ASCII at position {0}")]
    Unprintable(usize),
}

impl ApiKey {
    /// A key as read from the environment, if a server can take it in a header: UTF-8,
    /// printable ASCII, no whitespace around it. (A trailing newline would make every request
    /// fail with 403; a non-ASCII byte cannot go in a header.)
    pub fn from_env_value(value: std::ffi::OsString) -> Result<ApiKey, KeyProblem> {
        let text = value.into_string().map_err(|_| KeyProblem::NotUtf8)?;
        if text.trim() != text {
            return Err(KeyProblem::Whitespace);
        }
        if let Some(at) = text.chars().position(|c| !c.is_ascii_graphic()) {
            return Err(KeyProblem::Unprintable(at + 1));
        }
        Ok(ApiKey(text))
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    #[test]
    fn keys_a_header_cannot_carry_are_refused() {
        assert!(ApiKey::from_env_value("AIza-good_key".into()).is_ok());
        let problem = |v: &str| ApiKey::from_env_value(OsString::from(v)).unwrap_err();
        assert_eq!(problem("AIzakey\n"), KeyProblem::Whitespace);
        assert_eq!(problem(" AIzakey"), KeyProblem::Whitespace);
        assert_eq!(problem("AIz\u{e9}key"), KeyProblem::Unprintable(4));
        assert_eq!(problem("AI\u{7}key"), KeyProblem::Unprintable(3));
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStringExt;
            let bad = OsString::from_vec(vec![b'A', 0xff]);
            assert_eq!(ApiKey::from_env_value(bad).unwrap_err(), KeyProblem::NotUtf8);
        }
    }
}
