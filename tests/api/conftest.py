"""The public API and the package: the labelling tests' model flags serve here too."""
from tests.label.conftest import model_flags  # noqa: F401 - a fixture
