"""What `make run` says after loading the demo history: a command answered as already stored
on a first run (the bus resent after a slow reply, its first try had landed) must not read as
if the run found an earlier load's data without saying how it can happen."""

from bootstrap.demo import DemoLoad
from bootstrap.embedded import demo_summary


def test_a_load_where_every_command_was_new_says_only_that() -> None:
    assert demo_summary(DemoLoad(new=43)) == "demo history: 43 commands applied"


def test_commands_already_stored_are_counted_and_explained() -> None:
    said = demo_summary(DemoLoad(new=42, known=1))
    assert said.startswith("demo history: 42 commands applied, 1 already stored")
    assert "resend after a slow reply" in said
    assert "nothing applied twice" in said
