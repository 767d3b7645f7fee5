"""The composition root: the one place that wires every service and the gateway together."""
