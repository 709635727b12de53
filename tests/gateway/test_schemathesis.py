"""Property-based API tests from the OpenAPI document (schemathesis): no server error and no
response that breaks the documented schema, status codes, content types or headers.

The document is built from the gateway's code at collection, one test per operation, and checked
equal to what the running gateway serves. Operations get the demo program and, half the time, a
real member of their own, so requests get past authentication into the services. Examples are
bounded to keep the suite fast. (Schemathesis' own pytest plugin does not run on pytest 9 yet,
so hypothesis drives each operation's strategy directly.)
"""

import re
from urllib.parse import unquote

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.app import create_app
from gateway.auth import PROGRAM_ID_PATTERN
from gateway.config import GatewayConfig
from gateway.routes.common import MEMBER_ID_PATTERN
from tests.gateway.conftest import PROGRAM, GatewayPlatform

EXAMPLES_PER_OPERATION = 12
DOCUMENT = create_app(GatewayConfig(demo_login=True)).openapi()
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)
OPERATIONS = {result.ok().label: result.ok() for result in SCHEMA.get_all_operations()}
POSITIVE, NEGATIVE = schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE
CREDENTIAL_HEADERS = {"authorization", "x-api-key"}
EXCLUDED = [
    # A valid request for a random id that exists nowhere is rightly 404.
    schemathesis.checks.positive_data_acceptance,
    # It spoils one credential scheme while the other (X-Api-Key) still authenticates;
    # test_auth.py covers missing and rejected credentials instead.
    schemathesis.checks.ignored_auth,
]


@pytest.fixture(scope="session")
def fuzzed_member(gateway_platform: GatewayPlatform) -> str:
    member_id = gateway_platform.enrol(given_name="Fuzz")
    gateway_platform.earn(member_id, 10_000)
    return member_id


def test_the_running_gateway_serves_this_document(gateway_platform: GatewayPlatform) -> None:
    served = httpx.get(f"{gateway_platform.url}/openapi.json").json()
    assert served["paths"] == DOCUMENT["paths"]
    assert served["components"] == DOCUMENT["components"]


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_operation_conforms_to_the_document(
    label: str, gateway_platform: GatewayPlatform, fuzzed_member: str
) -> None:
    operation = OPERATIONS[label]
    strategy = st.one_of(
        operation.as_strategy(generation_mode=POSITIVE).map(lambda case: (case, True)),
        operation.as_strategy(generation_mode=NEGATIVE).map(lambda case: (case, False)),
    )

    @given(generated=strategy, real_member=st.booleans())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def run(generated: tuple[schemathesis.Case, bool], real_member: bool) -> None:
        case, positive = generated
        # Valid values only are replaced, so a negative case keeps what makes it invalid.
        parameters = case.path_parameters or {}
        if re.match(PROGRAM_ID_PATTERN, str(parameters.get("program_id", ""))):
            parameters["program_id"] = PROGRAM
        # Schemathesis gives path parameters percent-encoded: the value the gateway sees is the
        # decoded one.
        member_id = unquote(str(parameters.get("member_id", "")))
        if real_member and len(member_id) <= 64 and re.match(MEMBER_ID_PATTERN, member_id):
            parameters["member_id"] = fuzzed_member
        headers = dict(case.headers or {})
        if positive:
            # Valid requests go in as the back office, past authentication into the services.
            for name in [name for name in headers if name.lower() in CREDENTIAL_HEADERS]:
                del headers[name]
        if positive or not {name.lower() for name in headers} & CREDENTIAL_HEADERS:
            headers["X-Api-Key"] = gateway_platform.keys["admin"]
        case.headers = headers
        case.call_and_validate(base_url=gateway_platform.url, excluded_checks=EXCLUDED)

    run()
