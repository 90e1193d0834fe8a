//! Turns tokens into an expression tree, checking each keyword's operators and value types.

use super::FilterError;
use super::keyword::{Key, KeyType, lookup};
use super::lexer::{Sym, Tok, Token, error};

/// How deeply parentheses, `!` and braces may nest; keeps parsing and evaluation off deep stacks.
pub(super) const MAX_DEPTH: usize = 32;

/// An operator comparing a keyword's value with the given one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Op {
    Sym(Sym),
    Contains,
    BeginsWith,
    EndsWith,
}

/// A value written in the expression.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Lit {
    Bool(bool),
    Num(f64),
    Str(String),
}

/// One keyword test: `ok`, `http.status >= 500`, `annotation.gameid = "817DL6VO"`.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Test {
    pub(super) key: Key,
    /// `None` for a bare keyword: true when a boolean keyword is true, or the keyword is set.
    pub(super) cmp: Option<(Op, Lit)>,
}

/// Which service-map nodes `service(...)` or one end of `edge(...)` means; `None` matches any.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Target {
    pub(super) name: Option<String>,
    pub(super) kind: Option<String>,
}

/// A parsed expression.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Test(Test),
    Service { target: Target, filter: Option<Box<Expr>> },
    Edge { from: Target, to: Target, filter: Option<Box<Expr>> },
}

/// Parses the tokens of one expression (ending in [`Tok::End`]).
pub(super) fn parse(tokens: &[Token]) -> Result<Expr, FilterError> {
    let mut parser = Parser { tokens, at: 0, depth: 0, in_braces: None };
    let expr = parser.or()?;
    let token = parser.peek();
    match &token.tok {
        Tok::End => Ok(expr),
        Tok::RParen => Err(error(token.pos, "unexpected ): there is no ( to close")),
        Tok::RBrace => Err(error(token.pos, "unexpected }: there is no { to close")),
        other => Err(error(token.pos, format!("unexpected {}", describe(other)))),
    }
}

struct Parser<'t> {
    tokens: &'t [Token],
    at: usize,
    depth: usize,
    /// Inside the braces of `service` or `edge`: which one, for messages.
    in_braces: Option<&'static str>,
}

/// Whether a word is one of the (case-insensitive) operator words.
fn is_word(tok: &Tok, word: &str) -> bool {
    matches!(tok, Tok::Word(w) if w.eq_ignore_ascii_case(word))
}

fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Word(w) => format!("{w:?}"),
        Tok::Str(s) => format!("string \"{s}\""),
        Tok::Num(n) => format!("number {n}"),
        Tok::Op(op) => op.as_str().to_owned(),
        Tok::Bang => "!".into(),
        Tok::LParen => "(".into(),
        Tok::RParen => ")".into(),
        Tok::LBrace => "{".into(),
        Tok::RBrace => "}".into(),
        Tok::Comma => ",".into(),
        Tok::Colon => ":".into(),
        Tok::End => "end of the expression".into(),
    }
}

