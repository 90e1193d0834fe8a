//! DynamoDB: table and index names, read options, counts and consumed capacity (never a key,
//! an item or an expression's values).

use aws_sdk_dynamodb::operation::batch_get_item::{BatchGetItemInput, BatchGetItemOutput};
use aws_sdk_dynamodb::operation::batch_write_item::{BatchWriteItemInput, BatchWriteItemOutput};
use aws_sdk_dynamodb::operation::create_table::CreateTableInput;
use aws_sdk_dynamodb::operation::delete_item::{DeleteItemInput, DeleteItemOutput};
use aws_sdk_dynamodb::operation::delete_table::DeleteTableInput;
use aws_sdk_dynamodb::operation::describe_table::DescribeTableInput;
use aws_sdk_dynamodb::operation::get_item::{GetItemInput, GetItemOutput};
use aws_sdk_dynamodb::operation::list_tables::{ListTablesInput, ListTablesOutput};
use aws_sdk_dynamodb::operation::put_item::{PutItemInput, PutItemOutput};
use aws_sdk_dynamodb::operation::query::{QueryInput, QueryOutput};
use aws_sdk_dynamodb::operation::scan::{ScanInput, ScanOutput};
use aws_sdk_dynamodb::operation::update_item::{UpdateItemInput, UpdateItemOutput};
use aws_sdk_dynamodb::operation::update_table::UpdateTableInput;
use aws_sdk_dynamodb::types::{Capacity, ConsumedCapacity};
use aws_smithy_runtime_api::client::interceptors::context::{Input, Output};
use serde_json::{Map, Value};

use super::{Fields, names, put};

/// `table_name` of an operation on one table.
macro_rules! table {
    ($input:expr, $out:expr, $($ty:ty),+) => {{
        $(if let Some(i) = $input.downcast_ref::<$ty>() {
            put($out, "table_name", i.table_name());
        })+
    }};
}

pub(super) fn request(operation: &str, input: &Input, out: &mut Fields) {
    match operation {
        "GetItem" => {
            if let Some(i) = input.downcast_ref::<GetItemInput>() {
                put(out, "table_name", i.table_name());
                put(out, "consistent_read", i.consistent_read());
                put(out, "projection_expression", i.projection_expression());
            }
        }
        "Query" => {
            if let Some(i) = input.downcast_ref::<QueryInput>() {
                put(out, "table_name", i.table_name());
                put(out, "index_name", i.index_name());
                put(out, "consistent_read", i.consistent_read());
                put(out, "projection_expression", i.projection_expression());
                put(out, "limit", i.limit());
                put(out, "scan_index_forward", i.scan_index_forward());
                put(out, "select", i.select().map(|s| s.as_str()));
                if !i.attributes_to_get().is_empty() {
                    out.insert("attributes_to_get".into(), Value::from(i.attributes_to_get().to_vec()));
                }
            }
        }
        "Scan" => {
            if let Some(i) = input.downcast_ref::<ScanInput>() {
                put(out, "table_name", i.table_name());
                put(out, "index_name", i.index_name());
                put(out, "consistent_read", i.consistent_read());
                put(out, "projection_expression", i.projection_expression());
                put(out, "limit", i.limit());
                put(out, "select", i.select().map(|s| s.as_str()));
                put(out, "segment", i.segment());
                put(out, "total_segments", i.total_segments());
                if !i.attributes_to_get().is_empty() {
                    out.insert("attributes_to_get".into(), Value::from(i.attributes_to_get().to_vec()));
                }
            }
        }
        "BatchGetItem" => {
            if let Some(items) = input.downcast_ref::<BatchGetItemInput>().and_then(|i| i.request_items()) {
                out.insert("table_names".into(), names(items.keys()));
            }
        }
        "BatchWriteItem" => {
            if let Some(items) = input.downcast_ref::<BatchWriteItemInput>().and_then(|i| i.request_items()) {
                out.insert("table_names".into(), names(items.keys()));
            }
        }
        "ListTables" => {
            if let Some(i) = input.downcast_ref::<ListTablesInput>() {
                put(out, "exclusive_start_table_name", i.exclusive_start_table_name());
                put(out, "limit", i.limit());
            }
        }
        "CreateTable" => {
            if let Some(i) = input.downcast_ref::<CreateTableInput>() {
                put(out, "table_name", i.table_name());
                if let Some(t) = i.provisioned_throughput() {
                    let mut pt = Map::new();
                    pt.insert("read_capacity_units".into(), t.read_capacity_units().into());
                    pt.insert("write_capacity_units".into(), t.write_capacity_units().into());
                    out.insert("provisioned_throughput".into(), Value::Object(pt));
                }
            }
        }
        _ => table!(
            input,
            out,
            PutItemInput,
            UpdateItemInput,
            DeleteItemInput,
            DescribeTableInput,
            DeleteTableInput,
            UpdateTableInput
        ),
    }
}

