//! Splits a filter expression into tokens, each with the character offset it starts at.

use super::FilterError;

/// A comparison operator written with symbols.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Sym {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Sym {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Sym::Eq => "=",
            Sym::Ne => "!=",
            Sym::Lt => "<",
            Sym::Le => "<=",
            Sym::Gt => ">",
            Sym::Ge => ">=",
        }
    }
}

/// What a token is.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Tok {
    /// A keyword, operator word (`AND`, `CONTAINS`, ...) or bare value, as written.
    Word(String),
    /// A double-quoted string, unescaped.
    Str(String),
    /// A number.
    Num(f64),
    /// A symbol operator.
    Op(Sym),
    Bang,
    LParen,
    RParen,
    LBrace,
    RBrace,
    Comma,
    Colon,
    /// The end of the expression.
    End,
}

/// A token and the character offset (0-based) where it starts.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Token {
    pub(super) tok: Tok,
    pub(super) pos: usize,
}

pub(super) fn error(position: usize, message: impl Into<String>) -> FilterError {
    FilterError { position, message: message.into() }
}

fn is_word_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

/// Tokenizes the whole expression; the last token is always [`Tok::End`].
pub(super) fn tokenize(expr: &str) -> Result<Vec<Token>, FilterError> {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        let next = chars.get(i + 1).copied();
        let simple = match c {
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            '{' => Some(Tok::LBrace),
            '}' => Some(Tok::RBrace),
            ',' => Some(Tok::Comma),
            ':' => Some(Tok::Colon),
            _ => None,
        };
        if let Some(tok) = simple {
            out.push(Token { tok, pos: start });
            i += 1;
            continue;
        }
        match c {
            c if c.is_whitespace() => i += 1,
            '=' if next == Some('=') => return Err(error(start, "use a single = to compare")),
            '=' => {
                out.push(Token { tok: Tok::Op(Sym::Eq), pos: start });
                i += 1;
            }
            '!' if next == Some('=') => {
                out.push(Token { tok: Tok::Op(Sym::Ne), pos: start });
                i += 2;
            }
            '!' => {
                out.push(Token { tok: Tok::Bang, pos: start });
                i += 1;
            }
            '<' | '>' => {
                let eq = next == Some('=');
                let sym = match (c, eq) {
                    ('<', false) => Sym::Lt,
                    ('<', true) => Sym::Le,
                    (_, false) => Sym::Gt,
                    (_, true) => Sym::Ge,
                };
                if c == '<' && next == Some('>') {
                    return Err(error(start, "use != for \"not equal\""));
                }
                out.push(Token { tok: Tok::Op(sym), pos: start });
                i += 1 + usize::from(eq);
            }
            '"' => {
                let (value, end) = string(&chars, start)?;
                out.push(Token { tok: Tok::Str(value), pos: start });
                i = end;
            }
            '\'' => {
                return Err(error(start, "strings go in double quotes (\"...\"), not single quotes"));
            }
            c if c.is_ascii_digit()
                || (matches!(c, '-' | '+' | '.') && next.is_some_and(|n| n.is_ascii_digit() || n == '.')) =>
            {
                let (value, end) = number(&chars, start)?;
                out.push(Token { tok: Tok::Num(value), pos: start });
                i = end;
            }
            c if is_word_start(c) => {
                let end = (i..chars.len()).find(|&j| !is_word_char(chars[j])).unwrap_or(chars.len());
                out.push(Token { tok: Tok::Word(chars[i..end].iter().collect()), pos: start });
                i = end;
            }
            '&' | '|' => {
                let word = if c == '&' { "AND" } else { "OR" };
                return Err(error(start, format!("unexpected {c:?}: combine filters with {word}")));
            }
            '#' => return Err(error(start, "JSON values (#[...]) are not supported by xray-local")),
            c => return Err(error(start, format!("unexpected character {c:?}"))),
        }
    }
    out.push(Token { tok: Tok::End, pos: chars.len() });
    Ok(out)
}

/// Reads a double-quoted string starting at `start`; returns it unescaped and the offset after it.
///
/// `\"` and `\\` stand for `"` and `\`; any other backslash is kept as written.
fn string(chars: &[char], start: usize) -> Result<(String, usize), FilterError> {
    let mut value = String::new();
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '"' => return Ok((value, i + 1)),
            '\\' if matches!(chars.get(i + 1), Some('"' | '\\')) => {
                value.push(chars[i + 1]);
                i += 2;
            }
            c => {
                value.push(c);
                i += 1;
            }
        }
    }
    Err(error(start, "unclosed string: add the closing \""))
}

