import json, time, sys
import orjson
from datetime import datetime
from pydantic_core import TzInfo
from bench.history.generator import generate
from bench.direct import stored_events
from contracts_schema.envelope import EventEnvelope

n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
streams = stored_events(generate(7, n))
datas = [e.envelope.model_dump_json().encode() for s in streams.values() for e in s]
FIELDS = tuple(EventEnvelope.model_fields)
fs = set(FIELDS)
new = object.__new__
setattr_ = object.__setattr__
UTC = TzInfo(0)
def fast(data):
    d = orjson.loads(data)
    o = d["occurred_at"]; r = d["recorded_at"]
    d["occurred_at"] = datetime.fromisoformat(o).replace(tzinfo=UTC)
    d["recorded_at"] = datetime.fromisoformat(r).replace(tzinfo=UTC)
    m = new(EventEnvelope)
    setattr_(m, "__dict__", d)
    setattr_(m, "__pydantic_fields_set__", fs)
    setattr_(m, "__pydantic_extra__", None)
    setattr_(m, "__pydantic_private__", None)
    return m
import gc; gc.disable()
cpu = time.process_time
N = len(datas)
for rnd in range(4):
    gc.collect(); t = cpu(); envs = [EventEnvelope.model_validate_json(d) for d in datas]; a = cpu() - t
    t = cpu(); f = [fast(d) for d in datas]; b = cpu() - t
    t = cpu(); j = [orjson.loads(d) for d in datas]; c = cpu() - t
    print(f"validate {a/N*1e6:.1f}  fast {b/N*1e6:.1f}  orjson alone {c/N*1e6:.1f} us/event")
bad = sum(x != y or x.__dict__ != y.__dict__ or list(x.__dict__) != list(y.__dict__) for x, y in zip(envs, f))
print("unequal", bad, datas[0][:200])
