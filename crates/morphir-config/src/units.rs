//! Sizes (`"100MB"`, `"2GiB"`) and durations (`"500ms"`, `"10s"`, `"2m"`).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The size units, largest first, with their factor. SI units are powers of 1000 and IEC units
/// powers of 1024, as their names say (the way disk vendors and `ls --si` count): `"1KB"` is
/// 1000 bytes and `"1KiB"` 1024.
const SIZE_UNITS: [(&str, u64); 7] = [
    ("GiB", 1 << 30),
    ("MiB", 1 << 20),
    ("KiB", 1 << 10),
    ("GB", 1_000_000_000),
    ("MB", 1_000_000),
    ("KB", 1_000),
    ("B", 1),
];

/// What a size must look like; ends every size error.
pub(crate) const SIZE_HELP: &str = "write a whole number followed by one of the units B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024), e.g. \"100MB\"";

/// What a duration must look like; ends every duration error.
pub(crate) const DURATION_HELP: &str =
    "write a whole number followed by ms, s or m, e.g. \"500ms\", \"10s\" or \"2m\"";

/// A number of bytes, parsed from a string such as `"100MB"` or `"2GiB"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(u64);

impl ByteSize {
    /// A size of `bytes` bytes.
    pub const fn new(bytes: u64) -> Self {
        Self(bytes)
    }

    /// The size in bytes.
    pub const fn bytes(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ByteSize {
    /// The largest unit that divides the size exactly, so the output parses back to the same
    /// value: `100MB`, `64KiB`, `1234B`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (unit, factor) = SIZE_UNITS
            .iter()
            .copied()
            .find(|&(_, factor)| self.0 != 0 && self.0.is_multiple_of(factor))
            .unwrap_or(("B", 1));
        write!(f, "{}{unit}", self.0 / factor)
    }
}

impl FromStr for ByteSize {
    type Err = String;

    /// Parses `<whole number><unit>` (spaces allowed between); see [`ByteSize`] for units.
    /// The error says what is wrong, without the help text.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (number, unit) = split_number(s)?;
        let Some(&(_, factor)) = SIZE_UNITS.iter().find(|(u, _)| *u == unit) else {
            return Err(if unit.is_empty() {
                "the unit is missing".to_owned()
            } else {
                format!("unknown unit `{unit}` (units are case-sensitive)")
            });
        };
        let bytes = number
            .checked_mul(factor)
            .ok_or_else(|| "the size is too large".to_owned())?;
        if bytes == 0 {
            return Err("the size must be greater than zero".to_owned());
        }
        Ok(Self(bytes))
    }
}

/// Parses `<whole number><unit>` with unit `ms`, `s` or `m`, e.g. `"10s"`. Zero is refused. The
/// error says what is wrong, without the help text.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let (number, unit) = split_number(s)?;
    let duration = match unit {
        "ms" => Duration::from_millis(number),
        "s" => Duration::from_secs(number),
        "m" => Duration::from_secs(
            number
                .checked_mul(60)
                .ok_or_else(|| "the duration is too large".to_owned())?,
        ),
        "" => return Err("the unit is missing".to_owned()),
        other => return Err(format!("unknown unit `{other}`")),
    };
    if duration.is_zero() {
        return Err("the duration must be greater than zero".to_owned());
    }
    Ok(duration)
}

/// `" 12 MB "` -> `(12, "MB")`.
fn split_number(s: &str) -> Result<(u64, &str), String> {
    let s = s.trim();
    let digits_end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, rest) = s.split_at(digits_end);
    if digits.is_empty() {
        return Err("it does not start with a whole number".to_owned());
    }
    if rest.starts_with(['.', ',']) {
        return Err("fractions are not supported".to_owned());
    }
    let number = digits
        .parse::<u64>()
        .map_err(|_| "the number is too large".to_owned())?;
    Ok((number, rest.trim_start()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        let ok = [
            ("1B", 1),
            ("100MB", 100_000_000),
            ("2GB", 2_000_000_000),
            ("1KB", 1000),
            ("1KiB", 1024),
            ("64 MiB", 64 << 20),
            (" 3GiB ", 3 << 30),
        ];
        for (text, bytes) in ok {
            assert_eq!(text.parse::<ByteSize>(), Ok(ByteSize(bytes)), "{text}");
        }
        for bad in [
            "",
            "MB",
            "100",
            "100mb",
            "1.5GB",
            "-1MB",
            "0MB",
            "12XB",
            "99999999999999999999B",
            "99999999999GiB",
        ] {
            assert!(bad.parse::<ByteSize>().is_err(), "{bad}");
        }
    }

    #[test]
    fn size_display_round_trips() {
        for text in ["100MB", "64KiB", "1234B", "2GiB", "1KB"] {
            let size: ByteSize = text.parse().unwrap();
            assert_eq!(size.to_string(), text);
            assert_eq!(size.to_string().parse::<ByteSize>(), Ok(size));
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("2 m"), Ok(Duration::from_secs(120)));
        for bad in ["", "10", "10h", "1.5s", "0s", "s", "10 seconds"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
