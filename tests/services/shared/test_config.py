from dataclasses import dataclass

import pytest

from services.shared.config import ConfigError, load_config, require


@dataclass(frozen=True, kw_only=True)
class ExampleConfig:
    database_url: str
    port: int = 50051
    verbose: bool = False
    scopes: tuple[str, ...] = ()
    ledger_address: str | None = None

    def validate(self, prefix: str) -> None:
        require(0 < self.port < 65536, variable=f"{prefix}_PORT", message="must be a TCP port")


def test_reads_prefixed_variables_with_their_types() -> None:
    config = load_config(
        ExampleConfig,
        prefix="LEDGER",
        environ={
            "LEDGER_DATABASE_URL": "postgresql://x",
            "LEDGER_PORT": "6000",
            "LEDGER_VERBOSE": "true",
            "LEDGER_SCOPES": "a, b",
            "DATABASE_URL": "ignored: no prefix",
        },
    )
    assert config == ExampleConfig(
        database_url="postgresql://x", port=6000, verbose=True, scopes=("a", "b")
    )


def test_a_missing_required_value_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="LEDGER_DATABASE_URL: is required") as error:
        load_config(ExampleConfig, prefix="LEDGER", environ={})
    assert error.value.variable == "LEDGER_DATABASE_URL"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("LEDGER_PORT", "fifty", "expected an integer"),
        ("LEDGER_PORT", "70000", "must be a TCP port"),
        ("LEDGER_VERBOSE", "maybe", "expected a boolean"),
        ("LEDGER_DATABASE_URL", " ", "must not be empty"),
    ],
)
def test_a_malformed_value_names_the_variable(variable: str, value: str, message: str) -> None:
    environ = {"LEDGER_DATABASE_URL": "postgresql://x", variable: value}
    with pytest.raises(ConfigError, match=message) as error:
        load_config(ExampleConfig, prefix="LEDGER", environ=environ)
    assert error.value.variable == variable
