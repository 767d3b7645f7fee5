"""The registry's pure domain: state folds and decisions, stdlib + contracts_schema only."""
