//! Latency histograms: HdrHistogram in microseconds, with the figures reports print.
//!
//! Values are recorded in whole microseconds (at least 1) with 3 significant digits, so any
//! percentile is exact to 0.1%. Percentiles are HdrHistogram's: the highest value equivalent to
//! the bucket holding the quantile. Histograms travel in summary.json in HdrHistogram's V2
//! compressed encoding (base64), so a saved run can be re-rendered without loss.

use std::time::Duration;

use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// A latency histogram.
#[derive(Debug, Clone)]
pub struct LatencyHistogram(Histogram<u64>);

impl Default for LatencyHistogram {
    fn default() -> Self {
        let mut h = Histogram::new(3).expect("3 significant digits is valid");
        h.auto(true);
        LatencyHistogram(h)
    }
}

/// Equal when they hold the same values (however each was sized).
impl PartialEq for LatencyHistogram {
    fn eq(&self, other: &LatencyHistogram) -> bool {
        self.0 == other.0
    }
}

/// A histogram travels (in a shard's mergeable state) as its [`encode`](LatencyHistogram::encode)d text.
impl Serialize for LatencyHistogram {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.encode())
    }
}

/// Read back through [`decode`](LatencyHistogram::decode), bounded as untrusted input.
impl<'de> Deserialize<'de> for LatencyHistogram {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        LatencyHistogram::decode(&text).map_err(serde::de::Error::custom)
    }
}

/// The figures of a histogram, in milliseconds; `None` when nothing was recorded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyStats {
    /// Values recorded.
    pub count: u64,
    /// Mean of the recorded values (ms); `None` when nothing was recorded.
    pub mean: Option<f64>,
    /// 50th percentile.
    pub p50: Option<f64>,
    /// 90th percentile.
    pub p90: Option<f64>,
    /// 95th percentile.
    pub p95: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
    /// 99.9th percentile.
    pub p999: Option<f64>,
    /// Largest value.
    pub max: Option<f64>,
}

fn ms(us: f64) -> f64 {
    us.round() / 1000.0
}

impl LatencyHistogram {
    /// Records one duration.
    pub fn record(&mut self, d: Duration) {
        let us = (d.as_micros().min(u128::from(u64::MAX)) as u64).max(1);
        if self.0.record(us).is_err() {
            self.0.saturating_record(us);
        }
    }

    /// Values recorded.
    pub fn count(&self) -> u64 {
        self.0.len()
    }

