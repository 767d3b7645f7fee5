"""`python -m bench.c1_serve_variant registry`: `bootstrap.serve` with one of `bench.c1_ab`'s
variants switched on (`C1_ON=1`) or off (`C1_ON=0`) for the whole process (`C1_VARIANT`;
none: exactly `bootstrap.serve`). With `C1_SWITCH` (a NATS subject) the variant is switched
while the process serves, by a request on that subject (`on` / `off`, answered `ok` once
switched), from a thread of its own with its own connection and loop: `bench.c1_ab_process`
alternates it block by block inside one service process (issue 18; helper cmd22)."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable

from bootstrap.serve import main


def _listen(subject: str, switch: Callable[[bool], None]) -> None:
    from nats import connect

    async def listen() -> None:
        nc = await connect(os.environ["GT_NATS_URL"])

        async def switched(msg: object) -> None:
            switch(getattr(msg, "data", b"") == b"on")
            await msg.respond(b"ok")  # type: ignore[attr-defined]

        await nc.subscribe(subject, cb=switched)
        await nc.flush()
        await asyncio.Event().wait()  # (a daemon thread: ends with the process)

    asyncio.run(listen())


if __name__ == "__main__":
    variant = os.environ.get("C1_VARIANT", "")
    if variant:
        from bench.c1_ab import VARIANTS

        switch = VARIANTS[variant]()
        switch(os.environ.get("C1_ON", "1") == "1")
        subject = os.environ.get("C1_SWITCH", "")
        if subject:
            threading.Thread(target=_listen, args=(subject, switch), daemon=True).start()
    main()
