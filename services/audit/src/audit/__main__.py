# `python -m audit`: the CLI checks every read model of the system, which only the composition
# root lists, so it starts from there (a run-time import: the packages do not depend on it).
from bootstrap.audit_cli import main

main()
