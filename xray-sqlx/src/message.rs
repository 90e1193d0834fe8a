//! Database error messages without the values they quote.
//!
//! PostgreSQL, MySQL/MariaDB and SQLite quote the offending value in some messages: MariaDB's
//! `Duplicate entry 'a@b.c' for key 'email'` (1062), `Incorrect integer value: 'x' for column
//! ...` (1366), PostgreSQL's `invalid input syntax for type integer: "x"` (22P02) or
//! `value "99999999999" is out of range for type integer` (22003). Those values are usually bind
//! values, which this crate promises never to record. PostgreSQL's `detail` (`Key (email)=(a@b.c)
//! already exists`) is never read at all.
//!
//! The messages also quote names (constraints, tables, columns, keys, types) and, for syntax
//! errors, the statement text near the error, which say what went wrong without any value. So a
//! quoted part is kept when the word before it names what it is (`constraint "users_email_key"`,
//! `for key 'email'`, `near "SELEC"`); every other quoted part becomes `?` (`Duplicate entry '?'
//! for key 'email'`). The databases do not escape quotes inside a value, so a value's end is
//! found from the text known to follow it (`' for key '`, `" is out of range`), else at the
//! message's last quote of the same kind: a value is never cut short, at worst a name after it
//! goes too.

/// Words after which a quoted part is a name, or the statement's text near a syntax error.
const NAME_WORDS: [&str; 25] = [
    "column",
    "constraint",
    "database",
    "encoding",
    "extension",
    "field",
    "function",
    "in",
    "index",
    "key",
    "near",
    "parameter",
    "procedure",
    "relation",
    "role",
    "schema",
    "sequence",
    "server",
    "table",
    "tablespace",
    "trigger",
    "type",
    "user",
    "variable",
    "view",
];

/// What the databases write right after a quoted value: where such a value ends.
const AFTER_VALUE: [&str; 7] =
    [" for key ", " for column ", " for function ", " for type ", " is out of range", " at row ", " at line "];

/// `message` with every quoted value replaced by `?`; names and everything unquoted stay.
pub(crate) fn without_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(open) = rest.find(['\'', '"']) {
        let quote = &rest[open..=open];
        let (before, inside) = (&rest[..open], &rest[open + 1..]);
        out.push_str(before);
        if before.ends_with(char::is_alphanumeric) {
            // An apostrophe (`doesn't`), not a quote.
            out.push_str(quote);
            rest = inside;
        } else if is_name_word(last_word(before)) {
            // A name: copy it with its quotes, up to the next quote.
            let close = inside.find(quote).map_or(inside.len(), |i| i + 1);
            out.push_str(quote);
            out.push_str(&inside[..close]);
            rest = &inside[close..];
        } else {
            // A value: drop it up to the latest place it can end.
            let end = AFTER_VALUE
                .iter()
                .filter_map(|after| inside.rfind(&format!("{quote}{after}")))
                .max()
                .or_else(|| inside.rfind(quote));
            out.push_str(quote);
            out.push('?');
            match end {
                Some(end) => {
                    out.push_str(quote);
                    rest = &inside[end + 1..];
                }
                // An unclosed quote: nothing after it can be told from the value.
                None => rest = "",
            }
        }
    }
    out.push_str(rest);
    out
}

/// The word just before a quote (`key` in `for key '`); empty when a colon, `=` or other sign
/// comes first (`integer: "x"`), which introduces a value.
fn last_word(text: &str) -> &str {
    let text = text.trim_end();
    let start = text.rfind(|c: char| !(c.is_alphanumeric() || c == '_')).map_or(0, |i| i + 1);
    &text[start..]
}

fn is_name_word(word: &str) -> bool {
    !word.is_empty() && NAME_WORDS.iter().any(|w| w.eq_ignore_ascii_case(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_go_names_stay() {
        #[rustfmt::skip]
        let cases: [(&str, &str); 20] = [
            // MariaDB 10.11 and MySQL, as the servers write them (quotes inside values unescaped).
            ("Duplicate entry 'a@b.c' for key 'email'", "Duplicate entry '?' for key 'email'"),
            ("Duplicate entry 'it's' for key 'users.email'", "Duplicate entry '?' for key 'users.email'"),
            ("Duplicate entry 'x' for key 'y' for key 'email'", "Duplicate entry '?' for key 'email'"),
            ("Incorrect integer value: 'secret-y' for column `test`.`t`.`id` at row 1", "Incorrect integer value: '?' for column `test`.`t`.`id` at row 1"),
            ("Truncated incorrect DOUBLE value: 'abc'", "Truncated incorrect DOUBLE value: '?'"),
            ("CONSTRAINT `t.age` failed for `test`.`t`", "CONSTRAINT `t.age` failed for `test`.`t`"),
            ("Table 'test.nope' doesn't exist", "Table 'test.nope' doesn't exist"),
            ("Unknown column 'nme' in 'field list'", "Unknown column 'nme' in 'field list'"),
            ("You have an error in your SQL syntax; check the manual that corresponds to your MariaDB server version for the right syntax to use near 'SELEC 1' at line 1",
             "You have an error in your SQL syntax; check the manual that corresponds to your MariaDB server version for the right syntax to use near 'SELEC 1' at line 1"),
            // PostgreSQL 15.
            ("duplicate key value violates unique constraint \"users_email_key\"", "duplicate key value violates unique constraint \"users_email_key\""),
            ("new row for relation \"t\" violates check constraint \"t_age_check\"", "new row for relation \"t\" violates check constraint \"t_age_check\""),
            ("null value in column \"name\" of relation \"t\" violates not-null constraint", "null value in column \"name\" of relation \"t\" violates not-null constraint"),
            ("invalid input syntax for type integer: \"secret-x\"", "invalid input syntax for type integer: \"?\""),
            ("value \"99\"999\" is out of range for type integer", "value \"?\" is out of range for type integer"),
            ("invalid input value for enum mood: \"sad\"", "invalid input value for enum mood: \"?\""),
            ("syntax error at or near \"SELEC\"", "syntax error at or near \"SELEC\""),
            // SQLite.
            ("UNIQUE constraint failed: t.email", "UNIQUE constraint failed: t.email"),
            ("Can't write; duplicate key in table 't'", "Can't write; duplicate key in table 't'"),
            // Unclosed quotes and no quotes.
            ("bad value: 'abc", "bad value: '?"),
            ("division by zero", "division by zero"),
        ];
        for (message, want) in cases {
            assert_eq!(without_values(message), want, "{message}");
        }
    }

    #[test]
    fn never_keeps_a_value_whatever_it_holds() {
        let values = [
            "SECRET",
            "it's SECRET",
            "SECRET' for key 'k",
            "\"SECRET\"",
            "é'SECRET'ü",
            "SECRET' at row 1",
            "near 'SECRET",
        ];
        for value in values {
            for message in [
                format!("Duplicate entry '{value}' for key 'email'"),
                format!("Incorrect integer value: '{value}' for column 'id' at row 1"),
                format!("invalid input syntax for type integer: \"{value}\""),
                format!("value \"{value}\" is out of range for type integer"),
            ] {
                let scrubbed = without_values(&message);
                assert!(!scrubbed.contains("SECRET"), "{message} → {scrubbed}");
            }
        }
    }
}
