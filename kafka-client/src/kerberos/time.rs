//! KerberosTime (GeneralizedTime, whole seconds, UTC) to and from Unix seconds.

use std::time::{SystemTime, UNIX_EPOCH};

use picky_asn1::date::Date;
use picky_asn1::wrapper::GeneralizedTimeAsn1;

use super::KerberosFailure;

/// A point in time as Kerberos messages carry it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct KrbTime {
    /// Seconds since the Unix epoch.
    pub(crate) secs: i64,
    /// Microseconds within the second (`cusec`).
    pub(crate) micros: u32,
}

impl KrbTime {
    /// The current wall-clock time.
    pub(crate) fn now() -> Self {
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Self {
            secs: d.as_secs() as i64,
            micros: d.subsec_micros(),
        }
    }

    /// This time plus `secs` seconds (whole seconds, micros dropped).
    pub(crate) fn plus_secs(self, secs: i64) -> Self {
        Self {
            secs: self.secs.saturating_add(secs),
            micros: 0,
        }
    }

    /// As a GeneralizedTime.
    pub(crate) fn to_asn1(self) -> GeneralizedTimeAsn1 {
        let days = self.secs.div_euclid(86_400);
        let rem = self.secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let year = y.clamp(1970, 9999) as u16;
        let date = Date::new(
            year,
            m as u8,
            d as u8,
            (rem / 3600) as u8,
            (rem % 3600 / 60) as u8,
            (rem % 60) as u8,
        )
        .or_else(|| Date::new(9999, 12, 31, 23, 59, 59))
        .expect("a valid date");
        GeneralizedTimeAsn1::from(date)
    }

    /// From a GeneralizedTime.
    pub(crate) fn from_asn1(t: &GeneralizedTimeAsn1) -> Result<Self, KerberosFailure> {
        let d = &t.0;
        let (month, day) = (d.month(), d.day());
        if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
            return Err(KerberosFailure::Protocol("a malformed KerberosTime".into()));
        }
        let days = days_from_civil(i64::from(d.year()), i64::from(month), i64::from(day));
        Ok(Self {
            secs: days * 86_400
                + i64::from(d.hour()) * 3600
                + i64::from(d.minute()) * 60
                + i64::from(d.second()),
            micros: 0,
        })
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01 (inverse of [`days_from_civil`]).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_generalized_time() {
        for secs in [0i64, 951_782_400, 1_700_000_000, 4_102_444_799] {
            let t = KrbTime { secs, micros: 0 };
            assert_eq!(KrbTime::from_asn1(&t.to_asn1()).unwrap(), t, "{secs}");
        }
        // 2000-02-29 00:00:00 UTC
        let leap = KrbTime {
            secs: 951_782_400,
            micros: 0,
        }
        .to_asn1();
        assert_eq!((leap.0.year(), leap.0.month(), leap.0.day()), (2000, 2, 29));
    }
}
