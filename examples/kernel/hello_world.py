"""Ten "Hello, World! #n" records, upper-cased, printed in order (SAGE's first tutorial)."""

from sage_client import BatchFunction, LocalEnvironment, MapFunction, SinkFunction


class HelloBatch(BatchFunction):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.counter = 0
        self.max_count = 10

    def execute(self):
        if self.counter >= self.max_count:
            return None  # None ends a batch source
        self.counter += 1
        return f"Hello, World! #{self.counter}"


class UpperCaseMap(MapFunction):
    def execute(self, data):
        return data.upper()


class PrintSink(SinkFunction):
    def execute(self, data):
        print(data)


def main() -> None:
    env = LocalEnvironment("hello_world")
    env.from_batch(HelloBatch).map(UpperCaseMap).sink(PrintSink)
    env.submit(autostop=True)  # returns once every record has been printed


if __name__ == "__main__":
    main()