    /// The value at quantile `q` (0..=1) in milliseconds.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        (self.count() > 0).then(|| ms(self.0.value_at_quantile(q) as f64))
    }

    /// The share of values at or below `d` (0..=1).
    pub fn share_at_or_below(&self, d: Duration) -> f64 {
        if self.count() == 0 {
            return 0.0;
        }
        let us = d.as_micros() as u64;
        self.0
            .iter_recorded()
            .filter(|v| v.value_iterated_to() <= us)
            .map(|v| v.count_at_value())
            .sum::<u64>() as f64
            / self.count() as f64
    }

    /// The report figures.
    pub fn stats(&self) -> LatencyStats {
        let h = &self.0;
        if h.is_empty() {
            return LatencyStats::default();
        }
        let q = |q: f64| Some(ms(h.value_at_quantile(q) as f64));
        LatencyStats {
            count: h.len(),
            mean: Some(ms(h.mean())),
            p50: q(0.50),
            p90: q(0.90),
            p95: q(0.95),
            p99: q(0.99),
            p999: q(0.999),
            max: Some(ms(h.max() as f64)),
        }
    }

    /// (percentile, milliseconds) points for a percentile-spectrum plot, up to 99.99%.
    pub fn spectrum(&self) -> Vec<(f64, f64)> {
        if self.count() == 0 {
            return Vec::new();
        }
        let mut points = Vec::new();
        let mut q = 0.0;
        while q < 0.9999 {
            points.push((q * 100.0, ms(self.0.value_at_quantile(q) as f64)));
            // Ten points per halving of the remaining tail, as HdrHistogram's plots do.
            q += (1.0 - q) / 10.0;
        }
        points.push((99.99, ms(self.0.value_at_quantile(0.9999) as f64)));
        points
    }

    /// (bucket start ms, count) for a histogram plot with `buckets` linear buckets up to p99.9.
    pub fn buckets(&self, buckets: usize) -> Vec<(f64, u64)> {
        if self.count() == 0 || buckets == 0 {
            return Vec::new();
        }
        let top = self.0.value_at_quantile(0.999).max(1) as f64;
        let width = top / buckets as f64;
        let mut out: Vec<(f64, u64)> = (0..buckets).map(|i| (ms(i as f64 * width), 0)).collect();
        for v in self.0.iter_recorded() {
            let i = ((v.value_iterated_to() as f64 / width) as usize).min(buckets - 1);
            out[i].1 += v.count_at_value();
        }
        out
    }

    /// Adds another histogram's values.
    pub fn add(&mut self, other: &LatencyHistogram) {
        self.0.add(&other.0).expect("auto-resizing histograms always add");
    }

    /// HdrHistogram V2 compressed encoding, base64. Canonical: the values are copied into a
    /// histogram sized by their largest, so equal histograms encode alike however each was grown
    /// (recorded value by value, or added up from shards).
    pub fn encode(&self) -> String {
        let high = self.0.max().max(2);
        let mut canonical =
            Histogram::<u64>::new_with_bounds(1, high, 3).expect("1 to at least 2 at 3 digits is valid");
        canonical.auto(true);
        canonical.add(&self.0).expect("auto-resizing histograms always add");
        let mut bytes = Vec::new();
        V2DeflateSerializer::new()
            .serialize(&canonical, &mut bytes)
            .expect("serialising to memory cannot fail");
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    /// Reads [`encode`](Self::encode)'s output, as untrusted input: the text, what it inflates
    /// to and the histogram it declares are all bounded before anything is allocated for them,
    /// so a small hostile file cannot make a large allocation or a long decode.
    pub fn decode(text: &str) -> Result<LatencyHistogram, String> {
        if text.len() > MAX_ENCODED {
            return Err(format!(
                "histogram is {} bytes of text, more than {MAX_ENCODED}",
                text.len()
            ));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| format!("histogram is not base64: {e}"))?;
        let plain = inflate_v2(&bytes)?;
        let mut h: Histogram<u64> = Deserializer::new()
            .deserialize(&mut plain.as_slice())
            .map_err(|e| format!("histogram does not decode: {e:?}"))?;
        h.auto(true);
        Ok(LatencyHistogram(h))
    }

    /// The underlying histogram (for HdrHistogram's own log formats).
    pub fn inner(&self) -> &Histogram<u64> {
        &self.0
    }
}

/// The longest encoded histogram accepted (base64 text): ours are a few kilobytes.
pub const MAX_ENCODED: usize = 1 << 20;
/// The most an encoded histogram may inflate to.
pub const MAX_INFLATED: usize = 4 << 20;
/// The highest value a histogram may declare it tracks (µs): about 285 years.
pub const MAX_TRACKABLE: u64 = 1 << 53;

/// HdrHistogram's V2 cookies: the compressed wrapper, and the encoding inside it.
const V2_COMPRESSED_COOKIE: u32 = 0x1c84_9314;
const V2_COOKIE: u32 = 0x1c84_9313;
/// Bytes of a V2 header: cookie, payload length, normalizing offset, significant digits,
/// lowest and highest trackable values, integer-to-double ratio.
const V2_HEADER: usize = 40;

