"""Objective pre-screen of rendered checkpoints: Whisper intelligibility, end-of-utterance
faults, length against the speaker's speaking rate, and speaker similarity."""
