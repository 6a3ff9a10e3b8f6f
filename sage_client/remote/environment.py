"""``RemoteEnvironment``: the same pipeline code as ``LocalEnvironment``, run by the job manager."""

from __future__ import annotations

import sys
from typing import Any

from sage_client.dataflow.api.environment import BaseEnvironment
from sage_client.remote.client import JobClient, JobHandle, RestartPolicy, _raise_unless_succeeded


class RemoteEnvironment(BaseEnvironment):
    """Submits the graph to the kernel job manager at ``host:port``, or the one found through
    discovery (``SAGE_KERNEL_ADDR``, else etcd) when no address is given.

    ``address`` ("host:port", also Envoy's) is the alternative to host/port.
    ``submit()`` returns a ``JobHandle``; ``submit(autostop=True)`` blocks, echoes the job's log
    lines (what its functions print) to this process's stdout, and raises ``JobFailed`` with the
    remote traceback when the job fails.
    """

    def __init__(
        self,
        name: str = "sage-job",
        host: str | None = None,
        port: int | None = None,
        config: dict[str, Any] | None = None,
        *,
        executor: str = "local",
        ray_address: str = "",
        restart: RestartPolicy | None = None,
        checkpoint_interval_s: float = 0.0,
        collect_result: bool = False,
        detach: bool = False,
        address: str | None = None,
        token: str | None = None,
    ) -> None:
        super().__init__(name, config)
        if (host is None) != (port is None):
            raise ValueError("give both host and port, or neither (discovery)")
        if host is not None:
            address = f"{host}:{port}"
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

    def stop(self, timeout: float | None = None) -> None:
        """Cancel the running job (a remote job has no graceful drain yet)."""
        if self._handle is not None and not self._handle.status().done:
            self._handle.cancel()

    def close(self) -> None:
        self.stop()
        self.client.close()
