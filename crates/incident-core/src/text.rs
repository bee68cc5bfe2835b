//! Free text that ends up in messages people read: one rule for line breaks and control characters.
//!
//! The runbook's templates are line-oriented (`Status: ...` on its own line, `Impact: ...` on the
//! next), so a value with a line break in it can forge a line: `--impact $'line1\nStatus: resolved'`
//! would render a second `Status:` line that readers (and tools parsing the message) would believe.
//!
//! * **Typed input** (a CLI flag, a binding argument): [`single_line`] *refuses* a value holding a line
//!   break or any other control character (`char::is_control`: C0, DEL, C1, which includes `\n`, `\r`,
//!   `\t`, NEL, ESC of terminal escape sequences) or a Unicode line/paragraph separator (U+2028,
//!   U+2029), with [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) naming the field and the
//!   position. [`multi_line`] is the same for the few fields that are a block by design (the technical
//!   `details` of an update, the last section of its template): line feeds are kept, every other control
//!   character is refused.
//! * **Data that did not come from a person at a prompt** (an alert's summary, an incident read from a
//!   store, a title derived from a rule): the templates [`neutralise`] it, replacing each such character
//!   with a space, so a message always has the template's lines and only those.

use std::borrow::Cow;

use crate::{Error, Result};

/// Whether `c` breaks a line or is a control character (see the module docs).
#[must_use]
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

fn describe(c: char) -> String {
    match c {
        '\n' => "a line break (\\n)".to_owned(),
        '\r' => "a carriage return (\\r)".to_owned(),
        '\t' => "a tab (\\t)".to_owned(),
        '\u{2028}' | '\u{2029}' => format!("a line separator (U+{:04X})", u32::from(c)),
        c => format!("a control character (U+{:04X})", u32::from(c)),
    }
}

fn check(field: &str, value: &str, allow_newline: bool) -> Result<()> {
    let found = value.chars().enumerate().find(|(_, c)| is_unsafe_char(*c) && !(allow_newline && *c == '\n'));
    match found {
        None => Ok(()),
        Some((i, c)) => Err(Error::invalid_input(format!(
            "{field} must be {} text: it holds {} at character {}",
            if allow_newline { "printable" } else { "single-line" },
            describe(c),
            i + 1
        ))),
    }
}

/// `value` if it is not blank (empty or only whitespace): the rule for every required name a caller
/// types (an actor, an on-call engineer, a service, a namespace, a procedure and stage). The bindings call
/// it (or a core function that does) rather than checking themselves.
///
/// # Errors
/// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput), `"{field} must not be empty"`.
pub fn non_blank<'a>(field: &str, value: &'a str) -> Result<&'a str> {
    if value.trim().is_empty() { Err(Error::invalid_input(format!("{field} must not be empty"))) } else { Ok(value) }
}

/// Refuse `value` if it holds a line break or a control character (typed input; see the module docs).
///
/// # Errors
/// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) naming `field`, the character and its
/// position (1-based, in characters).
pub fn single_line(field: &str, value: &str) -> Result<()> {
    check(field, value, false)
}

/// Refuse `value` if it holds a control character other than a line feed (a multi-line block).
///
/// # Errors
/// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) as [`single_line`].
pub fn multi_line(field: &str, value: &str) -> Result<()> {
    check(field, value, true)
}

/// `value` with every line break and control character replaced by a space (borrowed when clean).
#[must_use]
pub fn neutralise(value: &str) -> Cow<'_, str> {
    if value.chars().any(is_unsafe_char) {
        Cow::Owned(value.chars().map(|c| if is_unsafe_char(c) { ' ' } else { c }).collect())
    } else {
        Cow::Borrowed(value)
    }
}

/// [`neutralise`] for a block: line feeds (and `\r\n`, as one) are kept, other control characters become
/// spaces.
#[must_use]
pub fn neutralise_block(value: &str) -> Cow<'_, str> {
    if value.chars().any(|c| is_unsafe_char(c) && c != '\n') {
        let v = value.replace("\r\n", "\n");
        Cow::Owned(v.chars().map(|c| if is_unsafe_char(c) && c != '\n' { ' ' } else { c }).collect())
    } else {
        Cow::Borrowed(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn single_line_refuses_breaks_and_controls_naming_the_field() {
        single_line("impact", "All predictions fail (50 % of requests) — café").expect("printable text is fine");
        for (bad, what) in [
            ("line1\nStatus: resolved", "a line break (\\n) at character 6"),
            ("a\rb", "a carriage return"),
            ("a\tb", "a tab"),
            ("a\u{1b}[31mred", "U+001B"),
            ("a\u{85}b", "U+0085"),
            ("a\u{2028}b", "U+2028"),
            ("a\u{7f}", "U+007F"),
        ] {
            let e = single_line("impact", bad).expect_err(bad);
            assert_eq!(e.kind(), ErrorKind::InvalidInput);
            assert!(e.message().starts_with("impact must be single-line text"), "{e}");
            assert!(e.message().contains(what), "{e} should contain {what}");
        }
    }

    #[test]
    fn multi_line_keeps_line_feeds_only() {
        multi_line("details", "rolled back\nerror rate 0.2 %").expect("line feeds are fine");
        assert!(multi_line("details", "a\r\nb").is_err());
        assert!(multi_line("details", "a\u{1b}b").is_err());
    }

    #[test]
    fn neutralise_replaces_with_spaces_and_borrows_clean_text() {
        assert!(matches!(neutralise("clean"), Cow::Borrowed("clean")));
        assert_eq!(neutralise("line1\nStatus: resolved\r\t\u{2029}x"), "line1 Status: resolved   x");
        assert_eq!(neutralise_block("a\r\nb\u{1b}c\nd"), "a\nb c\nd");
        assert!(matches!(neutralise_block("a\nb"), Cow::Borrowed(_)));
    }
}
