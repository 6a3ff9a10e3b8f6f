"""Word count: sentences are split into words, counted per word (keyed state), and the sink
prints the totals from its close() once the stream has ended."""

from sage_client import (
    BatchFunction,
    FlatMapFunction,
    LocalEnvironment,
    MapFunction,
    SinkFunction,
)

SENTENCES = [
    "the quick brown fox",
    "jumps over the lazy dog",
    "The dog sleeps",
    "a quick nap for the fox",
]


class Sentences(BatchFunction):
    def __init__(self, sentences, **kwargs):
        super().__init__(**kwargs)
        self.sentences = list(sentences)

    def execute(self):
        return self.sentences.pop(0) if self.sentences else None


class SplitWords(FlatMapFunction):
    def execute(self, sentence):
        return [word.lower() for word in sentence.split()]


class CountWord(MapFunction):
    """Runs keyed by word, so the count lives in per-word keyed state."""

    def execute(self, word):
        count = self.ctx.value_state("count", default=0)
        count.update(count.value() + 1)
        return word, count.value()


class TotalsSink(SinkFunction):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.totals = {}

    def execute(self, pair):
        word, count = pair
        self.totals[word] = max(count, self.totals.get(word, 0))

    def close(self):
        for word, count in sorted(self.totals.items(), key=lambda item: (-item[1], item[0])):
            print(f"{word}: {count}")


def main() -> None:
    env = LocalEnvironment("word_count")
    (
        env.from_batch(Sentences, SENTENCES)
        .flatmap(SplitWords)
        .keyby(lambda word: word)
        .map(CountWord, parallelism=2)
        .sink(TotalsSink, parallelism=1)
    )
    env.submit(autostop=True)


if __name__ == "__main__":
    main()
