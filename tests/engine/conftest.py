"""Fixtures of the fidelity tests: the oracle bundle and its model, built once per session."""
import pytest

from tests.engine.oracle_bundle import OracleBundle, build_oracle_model


@pytest.fixture(scope="session")
def bundle(oracle):
    return OracleBundle(oracle)


@pytest.fixture(scope="session")
def model_and_tokenizer(bundle):
    return build_oracle_model(bundle)
