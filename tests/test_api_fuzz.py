"""The published OpenAPI schema, fuzzed with schemathesis against the running server: no
request, however malformed, gets a server error, and every answer matches the schema."""

import pytest

schemathesis = pytest.importorskip("schemathesis")
pytest.importorskip("fastapi")

from api_server import ServerThread  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from wan.server import create_app  # noqa: E402
from wan.service import JobService, WanAPI  # noqa: E402


def _instant(job, control, report):
    return {}


@pytest.fixture(scope="module")
def fuzz_schema(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    service = JobService(
        WanAPI(output_dir=folder, models_dir=folder / "models"), folder / "jobs", generate=_instant
    )
    with ServerThread(create_app(service, ui=False)) as server:
        yield schemathesis.openapi.from_url(server.url + "/openapi.json")
    service.close()


def operations(schema):
    """Every operation of the schema but /enhance (it may load a language model)."""
    found = [result.ok() for result in schema.get_all_operations()]
    return [operation for operation in found if not operation.path.endswith("/enhance")]


def test_the_api_never_fails_and_answers_as_documented(fuzz_schema):
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    tried = []
    for operation in operations(fuzz_schema):

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case):
            case.call_and_validate(checks=checks)

        fuzz()
        tried.append(operation.label)
    assert len(tried) >= 13, tried