impl<'t> Parser<'t> {
    fn peek(&self) -> &'t Token {
        // The last token is End and is never consumed, so `at` stays in range.
        &self.tokens[self.at.min(self.tokens.len() - 1)]
    }

    fn next(&mut self) -> &'t Token {
        let token = self.peek();
        if token.tok != Tok::End {
            self.at += 1;
        }
        token
    }

    fn expect(&mut self, want: Tok, what: &str) -> Result<&'t Token, FilterError> {
        let token = self.peek();
        if token.tok == want {
            return Ok(self.next());
        }
        Err(error(token.pos, format!("expected {what}, found {}", describe(&token.tok))))
    }

    fn enter(&mut self, pos: usize) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(error(pos, format!("the expression nests more than {MAX_DEPTH} levels deep")));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, FilterError> {
        let mut parts = vec![self.and()?];
        while is_word(&self.peek().tok, "OR") {
            self.next();
            self.operand("OR")?;
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Expr::Or(parts) })
    }

    /// `a AND b`, and `a b` (the guide's `ok !partial duration <3`), which means the same.
    fn and(&mut self) -> Result<Expr, FilterError> {
        let mut parts = vec![self.unary()?];
        loop {
            let tok = &self.peek().tok;
            if is_word(tok, "AND") {
                self.next();
                self.operand("AND")?;
                parts.push(self.unary()?);
            } else if matches!(tok, Tok::Word(_) | Tok::Bang | Tok::LParen) && !is_word(tok, "OR") {
                parts.push(self.unary()?);
            } else {
                break;
            }
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Expr::And(parts) })
    }

    /// Checks that an operand follows `AND`, `OR` or `!`, with a clear message when it is missing.
    fn operand(&self, after: &str) -> Result<(), FilterError> {
        let token = self.peek();
        let missing = match &token.tok {
            Tok::End | Tok::RParen | Tok::RBrace => true,
            tok => is_word(tok, "AND") || is_word(tok, "OR"),
        };
        if missing {
            return Err(error(token.pos, format!("expected a filter after {after}, found {}", describe(&token.tok))));
        }
        Ok(())
    }

    fn unary(&mut self) -> Result<Expr, FilterError> {
        let token = self.peek();
        if token.tok == Tok::Bang {
            self.next();
            self.enter(token.pos)?;
            self.operand("!")?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, FilterError> {
        let token = self.next();
        match &token.tok {
            Tok::LParen => {
                self.enter(token.pos)?;
                if self.peek().tok == Tok::RParen {
                    return Err(error(self.peek().pos, "expected a filter inside ( )"));
                }
                let inner = self.or()?;
                let close = self.peek();
                if close.tok != Tok::RParen {
                    return Err(error(
                        close.pos,
                        format!("expected ) to close the ( at position {}, found {}", token.pos, describe(&close.tok)),
                    ));
                }
                self.next();
                self.depth -= 1;
                Ok(inner)
            }
            Tok::Word(word) if word.eq_ignore_ascii_case("service") => self.service(token.pos),
            Tok::Word(word) if word.eq_ignore_ascii_case("edge") => self.edge(token.pos),
            Tok::Word(word) if is_word(&token.tok, "AND") || is_word(&token.tok, "OR") => {
                Err(error(token.pos, format!("expected a filter before {}", word.to_uppercase())))
            }
            Tok::Word(word) => self.test(word, token.pos),
            Tok::End => Err(error(token.pos, "expected a filter, found the end of the expression")),
            Tok::Str(_) | Tok::Num(_) => Err(error(
                token.pos,
                format!("expected a keyword before {}, such as http.url = \"...\"", describe(&token.tok)),
            )),
            other => Err(error(token.pos, format!("expected a filter, found {}", describe(other)))),
        }
    }

    fn test(&mut self, word: &str, pos: usize) -> Result<Expr, FilterError> {
        let key = lookup(word, pos)?;
        if let (Key::Annotation(_), Some(within)) = (&key, self.in_braces) {
            return Err(error(pos, format!("annotation keywords cannot be used inside {within}(...) {{ }}")));
        }
        let op_token = self.peek();
        let op = match &op_token.tok {
            Tok::Op(sym) => Op::Sym(*sym),
            tok if is_word(tok, "CONTAINS") => Op::Contains,
            tok if is_word(tok, "BEGINSWITH") => Op::BeginsWith,
            tok if is_word(tok, "ENDSWITH") => Op::EndsWith,
            _ => return Ok(Expr::Test(Test { key, cmp: None })),
        };
        self.next();
        let op_name = match op {
            Op::Sym(sym) => sym.as_str(),
            Op::Contains => "CONTAINS",
            Op::BeginsWith => "BEGINSWITH",
            Op::EndsWith => "ENDSWITH",
        };
        let value_token = self.next();
        let lit = match &value_token.tok {
            Tok::Str(s) => Lit::Str(s.clone()),
            Tok::Num(n) => Lit::Num(*n),
            Tok::Word(w) if w.eq_ignore_ascii_case("true") => Lit::Bool(true),
            Tok::Word(w) if w.eq_ignore_ascii_case("false") => Lit::Bool(false),
            Tok::Word(w) => {
                return Err(error(value_token.pos, format!("string values go in double quotes: \"{w}\"")));
            }
            other => {
                return Err(error(
                    value_token.pos,
                    format!("expected a value after {op_name}, found {}", describe(other)),
                ));
            }
        };
        let cmp = check_types(word, &key, op, op_name, lit, op_token.pos, value_token.pos)?;
        Ok(Expr::Test(Test { key, cmp: Some(cmp) }))
    }

    fn service(&mut self, pos: usize) -> Result<Expr, FilterError> {
        if let Some(within) = self.in_braces {
            return Err(error(pos, format!("service(...) cannot be used inside {within}(...) {{ }}")));
        }
        self.expect(Tok::LParen, "( after service")?;
        let target = if self.peek().tok == Tok::RParen { Target::default() } else { self.target("service")? };
        self.expect(Tok::RParen, ") after the service name")?;
        let filter = self.braces("service", pos)?;
        Ok(Expr::Service { target, filter })
    }

    fn edge(&mut self, pos: usize) -> Result<Expr, FilterError> {
        if let Some(within) = self.in_braces {
            return Err(error(pos, format!("edge(...) cannot be used inside {within}(...) {{ }}")));
        }
        self.expect(Tok::LParen, "( after edge")?;
        let from = self.target("edge")?;
        self.expect(Tok::Comma, "a comma between the two services of edge(source, destination)")?;
        let to = self.target("edge")?;
        self.expect(Tok::RParen, ") after the edge's destination")?;
        let filter = self.braces("edge", pos)?;
        Ok(Expr::Edge { from, to, filter })
    }

    /// A service name in quotes, or `id(name: "...", type: "...")`.
    fn target(&mut self, within: &str) -> Result<Target, FilterError> {
        let token = self.next();
        match &token.tok {
            Tok::Str(name) => Ok(Target { name: Some(name.clone()), kind: None }),
            tok if is_word(tok, "id") => self.id(),
            Tok::Word(w) => Err(error(token.pos, format!("service names go in double quotes: \"{w}\""))),
            other => Err(error(
                token.pos,
                format!(
                    "expected a service name in double quotes or id(...) in {within}(...), found {}",
                    describe(other)
                ),
            )),
        }
    }

    fn id(&mut self) -> Result<Target, FilterError> {
        let open = self.expect(Tok::LParen, "( after id")?;
        let mut target = Target::default();
        loop {
            let field = self.next();
            let slot = match &field.tok {
                tok if is_word(tok, "name") => &mut target.name,
                tok if is_word(tok, "type") => &mut target.kind,
                other => {
                    return Err(error(
                        field.pos,
                        format!("expected name: or type: in id(...), found {}", describe(other)),
                    ));
                }
            };
            if slot.is_some() {
                return Err(error(field.pos, "each of name and type may appear once in id(...)"));
            }
            self.expect(Tok::Colon, "a colon after the field name in id(...)")?;
            let value = self.next();
            let Tok::Str(value_str) = &value.tok else {
                return Err(error(
                    value.pos,
                    format!("expected a value in double quotes, found {}", describe(&value.tok)),
                ));
            };
            *slot = Some(value_str.clone());
            let after = self.next();
            match after.tok {
                Tok::Comma => continue,
                Tok::RParen => break,
                _ => {
                    return Err(error(
                        after.pos,
                        format!(
                            "expected , or ) to close the id( at position {}, found {}",
                            open.pos,
                            describe(&after.tok)
                        ),
                    ));
                }
            }
        }
        Ok(target)
    }

    /// The optional `{ filter }` after `service(...)` or `edge(...)`.
    fn braces(&mut self, within: &'static str, pos: usize) -> Result<Option<Box<Expr>>, FilterError> {
        let open = self.peek();
        if open.tok != Tok::LBrace {
            return Ok(None);
        }
        self.next();
        self.enter(open.pos)?;
        if self.peek().tok == Tok::RBrace {
            return Err(error(self.peek().pos, format!("expected a filter inside the {{ }} of {within}(...)")));
        }
        self.in_braces = Some(within);
        let inner = self.or()?;
        self.in_braces = None;
        let close = self.peek();
        if close.tok != Tok::RBrace {
            return Err(error(
                close.pos,
                format!(
                    "expected }} to close the {{ of the {within} at position {pos}, found {}",
                    describe(&close.tok)
                ),
            ));
        }
        self.next();
        self.depth -= 1;
        Ok(Some(Box::new(inner)))
    }
}

/// Checks that the operator and value suit the keyword's type.
fn check_types(
    word: &str,
    key: &Key,
    op: Op,
    op_name: &str,
    lit: Lit,
    op_pos: usize,
    value_pos: usize,
) -> Result<(Op, Lit), FilterError> {
    let equality = matches!(op, Op::Sym(Sym::Eq | Sym::Ne));
    let ordering = matches!(op, Op::Sym(Sym::Lt | Sym::Le | Sym::Gt | Sym::Ge));
    let lit_type = match lit {
        Lit::Bool(_) => "true or false",
        Lit::Num(_) => "a number",
        Lit::Str(_) => "a string",
    };
    let fits = match key.key_type() {
        KeyType::Bool => equality && matches!(lit, Lit::Bool(_)),
        KeyType::Number => (equality || ordering) && matches!(lit, Lit::Num(_)),
        KeyType::String => !ordering && matches!(lit, Lit::Str(_)),
        // Annotations hold booleans, numbers or strings; the value says which operators apply.
        KeyType::Any => match lit {
            Lit::Bool(_) => equality,
            Lit::Num(_) => equality || ordering,
            Lit::Str(_) => !ordering,
        },
    };
    if fits {
        return Ok((op, lit));
    }
    let message = match key.key_type() {
        KeyType::Bool if equality => format!("{word} is true or false: compare it with true or false, not {lit_type}"),
        KeyType::Bool => format!("{word} is true or false: use it alone, with !, or with = true / = false"),
        KeyType::Number if equality || ordering => {
            format!("{word} is a number: compare it with a number, not {lit_type}")
        }
        KeyType::Number => format!("{word} is a number: use = != < <= > >=, not {op_name}"),
        KeyType::String if ordering => {
            format!("{word} is a string: use = != CONTAINS BEGINSWITH ENDSWITH, not {op_name}")
        }
        KeyType::String => format!("{word} is a string: compare it with a value in double quotes, not {lit_type}"),
        KeyType::Any if ordering => format!("{op_name} compares numbers, not {lit_type}"),
        KeyType::Any if matches!(lit, Lit::Bool(_)) => {
            format!("true and false are compared with = or !=, not {op_name}")
        }
        KeyType::Any => format!("{op_name} compares strings, not {lit_type}"),
    };
    // A wrong operator is pointed at; otherwise the value of the wrong type is.
    let wrong_op = match key.key_type() {
        KeyType::Bool => !equality,
        KeyType::Number => !equality && !ordering,
        KeyType::String => ordering,
        KeyType::Any => false,
    };
    Err(error(if wrong_op { op_pos } else { value_pos }, message))
}

#[cfg(test)]
mod tests {
    use super::super::lexer::tokenize;
    use super::*;

    fn parse_str(expr: &str) -> Result<Expr, FilterError> {
        parse(&tokenize(expr)?)
    }

    fn test(key: Key, cmp: Option<(Op, Lit)>) -> Expr {
        Expr::Test(Test { key, cmp })
    }

    #[test]
    fn precedence_not_then_and_then_or() {
        let ok = || test(Key::Ok, None);
        let error = || test(Key::Error, None);
        let fault = || test(Key::Fault, None);
        let cases = vec![
            ("ok OR error AND fault", Expr::Or(vec![ok(), Expr::And(vec![error(), fault()])])),
            ("ok AND error OR fault", Expr::Or(vec![Expr::And(vec![ok(), error()]), fault()])),
            ("(ok OR error) AND fault", Expr::And(vec![Expr::Or(vec![ok(), error()]), fault()])),
            ("!ok AND error", Expr::And(vec![Expr::Not(Box::new(ok())), error()])),
            ("!(ok AND error)", Expr::Not(Box::new(Expr::And(vec![ok(), error()])))),
            ("ok error or fault", Expr::Or(vec![Expr::And(vec![ok(), error()]), fault()])),
            ("ok and error", Expr::And(vec![ok(), error()])),
            ("ok = false", test(Key::Ok, Some((Op::Sym(Sym::Eq), Lit::Bool(false))))),
        ];
        for (expr, want) in cases {
            assert_eq!(parse_str(expr).expect(expr), want, "{expr}");
        }
    }

    #[test]
    fn service_edge_and_id_targets() {
        let fault = Some(Box::new(test(Key::Fault, None)));
        let named = |n: &str| Target { name: Some(n.into()), kind: None };
        assert_eq!(
            parse_str("service(\"api\") { fault }").unwrap(),
            Expr::Service { target: named("api"), filter: fault.clone() }
        );
        assert_eq!(parse_str("service()").unwrap(), Expr::Service { target: Target::default(), filter: None });
        assert_eq!(
            parse_str("service(id(type: \"AWS::Lambda::Function\", name: \"f\"))").unwrap(),
            Expr::Service {
                target: Target { name: Some("f".into()), kind: Some("AWS::Lambda::Function".into()) },
                filter: None
            }
        );
        assert_eq!(
            parse_str("edge(\"a\", id(name: \"b\")) { fault }").unwrap(),
            Expr::Edge { from: named("a"), to: named("b"), filter: fault }
        );
    }

    #[test]
    fn long_chains_stay_flat_and_deep_nesting_is_refused() {
        let chain = vec!["ok"; 10_000].join(" OR ");
        match parse_str(&chain).unwrap() {
            Expr::Or(parts) => assert_eq!(parts.len(), 10_000),
            other => panic!("{other:?}"),
        }
        let fine = format!("{}ok{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert!(parse_str(&fine).is_ok());
        let deep = format!("{}ok{}", "(".repeat(100_000), ")".repeat(100_000));
        assert_eq!(parse_str(&deep).unwrap_err().position, MAX_DEPTH);
        let bangs = format!("{}ok", "!".repeat(100_000));
        assert_eq!(parse_str(&bangs).unwrap_err().position, MAX_DEPTH);
    }
}
