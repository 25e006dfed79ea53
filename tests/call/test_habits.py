"""Far ends with habits (firmware/t30/habits.py): each one on a real call from the machine, with
what the machine makes of it: the result code, the retries, the pages confirmed."""

from __future__ import annotations

import pytest

from call.pair import ANSWERER, CALLER, StationPair, text_page
from estudio190f.firmware.t30.capabilities import FALLBACK
from estudio190f.firmware.t30.habits import HABITS, NAMES, apply_habits, habits
from estudio190f.firmware.t30.station import StationConfig
from estudio190f.firmware.t30.timing import T1
from estudio190f.hw.clock import SECOND


def far_end(*names: str) -> StationConfig:
    return apply_habits(StationConfig(ident=ANSWERER), names)


def test_an_unknown_habit_is_refused_with_the_known_ones_listed() -> None:
    with pytest.raises(ValueError) as raised:
        habits(["slow_answer", "sings"])
    message = str(raised.value)
    assert message == f'unknown habit "sings"; known habits: {", ".join(NAMES)}'
    assert message.endswith("known habits: nsf_only, ftt_to_lowest, ignores_ecm, "
                            "dcn_without_mcf, slow_answer, drops_in_phase_c")  # fmt: skip


def test_habits_combine_and_leave_the_machine_by_the_book() -> None:
    config = StationConfig(ident=ANSWERER)
    both = apply_habits(config, ["ftt_to_lowest", "slow_answer"])
    assert both.behaviour.train_limit == 2400 and both.behaviour.answer_delay == 33 * SECOND
    assert config.behaviour == StationConfig().behaviour  # the original is not changed
    assert [h.name for h in HABITS] == list(NAMES) and len(set(NAMES)) == 6


def test_nsf_only_leaves_the_caller_waiting_for_dis_until_t1() -> None:
    pair = StationPair(answerer=far_end("nsf_only"))
    result = pair.send([text_page()])
    assert (result.outcome.status, result.code) == ("T1_EXPIRED", "403")
    *nsf, last = StationPair.frames(pair.b, "send")
    assert set(nsf) == {"NSF"} and len(nsf) >= 5 and last == "DCN"  # NSF every T4, then its T1
    first_nsf = StationPair.at(StationPair.events(pair.a, "t30", "recv")[0])
    [t1] = [e for e in StationPair.events(pair.a, "t30", "timeout") if e["timer"] == "T1"]
    # T1 runs from the start of the NSF's flags: the frame itself ends 1 s of preamble and
    # about 0.4 s of frame later
    assert T1 / SECOND - 1.6 < StationPair.at(t1) - first_nsf < T1 / SECOND - 1.0
    assert StationPair.frames(pair.a, "send") == ["DCN"]


def test_ftt_to_lowest_makes_the_machine_fall_back_to_2400_and_the_fax_goes() -> None:
    pair = StationPair(
        caller=StationConfig(ident=CALLER, ecm=False), answerer=far_end("ftt_to_lowest")
    )
    result = pair.send([text_page()])
    assert result.ok and result.speed == "V.27ter 2400"
    assert StationPair.frames(pair.b, "send").count("FTT") == len(FALLBACK) - 1
    assert StationPair.frames(pair.a, "send").count("DCS") == len(FALLBACK)


def test_ignores_ecm_costs_the_page_407_and_ecm_off_is_the_remedy() -> None:
    pair = StationPair(answerer=far_end("ignores_ecm"))
    result = pair.send([text_page()])
    assert (result.outcome.status, result.code) == ("TX_PHDDEAD", "407")
    assert StationPair.frames(pair.a, "send").count("PPS") == 3
    assert result.pages_confirmed == []
    remedy = StationPair(
        caller=StationConfig(ident=CALLER, ecm=False), answerer=far_end("ignores_ecm")
    )
    assert remedy.send([text_page()]).ok


def test_dcn_without_mcf_leaves_the_last_page_unconfirmed() -> None:
    pair = StationPair(answerer=far_end("dcn_without_mcf"))
    result = pair.send([text_page(), text_page(seed=2)])
    assert (result.outcome.status, result.code) == ("TX_BADPG", "407")
    assert result.pages_confirmed == [1]  # the second went, but nobody said so
    assert len(pair.rx.received) == 2 and pair.rx.ok  # the far end kept both


def test_slow_answer_is_waited_for_past_t1() -> None:
    pair = StationPair(answerer=far_end("slow_answer"))
    result = pair.send([text_page()])
    assert result.ok
    answered = StationPair.at(StationPair.events(pair.a, "t30", "connected")[0])
    first_frame = StationPair.at(StationPair.events(pair.a, "t30", "recv")[0])
    assert first_frame - answered > T1 / SECOND  # a T1 from the answer would have ended it


def test_drops_in_phase_c_is_411_with_the_page_unconfirmed() -> None:
    pair = StationPair(answerer=far_end("drops_in_phase_c"))
    result = pair.send([text_page(), text_page(seed=2)])
    assert (result.outcome.status, result.code) == ("CALLDROPPED", "411")
    assert result.pages_confirmed == []
    assert pair.rx.outcome.status == "CALLDROPPED"
    dropped = [e for e in StationPair.events(pair.b, "fax", "habit")]
    assert len(dropped) == 1
