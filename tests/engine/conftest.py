"""Fixtures of the fidelity tests: the oracle bundle and its model, built once per
session for each way of running it: the model as written ("reference") and the
CPU backend (clipvis/backends), so every fidelity test runs on both."""
import pytest

from clipvis.backends import CPUVideoPredictor, use_cpu_modules
from clipvis.predictor import VideoPredictor

from tests.engine.oracle_bundle import OracleBundle, build_oracle_model


@pytest.fixture(scope="session")
def bundle(oracle):
    return OracleBundle(oracle)


@pytest.fixture(scope="session", params=["reference", "cpu"])
def backend(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def model_and_tokenizer(bundle, backend):
    model, tokenizer = build_oracle_model(bundle)
    return (use_cpu_modules(model) if backend == "cpu" else model), tokenizer


@pytest.fixture(scope="session")
def predictor_class(backend):
    return CPUVideoPredictor if backend == "cpu" else VideoPredictor
