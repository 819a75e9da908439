//! Which state machines the commands run against: `--state-machine` / `--batch-state-machine`
//! (or their environment variables) when given, else the CloudFormation stack's outputs
//! (`StateMachineArn`, `BatchStateMachineArn`), read by one DescribeStacks call, made only when
//! a command needs an ARN nobody gave. The stack is `--stack`, else the `stack_name` under
//! `[default.global.parameters]` in ./samconfig.toml (what `sam deploy` deploys).

use crate::failure::Failure;
use crate::sfn::one_line;
use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::Client;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

/// The samconfig file read for the default stack, in the current directory.
pub const SAMCONFIG: &str = "samconfig.toml";

/// The two state machines and where each one's ARN can come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Machine {
    /// The unload workflow (statemachine/unload.asl.json).
    Unload,
    /// The batch workflow (statemachine/batch.asl.json).
    Batch,
}

impl Machine {
    /// The stack output that names it.
    pub fn output(self) -> &'static str {
        match self {
            Machine::Unload => "StateMachineArn",
            Machine::Batch => "BatchStateMachineArn",
        }
    }

    /// How to give its ARN directly.
    pub fn override_hint(self) -> &'static str {
        match self {
            Machine::Unload => "--state-machine ARN or UNLOADCTL_STATE_MACHINE_ARN",
            Machine::Batch => "--batch-state-machine ARN or UNLOADCTL_BATCH_STATE_MACHINE_ARN",
        }
    }
}

/// The stack to read, and what named it (for the error messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stack {
    pub name: String,
    /// "--stack", or the samconfig file it came from.
    pub from: String,
}

impl Stack {
    pub fn given(name: &str) -> Self {
        Self {
            name: name.to_string(),
            from: "--stack".to_string(),
        }
    }

    /// The default stack: `stack_name` in `dir`/samconfig.toml, if that file names one.
    pub fn from_samconfig(dir: &Path) -> Option<Self> {
        let path = dir.join(SAMCONFIG);
        let text = std::fs::read_to_string(&path).ok()?;
        samconfig_stack_name(&text).map(|name| Self {
            name,
            from: format!("./{SAMCONFIG}"),
        })
    }
}

/// `stack_name` under `[default.global.parameters]` in a samconfig.toml (the SAM CLI's own
/// layout). A small reader for that one key: sections, `key = "value"` or `'value'`, comments.
pub fn samconfig_stack_name(text: &str) -> Option<String> {
    let mut in_section = false;
    for raw in text.lines() {
        let line = strip_comment(raw).trim();
        if line.is_empty() {
            continue;
        }
        if let Some(header) = line.strip_prefix('[') {
            let header = header.trim_end_matches(']');
            let parts: Vec<String> = header
                .split('.')
                .map(|p| p.trim().trim_matches('"').trim_matches('\'').to_string())
                .collect();
            in_section = parts == ["default", "global", "parameters"];
            continue;
        }
        if !in_section {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.trim().trim_matches('"') != "stack_name" {
            continue;
        }
        let value = value.trim();
        let unquoted = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))?;
        let name = unquoted.trim();
        return (!name.is_empty()).then(|| name.to_string());
    }
    None
}

/// The line without a `#` comment (a `#` inside quotes stays).
fn strip_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '#') => return &line[..i],
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            _ => {}
        }
    }
    line
}

/// Resolves the state machines' ARNs: the overrides first, then (once) the stack's outputs.
pub struct Machines {
    unload: Option<String>,
    batch: Option<String>,
    stack: Option<Stack>,
    cloudformation: Option<Client>,
    /// The stack's outputs once read.
    outputs: Mutex<Option<BTreeMap<String, String>>>,
}

impl Machines {
    pub fn new(
        unload: Option<String>,
        batch: Option<String>,
        stack: Option<Stack>,
        cloudformation: Option<Client>,
    ) -> Self {
        let blank = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
        Self {
            unload: blank(unload),
            batch: blank(batch),
            stack,
            cloudformation,
            outputs: Mutex::new(None),
        }
    }

    /// Given ARNs only; no stack (tests).
    #[cfg(test)]
    pub fn fixed(unload: Option<&str>, batch: Option<&str>) -> Self {
        Self::new(
            unload.map(str::to_string),
            batch.map(str::to_string),
            None,
            None,
        )
    }

    /// The ARN when known without an AWS call: the override, else the outputs already read.
    pub fn known(&self, machine: Machine) -> Option<String> {
        let given = match machine {
            Machine::Unload => &self.unload,
            Machine::Batch => &self.batch,
        };
        given.clone().or_else(|| {
            self.outputs
                .lock()
                .ok()?
                .as_ref()?
                .get(machine.output())
                .cloned()
        })
    }

