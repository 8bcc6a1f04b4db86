"""Decoding any container the studio accepts (PyAV, FFmpeg inside) into mono float32 at the
dataset's sample rate and at Whisper's 16 kHz, checking the header before anything is allocated
and noting clipped stretches at the original rate (resampling would smooth flat tops away)."""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

import av
import numpy as np

from .events import UserError

ASR_RATE = 16000
MAX_RATE = 768000
MAX_CHANNELS = 64
MAX_HOURS = 24.0
CLIP_LEVEL = 0.999  # of full scale; int16 full scale decodes to 32767/32768
CLIP_RUN = 3  # consecutive samples at the rail: one lone peak at full scale is not clipping


@dataclass
class Decoded:
    audio: np.ndarray  # mono float32 at the dataset rate
    audio16: np.ndarray  # mono float32 at 16 kHz, for ASR
    sample_rate: int
    info: dict = field(default_factory=dict)
    clipping: list[list[float]] = field(default_factory=list)  # [start_s, end_s, samples]


def _check_riff(path: str, name: str) -> None:
    # FFmpeg refuses a WAV whose fmt chunk is absurd with the same generic "invalid data" error
    # as a file that is not audio at all; reading the fmt chunk ourselves names the problem.
    with open(path, "rb") as f:
        head = f.read(4096)
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
        return
    pos = 12
    while pos + 8 <= len(head):
        cid, size = head[pos : pos + 4], struct.unpack("<I", head[pos + 4 : pos + 8])[0]
        if cid == b"fmt " and pos + 24 <= len(head):
            _tag, channels, rate = struct.unpack("<HHI", head[pos + 8 : pos + 16])
            _check_values(name, rate, channels, None)
            return
        pos += 8 + size + (size & 1)


def _check_values(name: str, rate: int | None, channels: int | None, seconds: float | None) -> None:
    if rate is not None and not 1000 <= rate <= MAX_RATE:
        raise UserError("AUDIO_HEADER_INVALID", name, f"{name}: its header claims a sample rate of {rate} Hz, which no recording has.")
    if channels is not None and not 1 <= channels <= MAX_CHANNELS:
        raise UserError("AUDIO_HEADER_INVALID", name, f"{name}: its header claims {channels} channels.")
    if seconds is not None and seconds > MAX_HOURS * 3600:
        raise UserError("AUDIO_HEADER_INVALID", name, f"{name}: its header claims {seconds / 3600:.0f} hours of audio (at most {MAX_HOURS:.0f} per file).")


def _clip_events(planar: np.ndarray) -> np.ndarray:
    hot = np.abs(planar) >= CLIP_LEVEL
    if hot.shape[1] < CLIP_RUN:
        return np.zeros(0, dtype=np.int64)
    run = hot[:, : -(CLIP_RUN - 1)].copy()
    for k in range(1, CLIP_RUN):
        run &= hot[:, k : hot.shape[1] - (CLIP_RUN - 1) + k]
    return np.flatnonzero(run.any(axis=0))


def _ranges(times: np.ndarray, gap: float, pad: float, dur: float) -> list[list[float]]:
    out: list[list[float]] = []
    for t in times:
        if out and t - out[-1][1] <= gap:
            out[-1][1] = float(t)
            out[-1][2] += 1
        else:
            out.append([float(t), float(t), 1])
    return [[round(max(0.0, a - pad), 3), round(min(dur, b + pad), 3), int(n)] for a, b, n in out]


def decode(path: str, name: str, sample_rate: int, on_progress: Callable[[float], None] | None = None) -> Decoded:
    if not os.path.isfile(path):
        raise UserError("AUDIO_UNREADABLE", name, f"{name}: the file is missing.")
    if os.path.getsize(path) == 0:
        raise UserError("AUDIO_EMPTY", name, f"{name}: the file is empty (0 bytes).")
    _check_riff(path, name)
    try:
        container = av.open(path)
    except (av.error.FFmpegError, UnicodeDecodeError) as e:
        raise UserError("AUDIO_UNREADABLE", name, f"{name}: not a readable audio file ({e.__class__.__name__}).") from e
    with container:
        streams = [s for s in container.streams if s.type == "audio"]
        if not streams:
            raise UserError("AUDIO_UNREADABLE", name, f"{name}: the file holds no audio stream.")
        stream = streams[0]
        native = stream.sample_rate or stream.codec_context.sample_rate
        channels = stream.codec_context.channels
        seconds = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else None
        if seconds is None and container.duration:
            seconds = container.duration / 1e6
        _check_values(name, native, channels, seconds)
        to_out = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        to_asr = av.AudioResampler(format="flt", layout="mono", rate=ASR_RATE)
        to_planar = av.AudioResampler(format="fltp")
        outs: list[np.ndarray] = []
        asrs: list[np.ndarray] = []
        clip_times: list[np.ndarray] = []
        errors = decoded = 0
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                errors += 1
                if errors > 100 and decoded == 0:
                    raise UserError("AUDIO_UNREADABLE", name, f"{name}: none of its audio could be decoded.") from None
                continue
            for frame in frames:
                frame.pts = None  # the resamplers keep their own clock; broken pts must not matter
                for p in to_planar.resample(frame):
                    ev = _clip_events(p.to_ndarray())
                    if ev.size:
                        clip_times.append((ev + decoded) / float(native))
                decoded += frame.samples
                outs += [f.to_ndarray().reshape(-1) for f in to_out.resample(frame)]
                asrs += [f.to_ndarray().reshape(-1) for f in to_asr.resample(frame)]
            if on_progress and seconds and packet.pts is not None and packet.time_base:
                on_progress(min(1.0, float(packet.pts * packet.time_base) / seconds))
        outs += [f.to_ndarray().reshape(-1) for f in to_out.resample(None)]
        asrs += [f.to_ndarray().reshape(-1) for f in to_asr.resample(None)]
    audio = np.concatenate(outs).astype(np.float32) if outs else np.zeros(0, np.float32)
    audio16 = np.concatenate(asrs).astype(np.float32) if asrs else np.zeros(0, np.float32)
    if audio.size < sample_rate // 10:
        raise UserError("AUDIO_EMPTY", name, f"{name}: it decodes to no audio (less than 0.1 s).")
    dur = audio.size / sample_rate
    info = {
        "codec": stream.codec_context.name, "container": container.format.name, "sample_rate": native,
        "channels": channels, "duration_s": round(dur, 3), "decode_errors": errors,
        "header_duration_s": round(seconds, 3) if seconds else None,
    }  # fmt: skip
    times = np.concatenate(clip_times) if clip_times else np.zeros(0)
    return Decoded(audio, audio16, sample_rate, info, _ranges(times, 0.3, 0.05, dur))
