"""The identity store kept in memory (no `GT_IDENTITY_DATABASE_URL`: the default, and the
tests') is one SQLite connection shared by every thread (a StaticPool). Requests resolve
pseudonyms on worker threads, so two at once interleaved their transactions on it: "cannot
commit - no transaction is active" (seen in guard22's run of test_correct23_lost_event), a
request failed for another's. Now each use of the shared connection is taken in turn; many
threads making and reading pseudonyms at once all get theirs, one per subject."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from gateway.privacy.identities import IdentityStore

THREADS = 8
ROUNDS = 150


def test_many_threads_make_and_read_pseudonyms_at_once_in_memory() -> None:
    store = IdentityStore.open(None)

    def work(worker: int) -> list[tuple[str, str]]:
        made = []
        for i in range(ROUNDS):
            subject = f"subject-{worker}-{i % 10}"  # each made once, then renewed
            made.append((subject, store.pseudonym_for(subject)))
            assert store.known_pseudonym(subject) == made[-1][1]
        return made

    with ThreadPoolExecutor(THREADS) as pool:
        results = [pair for made in pool.map(work, range(THREADS)) for pair in made]
    by_subject: dict[str, set[str]] = {}
    for subject, pseudonym in results:
        by_subject.setdefault(subject, set()).add(pseudonym)
    assert len(by_subject) == THREADS * 10
    assert all(len(p) == 1 for p in by_subject.values()), by_subject
    assert store.identities_of({next(iter(p)) for p in by_subject.values()}) == {
        next(iter(p)): s for s, p in by_subject.items()
    }
