"""The upcasters: per event type, pure functions lifting a stored payload one version up.

Registered with `contracts_schema.upcasting.upcaster(event_type, from_version)`. An upcaster
is never changed once released (stored events were read through it), and never removed while
a payload of its version may be stored: the log outlives the code.
"""

from __future__ import annotations
