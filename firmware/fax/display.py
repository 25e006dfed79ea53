"""What the fax unit shows on the LCD: one job, or two at once on a machine with two ports.

The fax unit's jobs are `FaxJob`s: reading a document to send (on no port yet), or what one port
is doing (a transmission, which goes on from call to call while the port has more to send; a
reception; a poll; a call ringing in TEL mode). `FaxDisplay` holds the one panel job
(`ControlPanel.begin_job`) that shows them, and decides what its two lines say:

- One job: it has the whole LCD, as on a machine with one line.
- Reading the feeder: that job has the whole LCD while it reads (the operator is feeding it and
  may have to answer MEMORY FULL); calls running meanwhile are in `state?` and show again after.
- Two calls (the 2nd G3 option: one on each port): each port has a line of 20 characters, port 1
  on line 1 and port 2 on line 2: `1:` or `2:`, then the first line of the job and its second if
  that fits whole (`1:SENDING P.001/003`, `2:RECEIVING P.002`, `2:DIALING 5559876`). A call that
  ends while the other runs shows its last words on its line for 2 s (`1:COMPLETED 2 PAGES`), then
  the other has the whole LCD again. The last job to end shows its end as a notice (`COMPLETED`
  for 2 s) and then standby, as with one line: READY shows only when no fax job runs.
- The foreground job is the one the operator started (with START), else the one that began
  first: the panel's state is `job.<its kind>`, STOP stops it. `state?` names the others after
  ` + `, each with its port: `job.fax_send/t30.phase_c (port 1) + job.fax_receive/t30.phase_b
  (port 2)`.
- A job the machine starts (a call coming in, a redial) takes the LCD only when the operator is
  not busy with something else (`ControlPanel.free_for_background`); it shows as soon as the
  panel comes back to standby.
"""

from __future__ import annotations

from typing import Literal

from estudio190f.hw.clock import Timer, TimerGroup

from ..control_panel import MESSAGE_TIME, ControlPanel, JobHandle, JobKind, JobOwner

ENDING_TIME = MESSAGE_TIME  # a call's last words stay on its line while the other port runs
JobState = Literal["live", "ending", "gone"]


class FaxJob:
    """One fax job as the LCD would show it (a `JobView`): the display decides where it shows.
    `port` is 0 while it reads the feeder and has no port yet."""

    def __init__(self, display: FaxDisplay, kind: JobKind, operator: bool, port: int) -> None:
        self.display = display
        self.kind = kind
        self.operator = operator  # started by the operator's START (the foreground job)
        self.port = port
        self.lines: tuple[str, str] = ("", "")
        self.substate = ""
        self.state: JobState = "live"
        self.timer: Timer | None = None  # the end of its last words on its line

    @property
    def active(self) -> bool:
        return self.state == "live"

    # -- JobView --------------------------------------------------------------------------------
    def show(self, line1: str, line2: str = "") -> None:
        self.lines = (line1[:20], line2[:20])
        self.display.changed()

    def set_state(self, substate: str) -> None:
        self.substate = substate
        self.display.changed()

    def finish(self, line1: str = "", line2: str = "") -> None:
        self.display.finish(self, line1, line2)

    def described(self) -> str:
        """The job as `state?` names it beside the foreground job."""
        path = f"job.{self.kind}/{self.substate}" if self.substate else f"job.{self.kind}"
        return f"{path} (port {self.port})" if self.port else path


def compact(job: FaxJob) -> str:
    """A port's job on one line: `1:` then its first line, and its second if it fits whole
    (`2:DIALING 5559876`, `1:COMM. ERROR 404`, `1:COMPLETED 2 PAGES`)."""
    line1, line2 = job.lines
    text = f"{job.port}:{line1.strip()}"
    more = line2.removeprefix("CODE ").strip()
    if more and len(text) + 1 + len(more) <= 20:
        text += f" {more}"
    return text[:20]


