import { useEffect, useState } from "react";
import { call } from "../api";
import { AdminOnly, usePoll } from "../usePoll";
import { JobGraph, JobLogs, JobResult } from "./JobGraph";

interface Job {
  id: string;
  name: string;
  state: string;
  executor: string;
  error: string;
  restart_count: number;
  checkpoint_count: number;
  create_time: number;
  end_time: number;
}

const when = (t: number) => (t ? new Date(t * 1000).toLocaleString() : "—");

export function Jobs({ credential, admin }: { credential: string; admin: boolean }) {
  const [selected, setSelected] = useState("");
  const [acted, setActed] = useState<Job | null>(null);
  const [actionError, setActionError] = useState("");
  const list = usePoll<{ data: Job[] }>(
    credential,
    admin ? "/studio/api/jobs" : null,
    "listing jobs",
    3000,
  );
  const job = usePoll<Job>(
    credential,
    admin && selected ? `/studio/api/jobs/${encodeURIComponent(selected)}` : null,
    "reading the job",
    2000,
  );
  useEffect(() => setActed(null), [job.data]); // a fresher read than the action's answer
  if (!admin) return <AdminOnly page="Jobs" />;
  const act = async (verb: "cancel" | "pause" | "resume") => {
    setActionError("");
    try {
      setActed(
        await call<Job>(
          credential,
          `/studio/api/jobs/${encodeURIComponent(selected)}/${verb}`,
          `${verb} the job`,
          { method: "POST" },
        ),
      );
    } catch (err) {
      setActionError((err as Error).message);
    }
  };
  const shown = acted && acted.id === selected ? acted : job.data;
  const jobs = list.data?.data ?? [];
  return (
    <div data-testid="jobs">
      <h2>Jobs</h2>
      {list.loading && !list.data && <p className="muted">Loading jobs from the job manager…</p>}
      {list.error && (
        <p className="error" data-testid="jobs-error">
          {list.error}
        </p>
      )}
      {list.data && jobs.length === 0 && (
        <p className="muted" data-testid="no-jobs">
          No jobs yet: submit one with <code>sage job submit</code> or the SDK.
        </p>
      )}
      {jobs.length > 0 && (
        <table>
          <thead>
            <tr>
              <th>Name</th>
              <th>State</th>
              <th>Executor</th>
              <th>Created</th>
            </tr>
          </thead>
          <tbody>
            {jobs.map((j) => (
              <tr
                key={j.id}
                onClick={() => {
                  setSelected(j.id);
                  setActed(null);
                }} className="clickable" data-testid="job">
                <td>{j.name || j.id}</td>
                <td className={`state ${j.state}`}>{j.state}</td>
                <td>{j.executor}</td>
                <td>{when(j.create_time)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {selected && (
        <section className="card" data-testid="job-detail">
          <h3>Job {selected}</h3>
          {job.error && <p className="error">{job.error}</p>}
          {actionError && (
            <p className="error" data-testid="job-action-error">
              {actionError}
            </p>
          )}
          {shown && !["succeeded", "failed", "cancelled"].includes(shown.state) && (
            <div className="toolbar">
              {shown.state === "paused" ? (
                <button onClick={() => act("resume")}>Resume</button>
              ) : (
                <button onClick={() => act("pause")}>Pause</button>
              )}
              <button onClick={() => act("cancel")} data-testid="job-cancel">
                Cancel
              </button>
            </div>
          )}
          {shown && (
            <dl>
              <dt>State</dt>
              <dd data-testid="job-state">{shown.state}</dd>
              <dt>Executor</dt>
              <dd>{shown.executor}</dd>
              <dt>Restarts</dt>
              <dd>{shown.restart_count}</dd>
              <dt>Checkpoints</dt>
              <dd>{shown.checkpoint_count}</dd>
              <dt>Ended</dt>
              <dd>{when(shown.end_time)}</dd>
              {shown.error && (
                <>
                  <dt>Error</dt>
                  <dd className="error">{shown.error}</dd>
                </>
              )}
            </dl>
          )}
          <h4>
            Operators{" "}
            <a className="small" href={`#/builder/${encodeURIComponent(selected)}`} data-testid="open-in-builder">
              open in the Builder
            </a>
          </h4>
          <JobGraph credential={credential} jobId={selected} />
          {shown?.state === "succeeded" && (
            <>
              <h4>Result</h4>
              <JobResult credential={credential} jobId={selected} />
            </>
          )}
          <h4>Log</h4>
          <JobLogs
            credential={credential}
            jobId={selected}
            live={!shown || !["succeeded", "failed", "cancelled"].includes(shown.state)}
          />
        </section>
      )}
    </div>
  );
}
