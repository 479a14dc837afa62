//! Durations as configuration and flags write them: `90s`, `5m`, `24h`, `7d`.

use std::time::Duration;

/// Parses a whole number followed by `s`, `m`, `h` or `d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid =
        || format!("{text:?} is not a duration: expected a number and s, m, h or d (as in 7d)");
    let text = text.trim();
    let unit = text.chars().last().ok_or_else(invalid)?;
    let number: u64 = text[..text.len() - unit.len_utf8()]
        .parse()
        .map_err(|_| invalid())?;
    let factor = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return Err(invalid()),
    };
    number
        .checked_mul(factor)
        .map(Duration::from_secs)
        .ok_or_else(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_unit_and_refuses_the_rest() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(604_800)));
        for bad in [
            "",
            "d",
            "7",
            "7w",
            "-1d",
            "1.5h",
            "99999999999999999999d",
            "7é",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
