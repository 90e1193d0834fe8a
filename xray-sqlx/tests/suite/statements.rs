// Single statements on the pool: fields, preparation, errors, typed queries, query text,
// credentials, and untraced use. Included by `mod.rs`.

pub(super) async fn select_insert_update_have_exact_fields() {
    let db = Setup::new().await;
    let pool = db.traced(Options::new());
    let capture = Capture::new();
    let (found, doc) = capture
        .run(async {
            let inserted = sqlx::query(AssertSqlSafe(db.sql("INSERT INTO {t} (id, name) VALUES ($1, $2)")))
                .bind(1_i64)
                .bind("ada")
                .execute(&pool)
                .await
                .unwrap();
            assert_eq!(inserted.rows_affected(), 1);
            let updated = sqlx::query(AssertSqlSafe(db.sql("UPDATE {t} SET name = $1 WHERE id = $2")))
                .bind("grace")
                .bind(1_i64)
                .execute(&pool)
                .await
                .unwrap();
            assert_eq!(updated.rows_affected(), 1);
            sqlx::query_as::<_, (i64, String)>(AssertSqlSafe(db.sql("SELECT id, name FROM {t} WHERE id = $1")))
                .bind(1_i64)
                .fetch_one(&pool)
                .await
                .unwrap()
        })
        .await;
    assert_eq!(found, (1, "grace".to_owned()));
    assert!(doc.get("fault").is_none(), "the segment itself has no fault");
    let subs = subsegments(&doc);
    assert_eq!(subs.len(), 3);
    for sub in &subs {
        assert_eq!(xray_tests::mask(sub), db.expected("statement", None));
    }
    db.finish().await;
}

pub(super) async fn text_statements_are_calls_and_prepared_ones_statements() {
    let db = Setup::new().await;
    let pool = db.traced(Options::new().with_collect_queries(true));
    let (_, doc) = Capture::new()
        .run(async {
            sqlx::raw_sql("SELECT 1").execute(&pool).await.unwrap();
            (&pool).execute("SELECT 2").await.unwrap();
            sqlx::query("SELECT 3").execute(&pool).await.unwrap();
        })
        .await;
    let subs = subsegments(&doc);
    let masked: Vec<Value> = subs.iter().map(xray_tests::mask).collect();
    assert_eq!(masked, [
        db.expected("call", Some("SELECT 1")),
        db.expected("call", Some("SELECT 2")),
        db.expected("statement", Some("SELECT 3")),
    ]);
    db.finish().await;
}

pub(super) async fn syntax_error_is_a_remote_fault_with_the_database_code() {
    let db = Setup::new().await;
    let pool = db.traced(Options::new());
    let (result, doc) = Capture::new().run(sqlx::query("SELEC 1").execute(&pool)).await;
    let err = result.expect_err("a syntax error");
    let db_err = err.as_database_error().expect("a database error");
    assert_eq!(db_err.code().as_deref(), Some(SYNTAX_CODE));
    let subs = subsegments(&doc);
    assert_eq!(subs.len(), 1);
    let ex = assert_fault(&subs[0], SYNTAX_CODE);
    assert_eq!(ex["message"], format!("{SYNTAX_CODE}: {}", db_err.message()));
    // Apart from fault and cause, the subsegment is as usual.
    let mut rest = xray_tests::mask(&subs[0]);
    rest.as_object_mut().unwrap().retain(|k, _| k != "fault" && k != "cause");
    assert_eq!(rest, db.expected("statement", None));
    db.finish().await;
}

pub(super) async fn constraint_violation_is_a_remote_fault() {
    let db = Setup::new().await;
    db.insert(1, "ada").await;
    let pool = db.traced(Options::new());
    let (result, doc) = Capture::new()
        .run(
            sqlx::query(AssertSqlSafe(db.sql("INSERT INTO {t} (id, name) VALUES ($1, $2)")))
                .bind(2_i64)
                .bind("ada")
                .execute(&pool),
        )
        .await;
    let err = result.expect_err("a unique violation");
    assert!(err.as_database_error().unwrap().is_unique_violation());
    assert_fault(&subsegments(&doc)[0], UNIQUE_CODE);
    db.finish().await;
}

pub(super) async fn row_not_found_is_not_a_fault() {
    let db = Setup::new().await;
    let pool = db.traced(Options::new());
    let query = db.sql("SELECT id, name FROM {t} WHERE id = $1");
    let ((one, optional), doc) = Capture::new()
        .run(async {
            let one = sqlx::query(AssertSqlSafe(query.clone())).bind(7_i64).fetch_one(&pool).await;
            let optional = sqlx::query(AssertSqlSafe(query.clone())).bind(7_i64).fetch_optional(&pool).await;
            (one, optional)
        })
        .await;
    assert!(matches!(one, Err(sqlx::Error::RowNotFound)), "{one:?}");
    assert!(optional.unwrap().is_none());
    let masked: Vec<Value> = subsegments(&doc).iter().map(xray_tests::mask).collect();
    assert_eq!(masked, [db.expected("statement", None), db.expected("statement", None)]);
    db.finish().await;
}

