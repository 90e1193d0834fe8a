//! The real AWS SDK clients against moto (`XRAY_TEST_MOTO_URL`): each call an `aws`
//! subsegment with the exact fields, schema-valid, and no item value, object, message body
//! or address anywhere; the trace header crosses an SQS queue.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, KeySchemaElement, KeyType, ProvisionedThroughput, ScalarAttributeType,
};
use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeName};
use common::{Server, assert_clean, call, forward, moto_url};
use serde_json::{Value, json};
use xray_core::TraceFutureExt;
use xray_core::test::Capture;

/// A name no earlier run against the same moto used.
fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// Runs `work` inside a sampled segment and returns the segment's documents.
async fn traced<F: Future>(capture: &Capture, work: F) -> (F::Output, Vec<Value>) {
    let segment = capture.recorder().new_segment("app");
    let output = work.with_entity(segment.entity()).await;
    segment.end();
    (output, capture.take())
}

const ITEM_SECRET: &str = "s3cr3t-item-value";

#[tokio::test]
async fn dynamodb_calls_record_the_table_and_counts_but_no_item() {
    let Some(moto) = moto_url() else { return };
    // `config!` adds the interceptor and `instrument` adds it again: still one subsegment per call.
    let dynamo =
        aws_sdk_dynamodb::Client::from_conf(xray_aws_sdk::instrument(config!(aws_sdk_dynamodb, &moto)).build());
    let table = unique("orders");
    let capture = Capture::new();
    let (_, docs) = traced(&capture, async {
        dynamo
            .create_table()
            .table_name(&table)
            .key_schema(KeySchemaElement::builder().attribute_name("id").key_type(KeyType::Hash).build().unwrap())
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("id")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            )
            .provisioned_throughput(
                ProvisionedThroughput::builder().read_capacity_units(5).write_capacity_units(5).build().unwrap(),
            )
            .send()
            .await
            .unwrap();
        dynamo
            .put_item()
            .table_name(&table)
            .item("id", AttributeValue::S("o-1".into()))
            .item("note", AttributeValue::S(ITEM_SECRET.into()))
            .send()
            .await
            .unwrap();
        let got = dynamo
            .get_item()
            .table_name(&table)
            .key("id", AttributeValue::S("o-1".into()))
            .consistent_read(true)
            .projection_expression("note")
            .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total)
            .send()
            .await
            .unwrap();
        assert_eq!(got.item().unwrap()["note"], AttributeValue::S(ITEM_SECRET.into()));
        dynamo
            .query()
            .table_name(&table)
            .key_condition_expression("id = :id")
            .expression_attribute_values(":id", AttributeValue::S("o-1".into()))
            .limit(10)
            .send()
            .await
            .unwrap();
        dynamo.scan().table_name(&table).select(aws_sdk_dynamodb::types::Select::Count).send().await.unwrap();
        let missing =
            dynamo.get_item().table_name(unique("missing")).key("id", AttributeValue::S("x".into())).send().await;
        assert!(missing.unwrap_err().into_service_error().is_resource_not_found_exception());
    })
    .await;
    assert_eq!(docs.len(), 1);
    let doc = &docs[0];
    assert_clean(&docs, &[ITEM_SECRET, "o-1"]);

    for s in common::subsegments(doc) {
        assert_eq!(s["name"], "DynamoDB");
        assert_eq!(s["namespace"], "aws");
        assert_eq!(s["aws"]["region"], "us-east-1");
        assert!(s["aws"]["request_id"].as_str().is_some_and(|id| !id.is_empty()), "{s}");
        assert_eq!(s["aws"]["retries"], 0);
    }
    let create = call(doc, "CreateTable");
    assert_eq!(create["aws"]["table_name"], table.as_str());
    assert_eq!(create["aws"]["provisioned_throughput"], json!({"read_capacity_units": 5, "write_capacity_units": 5}));
    assert_eq!(call(doc, "PutItem")["aws"]["table_name"], table.as_str());
    let gets = common::calls(doc, "GetItem");
    assert_eq!(gets.len(), 2);
    let (get, missing) = (gets[0], gets[1]);
    assert_eq!(get["aws"]["table_name"], table.as_str());
    assert_eq!(get["aws"]["consistent_read"], true);
    assert_eq!(get["aws"]["projection_expression"], "note");
    assert_eq!(get["aws"]["consumed_capacity"]["table_name"], table.as_str());
    assert_eq!(get["http"]["response"]["status"], 200);
    assert!(get["http"]["response"]["content_length"].as_u64().unwrap() > 0);
    assert!(get.get("error").is_none() && get.get("fault").is_none());
    let query = call(doc, "Query");
    assert_eq!((query["aws"]["limit"].clone(), query["aws"]["count"].clone()), (json!(10), json!(1)));
    assert_eq!(query["aws"]["scanned_count"], 1);
    let scan = call(doc, "Scan");
    assert_eq!(scan["aws"]["select"], "COUNT");
    assert_eq!(scan["aws"]["count"], 1);

    // A missing table: 400 ResourceNotFoundException, an error (not a fault) with a remote cause.
    assert_eq!(missing["http"]["response"]["status"], 400);
    assert_eq!((missing["error"].as_bool(), missing.get("fault"), missing.get("throttle")), (Some(true), None, None));
    let exception = &missing["cause"]["exceptions"][0];
    assert_eq!(exception["type"], "ResourceNotFoundException");
    assert_eq!(exception["remote"], true);
    assert!(exception["message"].as_str().is_some_and(|m| !m.is_empty()), "{exception}");
}

