"""The compat tests reuse the job manager and Ray fixtures of tests/jobs."""

from tests.jobs.conftest import data_dir, kill_workers, start_kernel  # noqa: F401
