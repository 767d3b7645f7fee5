#!/bin/bash
# one A/B round: base copy and branch, the touched modules, side by side
i=$1
MODS="tests/e2e/test_projector_restart.py tests/e2e/test_user9_make_run_ctrl_c.py"
cd /tmp/suite23-base && (cat /proc/loadavg > /tmp/suite23-runs/ab$i.base.load; GT_SUITE_TIMING=/tmp/suite23-runs/ab$i.base .venv/bin/python -m pytest -n 2 --dist loadscope -q -p no:cacheprovider -p tests.support.suite_timing $MODS > /tmp/suite23-runs/ab$i.base.out 2>&1; cat /proc/loadavg >> /tmp/suite23-runs/ab$i.base.load) &
cd /work/wt/suite23 && (cat /proc/loadavg > /tmp/suite23-runs/ab$i.branch.load; GT_SUITE_TIMING=/tmp/suite23-runs/ab$i.branch .venv/bin/python -m pytest -n 2 --dist loadscope -q -p no:cacheprovider -p tests.support.suite_timing $MODS tests/unit/bootstrap/test_suite23_projection_heartbeat.py > /tmp/suite23-runs/ab$i.branch.out 2>&1; cat /proc/loadavg >> /tmp/suite23-runs/ab$i.branch.load) &
wait
