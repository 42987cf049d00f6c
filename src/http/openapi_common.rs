//! Responses every operation can give whatever its handler does, added to the OpenAPI
//! document after the routers have described their own: 503 when the answer has not
//! started within the request timeout (the middleware in security.rs wraps every
//! route), and, for writes, while the database is down. Without them a client checking
//! the document (schemathesis, say) meets statuses it was never told of.

use std::collections::BTreeMap;

use utoipa::openapi::path::Operation;
use utoipa::openapi::{ContentBuilder, HeaderBuilder, OpenApi, Ref, RefOr, ResponseBuilder};

use super::error::PROBLEM_JSON;

/// The 503 of the request timeout (and of a write while the database is down).
fn unavailable(description: &str) -> RefOr<utoipa::openapi::Response> {
    let retry = HeaderBuilder::new()
        .schema(utoipa::openapi::schema::ObjectBuilder::new().schema_type(utoipa::openapi::schema::Type::Integer))
        .description(Some("Seconds to wait before trying again."))
        .build();
    ResponseBuilder::new()
        .description(description)
        .content(PROBLEM_JSON, ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build())
        .header("Retry-After", retry)
        .build()
        .into()
}

/// Adds a 503 to every operation that does not document one.
pub fn add_common_responses(doc: &mut OpenApi) {
    for item in doc.paths.paths.values_mut() {
        let operations: [&mut Option<Operation>; 5] =
            [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete];
        for operation in operations.into_iter().flatten() {
            operation.responses.responses.entry("503".to_owned()).or_insert_with(|| {
                unavailable(
                    "The answer did not start within the request timeout (`SIPKS_REQUEST_TIMEOUT`), or, for a \
                     write, the database cannot be reached.",
                )
            });
        }
    }
}

/// A problem+json response (the `Problem` schema) with `description`.
fn problem(description: &str) -> RefOr<utoipa::openapi::Response> {
    ResponseBuilder::new()
        .description(description)
        .content(PROBLEM_JSON, ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build())
        .build()
        .into()
}

/// The problem responses of `statuses` (status, description), for an
/// [`utoipa::IntoResponses`] that several operations share.
pub(super) fn problems(statuses: &[(&str, &str)]) -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
    statuses.iter().map(|&(status, description)| (status.to_owned(), problem(description))).collect()
}

/// Declares a set of problem responses that several operations give alike, to name in
/// their `responses(...)`:
/// `problem_responses!(Refusals { "401" => "No valid token." });`.
macro_rules! problem_responses {
    ($(#[$doc:meta])* $name:ident { $($status:literal => $description:expr),+ $(,)? }) => {
        $(#[$doc])*
        pub(super) struct $name;

        impl utoipa::IntoResponses for $name {
            fn responses(
            ) -> std::collections::BTreeMap<String, utoipa::openapi::RefOr<utoipa::openapi::Response>> {
                super::openapi_common::problems(&[$(($status, $description)),+])
            }
        }
    };
}
pub(super) use problem_responses;

problem_responses!(
    /// A computation of the engine that failed (its panic is logged).
    ComputeFailure {
        "500" => "The computation failed (logged).",
    }
);
