"""The enrolment domain: pure state, evolve and decide functions (stdlib + contracts_schema)."""
