"""The virtual clock: order, cancellation, fast-forward."""

from estudio190f.hw.clock import HOUR, MS, SECOND, Clock, TimerGroup


def test_events_run_in_time_order_then_in_order_scheduled():
    clock = Clock()
    seen = []
    clock.call_later(2 * SECOND, seen.append, "b")
    clock.call_later(1 * SECOND, seen.append, "a")
    clock.call_later(2 * SECOND, seen.append, "c")
    clock.advance(3 * SECOND)
    assert seen == ["a", "b", "c"]
    assert clock.now == 3 * SECOND


def test_cancelled_timer_never_runs():
    clock = Clock()
    seen = []
    timer = clock.call_later(MS, seen.append, "x")
    timer.cancel()
    clock.advance(SECOND)
    assert seen == []


def test_advance_stops_at_the_event_where_the_condition_holds():
    clock = Clock()
    box = []
    clock.call_later(5 * SECOND, box.append, 1)
    held = clock.advance(HOUR, stop=lambda: bool(box))
    assert held and clock.now == 5 * SECOND


def test_an_idle_day_costs_only_its_events():
    clock = Clock()
    ticks = []

    def tick():
        ticks.append(clock.now)
        clock.call_later(60 * SECOND, tick)

    clock.call_later(60 * SECOND, tick)
    clock.advance(24 * HOUR)
    assert len(ticks) == 24 * 60
    assert clock.events_run == 24 * 60


def test_power_domain_cancels_its_timers():
    clock = Clock()
    group = TimerGroup(clock)
    seen = []
    group.call_later(SECOND, seen.append, 1)
    clock.call_later(SECOND, seen.append, 2)
    group.cancel_all()
    clock.advance(2 * SECOND)
    assert seen == [2]
