"""Call recordings on the audio line: `--out`/calls/NNNN.wav (a device's under `--out`/NAME/calls/).

Each call a station took part in, as `hw.audio_call.AudioCarriage` hands it over when the station
leaves the line: stereo, 8000 samples/s, 16-bit linear; channel 1 what the station sent, channel 2
what it heard. Numbers continue after the highest already in the folder; each file is written
whole (a reader sees a complete file or none).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from estudio190f.hw.wav import write_wav

from .outputs import next_number, write_whole

NAME = r"(\d{4,})\.wav"  # a recording's file name; group 1 its number


class CallRecordings:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._next = next_number(self.folder, NAME)

    def save(self, samples: np.ndarray) -> Path:
        """One call: (frames, 2) int16, channel 1 sent, channel 2 heard."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{self._next:04d}.wav"
        self._next += 1
        write_whole(path, write_wav(samples))
        return path


__all__ = ["CallRecordings"]
