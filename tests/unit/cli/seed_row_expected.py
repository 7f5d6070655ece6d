#!/usr/bin/env python3
"""The rows tests/unit/cli/seed_row.cpp expects of seed_row(), computed apart from the C++ code: the
row layout of cli/seed.hpp with splitmix64 in Python integers and the dates through
Python's datetime. Prints the C++ table for the test:  python3 tests/unit/cli/seed_row_expected.py"""

import datetime
import json

MASK = 2**64 - 1
CATEGORIES = ["books", "electronics", "clothing", "home", "garden", "toys", "sports", "food", "beauty", "automotive"]
STATUSES = ["pending", "paid", "shipped", "delivered", "cancelled", "refunded"]
FIRST = ["Ana", "José", "Zoë", "Łukasz", "Søren", "Mei", "Ngọc", "Olúwa", "Émile", "Ivan", "Aiko", "Liam"]
FIRST_ASCII = ["ana", "jose", "zoe", "lukasz", "soren", "mei", "ngoc", "oluwa", "emile", "ivan", "aiko", "liam"]
LAST = ["Smith", "O'Brien", "García", "Müller", "李", "Nguyễn", "Kowalski", "Dubois", "Иванов", "Tanaka"]
LAST_ASCII = ["smith", "obrien", "garcia", "muller", "li", "nguyen", "kowalski", "dubois", "ivanov", "tanaka"]
DESCRIPTIONS = [None, "", "Plain description", "Contains, several, commas",
                "Has \"double quotes\" and a lone \" inside", "Multi-line text\nsecond line\nthird line",
                "Windows line ending\r\nnext line", "Unicode: café, naïve, 日本語, Ελληνικά, emoji 🚀",
                "Tab\tseparated and back\\slash", "  leading and trailing spaces  ", "\\.",
                "'; DROP TABLE records; -- not an injection, just text"]
# One ordinal for each kind of description, a negative amount (999), a large ordinal; 999 twice.
ORDINALS = [0, 1, 3, 4, 5, 6, 10, 999, 123456789, 999]


def splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK
    return x ^ (x >> 31)


def copy_text(s):
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def row(ordinal):
    h = splitmix64(ordinal)
    h2 = splitmix64(h)
    at = datetime.datetime(2023, 1, 1) + datetime.timedelta(seconds=h2 % (3 * 365 * 24 * 3600))
    first, last = (h >> 8) % len(FIRST), (h >> 16) % len(LAST)
    cents = (h2 >> 20) % 10_000_000
    sign = "-" if (h2 >> 50) % 20 == 0 and cents else ""
    d = (h >> 32) % len(DESCRIPTIONS)
    description = "\\N" if d == 0 else copy_text(DESCRIPTIONS[d]) + (f" #{ordinal}" if d == 2 else "")
    return "\t".join([CATEGORIES[h % len(CATEGORIES)], at.strftime("%Y-%m-%d %H:%M:%S+00"),
                      f"{FIRST[first]} {LAST[last]}", f"{FIRST_ASCII[first]}.{LAST_ASCII[last]}{ordinal}@example.com",
                      f"{sign}{cents // 100}.{cents % 100:02d}", STATUSES[(h >> 24) % len(STATUSES)],
                      description]) + "\n"


for o in ORDINALS:
    print(f"        {{{o}, {json.dumps(row(o), ensure_ascii=False)}}},")