pub(super) fn response(operation: &str, output: &Output, out: &mut Fields) {
    match operation {
        "GetItem" => put(
            out,
            "consumed_capacity",
            consumed(output.downcast_ref::<GetItemOutput>().and_then(|o| o.consumed_capacity())),
        ),
        "PutItem" => put(
            out,
            "consumed_capacity",
            consumed(output.downcast_ref::<PutItemOutput>().and_then(|o| o.consumed_capacity())),
        ),
        "UpdateItem" => put(
            out,
            "consumed_capacity",
            consumed(output.downcast_ref::<UpdateItemOutput>().and_then(|o| o.consumed_capacity())),
        ),
        "DeleteItem" => put(
            out,
            "consumed_capacity",
            consumed(output.downcast_ref::<DeleteItemOutput>().and_then(|o| o.consumed_capacity())),
        ),
        "Query" => {
            if let Some(o) = output.downcast_ref::<QueryOutput>() {
                put(out, "consumed_capacity", consumed(o.consumed_capacity()));
                put(out, "count", Some(o.count()));
                put(out, "scanned_count", Some(o.scanned_count()));
            }
        }
        "Scan" => {
            if let Some(o) = output.downcast_ref::<ScanOutput>() {
                put(out, "consumed_capacity", consumed(o.consumed_capacity()));
                put(out, "count", Some(o.count()));
                put(out, "scanned_count", Some(o.scanned_count()));
            }
        }
        "BatchGetItem" => {
            if let Some(o) = output.downcast_ref::<BatchGetItemOutput>() {
                put(out, "consumed_capacity", consumed_list(o.consumed_capacity()));
            }
        }
        "BatchWriteItem" => {
            if let Some(o) = output.downcast_ref::<BatchWriteItemOutput>() {
                put(out, "consumed_capacity", consumed_list(o.consumed_capacity()));
            }
        }
        "ListTables" => {
            if let Some(o) = output.downcast_ref::<ListTablesOutput>() {
                put(out, "table_count", Some(o.table_names().len()));
            }
        }
        _ => {}
    }
}

/// A `ConsumedCapacity` as the snake-cased object the official SDKs record.
fn consumed(capacity: Option<&ConsumedCapacity>) -> Option<Value> {
    let c = capacity?;
    let mut object = Map::new();
    put(&mut object, "table_name", c.table_name());
    put(&mut object, "capacity_units", c.capacity_units());
    put(&mut object, "read_capacity_units", c.read_capacity_units());
    put(&mut object, "write_capacity_units", c.write_capacity_units());
    put(&mut object, "table", c.table().and_then(units));
    Some(Value::Object(object))
}

fn consumed_list(list: &[ConsumedCapacity]) -> Option<Value> {
    (!list.is_empty()).then(|| Value::from(list.iter().filter_map(|c| consumed(Some(c))).collect::<Vec<_>>()))
}

fn units(capacity: &Capacity) -> Option<Value> {
    let mut object = Map::new();
    put(&mut object, "capacity_units", capacity.capacity_units());
    put(&mut object, "read_capacity_units", capacity.read_capacity_units());
    put(&mut object, "write_capacity_units", capacity.write_capacity_units());
    (!object.is_empty()).then_some(Value::Object(object))
}