    /// The ARN: the override, else the stack's output (one DescribeStacks call per process).
    pub async fn arn(&self, machine: Machine) -> Result<String, Failure> {
        if let Some(arn) = self.known(machine) {
            return Ok(arn);
        }
        let Some(stack) = &self.stack else {
            return Err(Failure::refused(format!(
                "no state machine: pass {}, or --stack NAME to read the stack's {} output \
                 (no --stack, and no stack_name in ./{SAMCONFIG})",
                machine.override_hint(),
                machine.output()
            )));
        };
        let outputs = match self.outputs.lock().ok().and_then(|o| o.clone()) {
            Some(outputs) => outputs,
            None => {
                let client = self.cloudformation.as_ref().ok_or_else(|| {
                    Failure::failed("no CloudFormation client to read the stack's outputs")
                })?;
                let outputs = describe(client, stack, machine).await?;
                if let Ok(mut slot) = self.outputs.lock() {
                    *slot = Some(outputs.clone());
                }
                outputs
            }
        };
        outputs.get(machine.output()).cloned().ok_or_else(|| {
            let have = if outputs.is_empty() {
                "none".to_string()
            } else {
                outputs.keys().cloned().collect::<Vec<_>>().join(", ")
            };
            Failure::refused(format!(
                "stack {} (from {}) has no output {} (its outputs: {have}): deploy the current \
                 template, or pass {}",
                stack.name,
                stack.from,
                machine.output(),
                machine.override_hint()
            ))
        })
    }
}

