"""`python -m bench.c1_serve_variant registry`: `bootstrap.serve` with one of `bench.c1_ab`'s
variants switched on (`C1_ON=1`) or off (`C1_ON=0`) for the whole process (`C1_VARIANT`;
none: exactly `bootstrap.serve`).
`bench.c1_ab_process` starts the registry's service process so, in turns with and without
the variant (issue 18; helper cmd22)."""

from __future__ import annotations

import os

from bootstrap.serve import main

if __name__ == "__main__":
    variant = os.environ.get("C1_VARIANT", "")
    if variant:
        from bench.c1_ab import VARIANTS

        VARIANTS[variant]()(os.environ.get("C1_ON", "1") == "1")
    main()
