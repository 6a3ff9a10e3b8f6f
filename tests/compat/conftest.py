"""The compat tests reuse the job manager and Ray fixtures of tests/kernel."""

from tests.kernel.conftest import data_dir, kill_workers, start_kernel  # noqa: F401