/// The stack's outputs (key → value), by DescribeStacks.
async fn describe(
    client: &Client,
    stack: &Stack,
    machine: Machine,
) -> Result<BTreeMap<String, String>, Failure> {
    let answer = client
        .describe_stacks()
        .stack_name(&stack.name)
        .send()
        .await;
    let out = match answer {
        Ok(out) => out,
        Err(err) => {
            let code = err.code().unwrap_or_default().to_string();
            let message = err.message().unwrap_or_default().to_string();
            let region = client
                .config()
                .region()
                .map(|r| format!(" in {r}"))
                .unwrap_or_default();
            // CloudFormation answers a missing stack with a ValidationError.
            if code == "ValidationError" && message.contains("does not exist") {
                return Err(Failure::refused(format!(
                    "stack {} (from {}) not found{region}: pass --stack NAME (and --region), or {}",
                    stack.name,
                    stack.from,
                    machine.override_hint()
                )));
            }
            if code.starts_with("AccessDenied") {
                return Err(Failure::failed(format!(
                    "DescribeStacks {}: {code}: {} (allow cloudformation:DescribeStacks, or pass {})",
                    stack.name,
                    message.split_whitespace().collect::<Vec<_>>().join(" "),
                    machine.override_hint()
                )));
            }
            return Err(one_line(&format!("DescribeStacks {}", stack.name), err));
        }
    };
    let found = out.stacks().first().ok_or_else(|| {
        Failure::refused(format!(
            "stack {} (from {}) not found: pass --stack NAME, or {}",
            stack.name,
            stack.from,
            machine.override_hint()
        ))
    })?;
    Ok(found
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value()?.to_string())))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failure::{FAILED, REFUSED};
    use aws_sdk_cloudformation::error::ErrorMetadata;
    use aws_sdk_cloudformation::operation::describe_stacks::{
        DescribeStacksError, DescribeStacksOutput,
    };
    use aws_sdk_cloudformation::types::{Output, Stack as CfnStack, StackStatus};
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    const UNLOAD: &str = "arn:aws:states:us-east-1:1:stateMachine:redshift-unload";
    const BATCH: &str = "arn:aws:states:us-east-1:1:stateMachine:redshift-unload-batch";

    fn stack_with(outputs: &[(&str, &str)]) -> DescribeStacksOutput {
        let mut stack = CfnStack::builder()
            .stack_name("redshift-unload")
            .stack_status(StackStatus::CreateComplete)
            .creation_time(aws_sdk_cloudformation::primitives::DateTime::from_secs(1));
        for (k, v) in outputs {
            stack = stack.outputs(Output::builder().output_key(*k).output_value(*v).build());
        }
        DescribeStacksOutput::builder()
            .stacks(stack.build())
            .build()
    }

    fn machines(client: Client, unload: Option<&str>, batch: Option<&str>) -> Machines {
        Machines::new(
            unload.map(str::to_string),
            batch.map(str::to_string),
            Some(Stack::given("redshift-unload")),
            Some(client),
        )
    }

    #[tokio::test]
    async fn both_arns_come_from_one_describe_stacks_call() {
        let rule = mock!(Client::describe_stacks)
            .match_requests(|r| r.stack_name() == Some("redshift-unload"))
            .then_output(|| {
                stack_with(&[("StateMachineArn", UNLOAD), ("BatchStateMachineArn", BATCH)])
            });
        let client = mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, [&rule]);
        let m = machines(client, None, None);
        assert_eq!(
            m.known(Machine::Batch),
            None,
            "nothing read before it is needed"
        );
        assert_eq!(m.arn(Machine::Unload).await.unwrap(), UNLOAD);
        assert_eq!(m.arn(Machine::Batch).await.unwrap(), BATCH);
        assert_eq!(m.known(Machine::Batch).as_deref(), Some(BATCH));
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn an_override_wins_and_makes_no_call() {
        let rule = mock!(Client::describe_stacks).then_output(|| {
            stack_with(&[
                ("StateMachineArn", "arn:other"),
                ("BatchStateMachineArn", "arn:other-batch"),
            ])
        });
        let client = mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, [&rule]);
        let m = machines(client, Some(UNLOAD), None);
        assert_eq!(m.arn(Machine::Unload).await.unwrap(), UNLOAD);
        assert_eq!(rule.num_calls(), 0);
        // The other machine still comes from the stack.
        assert_eq!(m.arn(Machine::Batch).await.unwrap(), "arn:other-batch");
        assert_eq!(m.arn(Machine::Unload).await.unwrap(), UNLOAD);
        // A blank override is no override.
        let m = Machines::new(Some(" ".into()), None, None, None);
        assert_eq!(m.known(Machine::Unload), None);
    }

    #[tokio::test]
    async fn a_missing_stack_is_named_with_how_to_pass_another() {
        let rule = mock!(Client::describe_stacks).then_error(|| {
            DescribeStacksError::generic(
                ErrorMetadata::builder()
                    .code("ValidationError")
                    .message("Stack with id redshift-unload does not exist")
                    .build(),
            )
        });
        let client = mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, [&rule]);
        let err = machines(client, None, None)
            .arn(Machine::Batch)
            .await
            .unwrap_err();
        assert_eq!(err.exit_code, REFUSED);
        assert!(
            err.message
                .starts_with("stack redshift-unload (from --stack) not found"),
            "{}",
            err.message
        );
        assert!(
            err.message.contains("UNLOADCTL_BATCH_STATE_MACHINE_ARN"),
            "{}",
            err.message
        );
        assert!(!err.message.contains('\n'));
    }

    #[tokio::test]
    async fn a_missing_output_is_named_with_the_stack_and_what_it_has() {
        let rule = mock!(Client::describe_stacks)
            .then_output(|| stack_with(&[("StateMachineArn", UNLOAD)]));
        let client = mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, [&rule]);
        let m = machines(client, None, None);
        assert_eq!(m.arn(Machine::Unload).await.unwrap(), UNLOAD);
        let err = m.arn(Machine::Batch).await.unwrap_err();
        assert_eq!(err.exit_code, REFUSED);
        assert_eq!(
            err.message,
            "stack redshift-unload (from --stack) has no output BatchStateMachineArn (its outputs: \
             StateMachineArn): deploy the current template, or pass --batch-state-machine ARN or \
             UNLOADCTL_BATCH_STATE_MACHINE_ARN"
        );
    }

    #[tokio::test]
    async fn access_denied_is_an_aws_failure_on_one_line() {
        let rule = mock!(Client::describe_stacks).then_error(|| {
            DescribeStacksError::generic(
                ErrorMetadata::builder()
                    .code("AccessDenied")
                    .message("User: arn:aws:iam::1:user/x is not authorized\nto perform: cloudformation:DescribeStacks")
                    .build(),
            )
        });
        let client = mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, [&rule]);
        let err = machines(client, None, None)
            .arn(Machine::Unload)
            .await
            .unwrap_err();
        assert_eq!(err.exit_code, FAILED);
        assert!(
            err.message
                .starts_with("DescribeStacks redshift-unload: AccessDenied: User"),
            "{}",
            err.message
        );
        assert!(
            err.message.contains("--state-machine ARN"),
            "{}",
            err.message
        );
        assert!(!err.message.contains('\n'));
    }

    #[tokio::test]
    async fn no_stack_and_no_arn_is_refused_saying_how_to_give_either() {
        let err = Machines::fixed(None, None)
            .arn(Machine::Unload)
            .await
            .unwrap_err();
        assert_eq!(err.exit_code, REFUSED);
        assert!(
            err.message.contains("--state-machine ARN"),
            "{}",
            err.message
        );
        assert!(err.message.contains("--stack NAME"), "{}", err.message);
    }

    #[test]
    fn the_default_stack_is_samconfigs_global_stack_name() {
        let text = r#"
# SAM CLI configuration
version = 0.1

[default.build.parameters]
stack_name = "not-this-one"

[default.global.parameters]   # the one
region = "us-east-1"
stack_name = "redshift-unload" # trailing comment

[dev.global.parameters]
stack_name = "redshift-unload-dev"
"#;
        assert_eq!(
            samconfig_stack_name(text).as_deref(),
            Some("redshift-unload")
        );
        assert_eq!(
            samconfig_stack_name("[ default . global . parameters ]\nstack_name='a#b'\n")
                .as_deref(),
            Some("a#b")
        );
        assert_eq!(
            samconfig_stack_name("[default.deploy.parameters]\nstack_name = \"x\"\n"),
            None
        );
        assert_eq!(
            samconfig_stack_name("[default.global.parameters]\nstack_name = \"\"\n"),
            None
        );
        assert_eq!(samconfig_stack_name(""), None);
    }

    #[test]
    fn the_projects_own_samconfig_names_its_stack() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        assert_eq!(
            Stack::from_samconfig(&root),
            Some(Stack {
                name: "redshift-unload".into(),
                from: "./samconfig.toml".into()
            })
        );
        assert_eq!(Stack::from_samconfig(&root.join("cli")), None);
    }
}
