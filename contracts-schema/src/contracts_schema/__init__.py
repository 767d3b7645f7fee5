"""The published contract of the GT contract registry.

Importable on its own by municipal systems: it depends only on pydantic.
"""
