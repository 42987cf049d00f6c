//! Why an incident write was refused.

use crate::incident::Status;

/// Why an incident write was refused or failed; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum IncidentError {
    /// A stated field is wrong: `field` is its JSON path (`properties.severity`), with
    /// the reason in Indonesian and English.
    #[error("{field}: {en}")]
    Field {
        /// JSON path of the field.
        field: String,
        /// The reason, in Bahasa Indonesia.
        id: String,
        /// The reason, in English.
        en: String,
    },
    /// The caller's role only reads.
    #[error("the caller's role is read-only")]
    ReadOnly,
    /// The incident lies (or would lie) outside the caller's region.
    #[error("location {at} lies outside the caller's region {region}")]
    OutOfScope {
        /// Where it lies (regency/city or province code), `-` when unknown.
        at: String,
        /// The caller's region, `-` when none.
        region: String,
    },
    /// Moving the status back (reopening) is for nasional and provinsi users.
    #[error("only a nasional or provinsi user can move the status back from {from} to {to}")]
    Reopen {
        /// The current status.
        from: Status,
        /// The status asked for.
        to: Status,
    },
    /// No such incident the caller can see.
    #[error("no incident {0} the caller can see")]
    NotFound(i64),
    /// The version named is not the current one.
    #[error("the incident is now at version {0}")]
    Stale(i32),
    /// The idempotency key was used for a different request.
    #[error("the idempotency key was used for a different request")]
    KeyReused,
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// The committed write could not be applied to the engine (it is stored; the engine
    /// catches up on its next reload).
    #[error("engine update failed")]
    Engine,
}

impl IncidentError {
    /// A wrong field, with the same reason in both languages (as the readers give it).
    pub fn field(field: &str, reason: impl Into<String>) -> IncidentError {
        let reason = reason.into();
        IncidentError::Field { field: field.to_owned(), id: reason.clone(), en: reason }
    }
}