fn be_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn be_u64(b: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// The V2 encoding inside HdrHistogram's compressed V2 wrapper, checked: the declared lengths
/// match what is there, it inflates to at most [`MAX_INFLATED`], and it declares 3 significant
/// digits (as every histogram stampede writes) and a range within [`MAX_TRACKABLE`], so the
/// histogram it allocates is small.
fn inflate_v2(bytes: &[u8]) -> Result<Vec<u8>, String> {
    use std::io::Read as _;
    if bytes.len() < 8 || be_u32(bytes, 0) != V2_COMPRESSED_COOKIE {
        return Err("histogram is not HdrHistogram's compressed V2 encoding".into());
    }
    if be_u32(bytes, 4) as usize != bytes.len() - 8 {
        return Err("histogram's declared length does not match its bytes".into());
    }
    let mut plain = Vec::new();
    flate2::read::ZlibDecoder::new(&bytes[8..])
        .take(MAX_INFLATED as u64 + 1)
        .read_to_end(&mut plain)
        .map_err(|e| format!("histogram does not inflate: {e}"))?;
    if plain.len() > MAX_INFLATED {
        return Err(format!("histogram inflates past {MAX_INFLATED} bytes"));
    }
    if plain.len() < V2_HEADER || be_u32(&plain, 0) != V2_COOKIE {
        return Err("histogram's inner encoding is not V2".into());
    }
    if be_u32(&plain, 4) as usize != plain.len() - V2_HEADER {
        return Err("histogram's payload length does not match its bytes".into());
    }
    let (digits, lowest, highest) = (be_u32(&plain, 12), be_u64(&plain, 16), be_u64(&plain, 24));
    if digits != 3 || lowest < 1 || highest < 2 * lowest || highest > MAX_TRACKABLE {
        return Err(format!(
            "histogram declares {digits} significant digits and values {lowest}..={highest}; expected 3 and at most \
             {MAX_TRACKABLE}"
        ));
    }
    Ok(plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_of_a_known_set() {
        let mut h = LatencyHistogram::default();
        for ms in 1..=1000u64 {
            h.record(Duration::from_millis(ms));
        }
        let s = h.stats();
        assert_eq!(s.count, 1000);
        assert!((s.p50.unwrap() - 500.0).abs() <= 0.5, "{s:?}");
        assert!((s.p99.unwrap() - 990.0).abs() <= 1.0, "{s:?}");
        assert!((s.mean.unwrap() - 500.5).abs() <= 0.5, "{s:?}");
        assert!((s.max.unwrap() - 1000.0).abs() <= 1.0, "{s:?}");
        assert!((h.share_at_or_below(Duration::from_millis(250)) - 0.25).abs() < 0.002);
    }

    #[test]
    fn empty_has_no_figures_not_zeros() {
        let s = LatencyHistogram::default().stats();
        assert_eq!(s.count, 0);
        assert_eq!(s.p50, None);
    }

    #[test]
    fn encoding_round_trips() {
        let mut h = LatencyHistogram::default();
        for us in [1u64, 50, 900_000, 6_000_000, 3_600_000_000] {
            h.record(Duration::from_micros(us));
        }
        let back = LatencyHistogram::decode(&h.encode()).unwrap();
        assert_eq!(back.stats(), h.stats());
        assert!(LatencyHistogram::decode("%%%").is_err());
    }

    /// Re-wraps a V2 encoding `plain` as the compressed V2 text `encode` writes.
    fn wrap(plain: &[u8]) -> String {
        use std::io::Write as _;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(plain).unwrap();
        let packed = z.finish().unwrap();
        let mut out = V2_COMPRESSED_COOKIE.to_be_bytes().to_vec();
        out.extend((packed.len() as u32).to_be_bytes());
        out.extend(packed);
        base64::engine::general_purpose::STANDARD.encode(out)
    }

    #[test]
    fn hostile_histograms_are_refused_before_they_allocate() {
        let mut h = LatencyHistogram::default();
        h.record(Duration::from_millis(12));
        let bytes = base64::engine::general_purpose::STANDARD.decode(h.encode()).unwrap();
        let plain = inflate_v2(&bytes).unwrap();
        assert_eq!(LatencyHistogram::decode(&wrap(&plain)).unwrap().count(), 1);
        // A histogram declaring a huge range (a 2 GB counts array) is refused.
        let mut huge = plain.clone();
        huge[24..32].copy_from_slice(&u64::MAX.to_be_bytes());
        assert!(LatencyHistogram::decode(&wrap(&huge)).unwrap_err().contains("at most"));
        // So are 5 significant digits, a payload length that lies, and a zlib bomb.
        let mut digits = plain.clone();
        digits[12..16].copy_from_slice(&5u32.to_be_bytes());
        assert!(LatencyHistogram::decode(&wrap(&digits)).is_err());
        let mut lies = plain.clone();
        lies[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(LatencyHistogram::decode(&wrap(&lies)).is_err());
        let bomb = wrap(&vec![0u8; MAX_INFLATED + 100]);
        assert!(bomb.len() < 20_000, "the bomb is {} bytes", bomb.len());
        assert!(LatencyHistogram::decode(&bomb).unwrap_err().contains("inflates past"));
    }

    #[test]
    fn spectrum_reaches_the_far_tail() {
        let mut h = LatencyHistogram::default();
        for ms in 1..=10_000u64 {
            h.record(Duration::from_millis(ms));
        }
        let s = h.spectrum();
        assert_eq!(s.first().unwrap().0, 0.0);
        assert_eq!(s.last().unwrap().0, 99.99);
        assert!(s.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1));
        let b = h.buckets(10);
        assert_eq!(b.iter().map(|x| x.1).sum::<u64>(), 10_000);
    }
}