/// Reads a number starting at `start`: an optional sign, digits with an optional fraction, an
/// optional exponent. Letters or dots run into it make it a bad number, reported whole.
fn number(chars: &[char], start: usize) -> Result<(f64, usize), FilterError> {
    let mut i = start;
    if matches!(chars[i], '-' | '+') {
        i += 1;
    }
    // The run that belongs to this token: anything a word or number could continue with, and a
    // sign right after an exponent marker.
    let mut end = i;
    while end < chars.len() {
        let c = chars[end];
        let exponent_sign = matches!(c, '+' | '-') && matches!(chars[end - 1], 'e' | 'E');
        if is_word_char(c) || exponent_sign {
            end += 1;
        } else {
            break;
        }
    }
    let text: String = chars[start..end].iter().collect();
    let body = &chars[i..end];
    let digits = |from: usize| (from..body.len()).find(|&j| !body[j].is_ascii_digit()).unwrap_or(body.len());
    let int_end = digits(0);
    let mut j = int_end;
    let mut frac_digits = 0;
    if body.get(j) == Some(&'.') {
        let frac_end = digits(j + 1);
        frac_digits = frac_end - (j + 1);
        j = frac_end;
    }
    let mut ok = int_end + frac_digits > 0;
    if ok && matches!(body.get(j), Some('e' | 'E')) {
        let mut k = j + 1;
        if matches!(body.get(k), Some('+' | '-')) {
            k += 1;
        }
        let exp_end = digits(k);
        ok = exp_end > k;
        j = exp_end;
    }
    if !ok || j != body.len() {
        return Err(error(start, format!("bad number {text:?}: write digits like 5, 0.5 or 1e3, without units")));
    }
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok((v, end)),
        _ => Err(error(start, format!("number {text:?} is out of range"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(expr: &str) -> Vec<Tok> {
        tokenize(expr).expect(expr).into_iter().map(|t| t.tok).collect()
    }

    fn word(s: &str) -> Tok {
        Tok::Word(s.into())
    }

    #[test]
    fn tokens_of_valid_expressions() {
        use Tok::*;
        let cases: Vec<(&str, Vec<Tok>)> = vec![
            ("", vec![End]),
            ("ok", vec![word("ok"), End]),
            ("!ok", vec![Bang, word("ok"), End]),
            ("ok!=false", vec![word("ok"), Op(Sym::Ne), word("false"), End]),
            ("duration<3", vec![word("duration"), Op(Sym::Lt), Num(3.0), End]),
            ("a>=-1.5e2", vec![word("a"), Op(Sym::Ge), Num(-150.0), End]),
            ("x <= .5", vec![word("x"), Op(Sym::Le), Num(0.5), End]),
            ("x > 5.", vec![word("x"), Op(Sym::Gt), Num(5.0), End]),
            ("http.url CONTAINS \"/a\"", vec![word("http.url"), word("CONTAINS"), Str("/a".into()), End]),
            (r#""say \"hi\" \\ \n""#, vec![Str(r#"say "hi" \ \n"#.into()), End]),
            (
                "service(\"a\"){fault}",
                vec![word("service"), LParen, Str("a".into()), RParen, LBrace, word("fault"), RBrace, End],
            ),
            (
                "id(name: \"a\", type:\"T\")",
                vec![
                    word("id"),
                    LParen,
                    word("name"),
                    Colon,
                    Str("a".into()),
                    Comma,
                    word("type"),
                    Colon,
                    Str("T".into()),
                    RParen,
                    End,
                ],
            ),
            ("\"é\" ok", vec![Str("é".into()), word("ok"), End]),
        ];
        for (expr, want) in cases {
            assert_eq!(toks(expr), want, "{expr}");
        }
    }

    #[test]
    fn positions_count_characters_not_bytes() {
        let tokens = tokenize("\"éé\" ok").unwrap();
        assert_eq!(tokens.iter().map(|t| t.pos).collect::<Vec<_>>(), [0, 5, 7]);
    }

    #[test]
    fn bad_tokens_point_at_their_start() {
        let cases = [
            ("http.url = \"abc", 11, "unclosed string"),
            ("duration < 3s", 11, "bad number \"3s\""),
            ("duration < 1.2.3", 11, "bad number"),
            ("duration < 1e", 11, "bad number"),
            ("duration < 1e999", 11, "out of range"),
            ("ok && error", 3, "AND"),
            ("ok || error", 3, "OR"),
            ("name = 'a'", 7, "double quotes"),
            ("ok == true", 3, "single ="),
            ("a <> 1", 2, "!="),
            ("ok ; error", 3, "unexpected character ';'"),
            ("\"é\" ; ok", 4, "unexpected character"),
        ];
        for (expr, position, message) in cases {
            let err = tokenize(expr).expect_err(expr);
            assert_eq!(err.position, position, "{expr}: {err}");
            assert!(err.message.contains(message), "{expr}: {err}");
        }
    }
}
