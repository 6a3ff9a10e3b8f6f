"""``RemoteEnvironment``: the same pipeline code as ``LocalEnvironment``, run by the job manager."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

from sage_client.dataflow.api.environment import BaseEnvironment
from sage_client.remote.client import JobClient, JobHandle, RestartPolicy, _raise_unless_succeeded

DEFAULT_PORT = 19001  # SAGE's JobManager port; the mesh's kernel listens there (topology.yaml)


def default_address(env: Mapping[str, str] | None = None) -> str | None:
    """None when discovery can find the job manager (``SAGE_KERNEL_ADDR`` or
    ``SAGE_ETCD_ENDPOINTS``), else SAGE's default ``127.0.0.1:19001``."""
    env = os.environ if env is None else env
    if env.get("SAGE_KERNEL_ADDR") or env.get("SAGE_ETCD_ENDPOINTS"):
        return None
    return f"127.0.0.1:{DEFAULT_PORT}"


class RemoteEnvironment(BaseEnvironment):
    """Submits the graph to the kernel job manager at ``host:port`` (SAGE's signature:
    ``RemoteEnvironment(name, config, host="127.0.0.1", port=19001)``); with neither, the one
    found through discovery (``SAGE_KERNEL_ADDR``, else etcd), else ``127.0.0.1:19001``.

    ``address`` ("host:port", also Envoy's) is the alternative to host/port.
    ``submit()`` returns a ``JobHandle``; ``submit(autostop=True)`` blocks, echoes the job's log
    lines (what its functions print) to this process's stdout, and raises ``JobFailed`` with the
    remote traceback when the job fails.
    """

    def __init__(
        self,
        name: str = "sage-job",
        config: dict[str, Any] | None = None,
        host: str | None = None,
        port: int | None = None,
        scheduler: Any = None,
        *,
        executor: str = "local",
        ray_address: str = "",
        restart: RestartPolicy | None = None,
        checkpoint_interval_s: float = 0.0,
        collect_result: bool = False,
        detach: bool = False,
        address: str | None = None,
        token: str | None = None,
        enable_monitoring: bool = False,
        jobmanager_address: str | None = None,
    ) -> None:
        """``jobmanager_address``: the seeds' spelling of ``address``."""
        address = address or jobmanager_address
        super().__init__(name, config, scheduler=scheduler, enable_monitoring=enable_monitoring)
        if host is not None or port is not None:
            if isinstance(port, bool) or not isinstance(port or DEFAULT_PORT, int):
                raise TypeError(f"port must be an integer, got {port!r}")
            address = f"{host or '127.0.0.1'}:{port or DEFAULT_PORT}"
        elif address is None:
            address = default_address()
        from sage_client.dataflow.runtime.recovery import FaultTolerance

        fault_tolerance = FaultTolerance.from_config(
            self.config
        )  # SAGE's config, honoured remotely
        if fault_tolerance is not None:
            restart = restart or fault_tolerance.restart
            if fault_tolerance.checkpointing and not checkpoint_interval_s:
                checkpoint_interval_s = fault_tolerance.checkpoint_interval
        self.client = JobClient(address=address, token=token)
        self.executor = executor
        self.ray_address = ray_address
        self.restart = restart
        self.checkpoint_interval_s = checkpoint_interval_s
        self.collect_result = collect_result
        self.detach = detach  # submit(autostop=True) returns at once (``sage job submit --detach``)
        self._handle: JobHandle | None = None

    @property
    def job(self) -> JobHandle | None:
        return self._handle

    def _execute(self, autostop: bool) -> JobHandle:
        self._place()
        handle = self.client.submit(
            self.graph,
            executor=self.executor,
            ray_address=self.ray_address,
            restart=self.restart,
            checkpoint_interval_s=self.checkpoint_interval_s,
            collect_result=self.collect_result,
        )
        self._handle = handle
        if autostop and not self.detach:
            for line in handle.logs(follow=True):
                if not line.startswith("[sage] "):
                    print(line, file=sys.stdout, flush=True)
            _raise_unless_succeeded(handle.status())
        return handle

    # -- SAGE's RemoteEnvironment verbs ---------------------------------------------------
    def wait_for_completion(self, job: Any = None, timeout: float | None = None) -> Any:
        """Block until the submitted job ends; its final JobInfo (raises JobFailed)."""
        handle = self._handle if job is None or isinstance(job, str) else job
        if handle is None:
            raise RuntimeError("nothing was submitted on this environment; call submit() first")
        handle.wait(timeout=timeout)
        return handle.status()

    _wait_for_completion = wait_for_completion

    def get_job_status(self) -> dict[str, Any]:
        if self._handle is None:
            return {"status": "not_submitted"}
        info = self._handle.status()
        return {"status": info.state, "job_uuid": info.id, "error": info.error}

    def health_check(self) -> dict[str, Any]:
        """``{"status": "success"}`` when the job manager answers, else ``"error"`` + message."""
        try:
            self.client.list(page_size=1)
        except Exception as exc:  # noqa: BLE001 - reported, not raised: SAGE's contract
            return {"status": "error", "message": str(exc)}
        return {"status": "success"}

    def get_scheduler_metrics(self) -> dict[str, Any]:
        return self.scheduler.get_metrics()

    def stop(self, timeout: float | None = None) -> None:
        """Cancel the running job (a remote job has no graceful drain yet)."""
        if self._handle is not None and not self._handle.status().done:
            self._handle.cancel()

    def close(self) -> None:
        self.stop()
        self.client.close()