#[tokio::test]
async fn s3_calls_record_bucket_key_and_request_ids_but_no_content() {
    let Some(moto) = moto_url() else { return };
    let s3 = aws_sdk_s3::Client::from_conf(config!(aws_sdk_s3, &moto).force_path_style(true).build());
    let bucket = unique("media");
    let capture = Capture::new();
    let (_, docs) = traced(&capture, async {
        s3.create_bucket().bucket(&bucket).send().await.unwrap();
        let body = aws_sdk_s3::primitives::ByteStream::from_static(b"s3cr3t-object-body");
        s3.put_object().bucket(&bucket).key("cats/1.txt").body(body).send().await.unwrap();
        let got = s3.get_object().bucket(&bucket).key("cats/1.txt").send().await.unwrap();
        assert_eq!(&got.body.collect().await.unwrap().into_bytes()[..], b"s3cr3t-object-body");
        s3.list_objects_v2().bucket(&bucket).prefix("cats/").send().await.unwrap();
    })
    .await;
    assert_clean(&docs, &["s3cr3t-object-body"]);
    let doc = &docs[0];
    assert_eq!(call(doc, "CreateBucket")["aws"]["bucket_name"], bucket.as_str());
    for operation in ["PutObject", "GetObject"] {
        let s = call(doc, operation);
        assert_eq!(s["name"], "S3");
        assert_eq!(s["aws"]["bucket_name"], bucket.as_str(), "{operation}");
        assert_eq!(s["aws"]["key"], "cats/1.txt", "{operation}");
        assert!(s["aws"]["request_id"].is_string(), "{s}");
        assert_eq!(s["http"]["response"]["status"], 200);
    }
    assert_eq!(call(doc, "GetObject")["http"]["response"]["content_length"], 18);
    assert_eq!(call(doc, "ListObjectsV2")["aws"]["prefix"], "cats/");
}

#[tokio::test]
async fn sns_publish_records_the_topic_but_not_the_message() {
    let Some(moto) = moto_url() else { return };
    let sns = aws_sdk_sns::Client::from_conf(config!(aws_sdk_sns, &moto).build());
    let capture = Capture::new();
    let (topic, docs) = traced(&capture, async {
        let topic = sns.create_topic().name(unique("alerts")).send().await.unwrap().topic_arn.unwrap();
        sns.publish().topic_arn(&topic).message("s3cr3t-sns-message").send().await.unwrap();
        topic
    })
    .await;
    assert_clean(&docs, &["s3cr3t-sns-message"]);
    let publish = call(&docs[0], "Publish");
    assert_eq!(publish["name"], "SNS");
    assert_eq!(publish["aws"]["topic_arn"], topic.as_str());
}

#[tokio::test]
async fn ses_send_email_is_an_ses_subsegment_with_a_destination_count_and_no_address() {
    let Some(moto) = moto_url() else { return };
    let ses = aws_sdk_sesv2::Client::from_conf(config!(aws_sdk_sesv2, &moto).build());
    use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
    let capture = Capture::new();
    let (_, docs) = traced(&capture, async {
        ses.create_email_identity().email_identity("noreply@example.com").send().await.unwrap();
        let content = EmailContent::builder()
            .simple(
                Message::builder()
                    .subject(Content::builder().data("Welcome").build().unwrap())
                    .body(Body::builder().text(Content::builder().data("s3cr3t-mail-body").build().unwrap()).build())
                    .build(),
            )
            .build();
        ses.send_email()
            .from_email_address("noreply@example.com")
            .destination(
                Destination::builder().to_addresses("alice@example.org").cc_addresses("bob@example.org").build(),
            )
            .content(content)
            .send()
            .await
            .unwrap();
    })
    .await;
    assert_clean(&docs, &["s3cr3t-mail-body", "alice@", "bob@", "Welcome"]);
    let send = call(&docs[0], "SendEmail");
    assert_eq!(send["name"], "SES");
    assert_eq!(send["aws"]["destination_count"], 2);
    assert!(send["aws"]["message_id"].is_string(), "{send}");
}

