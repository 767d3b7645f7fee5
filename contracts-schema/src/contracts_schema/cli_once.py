"""An argparse option that may be given once: argparse keeps the last of a repeated option
without a word, so `--out a --out b` wrote where the developer did not look (correct23). The
developer tools (`contracts_schema.generate`, `gateway.sdl`) use it; the municipal consumer
example keeps its own copy, as it imports nothing of the project."""

from __future__ import annotations

import argparse


class Once(argparse.Action):
    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        if getattr(namespace, f"_{self.dest}_given", False):
            parser.error(f"argument {option_string}: given more than once; give it once")
        setattr(namespace, f"_{self.dest}_given", True)
        setattr(namespace, self.dest, values)
