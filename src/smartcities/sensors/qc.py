"""Quality control of the stored observations: flags in `flags`, uptime and completeness per datastream.

Each run deletes every flag and computes them again from the observations, in one transaction of DuckDB SQL
(window functions over each datastream in time order), so it can be run any number of times. The rules:

- **out-of-range**: a value outside its property's plausible range (`PLAUSIBLE`, e.g. pm25 0–1000 µg/m³,
  temperature −60–60 °C, humidity 0–100 %, counts ≥ 0). Properties without a range are not checked.
- **spike**: a reading that jumps away from both neighbours, in the same direction, by more than
  `SPIKE_MADS` × 1.4826 × the datastream's usual absolute step (a robust standard deviation of its steps). On a
  series that mostly repeats (a usual step of 0) any isolated up-and-back departure counts. Counts (`COUNTS`:
  cyclists, people, vehicles) are judged on Anscombe's square-root scale 2√(x + 3/8), where Poisson noise has a
  standard deviation of about 1 at any level, and their threshold is never below `SPIKE_MADS` such deviations:
  a quiet night's 0, 1, 0 or a rush hour's 65, 54, 76 is noise, 0, 40, 0 is a spike.
- **stuck**: a run of identical non-zero readings lasting at least `STUCK_HOURS` hours (zero is left alone: a
  bike counter at night or clean air may well read 0 for hours).
- **duplicate**: a reading with the same value as the one before it, less than `DUPLICATE_SHARE` of the usual
  interval later (a resent message with a slipped clock; exact repeats of a time never reach the store).
- **gap**: a reading that comes more than `GAP_INTERVALS` usual intervals after the one before it (the larger of
  the two readings' months' intervals, so the step from daily to 15-minute counts is no gap); the flag sits on the
  first reading after the gap.

The usual interval and step are the medians of a datastream's steps within each calendar month (steps from the
month before left out; a month with fewer than two readings takes the datastream's overall medians), so a stream
that changes its rhythm (daily counts for years, then 15-minute ones) is judged by the rhythm of the time.
Uptime is the share of a datastream's span (first to last reading) not inside gaps; completeness is the share of
the readings its usual intervals expect over that span that were received and are unflagged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..errors import InputError
from .store import FLAGS, transaction

PLAUSIBLE = {  # property → (lowest, highest) plausible value, in the units the adapters store
    "pm25": (0, 1000), "pm10": (0, 2000), "pm1": (0, 1000), "no2": (0, 2000), "o3": (0, 1000), "so2": (0, 2000),
    "co": (0, 100), "temperature": (-60, 60), "humidity": (0, 100), "pressure": (30_000, 110_000),
    "noise": (0, 200), "LAeq": (0, 200), "intensity": (0, None), "occupancy": (0, 100),
    "averageVehicleSpeed": (0, 300), "count": (0, None), "bike_count": (0, None), "people_count": (0, None),
}
COUNTS = ("count", "bike_count", "people_count", "intensity")  # properties that count events in an interval
SPIKE_MADS = 6
STUCK_HOURS = 6
DUPLICATE_SHARE = 0.1
GAP_INTERVALS = 3


@dataclass
class QcReport:
    """Flags per rule, and per datastream: observations, usual interval (s), uptime, completeness, flagged."""

    flags: dict[str, int]
    datastreams: pd.DataFrame


def run_qc(store: str | Path) -> QcReport:
    """Recompute every flag of the store and report uptime and completeness per datastream."""
    if not Path(store).exists():
        raise InputError.single(store, "sensor store does not exist; create it with `smartcities sensors import`")
    with transaction(store) as db:
        _steps(db)
        db.execute("delete from flags")
        for rule in (_out_of_range, _spikes, _stuck, _duplicates, _gaps):
            db.execute(f"insert into flags {rule()}")
        report = QcReport(_flag_counts(db), _datastreams(db))
        db.execute("drop table qc_obs; drop table qc_streams; drop table qc_ranges")
    return report


def _steps(db) -> None:
    """Each observation beside its neighbours with its month's usual interval and step (`gap_interval_s`: the
    larger of its own and its predecessor's month's), and each datastream's overall ones."""
    counts = ", ".join(f"'{name}'" for name in COUNTS)
    level = f"case when d.property in ({counts}) then 2 * sqrt(greatest(o.value, 0) + 0.375) else o.value end"
    db.execute(f"""create or replace temp table qc_steps as select o.datastream_id, o.time, o.value, d.property,
        d.property in ({counts}) as counted, lag(o.time) over w as prev_time, lead(o.time) over w as next_time,
        lag(o.value) over w as prev_value, lead(o.value) over w as next_value, {level} as level,
        lag({level}) over w as prev_level, lead({level}) over w as next_level,
        epoch(o.time) - epoch(lag(o.time) over w) as step_s, date_trunc('month', o.time) as month
        from observations o join datastreams d using (datastream_id)
        window w as (partition by o.datastream_id order by o.time)""")
    db.execute("""create or replace temp table qc_streams as select datastream_id, median(step_s) as interval_s,
        median(abs(level - prev_level)) as typical_step, count(*) as observations, min(time) as first,
        max(time) as last from qc_steps group by datastream_id""")
    db.execute("""create or replace temp table qc_months as select datastream_id, month,
        median(step_s) filter (where prev_time >= month) as interval_s,
        median(abs(level - prev_level)) filter (where prev_time >= month) as typical_step
        from qc_steps group by datastream_id, month""")
    db.execute("""create or replace temp table qc_obs as select o.* exclude (month),
        coalesce(m.interval_s, s.interval_s) as interval_s, coalesce(m.typical_step, s.typical_step) as typical_step,
        greatest(coalesce(m.interval_s, s.interval_s), coalesce(p.interval_s, s.interval_s)) as gap_interval_s
        from qc_steps o join qc_streams s using (datastream_id)
        left join qc_months m on m.datastream_id = o.datastream_id and m.month = o.month
        left join qc_months p on p.datastream_id = o.datastream_id and p.month = date_trunc('month', o.prev_time)""")
    db.execute("drop table qc_steps; drop table qc_months")
    ranges = pd.DataFrame([(name, low, high) for name, (low, high) in PLAUSIBLE.items()],
                          columns=["property", "low", "high"]).astype({"low": "float64", "high": "float64"})
    db.register("plausible", ranges)
    db.execute("create or replace temp table qc_ranges as select * from plausible")
    db.unregister("plausible")


