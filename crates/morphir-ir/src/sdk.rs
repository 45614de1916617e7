//! The Morphir SDK types that backends map to their own primitives.

use crate::name::FQName;

/// A type of the Morphir SDK (`Morphir.SDK.*`) with a meaning backends know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SdkType {
    /// `Basics.Bool`.
    Bool,
    /// `Char.Char`.
    Char,
    /// `Basics.Int` (and `Int.Int8` .. `Int.Int64`).
    Int,
    /// `Basics.Float` (and `Number.Number`).
    Float,
    /// `String.String`.
    String,
    /// `Decimal.Decimal`.
    Decimal,
    /// `LocalDate.LocalDate`.
    LocalDate,
    /// `LocalTime.LocalTime`.
    LocalTime,
    /// `LocalDate.Month`.
    Month,
    /// `LocalDate.DayOfWeek`.
    DayOfWeek,
    /// `Basics.Order`.
    Order,
    /// `Maybe.Maybe a`.
    Maybe,
    /// `List.List a`.
    List,
    /// `Set.Set a`.
    Set,
    /// `Dict.Dict k v`.
    Dict,
    /// `Result.Result e a`.
    Result,
}

/// The month names, as custom-type constructors in title case.
pub const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// The day names, as custom-type constructors in title case.
pub const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// True if `fq` is in the Morphir SDK package (`morphir/s-d-k`, or `morphir/sdk` as v4 drafts
/// write it).
pub fn is_sdk(fq: &FQName) -> bool {
    let words: String = fq
        .package
        .names()
        .iter()
        .flat_map(|n| n.words().iter().map(String::as_str))
        .collect();
    words == "morphirsdk"
}

/// The SDK type `fq` names, if it is one this crate knows.
pub fn sdk_type(fq: &FQName) -> Option<SdkType> {
    if !is_sdk(fq) {
        return None;
    }
    let module = fq.module.to_string();
    let local = fq.local.to_string();
    Some(match (module.as_str(), local.as_str()) {
        ("basics", "bool") => SdkType::Bool,
        ("basics" | "int", "int") | ("int", "int8" | "int16" | "int32" | "int64") => SdkType::Int,
        ("basics" | "float", "float") | ("number", "number") => SdkType::Float,
        ("basics", "order") => SdkType::Order,
        ("char", "char") => SdkType::Char,
        ("string", "string") => SdkType::String,
        ("decimal", "decimal") => SdkType::Decimal,
        ("local-date", "local-date") => SdkType::LocalDate,
        ("local-time", "local-time") => SdkType::LocalTime,
        ("local-date" | "month", "month") => SdkType::Month,
        ("local-date" | "day-of-week", "day-of-week") => SdkType::DayOfWeek,
        ("maybe", "maybe") => SdkType::Maybe,
        ("list", "list") => SdkType::List,
        ("set", "set") => SdkType::Set,
        ("dict", "dict") => SdkType::Dict,
        ("result", "result") => SdkType::Result,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdk_types_are_recognised_in_both_spellings() {
        let fq = |s: &str| FQName::parse(s).unwrap();
        assert_eq!(
            sdk_type(&fq("morphir/s-d-k:basics#int")),
            Some(SdkType::Int)
        );
        assert_eq!(
            sdk_type(&fq("morphir/sdk:string#string")),
            Some(SdkType::String)
        );
        assert_eq!(
            sdk_type(&fq("morphir/SDK:local-date#month")),
            Some(SdkType::Month)
        );
        assert_eq!(sdk_type(&fq("morphir/s-d-k:basics#never")), None);
        assert_eq!(sdk_type(&fq("my/app:basics#int")), None);
    }
}
