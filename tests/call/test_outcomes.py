"""How calls end when the line does not cooperate: busy, no answer, drops, full memory, power."""

from __future__ import annotations

import numpy as np

from call.pair import ANSWERER, CALLER, StationPair, chart_page, text_page
from estudio190f.firmware.fax_call import CallProgress, FaxCall, PageStore
from estudio190f.firmware.t30.session import StationConfig
from estudio190f.hw.clock import SECOND


def test_busy_number_gives_busy_and_no_call() -> None:
    pair = StationPair()
    pair.b.faults.set("line.busy")
    result = pair.send([text_page()])
    assert (result.outcome.status, result.lcd, result.code) == ("BUSY", "BUSY", "")
    assert result.duration == 0.0 and result.pages_done == 0
    assert pair.rx_call is None
    assert StationPair.frames(pair.a, "send") == []


def test_busy_fault_on_the_caller_makes_its_calls_busy_until_cleared() -> None:
    pair = StationPair()
    pair.a.faults.set("line.busy")
    assert pair.send([text_page()]).outcome.status == "BUSY"
    pair.a.faults.clear("line.busy")
    assert pair.send([text_page()]).ok


def test_nobody_answers_gives_no_answer_after_t0() -> None:
    pair = StationPair(answer=False)
    result = pair.send([text_page()])
    assert (result.outcome.status, result.lcd) == ("NO_ANSWER", "NO ANSWER")
    dialed = StationPair.at(StationPair.events(pair.a, "line", "dialed")[0])
    ended = StationPair.at(StationPair.events(pair.a, "fax", "result")[0])
    assert ended - dialed == 60.0
    assert len(StationPair.events(pair.b, "line", "ring")) >= 10  # it rang all along


def test_no_answer_fault_and_unassigned_number_ring_out() -> None:
    pair = StationPair()
    pair.b.faults.set("line.no_answer")
    assert pair.send([text_page()]).lcd == "NO ANSWER"
    assert StationPair.events(pair.b, "line", "ring") == []  # the call never reached B
    assert pair.send([text_page()], number="5550000").lcd == "NO ANSWER"


def test_drop_in_page_two_of_three_says_so_and_which_pages_got_through() -> None:
    pages = [chart_page(n, "standard") for n in (1, 2, 3)]
    pair = StationPair(caller=StationConfig(ident=CALLER, ecm=False))
    cuts = []

    def cut_in_page_two(progress: CallProgress) -> None:
        if progress.page == 2 and not cuts:
            cuts.append(pair.a.line.cut_at(pair.clock.now + 4 * SECOND))

    result = pair.send(pages, on_progress=cut_in_page_two)
    assert (result.outcome.status, result.code, result.lcd) == ("CALLDROPPED", "411", "COMM. ERROR")
    assert result.pages_confirmed == [1]
    assert (pair.rx.outcome.status, pair.rx.pages_done) == ("CALLDROPPED", 1)
    [got] = pair.rx.received
    assert got.page is not None and np.array_equal(got.page.pixels, pages[0].pixels)


def test_line_drop_fault_cuts_the_call_and_leaves_the_line_dead_until_cleared() -> None:
    pair = StationPair()

    def drop_when_sending(progress: CallProgress) -> None:
        if progress.page == 1 and "line.drop" not in pair.a.faults.active:
            pair.clock.call_later(2 * SECOND, pair.a.faults.set, "line.drop")

    result = pair.send([chart_page(1)], on_progress=drop_when_sending)
    assert result.outcome.status == "CALLDROPPED" and result.pages_done == 0
    pair.rx_call = None
    assert pair.send([text_page()]).outcome.status == "NO_DIAL_TONE"
    pair.a.faults.clear("line.drop")
    pair.rx_call = None
    assert pair.send([text_page()]).ok


def test_receiver_memory_full_after_one_page_ends_the_call_properly() -> None:
    pages = [text_page(seed=s) for s in (1, 2, 3)]
    for ecm in (False, True):
        pair = StationPair(
            caller=StationConfig(ident=CALLER, ecm=ecm), store=PageStore(max_pages=1)
        )
        result = pair.send(pages)
        # the page that filled memory was kept (PIP); the sender knows page 1 got through
        assert (result.outcome.status, result.code) == ("PROCEDURE_INTERRUPT", "409")
        assert result.pages_confirmed == [1]
        assert (pair.rx.outcome.status, pair.rx.lcd, pair.rx.code) == (
            "NOMEM",
            "MEMORY FULL",
            "414",
        )
        assert pair.rx.pages_done == 1
        assert "PIP" in StationPair.frames(pair.b, "send")


def test_receiver_with_no_room_refuses_the_page_with_pin() -> None:
    pair = StationPair(store=PageStore(max_pages=0))
    result = pair.send([text_page()])
    assert (result.outcome.status, result.code, result.pages_confirmed) == (
        "PROCEDURE_INTERRUPT",
        "409",
        [],
    )
    assert pair.rx.outcome.status == "NOMEM" and pair.rx.pages_done == 0
    assert StationPair.frames(pair.b, "send")[-1] == "PIN"


def test_power_cut_on_the_receiver_drops_the_call() -> None:
    pair = StationPair()

    def cut_power(progress: CallProgress) -> None:
        if progress.page == 1 and pair.b.powered:
            pair.clock.call_later(1 * SECOND, pair.b.power_off)

    result = pair.send([chart_page(1)], on_progress=cut_power)
    assert result.outcome.status == "CALLDROPPED"


def test_stop_during_the_call_sends_dcn_and_ends_cancelled() -> None:
    pair = StationPair()

    def stop(progress: CallProgress) -> None:
        if progress.page == 1 and pair.tx_call is not None and not pair.tx_call.done:
            pair.clock.call_later(3 * SECOND, pair.tx_call.cancel)

    result = pair.send([chart_page(1)], on_progress=stop)
    assert (result.outcome.status, result.code) == ("CANCELLED", "419")
    assert StationPair.frames(pair.a, "send")[-1] == "DCN"
    assert pair.rx.outcome.status in ("RX_DCNDATA", "RX_DCNFAX")


def test_results_carry_speed_duration_and_remote_ids() -> None:
    pair = StationPair(answerer=StationConfig(ident="+1 555 9876"))
    result = pair.send([text_page()])
    assert result.ok and result.lcd == "COMPLETED" and result.code == ""
    assert result.speed == "V.17 14400" and result.remote_id == "+1 555 9876"
    assert pair.rx.remote_id == CALLER
    assert 10 < result.duration < 30 and abs(result.duration - pair.rx.duration) < 1.5


def test_dialing_while_our_line_is_in_a_call_leaves_that_call_alone() -> None:
    pair = StationPair()
    pair.tx_call = FaxCall.dial(pair.a, ANSWERER, [chart_page(1)])
    pair.run(until=lambda: pair.a.line.connected)
    second = FaxCall.dial(pair.a, ANSWERER, [text_page()])
    assert second.done and second.result is not None and second.result.outcome.status == "BUSY"
    pair.run()
    assert pair.tx.ok
