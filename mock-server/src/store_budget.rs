//! What a store of the mock (explicit caches, batch jobs) may hold: bytes per API key, bytes
//! in all, and entries per key.
//!
//! Stores are shared by every key the mock serves. Counting entries alone let one 60 MB
//! `displayName` per cache hold gigabytes, and let one key fill the store's whole count so
//! every other key was refused; a budget per key and in total bounds both.

use rustc_hash::FxHashMap;

/// The bounds of one store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreLimits {
    /// Bytes all keys' entries may hold together.
    pub total_bytes: u64,
    /// Bytes one key's entries may hold.
    pub key_bytes: u64,
    /// Entries one key may hold.
    pub key_entries: usize,
}

/// Why a store refused a new entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetRefusal {
    /// The entry alone is larger than one key may hold: it can never fit (400).
    EntryTooLarge {
        /// Its bytes.
        bytes: u64,
        /// What one key may hold.
        limit: u64,
    },
    /// The key holds as many entries as it may (429).
    KeyEntries {
        /// Entries one key may hold.
        limit: usize,
    },
    /// The key's entries hold as many bytes as it may (429).
    KeyBytes {
        /// Bytes the key holds now.
        held: u64,
        /// Bytes one key may hold.
        limit: u64,
    },
    /// All keys' entries hold as many bytes as the store may (429).
    TotalBytes {
        /// Bytes the store may hold.
        limit: u64,
    },
}

impl BudgetRefusal {
    /// The refusal as a sentence for an error message.
    pub fn describe(&self, what: &str) -> String {
        const MIB: f64 = 1024.0 * 1024.0;
        match *self {
            BudgetRefusal::EntryTooLarge { bytes, limit } => format!(
                "This {what} would take {:.1} MiB; one API key may hold {:.1} MiB of them in the stampede mock.",
                bytes as f64 / MIB,
                limit as f64 / MIB
            ),
            BudgetRefusal::KeyEntries { limit } => {
                format!("This API key already holds {limit} {what}s, the most one key may hold in the stampede mock.")
            }
            BudgetRefusal::KeyBytes { held, limit } => format!(
                "This API key's {what}s hold {:.1} MiB of the {:.1} MiB one key may hold in the stampede mock; delete some first.",
                held as f64 / MIB,
                limit as f64 / MIB
            ),
            BudgetRefusal::TotalBytes { limit } => format!(
                "The stampede mock's {what}s hold {:.1} MiB, all it keeps for every key together; retry after some expire or are deleted.",
                limit as f64 / MIB
            ),
        }
    }

    /// Whether the entry can never fit (a 400 rather than a 429).
    pub fn is_permanent(&self) -> bool {
        matches!(self, BudgetRefusal::EntryTooLarge { .. })
    }
}

/// The bytes and entries each key and the whole store hold.
#[derive(Debug)]
pub struct StoreBudget {
    limits: StoreLimits,
    total: u64,
    keys: FxHashMap<String, (u64, usize)>,
}

impl StoreBudget {
    /// An empty store under `limits`.
    pub fn new(limits: StoreLimits) -> StoreBudget {
        StoreBudget {
            limits,
            total: 0,
            keys: FxHashMap::default(),
        }
    }

    /// The store's bounds.
    pub fn limits(&self) -> StoreLimits {
        self.limits
    }

    /// Bytes and entries `key` holds.
    pub fn held(&self, key: &str) -> (u64, usize) {
        self.keys.get(key).copied().unwrap_or((0, 0))
    }

    /// Bytes all keys hold.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Whether `key` may add an entry of `bytes` now.
    pub fn check(&self, key: &str, bytes: u64) -> Result<(), BudgetRefusal> {
        let l = self.limits;
        if bytes > l.key_bytes {
            return Err(BudgetRefusal::EntryTooLarge {
                bytes,
                limit: l.key_bytes,
            });
        }
        let (held, entries) = self.held(key);
        if entries >= l.key_entries {
            return Err(BudgetRefusal::KeyEntries { limit: l.key_entries });
        }
        if held.saturating_add(bytes) > l.key_bytes {
            return Err(BudgetRefusal::KeyBytes {
                held,
                limit: l.key_bytes,
            });
        }
        if self.total.saturating_add(bytes) > l.total_bytes {
            return Err(BudgetRefusal::TotalBytes { limit: l.total_bytes });
        }
        Ok(())
    }

    /// Counts a new entry of `bytes` for `key` (after [`check`](Self::check)).
    pub fn add(&mut self, key: &str, bytes: u64) {
        let e = self.keys.entry(key.to_string()).or_default();
        e.0 = e.0.saturating_add(bytes);
        e.1 += 1;
        self.total = self.total.saturating_add(bytes);
    }

    /// Forgets an entry of `bytes` of `key`.
    pub fn remove(&mut self, key: &str, bytes: u64) {
        self.total = self.total.saturating_sub(bytes);
        if let Some(e) = self.keys.get_mut(key) {
            e.0 = e.0.saturating_sub(bytes);
            e.1 = e.1.saturating_sub(1);
            if e.1 == 0 {
                self.keys.remove(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_key_cannot_take_what_the_others_need() {
        let mut b = StoreBudget::new(StoreLimits {
            total_bytes: 1000,
            key_bytes: 400,
            key_entries: 2,
        });
        assert!(matches!(b.check("a", 401), Err(BudgetRefusal::EntryTooLarge { .. })));
        b.add("a", 300);
        assert!(matches!(
            b.check("a", 200),
            Err(BudgetRefusal::KeyBytes { held: 300, .. })
        ));
        b.add("a", 50);
        assert_eq!(b.check("a", 1), Err(BudgetRefusal::KeyEntries { limit: 2 }));
        // Another key still has its room.
        b.check("b", 400).unwrap();
        b.add("b", 400);
        b.add("c", 200);
        assert_eq!(b.check("d", 100), Err(BudgetRefusal::TotalBytes { limit: 1000 }));
        b.remove("a", 300);
        b.check("d", 100).unwrap();
        assert_eq!(b.held("a"), (50, 1));
        assert_eq!(b.total(), 650);
    }
}