class FaxDisplay:
    """The fax unit's window on the LCD (see the module's text)."""

    def __init__(self, panel: ControlPanel, owner: JobOwner, timers: TimerGroup) -> None:
        self.panel = panel
        self.owner = owner
        self.timers = timers
        self.jobs: list[FaxJob] = []  # live and ending, in the order they began
        self.handle: JobHandle | None = None
        panel.entered_standby.add(self.take)

    # -- jobs -----------------------------------------------------------------------------------
    def open(self, kind: JobKind, *, operator: bool, port: int) -> FaxJob:
        """A new job: the operator's takes the LCD at once; the machine's when it is free."""
        job = FaxJob(self, kind, operator, port)
        self._clear_port(port)
        self.jobs.append(job)
        self.take(operator=operator)
        return job

    def move(self, job: FaxJob, port: int) -> None:
        """A job reading the feeder goes on as a call on `port` (its scan is stored, or a direct
        transmission dials)."""
        self._clear_port(port)
        job.port = port
        self.changed()

    def _clear_port(self, port: int) -> None:
        """A port's last words give way to its next job."""
        if port:
            for old in [j for j in self.jobs if j.port == port and j.state == "ending"]:
                self._gone(old, redraw=False)

    def finish(self, job: FaxJob, line1: str, line2: str) -> None:
        """A job is over: its words as a notice if it was the last, else on its line for 2 s."""
        if job.state != "live":
            return
        others = [j for j in self.jobs if j is not job and j.state == "live"]
        if not others:
            for j in list(self.jobs):
                self._gone(j, redraw=False)
            handle, self.handle = self.handle, None
            if handle is not None and handle.shown:
                handle.finish(line1, line2)
            return
        if not (line1 or line2):
            self._gone(job)
            return
        job.state = "ending"
        job.lines = (line1[:20], line2[:20])
        job.timer = self.timers.call_later(ENDING_TIME, self._gone, job, label="fax job end")
        self.changed()

    def _gone(self, job: FaxJob, redraw: bool = True) -> None:
        if job.timer is not None:
            job.timer.cancel()
            job.timer = None
        job.state = "gone"
        if job in self.jobs:
            self.jobs.remove(job)
        if redraw:
            self.changed()

    def clear(self) -> None:
        """Power cut: RAM is gone (the panel has dropped its job)."""
        for job in self.jobs:
            job.state = "gone"
            job.timer = None
        self.jobs.clear()
        self.handle = None

    # -- the LCD --------------------------------------------------------------------------------
    def showing(self) -> bool:
        handle = self.handle
        return handle is not None and handle.shown and self.panel.state.startswith("job")

    def foreground(self) -> FaxJob | None:
        """The operator's live job, else the live one that began first."""
        live = [j for j in self.jobs if j.state == "live"]
        return next((j for j in live if j.operator), live[0] if live else None)

    def take(self, operator: bool = False) -> None:
        """Show the fax jobs if there are any: at once for the operator's, else when the operator
        is not busy elsewhere (also called as the panel comes back to standby)."""
        fg = self.foreground()
        if fg is None:
            return
        if self.showing():
            return self.changed()
        panel = self.panel
        if not operator and not (panel.running and panel.free_for_background()):
            self.handle = None
            return
        self.handle = panel.begin_job(fg.kind, self.owner)
        self.changed()

    def step_aside(self, key: str) -> None:
        """The operator starts something while a job the machine started shows (a fax number
        during a reception): the jobs run on unseen until standby comes back."""
        self.handle = None
        self.panel.step_aside(key)
        if self.panel.state.startswith("job") and self.panel.job is None:
            self.take()  # the key started nothing: the job shows again

    def changed(self) -> None:
        """Draw the jobs on the panel job's lines (when they are on the LCD)."""
        handle = self.handle
        if handle is None:
            return
        if not handle.shown:
            self.handle = None
            return
        fg = self.foreground()
        if fg is None:
            return
        if handle.kind != fg.kind and self.panel.state.startswith("job"):
            handle.active = False
            handle = self.handle = self.panel.begin_job(fg.kind, self.owner)
        lines, substate, beside = self._screen(fg)
        handle.set_state(substate)
        handle.beside = beside
        handle.show(*lines)

    def _screen(self, fg: FaxJob) -> tuple[tuple[str, str], str, str]:
        """(the two lines, the foreground's substate, the others as `state?` names them)."""
        jobs = self.jobs
        others = " + ".join(j.described() for j in jobs if j is not fg and j.state == "live")
        substate = fg.substate
        if others and fg.port:
            substate = f"{substate} (port {fg.port})" if substate else f"(port {fg.port})"
        reading = [j for j in jobs if j.port == 0]
        if reading:
            return reading[0].lines, substate, others
        calls = sorted(jobs, key=lambda j: j.port)
        if len(calls) == 1:
            return calls[0].lines, substate, others
        return (compact(calls[0]), compact(calls[1])), substate, others
