"""The enrolment domain: pure decide functions over the states published in contracts_schema."""
