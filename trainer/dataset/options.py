"""The build's options and their defaults, in one place (the API mirrors them in a zod schema)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from .events import UserError

# Languages XTTS-v2 speaks, with the code Whisper uses for each (XTTS says zh-cn, Whisper zh).
LANGUAGES = {
    "en": "en", "es": "es", "fr": "fr", "de": "de", "it": "it", "pt": "pt", "pl": "pl", "tr": "tr",
    "ru": "ru", "nl": "nl", "cs": "cs", "ar": "ar", "zh-cn": "zh", "hu": "hu", "ko": "ko", "ja": "ja",
    "hi": "hi",
}  # fmt: skip

BUNDLED_MODEL = "tiny.en-bundled"


@dataclass
class AsrOptions:
    backend: str = "faster-whisper"  # or "openai"
    model: str = "large-v3"  # hub name, a CTranslate2 folder, or "tiny.en-bundled"
    device: str = "auto"  # auto | cpu | cuda
    compute_type: str = "default"
    url: str | None = None  # openai backend: base URL ending in /v1
    api_key: str | None = None
    beam_size: int = 5
    # Windows decoded at once; 0: 32 on CUDA (faster-whisper's batched pipeline), 1 on the CPU.
    batch_size: int = 0


@dataclass
class Options:
    target_dbfs: float = -20.0
    sample_rate: int = 22050
    min_s: float = 3.0
    max_s: float = 11.6
    max_chars: int = 250
    cps_z: float = 2.0
    eval_fraction: float = 0.02
    seed: int = 0
    recheck_wer: float | None = None
    # Padding kept around the first and last word of a clip, never reaching into a neighbour.
    pad_s: float = 0.2
    # A silent stretch this long is reported, and a clip containing one is dropped.
    long_silence_s: float = 2.0
    # Peak ceiling after loudness gain; louder peaks are limited (and the clip says by how much).
    peak_ceiling_dbfs: float = -1.0
    asr: AsrOptions = field(default_factory=AsrOptions)

    def public(self) -> dict[str, Any]:
        d = asdict(self)
        if d["asr"].get("api_key"):
            d["asr"]["api_key"] = "***"
        return d


def _fill(cls: type, raw: dict[str, Any], where: str) -> Any:
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise UserError("OPTIONS_INVALID", None, f"Unknown {where} option(s): {', '.join(unknown)}.")
    return cls(**raw)


def parse_options(raw: dict[str, Any] | None) -> Options:
    raw = dict(raw or {})
    asr = _fill(AsrOptions, dict(raw.pop("asr", None) or {}), "asr")
    opts: Options = _fill(Options, raw, "build")
    opts.asr = asr
    bad = None
    if not 8000 <= opts.sample_rate <= 48000:
        bad = "sample_rate must be between 8000 and 48000"
    elif not 0 < opts.min_s < opts.max_s:
        bad = "min_s must be positive and below max_s"
    elif not 0 <= opts.eval_fraction < 1:
        bad = "eval_fraction must be in [0, 1)"
    elif asr.backend not in ("faster-whisper", "openai"):
        bad = "asr.backend must be faster-whisper or openai"
    elif asr.backend == "openai" and not asr.url:
        bad = "asr.url is required for the openai backend"
    elif asr.device not in ("auto", "cpu", "cuda"):
        bad = "asr.device must be auto, cpu or cuda"
    if bad:
        raise UserError("OPTIONS_INVALID", None, bad + ".")
    return opts


def check_language(language: str) -> str:
    """Returns Whisper's code for an XTTS-v2 language, or raises LANGUAGE_UNSUPPORTED."""
    if language not in LANGUAGES:
        raise UserError(
            "LANGUAGE_UNSUPPORTED",
            None,
            f"Language '{language}' is not one XTTS-v2 speaks ({', '.join(LANGUAGES)}).",
        )
    return LANGUAGES[language]
