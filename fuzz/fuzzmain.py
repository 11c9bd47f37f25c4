"""Shared entry point of the atheris targets in this directory.

    python fuzz/fuzz_<name>.py [libFuzzer flags] [CORPUS_DIR]   fuzz
    python fuzz/fuzz_<name>.py --make-corpus DIR                write the seed corpus
"""

import sys

import atheris


class ByteInput:
    """Fuzzer bytes read one at a time; ``EOFError`` when they run out (the target stops)."""

    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise EOFError
        self.pos += 1
        return self.data[self.pos - 1]


def run(test_one_input, make_corpus) -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--make-corpus":
        make_corpus(sys.argv[2])
        return
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
