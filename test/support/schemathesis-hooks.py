"""schemathesis hooks for the contract fuzz run (test/integration/contract.fuzz.test.ts).

Right before it is sent, each connect gets a fresh idempotency key wherever it carries a valid one
(body `request_id`, `Idempotency-Key` header), the same in both:
- the two must agree when both are given, a rule between a header and the body that OpenAPI cannot state;
- Hypothesis repeats the keys it generates, and the API under test runs without a worker, so every
  repeat of a key would join one workflow whose admission never finishes (see the test file).
An invalid key is left as generated, and schemathesis re-validates the case after this hook, so a
request meant to be refused still is.
"""
import re
import uuid

import schemathesis

CONNECT = "/api/v1/code/connect"
UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-8][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$")


def _valid(value):
    return isinstance(value, str) and UUID.match(value) is not None


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.operation.path != CONNECT or case.operation.method.upper() != "POST":
        return
    key = str(uuid.uuid4())
    if isinstance(case.body, dict) and _valid(case.body.get("request_id")):
        case.body["request_id"] = key
    for name in list(case.headers or {}):
        if name.lower() == "idempotency-key" and _valid(case.headers[name]):
            case.headers[name] = key
