"""This project's side of the comparisons with Coqui's own XTTS classes: the fidelity check's cases and
seeded weights (also imported by trainer/reference/coqui_model.py, in Coqui's environment), the
project's packages for it (`python3 -m xtts.parity.fidelity`), and the manual full-size comparison
(`python3 -m xtts.parity.coqui_parity`)."""
