"""Bank transfers on lsmdb's storage engine: a table with a primary key and a secondary
index, concurrent SNAPSHOT transactions, retry on SerializationError, and the invariant that
money is neither created nor destroyed.

    python examples/engine_bank.py /tmp/bank
"""

import random
import sys
import threading

from lsmdb import StorageEngine
from lsmdb.errors import SerializationError

ACCOUNTS = 50


def transfer(engine: StorageEngine, rng: random.Random) -> None:
    src, dst = rng.sample(range(ACCOUNTS), 2)
    amount = rng.randint(1, 20)
    while True:
        try:
            with engine.transaction("snapshot") as tx:
                a = tx.lookup("accounts", src)
                b = tx.lookup("accounts", dst)
                if a.row[1] < amount:
                    return
                tx.update("accounts", a.tuple_id, {"balance": a.row[1] - amount})
                tx.update("accounts", b.tuple_id, {"balance": b.row[1] + amount})
            return
        except SerializationError:
            continue  # another transfer touched one of the accounts first: retry


def main(path: str) -> None:
    with StorageEngine.open(path) as engine:
        if not engine.tables():
            engine.create_table("accounts", [("id", "INT", False), ("balance", "BIGINT", False)],
                                primary_key="id")
            engine.create_index("accounts", ["balance DESC"], name="by_balance")
            with engine.transaction() as tx:
                tx.insert_many("accounts", [(i, 100) for i in range(ACCOUNTS)])

        def worker(seed: int) -> None:
            rng = random.Random(seed)
            for _ in range(200):
                transfer(engine, rng)

        threads = [threading.Thread(target=worker, args=(s,)) for s in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with engine.transaction() as tx:
            total = sum(r.row[1] for r in tx.scan("accounts"))
            richest = next(iter(tx.scan_index("by_balance", limit=1)))
        print(f"total {total} (expected {ACCOUNTS * 100}); richest account {richest.row}")
        print(engine.metrics())
        assert engine.verify_indexes("accounts") == []


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/lsmdb-bank")
