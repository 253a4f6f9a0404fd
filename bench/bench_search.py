"""Search benchmark: `GET /search`'s work over 100,000 messages the caller may see.

    python -m bench.bench_search [--messages 100000] [--runs 200] [--seed 7]

A service on a memory log is given `--messages` messages of 5 to 20 words
in `general` (everyone sees them), drawn from a vocabulary of 20,000 words
with Zipf-like frequencies (a few words in most messages, most words in
few), plus as many again in a group room the searcher is not in (what the
index holds but must skip). Then each query below runs `--runs` times
through `service.search.search` (the app layer: index, visibility, expiry,
the page of 50), and the median and the 95th percentile are printed, with
the time the sends took (the index is built as they are folded) and the
pickled size of the index (what a snapshot holds of it).

Queries: a word in most messages, a rare word (a few dozen messages), a
one-letter prefix (thousands of words), two common words, two words that
are each common but rarely together, a word only the hidden room holds
(the search walks up to its bound of candidates and finds nothing), and a
word nobody wrote. `sends_s` is the time `core.execute` took for all the
messages (decide, append to memory, fold, index), not the texts' making.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import json
import pickle
import random
import statistics
import sys
import time
from typing import Any

from app import ChatService, Session, Settings
from domain import CreateRoom, SendMessage
from eventstore import MemoryEventLog
from projections import SearchIndex

VOCABULARY = 20_000
BATCH = 1_000


def vocabulary(rng: random.Random) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words: set[str] = set()
    while len(words) < VOCABULARY:
        words.add("".join(rng.choices(letters, k=rng.randint(3, 10))))
    return sorted(words)


def text(rng: random.Random, words: list[str], cumulative: list[float]) -> str:
    return " ".join(rng.choices(words, cum_weights=cumulative, k=rng.randint(5, 20)))


async def build(count: int, seed: int) -> tuple[ChatService, Session, list[str], float]:
    settings = Settings(scrypt_n=2, rate_limit=10**9, message_ttl_s=10**9, min_password_length=1)
    service = ChatService(settings, MemoryEventLog(log_id="bench"))
    service.replay()
    await service.start(timers=False)
    reader = await service.identity.connect("reader", "pw")
    await service.identity.connect("writer", "pw")
    session = service.identity.authenticate(reader.token)
    rng = random.Random(seed)
    words = vocabulary(rng)
    cumulative = list(itertools.accumulate(1.0 / (rank + 1) for rank in range(len(words))))
    await service.core.execute(
        [CreateRoom(owner="writer", room="g-hidden", name="hidden", members=())]
    )
    elapsed = 0.0
    for first in range(0, count, BATCH):  # the two rooms' messages interleaved
        batch = [
            SendMessage(author="writer", text=text(rng, words, cumulative), room="general")
            for _ in range(min(BATCH, count - first))
        ]
        batch += [
            SendMessage(
                author="writer", text=f"zzhidden {text(rng, words, cumulative)}", room="g-hidden"
            )
            for _ in batch
        ]
        started = time.perf_counter()
        await service.core.execute(batch)
        elapsed += time.perf_counter() - started
    return service, session, words, elapsed


def queries(words: list[str], service: ChatService) -> dict[str, str]:
    index = service.core.model.timeline.index
    rare = next(w for w in reversed(words) if 20 <= len(index.postings.get(w, ())) <= 80)
    return {
        "common word": words[0],
        "rare word": rare,
        "one letter": "s",
        "two common words": f"{words[0]} {words[1]}",
        "two words rarely together": f"{words[40]} {words[41]}",
        "in every message of a room not seen": "zzhidden",
        "no such word": "qqqqqq",
    }


def index_bytes(index: SearchIndex) -> int:
    """What the index's own objects take (its dicts, arrays, sets and word strings)."""
    total = sys.getsizeof(index.postings) + sys.getsizeof(index.by_prefix)
    for word, ids in index.postings.items():
        total += sys.getsizeof(word) + sys.getsizeof(ids)
    for prefix, bucket in index.by_prefix.items():
        total += sys.getsizeof(prefix) + sys.getsizeof(bucket)
    return total


def measure(service: ChatService, session: Session, q: str, runs: int) -> dict[str, Any]:
    times = []
    found = 0
    for _ in range(runs):
        started = time.perf_counter()
        page = service.search.search(session, q)
        times.append((time.perf_counter() - started) * 1000)
        found = len(page.messages)
    times.sort()
    return {
        "median_ms": round(statistics.median(times), 3),
        "p95_ms": round(times[int(len(times) * 0.95) - 1], 3),
        "max_ms": round(times[-1], 3),
        "results": found,
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    service, session, words, build_s = await build(args.messages, args.seed)
    try:
        index = service.core.model.timeline.index
        gc.freeze()  # as the server does after its replay: a full collection is not search's
        report: dict[str, Any] = {
            "messages_visible": args.messages,
            "messages_held": len(service.core.model.timeline.messages),
            "sends_s": round(build_s, 2),
            "distinct_words": len(index.postings),
            "index_mib": round(index_bytes(index) / 2**20, 1),
            "index_pickled_mib": round(len(pickle.dumps(index, 5)) / 2**20, 1),
            "queries": {},
        }
        for name, q in queries(words, service).items():
            report["queries"][name] = {"q": q, **measure(service, session, q, args.runs)}
        return report
    finally:
        await service.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    print(json.dumps(asyncio.run(main_async(parser.parse_args())), indent=1))


if __name__ == "__main__":
    main()
