"""The kernel job manager: ``sage.kernel.v1.JobService``. Each job runs in its own worker process
(local executor or Ray); job records live in the data directory so a restarted manager finds them."""
