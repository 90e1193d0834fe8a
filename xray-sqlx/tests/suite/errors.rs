// Database errors record their code and a message without the values they quote (usually
// bind values): unique and check violations, and values the database cannot convert. Included
// by `mod.rs`.

/// Checks that a failed statement's one subsegment records `err`'s code and that `value` is
/// in neither its message nor anywhere in the document.
fn assert_code_without(err: &sqlx::Error, doc: &Value, value: &str) {
    let db_err = err.as_database_error().expect("a database error");
    assert!(db_err.message().contains(value), "the test's premise: the database quotes the value: {db_err}");
    let code = db_err.code().expect("the database names its error");
    let subs = subsegments(doc);
    assert_eq!(subs.len(), 1, "{doc:#}");
    let ex = assert_fault(&subs[0], &code);
    let message = ex["message"].as_str().unwrap();
    assert!(!message.contains(value), "the value in the message: {message}");
    assert!(!doc.to_string().contains(value), "the value in the document: {doc:#}");
}

pub(super) async fn unique_violation_records_the_code_but_not_the_value() {
    let db = Setup::new().await;
    let email = unique("secret-mail");
    db.insert(1, &email).await;
    // Query text on as well: it holds the placeholders, never the value.
    let pool = db.traced(Options::new().with_collect_queries(true));
    let (result, doc) = Capture::new()
        .run(
            sqlx::query(AssertSqlSafe(db.sql("INSERT INTO {t} (id, name) VALUES ($1, $2)")))
                .bind(2_i64)
                .bind(&email)
                .execute(&pool),
        )
        .await;
    let err = result.expect_err("a unique violation");
    assert!(err.as_database_error().unwrap().is_unique_violation());
    let db_err = err.as_database_error().unwrap();
    if db_err.message().contains(&email) {
        // MySQL and MariaDB: `Duplicate entry '…' for key '…'`.
        assert_code_without(&err, &doc, &email);
    } else {
        // PostgreSQL keeps the value in its detail, SQLite names only the column.
        assert_fault(&subsegments(&doc)[0], UNIQUE_CODE);
        assert!(!doc.to_string().contains(&email), "{doc:#}");
    }
    let message = subsegments(&doc)[0]["cause"]["exceptions"][0]["message"].as_str().unwrap().to_owned();
    assert!(message.starts_with(&format!("{UNIQUE_CODE}: ")), "{message}");
    db.finish().await;
}

pub(super) async fn check_violation_records_the_code_but_not_the_value() {
    let db = Setup::new().await;
    let table = format!("{}_check", db.table);
    sqlx::raw_sql(AssertSqlSafe(format!("CREATE TABLE {table} (id BIGINT PRIMARY KEY, age INTEGER CHECK (age >= 0))")))
        .execute(&db.raw)
        .await
        .expect("create table");
    let age = -987_654_321_i32;
    let pool = db.traced(Options::new().with_collect_queries(true));
    let (result, doc) = Capture::new()
        .run(
            sqlx::query(AssertSqlSafe(dialect(&format!("INSERT INTO {table} (id, age) VALUES ($1, $2)"))))
                .bind(1_i64)
                .bind(age)
                .execute(&pool),
        )
        .await;
    let err = result.expect_err("a check violation");
    let db_err = err.as_database_error().expect("a database error");
    let code = db_err.code().expect("the database names its error");
    let ex = assert_fault(&subsegments(&doc)[0], &code);
    assert!(ex["message"].as_str().unwrap().len() > code.len() + 2, "{ex:#}");
    assert!(!doc.to_string().contains(&age.to_string()), "the value in the document: {doc:#}");
    sqlx::raw_sql(AssertSqlSafe(format!("DROP TABLE {table}"))).execute(&db.raw).await.expect("drop table");
    db.finish().await;
}

pub(super) async fn unconvertible_value_records_the_code_but_not_the_value() {
    // PostgreSQL refuses the cast (`invalid input syntax for type integer: "…"`), MariaDB in
    // strict mode the text for a number column (`Incorrect integer value: '…'`); where the
    // database converts with a warning instead, there is no failure to record.
    let db = Setup::new().await;
    let pool = db.traced(Options::new());
    let statements = ["SELECT CAST($1 AS INTEGER)", "INSERT INTO {t} (id, name) VALUES ($1, 'x')"];
    for statement in statements {
        let value = unique("secret-number");
        let (result, doc) =
            Capture::new().run(sqlx::query(AssertSqlSafe(db.sql(statement))).bind(&value).execute(&pool)).await;
        match result {
            Err(err) if err.as_database_error().is_some_and(|e| e.message().contains(&value)) => {
                assert_code_without(&err, &doc, &value);
            }
            Err(err) => {
                let code = err.as_database_error().and_then(|e| e.code()).expect("a database error with a code");
                assert_fault(&subsegments(&doc)[0], &code);
            }
            Ok(_) => assert!(subsegments(&doc)[0].get("fault").is_none(), "{doc:#}"),
        }
        assert!(!doc.to_string().contains(&value), "{statement}: the value in the document: {doc:#}");
    }
    db.finish().await;
}
