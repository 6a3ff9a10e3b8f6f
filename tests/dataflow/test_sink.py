import pytest

from sage_client import LocalEnvironment, SinkFunction


class Recording(SinkFunction):
    instances: list["Recording"] = []

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.records: list[int] = []
        self.closed_with: list[int] | None = None
        Recording.instances.append(self)

    def execute(self, data):
        self.records.append(data)

    def close(self):
        self.closed_with = list(self.records)


def test_sink_close_runs_after_the_last_record(env: LocalEnvironment) -> None:
    Recording.instances = []
    env.from_batch(range(100)).sink(Recording)
    env.submit(autostop=True)
    (sink,) = Recording.instances
    assert sink.closed_with == list(range(100))


def test_every_parallel_sink_instance_is_closed(env: LocalEnvironment) -> None:
    Recording.instances = []
    env.from_batch(list(range(100))).map(lambda x: x, parallelism=3).sink(Recording, parallelism=3)
    env.submit(autostop=True)
    assert len(Recording.instances) == 3
    assert all(s.closed_with is not None for s in Recording.instances)
    assert sorted(x for s in Recording.instances for x in s.closed_with) == list(range(100))


def test_print_writes_prefix_and_record(
    env: LocalEnvironment, capsys: pytest.CaptureFixture[str]
) -> None:
    env.from_batch([1, 2]).print(prefix="[out]")
    env.submit(autostop=True)
    assert capsys.readouterr().out == "[out] 1\n[out] 2\n"
