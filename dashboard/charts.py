"""The billing page's chart of daily spend and jobs, drawn on the server as
SVG: no chart library, nothing for the browser to run. This module only does
the geometry; the template draws it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from billing.pricing import micros_to_usd
from billing.selectors import CurrentUsage

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 84, 56, 16, 28  # room for the axis labels


@dataclass(frozen=True)
class Bar:
    day: date
    x: float
    y: float
    width: float
    height: float
    jobs: int
    jobs_y: float  # the jobs line's point for this day
    cost: str  # USD
    label: str  # shown under the bar, every few days


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    jobs_points: str  # SVG polyline points
    max_cost: str
    max_jobs: int
    plot_left: int
    plot_right: int
    plot_top: int
    plot_bottom: int
    empty: bool


def daily_usage_chart(usage: CurrentUsage) -> Chart:
    """One bar per day of the period (spend, left axis) and a line of jobs
    (right axis). Days without usage are zero."""
    by_day = {d.day: d for d in usage.days}
    first = usage.starts_at.date()
    count = (usage.ends_at.date() - first).days
    max_micros = max((d.amount_micros for d in usage.days), default=0) or 1
    max_jobs = max((d.jobs for d in usage.days), default=0) or 1
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    slot = plot_w / count
    bars = []
    for i in range(count):
        day = first + timedelta(days=i)
        row = by_day.get(day)
        micros = row.amount_micros if row else 0
        jobs = row.jobs if row else 0
        height = plot_h * micros / max_micros
        bars.append(
            Bar(
                day=day,
                x=round(LEFT + i * slot + slot * 0.15, 2),
                y=round(TOP + plot_h - height, 2),
                width=round(slot * 0.7, 2),
                height=round(height, 2),
                jobs=jobs,
                jobs_y=round(TOP + plot_h - plot_h * jobs / max_jobs, 2),
                cost=micros_to_usd(micros),
                label=str(day.day) if i % 5 == 0 else "",
            )
        )
    points = " ".join(f"{bar.x + bar.width / 2:.2f},{bar.jobs_y}" for bar in bars)
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        bars=bars,
        jobs_points=points,
        max_cost=micros_to_usd(max_micros if usage.days else 0),
        max_jobs=max_jobs if usage.days else 0,
        plot_left=LEFT,
        plot_right=WIDTH - RIGHT,
        plot_top=TOP,
        plot_bottom=TOP + plot_h,
        empty=not usage.days,
    )
