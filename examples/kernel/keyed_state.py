"""Keyed state per user: each user's running total, item list and per-item quantities live in
value, list and map state keyed by user id, even with two parallel instances."""

from sage_client import LocalEnvironment, MapFunction, SinkFunction

PURCHASES = [
    {"user": "alice", "item": "book", "price": 12},
    {"user": "bob", "item": "pen", "price": 2},
    {"user": "alice", "item": "pen", "price": 2},
    {"user": "carol", "item": "lamp", "price": 30},
    {"user": "bob", "item": "book", "price": 12},
    {"user": "alice", "item": "book", "price": 12},
    {"user": "carol", "item": "pen", "price": 2},
]


class TrackUser(MapFunction):
    def execute(self, purchase):
        total = self.ctx.value_state("total", default=0)
        items = self.ctx.list_state("items")
        quantities = self.ctx.map_state("quantities")
        total.update(total.value() + purchase["price"])
        items.add(purchase["item"])
        quantities.put(purchase["item"], quantities.get(purchase["item"], 0) + 1)
        return {
            "user": self.ctx.get_key(),
            "total": total.value(),
            "items": items.get(),
            "quantities": dict(sorted(quantities.items())),
        }


class LatestPerUser(SinkFunction):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.latest = {}

    def execute(self, summary):
        self.latest[summary["user"]] = summary

    def close(self):
        for user in sorted(self.latest):
            s = self.latest[user]
            print(
                f"{user}: total={s['total']} items={','.join(s['items'])} quantities={s['quantities']}"
            )


def main() -> None:
    env = LocalEnvironment("keyed_state")
    (
        env.from_batch(PURCHASES)
        .keyby(lambda purchase: purchase["user"])
        .map(TrackUser, parallelism=2)
        .sink(LatestPerUser, parallelism=1)
    )
    env.submit(autostop=True)


if __name__ == "__main__":
    main()
