"""Run as a child process by test_durability: writes reps through the store writer forever,
printing ``committed N`` each time N reps are known to be on disk (after ``flush``)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from controller.store.writer import StoreWriter
from tests.controller.store.conftest import rep


async def main(path: Path) -> None:
    n = 0
    async with StoreWriter(path, commit_interval_s=0.005) as writer:
        while True:
            for _ in range(7):
                writer.record(rep(n, session=f"ses-{n // 1000}"))
                n += 1
            await writer.flush()
            print(f"committed {n}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
