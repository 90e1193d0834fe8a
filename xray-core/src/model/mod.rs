//! The segment-document model: every field of AWS's segment-document schema.
//!
//! One [`SegmentDocument`] type serves segments, embedded subsegments and independently sent
//! subsegments (`type: "subsegment"`), since they share almost every field; the fields that
//! belong to one kind only are optional and left out of the JSON when unset.

mod annotation;
mod aws;
mod cause;
mod document;
mod http_block;
mod metadata;
mod sql;

pub use annotation::{AnnotationOutcome, AnnotationValue, Annotations, MAX_ANNOTATIONS, MAX_KEY_LEN, MAX_VALUE_CHARS};
pub use aws::{Aws, SDK_NAME, SDK_VERSION, Service, XraySdk};
pub use cause::{Cause, CauseDetails, Exception, MAX_CHAIN, StackFrame};
pub use document::{DocumentType, MAX_NAME_CHARS, Namespace, SegmentDocument, sanitize_name};
pub use http_block::{Http, HttpRequest, HttpResponse, MAX_FIELD_CHARS, StatusFlags, method_name};
pub use metadata::{DEFAULT_NAMESPACE, Metadata, RESERVED_PREFIX};
pub use sql::Sql;
