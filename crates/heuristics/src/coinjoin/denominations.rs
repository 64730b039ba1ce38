//! The Wasabi 2 standard denominations (spec §4.3), computed at compile time the way Dumplings'
//! `CreateWasabi2Denominations` does: every `2^i`, `3^i`, `2·3^i`, `10^i`, `2·10^i` and `5·10^i`
//! between 5,000 and 134,375,000,000 sats.

const MIN: u64 = 5_000;
const MAX: u64 = 134_375_000_000;

/// Room for the table. The six series hold 78 terms in range and share none, so 96 leaves slack;
/// a change to the series that outgrows it fails to compile instead of silently truncating.
const CAPACITY: usize = 96;

/// `(multiplier, base)` of each series `multiplier · base^i`.
const SERIES: [(u64, u64); 6] = [(1, 2), (1, 3), (2, 3), (1, 10), (2, 10), (5, 10)];

const BUILT: ([u64; CAPACITY], usize) = build();
static TABLE: [u64; CAPACITY] = BUILT.0;

/// The standard denominations in ascending order.
pub fn wasabi2_denominations() -> &'static [u64] {
    TABLE.get(..BUILT.1).unwrap_or(&[])
}

/// Whether `value` is one of the Wasabi 2 standard denominations.
pub fn is_wasabi2_denomination(value: u64) -> bool {
    wasabi2_denominations().binary_search(&value).is_ok()
}

const fn build() -> ([u64; CAPACITY], usize) {
    let mut table = [0u64; CAPACITY];
    let mut len = 0;
    let mut s = 0;
    while s < SERIES.len() {
        let (multiplier, base) = SERIES[s];
        let mut power = 1u64;
        while multiplier * power <= MAX {
            if multiplier * power >= MIN {
                len = insert_sorted(&mut table, len, multiplier * power);
            }
            power *= base;
        }
        s += 1;
    }
    (table, len)
}

/// Inserts `value` into the sorted prefix `table[..len]` unless present; returns the new length.
const fn insert_sorted(table: &mut [u64; CAPACITY], len: usize, value: u64) -> usize {
    let mut at = 0;
    while at < len && table[at] < value {
        at += 1;
    }
    if at < len && table[at] == value {
        return len;
    }
    let mut i = len;
    while i > at {
        table[i] = table[i - 1];
        i -= 1;
    }
    table[at] = value;
    len + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seventy_eight_values_from_5000_to_100_billion() {
        let d = wasabi2_denominations();
        assert_eq!(d.len(), 78);
        assert_eq!(d.first(), Some(&5_000));
        assert_eq!(d.last(), Some(&100_000_000_000));
        assert!(
            d.windows(2).all(|w| w[0] < w[1]),
            "ascending, no duplicates"
        );
    }

    #[test]
    fn smallest_values_match_the_spec_examples() {
        let expected = [
            5000, 6561, 8192, 10000, 13122, 16384, 19683, 20000, 32768, 39366, 50000, 59049,
        ];
        assert_eq!(&wasabi2_denominations()[..expected.len()], &expected);
    }

    #[test]
    fn membership() {
        for v in [2_097_152, 531_441, 1_062_882, 200_000_000, 5_000_000_000] {
            assert!(is_wasabi2_denomination(v), "{v}");
        }
        for v in [0, 4_096, 123_456, 2_097_153, 134_375_000_000, u64::MAX] {
            assert!(!is_wasabi2_denomination(v), "{v}");
        }
    }
}
