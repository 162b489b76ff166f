//! Kafka error codes the operations calls name that `kafka_client::ErrorCode` has no
//! constant for (yet).

use kafka_client::ErrorCode;

fn known(code: i16) -> ErrorCode {
    ErrorCode::from_code(code).unwrap_or(ErrorCode::UNKNOWN_SERVER_ERROR)
}

/// INVALID_REPLICA_ASSIGNMENT (39).
pub(crate) fn invalid_replica_assignment() -> ErrorCode {
    known(39)
}

/// INVALID_CONFIG (40).
pub(crate) fn invalid_config() -> ErrorCode {
    known(40)
}

/// UNACCEPTABLE_CREDENTIAL (93).
pub(crate) fn unacceptable_credential() -> ErrorCode {
    known(93)
}

#[cfg(test)]
mod tests {
    #[test]
    fn codes_are_kafkas() {
        assert_eq!(super::invalid_replica_assignment().code(), 39);
        assert_eq!(super::invalid_config().code(), 40);
        assert_eq!(super::unacceptable_credential().code(), 93);
    }
}