/// What SQS does with a sender's trace header and moto does not: the proxy in front of moto
/// copies `X-Amzn-Trace-Id` of a `SendMessage` into the message's `AWSTraceHeader` system
/// attribute (unless the sender set one), then forwards the request.
async fn sqs_proxy(moto: &str) -> Server {
    let upstream = moto.trim_start_matches("http://").trim_end_matches('/').to_owned();
    Server::start(move |seen| {
        let upstream = upstream.clone();
        async move {
            let target = seen.parts.headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default();
            let header = seen.parts.headers.get("x-amzn-trace-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
            let mut body = seen.body.clone();
            if target == "AmazonSQS.SendMessage"
                && let Some(header) = header
            {
                let mut json: Value = serde_json::from_slice(&body).unwrap();
                json["MessageSystemAttributes"]["AWSTraceHeader"] =
                    json!({"DataType": "String", "StringValue": header});
                body = serde_json::to_vec(&json).unwrap().into();
            }
            forward(&upstream, seen, body).await
        }
    })
    .await
}

#[tokio::test]
async fn the_trace_header_crosses_an_sqs_queue_and_the_consumer_joins_the_producers_trace() {
    let Some(moto) = moto_url() else { return };
    let proxy = sqs_proxy(&moto).await;
    let sqs = aws_sdk_sqs::Client::from_conf(config!(aws_sdk_sqs, proxy.url()).build());
    let producer = Capture::with(|b| b.with_service_name("producer"));
    let (queue_url, docs) = traced(&producer, async {
        let queue_url = sqs.create_queue().queue_name(unique("jobs")).send().await.unwrap().queue_url.unwrap();
        sqs.send_message()
            .queue_url(&queue_url)
            .message_body("s3cr3t-message-body")
            .delay_seconds(0)
            .message_attributes(
                "kind",
                MessageAttributeValue::builder().data_type("String").string_value("s3cr3t-attr-value").build().unwrap(),
            )
            .send()
            .await
            .unwrap();
        queue_url
    })
    .await;
    assert_clean(&docs, &["s3cr3t-message-body", "s3cr3t-attr-value"]);
    let producer_doc = &docs[0];
    let send = call(producer_doc, "SendMessage");
    assert_eq!(send["name"], "SQS");
    assert_eq!(send["aws"]["queue_url"], queue_url.as_str());
    assert_eq!(send["aws"]["delay_seconds"], 0);
    assert_eq!(send["aws"]["message_attribute_names"], json!(["kind"]));
    assert!(send["aws"]["message_id"].is_string(), "{send}");
    // The header our interceptor sent names the SendMessage subsegment as the parent.
    let sent =
        proxy.requests().into_iter().find(|r| r.parts.headers["x-amz-target"] == "AmazonSQS.SendMessage").unwrap();
    let header = sent.parts.headers["x-amzn-trace-id"].to_str().unwrap().to_owned();
    let trace_id = producer_doc["trace_id"].as_str().unwrap();
    let send_id = send["id"].as_str().unwrap();
    assert_eq!(header, format!("Root={trace_id};Parent={send_id};Sampled=1"));

    // The consumer: a receive that asks for AWSTraceHeader, then the processing in the producer's trace.
    let consumer = Capture::with(|b| b.with_service_name("consumer"));
    let poller = consumer.recorder().new_segment("poller");
    let received = sqs
        .receive_message()
        .queue_url(&queue_url)
        .max_number_of_messages(5)
        .message_system_attribute_names(MessageSystemAttributeName::AwsTraceHeader)
        .send()
        .with_entity(poller.entity())
        .await
        .unwrap();
    poller.end();
    let messages = received.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(xray_aws_sdk::sqs::trace_header(&messages[0]), Some(header.as_str()));
    let message = &messages[0];
    let processing = xray_aws_sdk::sqs::begin(consumer.recorder(), "worker", message);
    assert!(processing.is_linked());
    processing
        .run(async {
            let handle = message.receipt_handle().unwrap();
            sqs.delete_message().queue_url(&queue_url).receipt_handle(handle).send().await.unwrap();
        })
        .await;

    let docs = consumer.take();
    assert_clean(&docs, &["s3cr3t-message-body", "s3cr3t-attr-value"]);
    let receive = call(&docs[0], "ReceiveMessage");
    assert_eq!(receive["aws"]["message_count"], 1);
    assert_eq!(receive["aws"]["max_number_of_messages"], 5);
    assert_eq!(receive["aws"]["attribute_names"], json!(["AWSTraceHeader"]));
    let worker = docs.iter().find(|d| d["name"] == "worker").unwrap();
    assert_eq!(worker["trace_id"], trace_id);
    assert_eq!(worker["parent_id"], send_id);
    assert_eq!(call(worker, "DeleteMessage")["aws"]["queue_url"], queue_url.as_str());
}
