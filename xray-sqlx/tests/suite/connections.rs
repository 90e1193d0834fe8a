// Statements on acquired connections and transactions, and streams. Included by `mod.rs`.

pub(super) async fn transaction_commit_traces_every_statement_on_the_transaction() {
    let db = Setup::new().await;
    let pool = db.traced(Options::new().with_collect_queries(true));
    let insert = db.sql("INSERT INTO {t} (id, name) VALUES ($1, $2)");
    let (_, doc) = Capture::new()
        .run(async {
            let mut tx = pool.begin().await.unwrap();
            sqlx::query(AssertSqlSafe(insert.clone())).bind(1_i64).bind("ada").execute(&mut *tx).await.unwrap();
            sqlx::query(AssertSqlSafe(insert.clone())).bind(2_i64).bind("grace").execute(&mut tx).await.unwrap();
            tx.commit().await.unwrap();
        })
        .await;
    assert_eq!(db.names().await, ["ada", "grace"]);
    let masked: Vec<Value> = subsegments(&doc).iter().map(xray_tests::mask).collect();
    assert_eq!(masked, [
        db.expected("call", Some("BEGIN")),
        db.expected("statement", Some(&insert)),
        db.expected("statement", Some(&insert)),
        db.expected("call", Some("COMMIT")),
    ]);
    db.finish().await;
}

pub(super) async fn transaction_rollback_and_savepoints() {
    let db = Setup::new().await;
    let pool = db.traced(Options::new().with_collect_queries(true));
    let insert = db.sql("INSERT INTO {t} (id, name) VALUES ($1, $2)");
    let (_, doc) = Capture::new()
        .run(async {
            let mut tx = pool.begin().await.unwrap();
            sqlx::query(AssertSqlSafe(insert.clone())).bind(1_i64).bind("ada").execute(&mut *tx).await.unwrap();
            let mut inner = tx.begin().await.unwrap();
            sqlx::query(AssertSqlSafe(insert.clone())).bind(2_i64).bind("grace").execute(&mut *inner).await.unwrap();
            inner.rollback().await.unwrap();
            let mut inner = tx.begin().await.unwrap();
            sqlx::query(AssertSqlSafe(insert.clone())).bind(3_i64).bind("edsger").execute(&mut *inner).await.unwrap();
            inner.commit().await.unwrap();
            assert_eq!(
                sqlx::query_scalar::<_, i64>(AssertSqlSafe(db.sql("SELECT COUNT(*) FROM {t}")))
                    .fetch_one(&mut *tx)
                    .await
                    .unwrap(),
                2
            );
            tx.rollback().await.unwrap();
        })
        .await;
    assert!(db.names().await.is_empty(), "rolled back");
    let count = db.sql("SELECT COUNT(*) FROM {t}");
    assert_eq!(queries(&doc), [
        Some("BEGIN"),
        Some(insert.as_str()),
        Some("SAVEPOINT"),
        Some(insert.as_str()),
        Some("ROLLBACK TO SAVEPOINT"),
        Some("SAVEPOINT"),
        Some(insert.as_str()),
        Some("RELEASE SAVEPOINT"),
        Some(count.as_str()),
        Some("ROLLBACK"),
    ]
    .map(|q| q.map(str::to_owned)));
    assert!(subsegments(&doc).iter().all(|s| s.get("fault").is_none()));
    db.finish().await;
}

pub(super) async fn acquired_connection_is_traced() {
    let db = Setup::new().await;
    db.insert(1, "ada").await;
    let pool = db.traced(Options::new().with_collect_queries(true));
    let select = db.sql("SELECT name FROM {t} WHERE id = $1");
    let (_, doc) = Capture::new()
        .run(async {
            let mut conn = pool.acquire().await.unwrap();
            let a: String = sqlx::query_scalar(AssertSqlSafe(select.clone())).bind(1_i64).fetch_one(&mut *conn).await.unwrap();
            let b: String = sqlx::query_scalar(AssertSqlSafe(select.clone())).bind(1_i64).fetch_one(&mut conn).await.unwrap();
            assert_eq!((a.as_str(), b.as_str()), ("ada", "ada"));
            let mut tx = conn.begin().await.unwrap();
            sqlx::query(AssertSqlSafe(db.sql("DELETE FROM {t}"))).execute(&mut *tx).await.unwrap();
            tx.commit().await.unwrap();
            // The raw connection is the escape hatch: not traced.
            sqlx::query("SELECT 1").execute(&mut **conn).await.unwrap();
        })
        .await;
    assert!(db.names().await.is_empty());
    let masked: Vec<Value> = subsegments(&doc).iter().map(xray_tests::mask).collect();
    assert_eq!(masked, [
        db.expected("statement", Some(&select)),
        db.expected("statement", Some(&select)),
        db.expected("call", Some("BEGIN")),
        db.expected("statement", Some(&db.sql("DELETE FROM {t}"))),
        db.expected("call", Some("COMMIT")),
    ]);
    db.finish().await;
}

/// Polls a stream to its next item.
async fn next<S: Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
    std::future::poll_fn(|cx| std::pin::Pin::new(&mut *stream).poll_next(cx)).await
}

pub(super) async fn stream_ends_its_subsegment_when_consumed() {
    let db = Setup::new().await;
    for (id, name) in [(1, "ada"), (2, "grace"), (3, "edsger")] {
        db.insert(id, name).await;
    }
    let pool = db.traced(Options::new());
    let (names, doc) = Capture::new()
        .run(async {
            let mut names = Vec::new();
            let mut rows = sqlx::query(AssertSqlSafe(db.sql("SELECT name FROM {t} ORDER BY id"))).fetch(&pool);
            while let Some(row) = next(&mut rows).await {
                assert_eq!(ended_subsegments(), 0, "open while rows flow");
                names.push(row.unwrap().get::<String, _>(0));
            }
            assert_eq!(ended_subsegments(), 1, "ended when the stream ended");
            drop(rows);
            names
        })
        .await;
    assert_eq!(names, ["ada", "grace", "edsger"]);
    assert_eq!(subsegments(&doc).iter().map(xray_tests::mask).collect::<Vec<_>>(), [db.expected("statement", None)]);
    db.finish().await;
}

pub(super) async fn stream_ends_its_subsegment_when_dropped() {
    let db = Setup::new().await;
    for (id, name) in [(1, "ada"), (2, "grace"), (3, "edsger")] {
        db.insert(id, name).await;
    }
    let pool = db.traced(Options::new());
    let (first, doc) = Capture::new()
        .run(async {
            let mut rows = sqlx::query_as::<_, Person>(AssertSqlSafe(db.sql("SELECT id, name FROM {t} ORDER BY id")))
                .fetch(&pool);
            let first = next(&mut rows).await.unwrap().unwrap();
            assert_eq!(ended_subsegments(), 0);
            drop(rows);
            assert_eq!(ended_subsegments(), 1, "ended when the stream was dropped");
            first
        })
        .await;
    assert_eq!(first, Person { id: 1, name: "ada".into() });
    assert_eq!(subsegments(&doc).iter().map(xray_tests::mask).collect::<Vec<_>>(), [db.expected("statement", None)]);
    // The pool is still usable: the dropped stream gave its connection back.
    assert_eq!(db.names().await.len(), 3);
    db.finish().await;
}
