"""python -m dataset.ljspeech SPEC.json: an existing LJSpeech folder or archive (.zip, .tar,
.tar.gz) into the studio's dataset layout, through the same measurements and filters.
Spec: {"source", "out_dir", "work_dir", "language", "options"}."""

from __future__ import annotations

import json
import os
import sys
import tarfile
import time
import zipfile

from .analyze import analyze
from .cache import file_sha256
from .decode import decode
from .events import Progress, UserError, run_main
from .filters import measure_faults
from .options import check_language, parse_options
from .pipeline import finish, make_clip, safe_id
from .text import clean
from .write import dump_json, fresh_partial, publish, remove_partial

_out_dir: str | None = None


def _safe_name(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return not (name.startswith(("/", "\\")) or ":" in parts[0] or ".." in parts)


def _extract(source: str, work_dir: str) -> str:
    if os.path.isdir(source):
        return source
    if not os.path.isfile(source):
        raise UserError("SOURCE_MISSING", os.path.basename(source), f"{os.path.basename(source)}: no such file or folder.")
    name = os.path.basename(source)
    dest = os.path.join(work_dir, "source-" + file_sha256(source)[:16])
    if os.path.isdir(dest):
        return dest
    tmp = dest + f".{os.getpid()}.tmp"
    unsafe = UserError("ARCHIVE_UNSAFE", name, f"{name}: the archive has entries that would land outside its folder (absolute paths, '..', links or devices); nothing was extracted.")
    try:
        if zipfile.is_zipfile(source):
            with zipfile.ZipFile(source) as z:
                if not all(_safe_name(i.filename) for i in z.infolist()):
                    raise unsafe
                z.extractall(tmp)
        elif tarfile.is_tarfile(source):
            with tarfile.open(source) as t:
                members = t.getmembers()
                if not all(_safe_name(m.name) and (m.isfile() or m.isdir()) for m in members):
                    raise unsafe
                t.extractall(tmp, filter="data")  # the standard library's own guard, as well
        else:
            raise UserError("ARCHIVE_UNREADABLE", name, f"{name}: neither a folder nor a .zip/.tar/.tar.gz archive.")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as e:
        raise UserError("ARCHIVE_UNREADABLE", name, f"{name}: the archive is damaged ({e}).") from e
    os.replace(tmp, dest)
    return dest


def _find_root(folder: str) -> str:
    for root, _dirs, files in sorted(os.walk(folder)):
        if "metadata.csv" in files:
            return root
    raise UserError("LJSPEECH_INVALID", "metadata.csv", "No metadata.csv was found in the LJSpeech source.")


def _rows(root: str) -> list[tuple[str, str, str]]:
    rows = []
    with open(os.path.join(root, "metadata.csv"), encoding="utf-8-sig") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            parts = line.split("|")
            if len(parts) < 2 or not parts[0].strip():
                raise UserError("LJSPEECH_INVALID", "metadata.csv", f"metadata.csv line {n}: expected 'id|text|normalized text'.")
            rows.append((parts[0].strip(), parts[1], parts[2] if len(parts) > 2 else parts[1]))
    if not rows:
        raise UserError("LJSPEECH_INVALID", "metadata.csv", "metadata.csv lists no clips.")
    return rows


def run(argv: list[str]) -> dict:
    global _out_dir
    t0 = time.monotonic()
    if len(argv) != 1:
        raise UserError("SPEC_INVALID", None, "Usage: python -m dataset.ljspeech SPEC.json")
    with open(argv[0], encoding="utf-8") as f:
        spec = json.load(f)
    opts = parse_options(spec.get("options"))
    lang = check_language(spec["language"])
    progress = Progress()
    os.makedirs(spec["work_dir"], exist_ok=True)
    root = _find_root(_extract(spec["source"], spec["work_dir"]))
    rows = _rows(root)
    partial = fresh_partial(spec["out_dir"])
    _out_dir = spec["out_dir"]
    clips, used = [], set()
    for k, (rid, text, norm) in enumerate(rows):
        cid = safe_id(rid)
        while cid in used:
            cid += "_"
        used.add(cid)
        path = os.path.join(root, "wavs", rid + ".wav")
        try:
            if "/" in rid or "\\" in rid or rid.startswith("."):  # an id must not lead out of wavs/
                raise UserError("AUDIO_UNREADABLE", rid, f"metadata.csv: '{rid}' is not a clip id.")
            d = decode(path, f"wavs/{rid}.wav", opts.sample_rate)
        except UserError as e:
            clips.append({"id": cid, "file": None, "recording": rid, "start_s": 0.0, "end_s": 0.0, "duration_s": 0.0,
                          "text": clean(text), "normalized_text": clean(norm), "cps": 0.0, "loudness_dbfs": None,
                          "peak_dbfs": None, "status": "dropped", "reasons": ["AUDIO_UNREADABLE"], "split": None,
                          "wer": None, "audio_sha256": "", "error": e.message})  # fmt: skip
            continue
        an = analyze(d.audio16, opts.long_silence_s)
        dur = d.audio.size / opts.sample_rate
        voiced = (~an.silent).nonzero()[0]
        # Trim silence beyond the padding the builder would leave; the words themselves are kept.
        s = max(0.0, voiced[0] / 100 - opts.pad_s) if voiced.size else 0.0
        e = min(dur, (voiced[-1] + 1) / 100 + opts.pad_s) if voiced.size else dur
        c = make_clip(partial, cid, rid, s, e, text, d.audio, opts)
        c["normalized_text"] = clean(norm)
        faults = {"clipping": d.clipping, "noise": an.noise}
        measure_faults(c, faults, an.longest_silence(s, e), opts)
        clips.append(c)
        progress.update("write", (k + 1) / len(rows), f"imported {k + 1}/{len(rows)} clips")
    asr = None
    if opts.recheck_wer is not None:
        from .asr import make_asr

        asr = make_asr(opts.asr, lang)
    summary = finish(partial, clips, opts, progress, asr=asr,
                     audio16_of=lambda c: decode(os.path.join(partial, c["file"]), c["file"], opts.sample_rate).audio16 if c["file"] else None)  # fmt: skip
    report = {**summary, "chunker": None, "language": spec["language"], "source": os.path.basename(spec["source"].rstrip("/")),
              "options": opts.public(), "timings_s": {**progress.timings, "total": round(time.monotonic() - t0, 3)}}  # fmt: skip
    dump_json(os.path.join(partial, "report.json"), report)
    publish(spec["out_dir"])
    _out_dir = None
    return {k: v for k, v in report.items() if k not in ("durations_s", "cps")}


def _cleanup() -> None:
    if _out_dir:
        remove_partial(_out_dir)


if __name__ == "__main__":
    sys.setrecursionlimit(10000)
    run_main(run, _cleanup)
