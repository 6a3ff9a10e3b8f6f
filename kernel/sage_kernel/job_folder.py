"""One job's folder, ``<data_dir>/jobs/<id>/``: the manager <-> worker protocol, by name.

    job.json         the record (state, executor, restart strategy, restart count, worker pid...)
    graph.pb         the submitted SubmitJobRequest (graph + settings), read by every worker run
    submitter.token  the submitter's bearer token (0600, the manager's), handed to the worker
    worker.log       the worker's stdout and stderr (log lines)
    worker.pid       written by the worker at start, so a restarted manager can re-attach
    loaded           an empty marker: the worker decoded and planned the graph, and runs it
    metrics.json     per-operator counters, rewritten by the worker while it runs
    checkpoint.pkl   the last checkpoint (epoch, source positions, collected records)
    outcome.json     written by the worker when it ends: state + error (+ reason)
    result.json      collected sink records as JSON texts (collect_result), written at success

The first four are the manager's; the worker writes the others (the manager reads them with
``identity.read_worker_file``). Who may write which file: see ``sage_kernel.identity``. Every
name lives here; manager, worker and identity only use these properties.
"""

from __future__ import annotations

import os
from pathlib import Path


class JobFolder:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"JobFolder({str(self.path)!r})"

    # -- the manager's files ----------------------------------------------------------------
    @property
    def record(self) -> Path:
        return self.path / "job.json"

    @property
    def request(self) -> Path:
        return self.path / "graph.pb"

    @property
    def token(self) -> Path:
        return self.path / "submitter.token"

    @property
    def log(self) -> Path:
        return self.path / "worker.log"

    # -- the worker's files -----------------------------------------------------------------
    @property
    def pid(self) -> Path:
        return self.path / "worker.pid"

    @property
    def loaded(self) -> Path:
        return self.path / "loaded"

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.json"

    @property
    def checkpoint(self) -> Path:
        return self.path / "checkpoint.pkl"

    @property
    def outcome(self) -> Path:
        return self.path / "outcome.json"

    @property
    def result(self) -> Path:
        return self.path / "result.json"

    def clear_run(self) -> None:
        """Before a worker (re)starts: what the previous run said about itself goes (its
        metrics, checkpoint and result stay: a restart resumes from the checkpoint)."""
        for stale in (self.loaded, self.outcome, self.pid):
            stale.unlink(missing_ok=True)
