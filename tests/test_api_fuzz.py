"""schemathesis drives every API operation from the OpenAPI document: no input produces a server error,
and every answer matches its documented status, content type and schema."""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)


def _mangled(example):
    """The API's example 271 with bytes cut out and others put in."""
    cuts = st.lists(st.tuples(st.integers(0, len(example)), st.integers(0, 6), st.binary(max_size=4)), max_size=3)

    def apply(edits):
        data = example
        for at, length, insert in edits:
            data = data[:at] + insert + data[at + length :]
        return data

    return cuts.map(apply)


def _x12_bodies():
    from estimator.web.api import X12_EXAMPLE

    return st.one_of(st.binary(max_size=300), _mangled(X12_EXAMPLE.encode()))


# An eligibility response (X12 271) body: raw bytes, whole or mangled.
schemathesis.openapi.media_type("application/edi-x12", _x12_bodies())


@pytest.fixture
def api_schema(app):
    return schemathesis.openapi.from_wsgi("/api/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def staff_token(app):
    """A staff user's token: the saved-estimate operations are fuzzed signed in, not only refused 401."""
    from estimator.records.accounts import AccountError, add_user, create_token
    from estimator.records.db import make_engine, make_sessions

    session = make_sessions(make_engine(app.config["DATABASE_URL"]))()
    try:
        add_user(session, "schemathesis@example.org", "a long enough password")
    except AccountError:
        pass
    token = create_token(session, "schemathesis@example.org")
    session.close()
    session.bind.dispose()
    return token


@schema.parametrize()
@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_produces_a_server_error(case, staff_token):
    headers = {"Authorization": f"Bearer {staff_token}"} if "saved-estimates" in case.path else None
    case.call_and_validate(checks=CHECKS, headers=headers)
