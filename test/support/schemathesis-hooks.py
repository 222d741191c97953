"""schemathesis hooks for the contract fuzz run (test/integration/contract.fuzz.test.ts).

Valid connect requests get a fresh idempotency key each, given in the body and the header alike:
- the two must agree when both are given, a rule between a header and the body that OpenAPI cannot state;
- Hypothesis repeats the keys it generates, and the API under test runs without a worker, so every
  repeat of a key would join one workflow whose admission never finishes (see the test file).
Invalid requests are left as generated: they are refused before any key is looked at.
"""
import uuid

import schemathesis

CONNECT = "/api/v1/code/connect"


@schemathesis.hook
def map_case(context, case):
    if case.operation.path != CONNECT or not isinstance(case.body, dict):
        return case
    if case.meta is not None and case.meta.generation.mode.is_negative:
        return case
    headers = case.headers or {}
    names = [name for name in headers if name.lower() == "idempotency-key"]
    if "request_id" not in case.body and not names:
        return case
    key = str(uuid.uuid4())
    if "request_id" in case.body:
        case.body = {**case.body, "request_id": key}
    for name in names:
        headers[name] = key
    return case
