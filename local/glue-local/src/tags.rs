//! Glue tags, and the job ARNs that GetTags / TagResource / UntagResource address.
//!
//! - ResourceArn must match `arn:aws(-(cn|us-gov|iso(-[bef])?))?:glue:.*`
//!   (https://docs.aws.amazon.com/glue/latest/webapi/API_GetTags.html,
//!   https://docs.aws.amazon.com/glue/latest/webapi/API_TagResource.html); a job's ARN is
//!   `arn:<partition>:glue:<region>:<account-id>:job/<job-name>`
//!   (https://docs.aws.amazon.com/glue/latest/dg/glue-specifying-resource-arns.html).
//!   glue-local has jobs only, so any other Glue ARN is InvalidInputException here.
//! - A tag map holds at most 50 entries, keys of 1-128 and values of 0-256 UTF-8 bytes, and a key
//!   may not use the `aws:` prefix (Tag structure,
//!   https://docs.aws.amazon.com/glue/latest/dg/aws-glue-api-tags.html).

use crate::store::ApiError;
use std::collections::BTreeMap;

pub type Tags = BTreeMap<String, String>;

const MAX_TAGS: usize = 50;
const MAX_KEY_BYTES: usize = 128;
const MAX_VALUE_BYTES: usize = 256;
const PARTITIONS: [&str; 7] = [
    "aws",
    "aws-cn",
    "aws-us-gov",
    "aws-iso",
    "aws-iso-b",
    "aws-iso-e",
    "aws-iso-f",
];

/// Checks a tag map against Glue's limits.
pub fn validate(tags: Tags) -> Result<Tags, ApiError> {
    if tags.len() > MAX_TAGS {
        return Err(ApiError::invalid_input(format!(
            "a resource can have at most {MAX_TAGS} tags, not {}",
            tags.len()
        )));
    }
    for (key, value) in &tags {
        if key.is_empty() || key.len() > MAX_KEY_BYTES {
            return Err(ApiError::invalid_input(format!(
                "tag key {key:?} must be 1-{MAX_KEY_BYTES} bytes long"
            )));
        }
        if key.to_ascii_lowercase().starts_with("aws:") {
            return Err(ApiError::invalid_input(format!(
                "tag key {key:?} uses the reserved prefix aws:"
            )));
        }
        if value.len() > MAX_VALUE_BYTES {
            return Err(ApiError::invalid_input(format!(
                "the value of tag {key:?} must be at most {MAX_VALUE_BYTES} bytes long"
            )));
        }
    }
    Ok(tags)
}

/// The job name in a job ARN. `signing_region` is the region the caller signed for: a job ARN
/// of another region names a job that does not exist here.
pub fn job_name_from_arn<'a>(
    arn: &'a str,
    signing_region: Option<&str>,
) -> Result<&'a str, ApiError> {
    let invalid = |why: &str| ApiError::invalid_input(format!("ResourceArn {arn:?} {why}"));
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts[..] else {
        return Err(invalid("is not an ARN"));
    };
    if prefix != "arn" || !PARTITIONS.contains(&partition) || service != "glue" {
        return Err(invalid("is not a Glue ARN (arn:<partition>:glue:...)"));
    }
    let Some(name) = resource.strip_prefix("job/").filter(|n| !n.is_empty()) else {
        return Err(invalid(
            "is not a job ARN (arn:<partition>:glue:<region>:<account>:job/<name>); glue-local has jobs only",
        ));
    };
    if region.is_empty() {
        return Err(invalid("has no region"));
    }
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid("has no 12-digit account id"));
    }
    if let Some(signed) = signing_region.filter(|r| *r != region) {
        return Err(ApiError::not_found(format!(
            "Job {name} not found: the ARN is in {region}, the request was signed for {signed}"
        )));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_arns_give_the_job_name() {
        for arn in [
            "arn:aws:glue:us-east-1:123456789012:job/demo.orders_ExtractToDataLake",
            "arn:aws-us-gov:glue:us-gov-west-1:123456789012:job/a/b",
            "arn:aws-cn:glue:cn-north-1:123456789012:job/x",
        ] {
            assert!(job_name_from_arn(arn, None).is_ok(), "{arn}");
        }
        assert_eq!(
            job_name_from_arn(
                "arn:aws:glue:eu-west-1:123456789012:job/a:b",
                Some("eu-west-1")
            ),
            Ok("a:b")
        );
    }

    #[test]
    fn other_arns_are_invalid_input_and_other_regions_not_found() {
        for arn in [
            "",
            "job/x",
            "arn:aws:s3:::bucket",
            "arn:aws:glue:us-east-1:123456789012:database/db1",
            "arn:aws:glue:us-east-1:123456789012:job/",
            "arn:aws:glue:us-east-1:1234:job/x",
            "arn:aws:glue::123456789012:job/x",
            "arn:azure:glue:us-east-1:123456789012:job/x",
        ] {
            let err = job_name_from_arn(arn, None).unwrap_err();
            assert_eq!(err.code, "InvalidInputException", "{arn}");
        }
        let err = job_name_from_arn(
            "arn:aws:glue:us-west-2:123456789012:job/x",
            Some("us-east-1"),
        )
        .unwrap_err();
        assert_eq!(err.code, "EntityNotFoundException");
    }

    #[test]
    fn tag_limits() {
        let ok: Tags = [("stack".to_string(), "dev".to_string())].into();
        assert!(validate(ok).is_ok());
        let many: Tags = (0..51).map(|i| (format!("k{i}"), String::new())).collect();
        let long_value: Tags = [("k".to_string(), "v".repeat(257))].into();
        for bad in [
            many,
            [(String::new(), "v".to_string())].into(),
            [("k".repeat(129), "v".to_string())].into(),
            [("aws:cloudformation:stack-name".to_string(), "s".to_string())].into(),
            long_value,
        ] {
            assert_eq!(validate(bad).unwrap_err().code, "InvalidInputException");
        }
    }
}
