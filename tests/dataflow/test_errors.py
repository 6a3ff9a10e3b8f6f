import traceback

import pytest

from sage_client import DeadLetter, LocalEnvironment, MapFunction, Retry, SinkFunction, Skip

from .conftest import Collect


class Explode(MapFunction):
    def execute(self, data):
        if data == 3:
            raise ValueError(f"bad record {data}")
        return data


def test_user_error_fails_the_job_with_the_original_traceback(env: LocalEnvironment) -> None:
    env.from_batch([1, 2, 3, 4]).map(Explode).sink(lambda x: None)
    with pytest.raises(ValueError, match="bad record 3") as info:
        env.submit(autostop=True)
    frames = traceback.extract_tb(info.value.__traceback__)
    assert any(f.name == "execute" and f.filename.endswith("test_errors.py") for f in frames)
    assert any("map:Explode" in note for note in info.value.__notes__)


def test_error_in_a_downstream_task_stops_an_unbounded_source(env: LocalEnvironment) -> None:
    env.from_source(lambda: 3).map(Explode, parallelism=2).sink(lambda x: None)
    with pytest.raises(ValueError):
        env.submit(autostop=True)


def test_skip_policy_drops_only_the_failing_record(env: LocalEnvironment) -> None:
    out: list[int] = []
    env.from_batch([1, 2, 3, 4]).map(Explode, on_error="skip").sink(Collect, out)
    env.submit(autostop=True)
    assert out == [1, 2, 4]


def test_retry_policy_calls_again(env: LocalEnvironment) -> None:
    class Flaky(MapFunction):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.failures = {}

        def execute(self, data):
            seen = self.failures.get(data, 0)
            if seen < 2:
                self.failures[data] = seen + 1
                raise ConnectionError("try again")
            return data * 10

    out: list[int] = []
    env.from_batch([1, 2]).map(Flaky, on_error=Retry(2)).sink(Collect, out)
    env.submit(autostop=True)
    assert out == [10, 20]


def test_retry_then_fail_raises(env: LocalEnvironment) -> None:
    env.from_batch([3]).map(Explode, on_error=Retry(1)).sink(lambda x: None)
    with pytest.raises(ValueError):
        env.submit(autostop=True)


def test_dead_letter_sink_receives_failed_records(env: LocalEnvironment) -> None:
    class Letters(SinkFunction):
        received: list = []

        def execute(self, failed):
            Letters.received.append((failed.record, str(failed.error), failed.attempts))

    out: list[int] = []
    env.from_batch([1, 3, 5]).filter(
        lambda x: 1 / (x - 3) > -10, on_error=Retry(1, then=DeadLetter(Letters))
    ).sink(Collect, out)
    env.submit(autostop=True)
    assert out == [1, 5]
    assert Letters.received == [(3, "division by zero", 2)]


def test_skip_on_keyed_flatmap_keeps_the_other_keys(env: LocalEnvironment) -> None:
    out: list[int] = []
    (
        env.from_batch([1, 2, 3])
        .keyby(lambda x: x % 2)
        .flatmap(lambda x: [x, x] if x != 2 else 1 / 0, on_error=Skip())
        .sink(Collect, out)
    )
    env.submit(autostop=True)
    assert sorted(out) == [1, 1, 3, 3]


def test_invalid_policy_is_rejected(env: LocalEnvironment) -> None:
    with pytest.raises(ValueError, match="on_error"):
        env.from_batch([1]).map(lambda x: x, on_error="ignore")


def test_error_in_sink_close_fails_the_job(env: LocalEnvironment) -> None:
    class BadClose(SinkFunction):
        def execute(self, data):
            pass

        def close(self):
            raise RuntimeError("flush failed")

    env.from_batch([1]).sink(BadClose)
    with pytest.raises(RuntimeError, match="flush failed"):
        env.submit(autostop=True)


def test_worker_process_dying_fails_the_job_with_a_clear_error(env: LocalEnvironment) -> None:
    import os

    env.from_batch([1, 2]).map(lambda x: os._exit(3), processes=True).sink(lambda x: None)
    with pytest.raises(RuntimeError, match="worker process .* exited"):
        env.submit(autostop=True)