def _out_of_range() -> str:
    return """select o.datastream_id, o.time, 'out-of-range',
        format('{} is outside the plausible {} … {}', o.value, coalesce(r.low::varchar, '-∞'),
               coalesce(r.high::varchar, '∞'))
        from qc_obs o join qc_ranges r using (property) where o.value < r.low or o.value > r.high"""


def _spikes() -> str:
    threshold = f"greatest({SPIKE_MADS} * 1.4826 * o.typical_step, case when o.counted then {SPIKE_MADS} else 1e-9 end)"
    return f"""select o.datastream_id, o.time, 'spike',
        format('{{}} jumps from {{}} and back to {{}} (threshold {{}}{{}})', o.value, o.prev_value, o.next_value,
               round({threshold}, 6), case when o.counted then ' on the square-root scale 2√(x + 3/8)' else '' end)
        from qc_obs o
        where o.prev_level is not null and o.next_level is not null
          and abs(o.level - o.prev_level) > {threshold} and abs(o.level - o.next_level) > {threshold}
          and sign(o.level - o.prev_level) = sign(o.level - o.next_level)"""


def _stuck() -> str:
    return f"""with runs as (select datastream_id, time, value, sum(case when prev_value is distinct from value
            then 1 else 0 end) over (partition by datastream_id order by time) as run from qc_obs),
        spans as (select datastream_id, run, min(time) as start, max(time) as stop, count(*) as readings
            from runs group by all)
        select r.datastream_id, r.time, 'stuck', format('{{}} repeated {{}} times from {{}} to {{}}', r.value,
               s.readings, s.start, s.stop)
        from runs r join spans s using (datastream_id, run)
        where r.value <> 0 and s.stop - s.start >= interval {STUCK_HOURS} hour"""


def _duplicates() -> str:
    return f"""select o.datastream_id, o.time, 'duplicate', format('same value {{}} as at {{}}, {{}} s before',
               o.value, o.prev_time, o.step_s)
        from qc_obs o where o.value = o.prev_value and o.step_s < {DUPLICATE_SHARE} * o.interval_s"""


def _gaps() -> str:
    return f"""select o.datastream_id, o.time, 'gap', format('no reading for {{}} s after {{}} (usual interval {{}} s)',
               o.step_s, o.prev_time, o.gap_interval_s)
        from qc_obs o where o.step_s > {GAP_INTERVALS} * o.gap_interval_s"""


def _flag_counts(db) -> dict[str, int]:
    counts = dict(db.execute("select flag, count(*) from flags group by flag").fetchall())
    return {flag: counts.get(flag, 0) for flag in FLAGS}


def _datastreams(db) -> pd.DataFrame:
    return db.execute(f"""with gaps as (select datastream_id, sum(step_s - gap_interval_s) as missing_s
            from qc_obs where step_s > {GAP_INTERVALS} * gap_interval_s group by datastream_id),
        expected as (select datastream_id, 1 + coalesce(sum(step_s / gap_interval_s), 0) as readings from qc_obs
            group by datastream_id),
        flagged as (select datastream_id, count(distinct time) as flagged from flags group by datastream_id)
        select s.datastream_id, d.thing_id, d.property, s.observations, s.interval_s as interval,
            case when s.last > s.first
                 then 1 - coalesce(g.missing_s, 0) / (epoch(s.last) - epoch(s.first)) else 1 end as uptime,
            least(1, (s.observations - coalesce(f.flagged, 0)) / e.readings) as completeness,
            coalesce(f.flagged, 0) as flagged
        from qc_streams s join datastreams d using (datastream_id)
        join expected e using (datastream_id) left join gaps g using (datastream_id)
        left join flagged f using (datastream_id)
        order by s.datastream_id""").df()
