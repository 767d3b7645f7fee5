"""The bodies that take part: the 342 municipalities, former ones, other bodies, suppliers."""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from datetime import date
from pathlib import Path

MUNICIPALITIES_CSV = Path(__file__).resolve().parent.parent / "data" / "municipalities.csv"

# Mergers of the last years (former CBS code -> successor); successors created by a merger
# exist only from that date. Enough to exercise MunicipalityMerged; the codes are CBS's.
MERGERS: tuple[tuple[str, str, str, date], ...] = (
    ("GM0003", "Appingedam", "GM1979", date(2021, 1, 1)),
    ("GM0010", "Delfzijl", "GM1979", date(2021, 1, 1)),
    ("GM0024", "Loppersum", "GM1979", date(2021, 1, 1)),
    ("GM0370", "Beemster", "GM0439", date(2022, 1, 1)),
    ("GM0398", "Heerhugowaard", "GM1980", date(2022, 1, 1)),
    ("GM0416", "Langedijk", "GM1980", date(2022, 1, 1)),
    ("GM0756", "Boxmeer", "GM1982", date(2022, 1, 1)),
    ("GM1684", "Cuijk", "GM1982", date(2022, 1, 1)),
    ("GM0856", "Uden", "GM1991", date(2022, 1, 1)),
    ("GM0457", "Weesp", "GM0363", date(2022, 3, 24)),
    ("GM0501", "Brielle", "GM1992", date(2023, 1, 1)),
    ("GM0530", "Hellevoetsluis", "GM1992", date(2023, 1, 1)),
)

OTHER_BODY_KINDS: tuple[tuple[str, str, int], ...] = (
    ("ministry", "Ministerie", 12),
    ("province", "Provincie", 12),
    ("water_board", "Waterschap", 21),
    ("zbo", "Zelfstandig bestuursorgaan", 30),
    ("other", "Veilig Thuis regio", 26),
    ("education_institution", "Onderwijsinstelling", 20),
    ("care_institution", "Zorginstelling", 20),
)

KNOWN_SUPPLIERS = (
    "KPN",
    "Tele2",
    "Vodafone",
    "T-Mobile",
    "UPC Business",
    "Detron",
    "SpeakUp B.V.",
    "BTC teleconsult",
    "Atos",
    "Centric",
    "PinkRoccade",
    "Dustin",
)

COORDINATORS = (("VNG", "Vereniging van Nederlandse Gemeenten"), ("KING", "KING"), ("LNVT", "LNVT"))


@dataclass(frozen=True)
class Organisation:
    code: str
    name: str
    kind: str
    province: str | None
    exists_from: date | None = None  # None: from the start of the history
    merged_into: str | None = None
    merged_on: date | None = None

    def active_on(self, day: date) -> bool:
        started = self.exists_from is None or self.exists_from <= day
        return started and (self.merged_on is None or day < self.merged_on)


def kvk(rng: random.Random, taken: set[str]) -> str:
    while True:
        code = f"KVK-{rng.randrange(10**7, 10**8):08d}"
        if code not in taken:
            taken.add(code)
            return code


def load_municipalities() -> list[tuple[str, str, str]]:
    with MUNICIPALITIES_CSV.open(encoding="utf-8") as f:
        return [(r["cbs_code"], r["name"], r["province"]) for r in csv.DictReader(f)]


@dataclass(frozen=True)
class Bodies:
    participants: tuple[Organisation, ...]  # municipalities (current and former), other bodies
    coordinators: tuple[Organisation, ...]
    suppliers: tuple[Organisation, ...]

    @property
    def everyone(self) -> tuple[Organisation, ...]:
        return self.coordinators + self.participants + self.suppliers


def make_bodies(rng: random.Random, extra_suppliers: int = 28) -> Bodies:
    taken: set[str] = set()
    # Successors that the merger itself created exist only from the merger date.
    created = {succ: when for _, _, succ, when in MERGERS if succ not in ("GM0363", "GM0439")}
    municipalities = load_municipalities()
    province_of = {code: province for code, _, province in municipalities}
    participants = [
        Organisation(code, name, "municipality", province, exists_from=created.get(code))
        for code, name, province in municipalities
    ]
    participants += [
        Organisation(
            code, name, "municipality", province_of.get(succ), merged_into=succ, merged_on=when
        )
        for code, name, succ, when in MERGERS
    ]
    for kind, label, count in OTHER_BODY_KINDS:
        participants += [
            Organisation(kvk(rng, taken), f"{label} {i + 1}", kind, None) for i in range(count)
        ]
    coordinators = tuple(
        Organisation(kvk(rng, taken), name, "association", None) for _, name in COORDINATORS
    )
    names = list(KNOWN_SUPPLIERS) + [f"Leverancier {i + 1} B.V." for i in range(extra_suppliers)]
    suppliers = tuple(Organisation(kvk(rng, taken), name, "supplier", None) for name in names)
    return Bodies(tuple(participants), coordinators, suppliers)
