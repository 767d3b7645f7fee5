from bench.context import BenchContext
from bench.figures import Figure


async def run(ctx: BenchContext) -> list[Figure]:
    return []
