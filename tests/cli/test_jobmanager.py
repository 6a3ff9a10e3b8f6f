"""`sage jobmanager start|status|stop` with real etcd, and SAGE's `sage job` verbs against the
job manager it started (and refused without a credential); `sage doctor` sees it through
discovery; a bad setting fails the start and leaves nothing behind."""

from __future__ import annotations

import json
import time
from pathlib import Path

from sage_cli.main import build_parser
from sage_deploy.processes import pid_alive
from tests.cli.conftest import Sage

TICKER = """
import time
from sage_client import LocalEnvironment

def tick():
    time.sleep(0.05)
    return "tick"

env = LocalEnvironment("ticker")
env.from_source(tick).sink(print)
env.submit(autostop=True)
"""


def wait_for(predicate, what: str, timeout: float = 30) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_jobmanager_listens_on_sages_port_by_default() -> None:
    assert build_parser().parse_args(["jobmanager", "start"]).port == 19001


def test_jobmanager_start_status_job_verbs_doctor_stop(sage: Sage, tmp_path: Path) -> None:
    started = sage.ok(
        "jobmanager", "start", "--run-dir", str(sage.run_dir), "--ephemeral-ports", "--port", "0"
    )
    address = sage.ready("kernel-0")["address"]
    assert f"job manager is up: {address}" in started
    status = json.loads(sage.ok("jobmanager", "status", "--run-dir", str(sage.run_dir), "--json"))
    assert status["health"] == "SERVING" and status["registered"] is True

    mesh = {"SAGE_ETCD_ENDPOINTS": sage.etcd()}  # the job verbs find the manager through etcd
    program = tmp_path / "ticker.py"
    program.write_text(TICKER)
    job_id = sage.ok("job", "submit", "--detach", str(program), **mesh).strip()
    listing = sage.ok("job", "list", **mesh).splitlines()
    assert listing[0].split()[:3] == ["#", "ID", "NAME"]
    assert listing[1].split()[:4] == ["1", job_id, "ticker", "running"]
    assert f"id:        {job_id}" in sage.ok("job", "show", "1", **mesh)
    assert "state:     paused" in sage.ok("job", "stop", job_id[:9], **mesh)
    assert "state:     running" in sage.ok("job", "continue", "1", "--force", **mesh)
    wait_for(lambda: "tick" in sage.ok("job", "logs", job_id, **mesh), "the job's log lines")
    running = sage("job", "delete", job_id, **mesh)
    assert running.returncode == 1 and "FAILED_PRECONDITION" in running.stderr
    assert f"deleted {job_id} (cancelled)" in sage.ok("job", "delete", "1", "-f", **mesh)
    assert job_id not in sage.ok("job", "list", **mesh)
    unknown = sage("job", "show", "9", **mesh)
    assert unknown.returncode == 1 and "no job with id '9'" in unknown.stderr
    refused = sage("job", "--address", address, "list", SAGE_PRINCIPAL="anonymous")
    assert refused.returncode == 1 and "UNAUTHENTICATED" in refused.stderr  # no credential

    # (its exit code is not asserted: it also reports this machine's packages)
    doctor = json.loads(sage("doctor", "--run-dir", str(sage.run_dir), "--json").stdout)
    kernel = [c for c in doctor["checks"] if c["component"].startswith("kernel ")]
    assert len(kernel) == 1 and kernel[0]["state"] == "ok" and address in kernel[0]["detail"]

    pid, etcd_pid = sage.pid("kernel-0"), sage.pid("etcd")
    assert "stopped: kernel-0, etcd" in sage.ok(
        "jobmanager", "stop", "--run-dir", str(sage.run_dir)
    )
    assert not pid_alive(pid) and not pid_alive(etcd_pid)  # type: ignore[arg-type]
    after = sage("jobmanager", "status", "--run-dir", str(sage.run_dir))
    assert after.returncode == 1 and "not running" in after.stdout


def test_a_bad_setting_fails_the_start_and_leaves_nothing_running(sage: Sage) -> None:
    args = ("jobmanager", "start", "--run-dir", str(sage.run_dir), "--ephemeral-ports")
    malformed = sage(*args, "--set", "no-equals-sign")
    assert malformed.returncode == 1 and "expected KEY=VALUE" in malformed.stderr
    invalid = sage(*args, "--port", "0", "--set", "log_level=LOUD", "--timeout", "30")
    assert invalid.returncode == 1
    assert "log_level" in invalid.stderr  # the service's own message, from its log
    assert sage.pid("kernel-0") is None and sage.pid("etcd") is None
