"""`python -m clipvis evaluate --gt GT.json --pred RESULTS.json [--json] [--mode auto|ytvis|lvvis]`."""
from clipvis.evaluate import add_arguments, run  # noqa: F401
