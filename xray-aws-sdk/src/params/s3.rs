//! S3: the bucket, key and version id (never an object's content).

use aws_sdk_s3::operation::copy_object::CopyObjectInput;
use aws_sdk_s3::operation::create_bucket::CreateBucketInput;
use aws_sdk_s3::operation::delete_bucket::DeleteBucketInput;
use aws_sdk_s3::operation::delete_object::DeleteObjectInput;
use aws_sdk_s3::operation::delete_objects::DeleteObjectsInput;
use aws_sdk_s3::operation::get_object::GetObjectInput;
use aws_sdk_s3::operation::get_object_acl::GetObjectAclInput;
use aws_sdk_s3::operation::get_object_tagging::GetObjectTaggingInput;
use aws_sdk_s3::operation::head_bucket::HeadBucketInput;
use aws_sdk_s3::operation::head_object::HeadObjectInput;
use aws_sdk_s3::operation::list_object_versions::ListObjectVersionsInput;
use aws_sdk_s3::operation::list_objects::ListObjectsInput;
use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Input;
use aws_sdk_s3::operation::put_object::PutObjectInput;
use aws_sdk_s3::operation::put_object_tagging::PutObjectTaggingInput;
use aws_sdk_s3::operation::upload_part::UploadPartInput;
use aws_smithy_runtime_api::client::interceptors::context::Input;

use super::{Fields, put};

/// Bucket and key (and version id) of an object operation.
macro_rules! object {
    ($input:expr, $out:expr, $ty:ty) => {
        if let Some(i) = $input.downcast_ref::<$ty>() {
            put($out, "bucket_name", i.bucket());
            put($out, "key", i.key());
        }
    };
    ($input:expr, $out:expr, $ty:ty, version) => {
        if let Some(i) = $input.downcast_ref::<$ty>() {
            put($out, "bucket_name", i.bucket());
            put($out, "key", i.key());
            put($out, "version_id", i.version_id());
        }
    };
}

/// Bucket (and prefix) of a bucket operation.
macro_rules! bucket {
    ($input:expr, $out:expr, $ty:ty) => {
        if let Some(i) = $input.downcast_ref::<$ty>() {
            put($out, "bucket_name", i.bucket());
        }
    };
    ($input:expr, $out:expr, $ty:ty, prefix) => {
        if let Some(i) = $input.downcast_ref::<$ty>() {
            put($out, "bucket_name", i.bucket());
            put($out, "prefix", i.prefix());
        }
    };
}

pub(super) fn request(operation: &str, input: &Input, out: &mut Fields) {
    match operation {
        "GetObject" => object!(input, out, GetObjectInput, version),
        "HeadObject" => object!(input, out, HeadObjectInput, version),
        "PutObject" => object!(input, out, PutObjectInput),
        "DeleteObject" => object!(input, out, DeleteObjectInput, version),
        "UploadPart" => object!(input, out, UploadPartInput),
        "GetObjectAcl" => object!(input, out, GetObjectAclInput, version),
        "GetObjectTagging" => object!(input, out, GetObjectTaggingInput, version),
        "PutObjectTagging" => object!(input, out, PutObjectTaggingInput, version),
        "CopyObject" => {
            object!(input, out, CopyObjectInput);
            if let Some(i) = input.downcast_ref::<CopyObjectInput>() {
                // `bucket/key`, a name like the target's; a query part (a version) is cut.
                put(out, "copy_source", i.copy_source().map(|s| s.split('?').next().unwrap_or(s)));
            }
        }
        "CreateBucket" => bucket!(input, out, CreateBucketInput),
        "DeleteBucket" => bucket!(input, out, DeleteBucketInput),
        "HeadBucket" => bucket!(input, out, HeadBucketInput),
        "DeleteObjects" => bucket!(input, out, DeleteObjectsInput),
        "ListObjects" => bucket!(input, out, ListObjectsInput, prefix),
        "ListObjectsV2" => bucket!(input, out, ListObjectsV2Input, prefix),
        "ListObjectVersions" => bucket!(input, out, ListObjectVersionsInput, prefix),
        _ => {}
    }
}
