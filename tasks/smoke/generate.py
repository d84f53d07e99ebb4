"""Regenerate the smoke suite's JSONL files (deterministic; committed output).

The smoke suite is our own synthetic data, sized so that the embedded SmolLM2-135M lands between
20% and 80% on each task: a task every model aces or fails carries no comparison signal.
Run: python tasks/smoke/generate.py
"""

import json
import random
from pathlib import Path

HERE = Path(__file__).parent
WORDS = [
    "apple", "river", "candle", "garden", "pencil", "window", "orange", "silver", "rocket", "planet", "forest",
    "bottle", "yellow", "summer", "basket", "monkey", "ladder", "button", "carpet", "doctor", "engine", "flower",
    "guitar", "hammer",
]
FRUITS = ["banana", "apple", "mango", "cherry", "grape", "lemon", "peach", "plum", "melon", "kiwi", "lime", "pear"]
ANIMALS = ["dog", "cat", "horse", "lion", "sheep", "tiger", "whale", "eagle", "mouse", "zebra", "camel", "goat"]
THINGS = ["table", "spoon", "car", "chair", "book", "lamp", "brick", "shoe", "clock", "cup", "pen", "rope"]


def arithmetic(rng: random.Random) -> tuple[list[dict], list[dict]]:
    # Single-digit sums (the model gets most) and teen sums (it mostly fails): ~50% overall.
    pairs = [(rng.randint(1, 9), rng.randint(1, 9)) for _ in range(14)]
    pairs += [(rng.randint(10, 19), rng.randint(2, 9)) for _ in range(10)]
    rng.shuffle(pairs)
    test = [{"a": a, "b": b, "answer": str(a + b)} for a, b in pairs]
    return [], test


def strings(rng: random.Random) -> tuple[list[dict], list[dict]]:
    # Letters are asked in capitals too, so that a strict case-sensitive match stays meaningful.
    ops = [
        ("Uppercase", str.upper),
        ("First letter of", lambda w: w[0].upper()),
        ("Last letter of", lambda w: w[-1].upper()),
    ]
    shots = [
        {"op": "Uppercase", "word": "table", "answer": "TABLE"},
        {"op": "First letter of", "word": "green", "answer": "G"},
        {"op": "Last letter of", "word": "music", "answer": "C"},
    ]
    words = WORDS[:]
    rng.shuffle(words)
    test = []
    for i, word in enumerate(words):
        name, fn = ops[i % 3]
        test.append({"op": name, "word": word, "answer": fn(word)})
    return shots, test


def choice(rng: random.Random) -> tuple[list[dict], list[dict]]:
    shots = [
        {"category": "color", "options": ["dog", "red", "spoon"], "answer": "B"},
        {"category": "tool", "options": ["hammer", "cloud", "apple"], "answer": "A"},
        {"category": "number", "options": ["tree", "blue", "seven"], "answer": "C"},
    ]
    test = []
    for i in range(12):
        for category, right, others in (
            ("fruit", FRUITS[i], (THINGS[i], ANIMALS[i])),
            ("animal", ANIMALS[i], (THINGS[(i + 1) % 12], FRUITS[(i + 2) % 12])),
        ):
            options = [right, *others]
            rng.shuffle(options)
            test.append({"category": category, "options": options, "answer": "ABC"[options.index(right)]})
    return shots, test


def write(name: str, rows: list[dict]) -> None:
    with open(HERE / name, "w", encoding="utf-8") as fh:
        for i, row in enumerate(rows):
            fh.write(json.dumps({"id": i, **row}) + "\n")


def main() -> None:
    for task, build in (("arithmetic", arithmetic), ("strings", strings), ("choice", choice)):
        shots, test = build(random.Random(f"smoke-{task}"))
        write(f"{task}.test.jsonl", test)
        if shots:
            write(f"{task}.fewshot.jsonl", shots)


if __name__ == "__main__":
    main()