pub(super) async fn typed_queries_run_unchanged() {
    // The runtime-checked equivalents of `query!`, `query_as!` and `query_scalar!`: the macros
    // expand to the same `Map`/`QueryAs` executions, but need a database at compile time.
    let db = Setup::new().await;
    db.insert(1, "ada").await;
    db.insert(2, "grace").await;
    let pool = db.traced(Options::new());
    let ((people, count, upper), doc) = Capture::new()
        .run(async {
            let people = sqlx::query_as::<_, Person>(AssertSqlSafe(db.sql("SELECT id, name FROM {t} ORDER BY id")))
                .fetch_all(&pool)
                .await
                .unwrap();
            let count: i64 =
                sqlx::query_scalar(AssertSqlSafe(db.sql("SELECT COUNT(*) FROM {t}"))).fetch_one(&pool).await.unwrap();
            // What `query!` expands to: a `Map` over the rows.
            let upper = sqlx::query(AssertSqlSafe(db.sql("SELECT name FROM {t} WHERE id = $1")))
                .bind(2_i64)
                .try_map(|row: <Db as sqlx::Database>::Row| row.try_get::<String, _>(0).map(|s| s.to_uppercase()))
                .fetch_optional(&pool)
                .await
                .unwrap();
            (people, count, upper)
        })
        .await;
    assert_eq!(people, [Person { id: 1, name: "ada".into() }, Person { id: 2, name: "grace".into() }]);
    assert_eq!(count, 2);
    assert_eq!(upper.as_deref(), Some("GRACE"));
    let masked: Vec<Value> = subsegments(&doc).iter().map(xray_tests::mask).collect();
    assert_eq!(masked, vec![db.expected("statement", None); 3]);
    db.finish().await;
}

pub(super) async fn query_text_only_when_opted_in_and_binds_never() {
    let db = Setup::new().await;
    let bound = unique("bound-value");
    let select = db.sql("SELECT COUNT(*) FROM {t} WHERE name = $1");
    let run = |capture: Capture, options: Options| {
        let pool = db.traced(options);
        let select = select.clone();
        let bound = bound.clone();
        async move {
            let (_, doc) = capture
                .run(async {
                    let n: i64 = sqlx::query_scalar(AssertSqlSafe(select)).bind(&bound).fetch_one(&pool).await.unwrap();
                    assert_eq!(n, 0);
                })
                .await;
            assert!(!doc.to_string().contains(&bound), "bind values are never recorded");
            queries(&doc)
        }
    };
    let with_text = vec![Some(select.clone())];
    assert_eq!(run(Capture::new(), Options::new()).await, [None], "off by default");
    assert_eq!(run(Capture::new(), Options::new().with_collect_queries(true)).await, with_text, "option");
    assert_eq!(run(Capture::collecting_sql(), Options::new()).await, with_text, "recorder setting");
    assert_eq!(run(Capture::collecting_sql(), Options::new().with_collect_queries(false)).await, [None], "option wins");
    db.finish().await;
}

pub(super) async fn no_password_in_any_document() {
    let (raw, options, password) = open_with_password().await;
    let pool = TracedPool::new(raw, options);
    let (result, doc) = Capture::new()
        .run(async {
            let first = sqlx::query("SELECT 1").execute(&pool).await.map(|_| ());
            let tx = pool.begin().await.map(|_| ());
            (first, tx)
        })
        .await;
    let text = doc.to_string();
    assert!(!text.contains(&password), "password in {doc:#}");
    let subs = subsegments(&doc);
    assert!(!subs.is_empty());
    for sub in &subs {
        // A failure to connect is a remote fault, still without the password.
        if result.0.is_err() {
            assert_eq!(sub["fault"], true, "{sub:#}");
            assert_eq!(sub["cause"]["exceptions"][0]["remote"], true, "{sub:#}");
        }
    }
    pool.close().await;
}

pub(super) async fn outside_a_trace_and_unsampled_statements_go_straight_through() {
    let db = Setup::new().await;
    let pool = db.traced(Options::new().with_collect_queries(true));
    let capture = Capture::new();
    // No segment at all.
    sqlx::query(AssertSqlSafe(db.sql("INSERT INTO {t} (id, name) VALUES ($1, $2)")))
        .bind(1_i64)
        .bind("ada")
        .execute(&pool)
        .await
        .unwrap();
    let mut tx = pool.begin().await.unwrap();
    sqlx::query(AssertSqlSafe(db.sql("DELETE FROM {t}"))).execute(&mut *tx).await.unwrap();
    tx.rollback().await.unwrap();
    assert!(sqlx::query("SELEC 1").execute(&pool).await.is_err());
    assert!(capture.take().is_empty());
    // An unsampled trace.
    let unsampled = Capture::unsampled();
    let names = run_unsampled(&unsampled, async {
        let mut conn = pool.acquire().await.unwrap();
        sqlx::query_scalar::<_, String>(AssertSqlSafe(db.sql("SELECT name FROM {t}"))).fetch_all(&mut *conn).await.unwrap()
    })
    .await;
    assert_eq!(names, ["ada"]);
    db.finish().await;
}
