from collections.abc import Iterator

import pytest

from gluta_kit.testing import kafka_for_tests, server_url


@pytest.fixture
def nats_url() -> str:
    url = server_url("nats")
    if not url:
        pytest.skip("GLUTA_TEST_NATS_URL is not set: no real NATS server to test against")
    return url


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db_server" in metafunc.fixturenames:
        metafunc.parametrize("db_server", ["sqlite", "mysql", "postgres"], indirect=True)


@pytest.fixture
def db_server(request: pytest.FixtureRequest) -> str:
    if request.param == "sqlite":
        return "sqlite"
    url = server_url(request.param)
    if not url:
        pytest.skip(f"GLUTA_TEST_{request.param.upper()}_URL is not set: no real {request.param} server")
    return url


@pytest.fixture(scope="session")
def kafka_url() -> Iterator[str]:
    """A Kafka-protocol broker: GLUTA_TEST_KAFKA_URL when set (Apache Kafka), else a Tansu of this session's own."""
    with kafka_for_tests() as url:
        yield url
