//! Validators for the SBOM schemas vendored beside this file (README.md
//! says where each comes from). The CycloneDX schema's `$ref`s to
//! `spdx.schema.json` and `jsf-0.82.schema.json` resolve to the vendored
//! copies; nothing is fetched (jsonschema is built without HTTP).
//!
//! Shared by `crates/image/tests/sbom_schemas.rs` and
//! `crates/cli/tests/sbom.rs` (through `#[path]`).
#![allow(dead_code)] // each test binary uses a different subset

use jsonschema::{Draft, Registry, Resource, Validator};
use serde_json::Value;

fn schema(text: &str) -> Value {
    serde_json::from_str(text).expect("a vendored schema is JSON")
}

/// SPDX 2.3 (`spdx-schema.json`, draft 2019-09 as it declares).
pub fn spdx() -> Validator {
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema(include_str!("spdx-schema.json")))
        .expect("the SPDX 2.3 schema compiles")
}

/// CycloneDX 1.5 (`bom-1.5.schema.json`, draft-07).
pub fn cyclonedx() -> Validator {
    let registry = Registry::new()
        .add(
            "http://cyclonedx.org/schema/spdx.schema.json",
            Resource::from_contents(schema(include_str!("spdx.schema.json"))),
        )
        .and_then(|r| {
            r.add(
                "http://cyclonedx.org/schema/jsf-0.82.schema.json",
                Resource::from_contents(schema(include_str!("jsf-0.82.schema.json"))),
            )
        })
        .and_then(|r| r.prepare())
        .expect("the vendored CycloneDX resources load");
    jsonschema::options()
        .with_draft(Draft::Draft7)
        .should_validate_formats(true)
        .with_registry(&registry)
        .build(&schema(include_str!("bom-1.5.schema.json")))
        .expect("the CycloneDX 1.5 schema compiles with its references resolved locally")
}

/// Every violation of `doc`, as `<instance path>: <message>`.
pub fn errors(validator: &Validator, doc: &Value) -> Vec<String> {
    validator.iter_errors(doc).map(|e| format!("{}: {e}", e.instance_path())).collect()
}

/// Fails the test with every violation when `doc` is invalid.
pub fn assert_valid(validator: &Validator, doc: &Value, what: &str) {
    let errors = errors(validator, doc);
    assert!(errors.is_empty(), "{what} violates its schema:\n  {}", errors.join("\n  "));
}
